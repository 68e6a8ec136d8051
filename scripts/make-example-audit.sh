#!/usr/bin/env bash
# Regenerates docs/example-audit.md and the copy embedded in README.md (headings
# demoted by three levels) from the bundled capture; tests/policy.rs checks both.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
./target/debug/exaudit read captures/edge-bypass.pcap --topology captures/site-edge.toml -f markdown > docs/example-audit.md
python3 - <<'PY'
import re
doc = open("docs/example-audit.md").read()
demoted = "\n".join(("###" + l if l.startswith("#") else l) for l in doc.splitlines())
readme = open("README.md").read()
start = readme.index("<!-- example-audit:start -->") + len("<!-- example-audit:start -->")
end = readme.index("<!-- example-audit:end -->")
open("README.md", "w").write(readme[:start] + "\n" + demoted.strip("\n") + "\n\n" + readme[end:])
PY
