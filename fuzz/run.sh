#!/usr/bin/env bash
# Runs every fuzz target (or those named after SECONDS) for SECONDS seconds
# each, one at a time and single-process, on fuzz/corpus/<target>/ (build it
# with fuzz/seed.sh), and prints per target: seconds, executions, exec/s and
# new crash artifacts. Debug assertions (overflow checks) are on.
# Usage: fuzz/run.sh [SECONDS [TARGET...]]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(reader reader_gz decode dcerpc smtp tls http ldap pop3_imap auth osi flow)
fi
max_len() {
    case "$1" in
        reader | reader_gz) echo 16384 ;;   # a few records of any size
        decode) echo 4096 ;;                # one frame (jumbo-ish)
        flow) echo 8192 ;;                  # a few hundred packet records
        *) echo 8194 ;;                     # 2 + 2 x 4096 (default --inspect-bytes)
    esac
}
mkdir -p logs
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(ls "artifacts/$t" | wc -l)
    log="logs/$t.log"
    start=$(date +%s)
    cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    rate=$(grep -o 'stat::average_exec_per_sec: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    if [ -z "$execs" ]; then
        # Stopped on a crash: the last status line has the count so far.
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
        rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    fi
    after=$(ls "artifacts/$t" | wc -l)
    crashes=$(( after - before ))
    line=$(printf '%-10s %6ss %12s execs %8s exec/s  %d new crash(es)  rc=%d' "$t" "$took" "${execs:-?}" "${rate:-?}" "$crashes" "$rc")
    echo "$line"
    summary+=("$line")
    if [ "$crashes" -gt 0 ]; then
        ls -t "artifacts/$t" | head -"$crashes" | sed "s|^|    artifacts/$t/|"
        grep -m3 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/    /'
    fi
done
echo
printf '%s\n' "${summary[@]}"
