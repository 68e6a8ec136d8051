#!/usr/bin/env bash
# The whole test suite: installs what it needs, then formatting, lints and
# every test (unit, integration on real captures, doc).
set -euo pipefail
cd "$(dirname "$0")/.."
# curl, tcpreplay and iproute2 drive the live-capture tests (skipped without root);
# tshark and tcpdump are the references the flow and --filter tests compare with (they say so and skip it
# when it is missing).
bash scripts/setup.sh curl tcpreplay iproute2 tshark tcpdump python3
cargo fmt --check
# the layout rule: no import circles, at most 2 imports back up a floor (ARCHITECTURE.md)
python3 scripts/module-deps.py
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
