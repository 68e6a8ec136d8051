#!/usr/bin/env bash
# Soak test (not in CI): `exaudit live` on a veth pair in a network namespace
# this script creates, fed for MINUTES (default 10) by tcpreplay looping the
# generated mix at RATE Mbps (default 200). Prints exaudit's RSS (VmRSS) at the
# start, every minute and at the end, and the final drop counters.
#
#   scripts/soak.sh [--minutes 10] [--mbps 200] [--pcap F.pcap] [--bin target/release/exaudit]
#
# Needs root, tcpreplay and python3. Flows are written to /dev/null (streamed,
# not kept); the point is that memory stays flat while flows come and go.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=10
MBPS=200
PCAP=""
BIN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) MINUTES="$2"; shift 2 ;;
        --mbps) MBPS="$2"; shift 2 ;;
        --pcap) PCAP="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "soak: needs root" >&2; exit 77; }
command -v tcpreplay >/dev/null || { echo "soak: tcpreplay missing" >&2; exit 77; }
if [ -z "$BIN" ]; then
    cargo build --release --bin exaudit >&2
    BIN="${CARGO_TARGET_DIR:-target}/release/exaudit"
fi
if [ -z "$PCAP" ]; then
    PCAP="${CARGO_TARGET_DIR:-target}/bench/exchange-mix-quick.pcap"
    if [ ! -f "$PCAP" ]; then
        mkdir -p "$(dirname "$PCAP")"
        cargo run --release --example gencap -- -o "$PCAP" --flows 17000 --seed 1 --duration 300 >&2
    fi
fi
NS="exa-soak-$$"
WORK="$(mktemp -d)"
cleanup() {
    [ -n "${REPLAY_PID:-}" ] && kill "$REPLAY_PID" 2>/dev/null || true
    [ -n "${EXA_PID:-}" ] && kill -INT "$EXA_PID" 2>/dev/null || true
    sleep 1
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$NS" link add sk-send mtu 9000 type veth peer name sk-cap mtu 9000
ip -n "$NS" link set sk-send up
ip -n "$NS" link set sk-cap up

ip netns exec "$NS" "$BIN" live -i sk-cap --interval 60s --tcp-timeout 60 -o /dev/null --report "$WORK/report.txt" &
EXA_PID=$!
sleep 1
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$EXA_PID/status"; }
echo "RSS at start: $(rss)"
ip netns exec "$NS" tcpreplay -i sk-send --mbps "$MBPS" --loop 0 "$PCAP" >"$WORK/replay.txt" 2>&1 &
REPLAY_PID=$!
for m in $(seq "$MINUTES"); do
    sleep 60
    echo "RSS after $m min: $(rss)"
done
kill -INT "$REPLAY_PID" 2>/dev/null || true
wait "$REPLAY_PID" 2>/dev/null || true
REPLAY_PID=""
echo "RSS at end (before stop): $(rss)"
kill -INT "$EXA_PID"
wait "$EXA_PID" || true
EXA_PID=""
grep -E "^exaudit live|WARNING" "$WORK/report.txt" | tail -3
