#!/usr/bin/env bash
# Replays captures with tcpreplay onto a veth pair inside a network namespace
# this script creates, runs `exaudit live` on the other end, and prints what
# exaudit reports (packets, kernel / interface / pipeline drops) next to
# libpcap's own statistics and tcpreplay's count, for each rate.
#
#   scripts/replay-drops.sh                      # the generated mix (target/bench/exchange-mix-quick.pcap),
#                                                # at 10 50 100 200 500 1000 Mbps and top speed
#   scripts/replay-drops.sh --rates "20 top"     # chosen rates (Mbps, or "top" for --topspeed)
#   scripts/replay-drops.sh --pcap F.pcap ...    # replay these files instead
#   scripts/replay-drops.sh --small              # captures/*.pcap, 2 rates (what tests/live.rs runs)
#   scripts/replay-drops.sh --buffer-size 64     # kernel buffer for exaudit, MiB
#
# Needs root (ip netns, veth), tcpreplay (apt-get install tcpreplay) and
# python3. Only the namespace it creates is touched; it is deleted at the end.
# Prints one "RESULT ..." line per run (machine-readable) and a Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=""
RATES="10 50 100 200 500 1000 top"
PCAPS=()
SMALL=0
BUFFER=""
LOOPS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN="$2"; shift 2 ;;
        --rates) RATES="$2"; shift 2 ;;
        --pcap) PCAPS+=("$2"); shift 2 ;;
        --small) SMALL=1; shift ;;
        --buffer-size) BUFFER="$2"; shift 2 ;;
        --loop) LOOPS="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    echo "replay-drops: needs root (network namespaces, veth)" >&2
    exit 77
fi
command -v tcpreplay >/dev/null || { echo "replay-drops: tcpreplay missing (apt-get install tcpreplay)" >&2; exit 77; }

if [ -z "$BIN" ]; then
    cargo build --release --bin exaudit >&2
    BIN="${CARGO_TARGET_DIR:-target}/release/exaudit"
fi
if [ "$SMALL" = 1 ]; then
    RATES="${RATES_SMALL:-5 top}"
    for f in captures/*.pcap; do PCAPS+=("$f"); done
fi
if [ ${#PCAPS[@]} -eq 0 ]; then
    MIX="${CARGO_TARGET_DIR:-target}/bench/exchange-mix-quick.pcap"
    if [ ! -f "$MIX" ]; then
        mkdir -p "$(dirname "$MIX")"
        cargo run --release --example gencap -- -o "$MIX" --flows 17000 --seed 1 --duration 300 >&2
    fi
    PCAPS=("$MIX")
fi

NS="exa-replay-$$"
WORK="$(mktemp -d)"
cleanup() {
    [ -n "${EXA_PID:-}" ] && kill -INT "$EXA_PID" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link add rp-send mtu 9000 type veth peer name rp-cap mtu 9000
ip -n "$NS" link set rp-send up
ip -n "$NS" link set rp-cap up

echo "| rate asked (achieved) | sent (tcpreplay) | libpcap received | exaudit packets | kernel drops | interface drops | pipeline drops | flows |"
echo "|---|---|---|---|---|---|---|---|"
for rate in $RATES; do
    out="$WORK/flows-$rate.ndjson"
    err="$WORK/err-$rate.txt"
    args=(live -i rp-cap --interval 5s -o "$out" --user root)
    [ -n "$BUFFER" ] && args+=(--buffer-size "$BUFFER")
    ip netns exec "$NS" "$BIN" "${args[@]}" 2>"$err" &
    EXA_PID=$!
    for _ in $(seq 100); do
        grep -q "capturing on" "$err" 2>/dev/null && break
        sleep 0.05
    done
    if [ "$rate" = top ]; then speed=(--topspeed); else speed=(--mbps "$rate"); fi
    ip netns exec "$NS" tcpreplay -i rp-send "${speed[@]}" --loop "$LOOPS" "${PCAPS[@]}" >"$WORK/replay.txt" 2>&1
    sent=$(awk '/Successful packets:/ {print $3}' "$WORK/replay.txt")
    # "Rated: 1234.5 Bps, 9.87 Mbps, 123.45 pps"
    achieved=$(awk '/Rated:/ {printf "%s Mbps, %s pps", $4, $6; exit}' "$WORK/replay.txt")
    sleep 1
    kill -INT "$EXA_PID"
    wait "$EXA_PID" || { echo "exaudit failed:" >&2; cat "$err" >&2; exit 1; }
    EXA_PID=""
    python3 - "$out" "$rate" "$sent" "$achieved" <<'EOF'
import json, sys
path, rate, sent, achieved = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
last = None
with open(path) as f:
    for line in f:
        last = line
s = json.loads(last)
d = s["capture_drops"]
lp = s["libpcap"]
print(f"| {rate} ({achieved}) | {sent} | {lp['received']} | {s['packets']} | {d['kernel']} | {d['interface']} | {d['pipeline']} | {s['flows']} |")
print(f"RESULT rate={rate} sent={sent} received={lp['received']} packets={s['packets']} "
      f"kernel={d['kernel']} interface={d['interface']} pipeline={d['pipeline']} "
      f"libpcap_dropped={lp['dropped']} libpcap_if_dropped={lp['if_dropped']} flows={s['flows']}", file=sys.stderr)
EOF
done
