#!/usr/bin/env bash
# The main job: builds exaudit and audits a bundled capture with the embedded
# default rules. Extra arguments are passed to `exaudit read`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
capture=captures/edge-topology.pcap
[ -e "$capture" ] || capture=../shared/captures/public/zeek__dce-rpc__mapi.pcap
exec ./target/release/exaudit read "$capture" --format table "$@"
