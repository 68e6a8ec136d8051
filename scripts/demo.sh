#!/usr/bin/env bash
# The main job: builds exaudit and audits a bundled capture (a lab Exchange
# site with an Edge, plus an Edge bypass and an exposed endpoint mapper) with
# the embedded default rules. Extra arguments are passed to `exaudit read`,
# e.g. `--format markdown`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
exec ./target/release/exaudit read captures/edge-bypass.pcap --topology captures/site-edge.toml --format table "$@"
