#!/usr/bin/env bash
# Regenerates tests/expected/<capture>.conv from tshark's conversation tables,
# for every capture in captures/ and ../shared/captures/public/.
# Each file: "# fragments N" (IP fragments that tshark folds into one
# reassembled datagram), then scripts/tshark-conv.py's rows.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tshark >/dev/null || { echo "tshark is needed: apt-get install -y tshark" >&2; exit 1; }
mkdir -p tests/expected
for f in captures/*.pcap captures/*.pcapng captures/*.gz ../shared/captures/public/*.pcap ../shared/captures/public/*.pcapng; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  frags=$(tshark -n -r "$f" -Y 'ip.flags.mf == 1 || ipv6.fraghdr.more == 1' 2>/dev/null | wc -l || true)
  {
    echo "# fragments $frags"
    python3 scripts/tshark-conv.py "$f"
  } > "tests/expected/$name.conv"
done
echo "wrote $(ls tests/expected/*.conv | wc -l) files to tests/expected/"
