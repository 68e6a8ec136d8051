#!/usr/bin/env bash
# The whole test suite: installs what it needs, then formatting, lints and
# every test (unit, integration on real captures, doc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
