#!/usr/bin/env bash
# Throughput benchmark: exaudit against the read limit, tshark and ndpiReader,
# all on the same synthetic Exchange capture. See benches/README.md.
#
#   scripts/bench.sh                 2.7M-packet capture, all four tools
#   scripts/bench.sh --quick         225k-packet capture (smoke run)
#   scripts/bench.sh --packets-only  only the read limit and exaudit (no tshark/nDPI)
#   scripts/bench.sh --flood         also a 10M-SYN flood capture, and the full audit's
#                                    peak memory on 1M and 3M SYN floods (tshark and ndpiReader
#                                    skipped there unless FLOOD_COMPARE=1: both grow
#                                    without bound on 10M flows; ndpiReader passed 24 GB)
#   scripts/bench.sh --runs 3        run each tool 3 times, keep the fastest
#   --regen: rewrite the captures; --no-build: use the binaries already built
#
# Not part of the test suite: speed is measured here, never asserted by a test.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH="$ROOT/target/bench"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release"

QUICK=0 FLOOD=0 PACKETS_ONLY=0 RUNS=1 REGEN=0 BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --flood) FLOOD=1 ;;
    --packets-only) PACKETS_ONLY=1 ;;
    --regen) REGEN=1 ;;
    --no-build) BUILD=0 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- tools
install_pkgs() {
  [ $# -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing $*"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}
need=()
[ -x /usr/bin/time ] || need+=(time)
if [ "$PACKETS_ONLY" -eq 0 ]; then
  command -v tshark >/dev/null || need+=(tshark)
  command -v ndpiReader >/dev/null || need+=(libndpi-bin)
fi
install_pkgs "${need[@]}"

if command -v jq >/dev/null; then
  json_get() { jq -r ".$2" <<<"$1"; }
elif command -v python3 >/dev/null; then
  json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
else
  echo "bench: needs jq or python3 to read exaudit's summary" >&2; exit 2
fi

# ---------------------------------------------------------------- build
if [ "$BUILD" -eq 1 ]; then
  log "building (release)"
  cargo build --release --quiet --examples --bin exaudit
fi
for b in exaudit examples/gencap examples/rawread examples/pipeline; do
  [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing: build first" >&2; exit 2; }
done

# ---------------------------------------------------------------- captures
mkdir -p "$BENCH"
if [ "$QUICK" -eq 1 ]; then
  MIX="$BENCH/exchange-mix-quick.pcap"
  GEN_ARGS=(--flows 17000 --duration 300 --seed 1)
else
  MIX="$BENCH/exchange-mix.pcap"
  GEN_ARGS=(--flows 200000 --duration 3600 --seed 1)
fi
if [ ! -s "$MIX" ] || [ "$REGEN" -eq 1 ]; then
  log "generating $MIX"
  "$BIN/examples/gencap" -o "$MIX" "${GEN_ARGS[@]}" >&2
fi
FILES=("$MIX")
if [ "$FLOOD" -eq 1 ]; then
  FLOODCAP="$BENCH/synflood-10m.pcap"
  if [ ! -s "$FLOODCAP" ] || [ "$REGEN" -eq 1 ]; then
    log "generating $FLOODCAP"
    "$BIN/examples/gencap" -o "$FLOODCAP" --syn-flood 10000000 --seed 2 >&2
  fi
  FILES+=("$FLOODCAP")
fi

# Every measured process runs under `ulimit -v` so that a tool which grows
# without bound fails alone instead of taking the machine down (default: half
# the available memory, at most 8 GiB; override with MEM_CAP_GIB).
if [ -z "${MEM_CAP_GIB:-}" ]; then
  avail_kib=$(awk '/MemAvailable/{print $2}' /proc/meminfo)
  MEM_CAP_GIB=$(awk -v a="$avail_kib" 'BEGIN{g=int(a/2/1048576); if (g>8) g=8; if (g<1) g=1; print g}')
fi

# ---------------------------------------------------------------- measuring
# measure NAME OUTFILE CMD... : runs CMD (stdout to OUTFILE) RUNS times and
# sets T (wall s), C (CPU s) and RSS (KiB) of the fastest run. Wall time is
# taken with a nanosecond clock around the run (GNU time's %e has 10 ms steps);
# CPU time and peak RSS come from GNU time. Returns non-zero if the command
# failed (FAIL says how).
measure() {
  local name=$1 out=$2; shift 2
  local tf="$BENCH/.time" best="" i
  for ((i = 1; i <= RUNS; i++)); do
    local t0 t1
    t0=$(date +%s%N)
    local rc=0
    (ulimit -v $((MEM_CAP_GIB * 1048576)) && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@") \
      >"$out" 2>"$out.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
      FAIL="exit $rc under a ${MEM_CAP_GIB} GiB memory cap (see $out.err)"
      log "$name failed: $FAIL"; tail -3 "$out.err" >&2
      return 1
    fi
    t1=$(date +%s%N)
    read -r e u s m < <(tail -n 1 "$tf")
    e=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    if [ -z "$best" ] || awk -v a="$e" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=$e T=$e C=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}') RSS=$m
    fi
  done
  log "$name: ${T}s wall, ${C}s CPU, $((RSS / 1024)) MiB peak RSS"
}

rows=()
row() { # tool seconds cpu rss_kib
  rows+=("$(awk -v t="$1" -v s="$2" -v c="$3" -v m="$4" -v p="$PKTS" -v b="$BYTES" 'BEGIN{
    printf "| %s | %.3f | %.2f | %.0f | %.0f | %.0f |", t, s, c, p/s, b/1e6/s, m/1024 }')")
}
failed_row() { rows+=("| $1 | failed: $2 | | | | |"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a/b }'; }

bench_file() {
  local f=$1 base
  base=$(basename "$f" .pcap)
  log "warming the page cache with $f"
  cat "$f" >/dev/null
  rows=()

  # (a) the read limit
  measure rawread "$BENCH/$base.rawread.out" "$BIN/examples/rawread" "$f" || exit 1
  local line; line=$(cat "$BENCH/$base.rawread.out")
  PKTS=$(sed 's/.*packets=\([0-9]*\).*/\1/' <<<"$line")
  BYTES=$(sed 's/.*bytes=\([0-9]*\).*/\1/' <<<"$line")
  local raw_t=$T raw_rss=$RSS
  row "read limit (rawread)" "$T" "$C" "$RSS"

  # (a2) the packet pipeline alone: read + decode + batches + flow table + flow records
  measure pipeline "$BENCH/$base.pipeline.out" "$BIN/examples/pipeline" "$f" || exit 1
  local pipe_t=$T pipe_rss=$RSS pipe_peak
  pipe_peak=$(sed 's/.*peak_flows=\([0-9]*\).*/\1/' "$BENCH/$base.pipeline.out")
  row "packet pipeline (examples/pipeline)" "$T" "$C" "$RSS"

  # (b) exaudit, full pipeline, ndjson; the last record is the summary
  measure exaudit "$BENCH/$base.exaudit.ndjson" \
    env EXAUDIT_TIMINGS=1 "$BIN/exaudit" read "$f" -f ndjson --no-progress || exit 1
  local phases
  phases=$(grep -o 'timings: .*' "$BENCH/$base.exaudit.ndjson.err" | tail -1 || true)
  local ex_t=$T ex_rss=$RSS summary
  summary=$(tail -n 1 "$BENCH/$base.exaudit.ndjson")
  # the flood's 10M flow records take ~4 GB: keep only the summary
  if [ "$(stat -c %s "$BENCH/$base.exaudit.ndjson")" -gt $((256 << 20)) ]; then
    echo "$summary" >"$BENCH/$base.exaudit.ndjson"
  fi
  row "exaudit read -f ndjson" "$T" "$C" "$RSS"
  local s_pkts s_pps s_flows s_peak s_evict s_errs
  s_pkts=$(json_get "$summary" packets)
  s_pps=$(json_get "$summary" packets_per_s)
  s_flows=$(json_get "$summary" flows)
  s_peak=$(json_get "$summary" peak_flows)
  s_evict=$(json_get "$summary" evictions)
  s_errs=$(json_get "$summary" decode_errors)
  [ "$s_pkts" = "$PKTS" ] || log "WARNING: exaudit counted $s_pkts packets, the file has $PKTS"

  # (c) tshark, TCP conversation table
  local ts_t="" nd_t=""
  if [ "$PACKETS_ONLY" -eq 0 ]; then
    if [ "$base" = "synflood-10m" ] && [ "${FLOOD_COMPARE:-0}" != 1 ]; then
      log "tshark and ndpiReader skipped on the flood (FLOOD_COMPARE=1 runs them, capped at ${MEM_CAP_GIB} GiB)"
    else
      if measure tshark "$BENCH/$base.tshark.out" tshark -n -q -r "$f" -z conv,tcp; then
        ts_t=$T
        row "tshark -z conv,tcp" "$T" "$C" "$RSS"
      else
        failed_row "tshark -z conv,tcp" "$FAIL"
      fi

      # (d) ndpiReader; not -q: its closing statistics prove it read every packet
      if measure ndpiReader "$BENCH/$base.ndpi.out" ndpiReader -i "$f"; then
        nd_t=$T
        local nd_pk
        nd_pk=$(awk '/IP packets:/{print $3; exit}' "$BENCH/$base.ndpi.out")
        [ "$nd_pk" = "$PKTS" ] || log "WARNING: ndpiReader reports $nd_pk packets, the file has $PKTS"
        row "ndpiReader" "$T" "$C" "$RSS"
      else
        failed_row "ndpiReader" "$FAIL"
      fi
    fi
  fi

  echo
  echo "### $(basename "$f"): $PKTS packets, $(awk -v b="$BYTES" 'BEGIN{printf "%.1f", b/1e6}') MB of frames"
  echo
  echo "| tool | seconds | CPU s | packets/s | MB/s | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "- packet pipeline vs read limit: $(awk -v r="$raw_t" -v e="$pipe_t" 'BEGIN{printf "%.1f", 100*r/e}')% of the read-limit throughput"
  echo "- exaudit vs read limit: $(awk -v r="$raw_t" -v e="$ex_t" 'BEGIN{printf "%.1f", 100*r/e}')% of the read-limit throughput"
  if [ -n "$ts_t" ]; then echo "- exaudit vs tshark: $(ratio "$ts_t" "$ex_t")x (tshark seconds / exaudit seconds)"; fi
  if [ -n "$nd_t" ]; then echo "- exaudit vs ndpiReader: $(ratio "$nd_t" "$ex_t")x (ndpiReader seconds / exaudit seconds)"; fi
  [ -z "$phases" ] || echo "- exaudit wall time by phase: ${phases#timings: }"
  echo "- exaudit summary: packets_per_s=$s_pps (its own clock, read to last flow), flows=$s_flows, peak_flows=$s_peak, evictions=$s_evict, decode_errors=$s_errs"
  if [ "${pipe_peak:-0}" -gt 0 ]; then
    echo "- RSS per tracked flow (packet pipeline): $(awk -v m="$pipe_rss" -v r="$raw_rss" -v p="$pipe_peak" 'BEGIN{printf "%.0f", (m-r)*1024/p}') B ((peak RSS - read limit's RSS) / $pipe_peak flows tracked at the peak)"
  fi
  if [ "$s_flows" -gt 0 ]; then
    echo "- exaudit RSS per reported flow: $(awk -v m="$ex_rss" -v p="$s_flows" 'BEGIN{printf "%.0f", m*1024/p}') B (peak RSS / flows; the audit streams, so this falls as captures grow)"
  fi
}

# Memory against the length of the capture: SYN floods of 1M and 3M flows
# through the full audit at --max-flows 100000 (every flow ends by eviction;
# past --hold-flows the file is read twice). The peak must not follow the
# number of flows: what grows from 1M to 3M is memory per *ended* flow.
memory_bound() {
  local n rss1="" rss3=""
  echo
  echo "### Memory against capture length (full audit, --max-flows 100000)"
  echo
  echo "| capture | flows | seconds | CPU s | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|"
  for n in 1 3; do
    local cap="$BENCH/synflood-${n}m.pcap"
    if [ ! -s "$cap" ] || [ "$REGEN" -eq 1 ]; then
      log "generating $cap"
      "$BIN/examples/gencap" -o "$cap" --syn-flood "${n}000000" --seed 2 >&2
    fi
    measure "exaudit ${n}M flood" "$BENCH/synflood-${n}m.summary" \
      "$BIN/exaudit" read "$cap" -f ndjson --no-progress --max-flows 100000 -o /dev/null || exit 1
    echo "| synflood-${n}m.pcap | ${n}000000 | $T | $C | $((RSS / 1024)) |"
    if [ "$n" = 1 ]; then rss1=$RSS; else rss3=$RSS; fi
  done
  echo
  echo "- 3M against 1M: $(awk -v a="$rss3" -v b="$rss1" 'BEGIN{printf "%+.1f", 100*(a-b)/b}')% peak RSS; $(awk -v a="$rss3" -v b="$rss1" 'BEGIN{printf "%.1f", (a-b)*1024/2e6}') B per ended flow ((RSS 3M - RSS 1M) / 2M flows)"
}

echo "## exaudit throughput ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -m), runs per tool: $RUNS, load average $(cut -d' ' -f1-3 /proc/loadavg))"
for f in "${FILES[@]}"; do
  bench_file "$f"
done
if [ "$FLOOD" -eq 1 ]; then
  memory_bound
fi
