#!/usr/bin/env bash
# Builds the fuzz corpora (fuzz/corpus/<target>/) from the real captures:
#   decode     raw frames of every capture (first byte = link type selector)
#   reader     the capture files themselves, cut to 16 KiB
#   reader_gz  the same, behind the gzip selector byte
#   inspectors reassembled TCP/UDP stream bytes per direction
#              (u16 LE length of client bytes, client bytes, server bytes),
#              from `tshark -z follow,tcp,raw,N`
#   flow       packet records (see fuzz_targets/flow.rs) from each capture
# plus the committed seeds in fuzz/seeds/<target>/.
# Usage: fuzz/seed.sh [CAPTURE_DIR...]   (default: captures/ and
# /work/shared/captures/public/). Needs tshark and python3.
set -euo pipefail
cd "$(dirname "$0")"
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
    dirs=(../captures)
    [ -d /work/shared/captures/public ] && dirs+=(/work/shared/captures/public)
fi
command -v tshark >/dev/null || { echo "seed.sh: tshark is needed" >&2; exit 1; }
caps=()
for d in "${dirs[@]}"; do
    while IFS= read -r f; do caps+=("$f"); done < <(find "$d" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' -o -name '*.pcapng.gz' \) | sort)
done
echo "seed.sh: ${#caps[@]} captures" >&2
python3 - "${caps[@]}" <<'PY'
import gzip, hashlib, os, struct, subprocess, sys

INSPECTORS = ["dcerpc", "smtp", "tls", "http", "ldap", "pop3_imap", "auth"]
TARGETS = ["decode", "reader", "reader_gz", "flow"] + INSPECTORS
for t in TARGETS:
    os.makedirs(f"corpus/{t}", exist_ok=True)

def put(target, data):
    name = hashlib.sha1(data).hexdigest()
    path = f"corpus/{target}/{name}"
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)

# link type number -> index in fuzz_targets/decode.rs LINKS
LINK = {0: 0, 1: 1, 12: 2, 14: 2, 101: 2, 108: 3, 113: 4, 228: 5, 229: 6, 276: 7}
MAX_FRAMES = 300

def frames(raw):
    """(linktype, frame bytes) of a pcap or pcapng file; stops quietly at damage."""
    out = []
    if len(raw) < 24:
        return out
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        lt = struct.unpack(e + "I", raw[20:24])[0] & 0x03FFFFFF
        off = 24
        while off + 16 <= len(raw):
            caplen = struct.unpack(e + "I", raw[off + 8:off + 12])[0]
            if caplen > 262144 or off + 16 + caplen > len(raw):
                break
            out.append((lt, raw[off + 16:off + 16 + caplen]))
            off += 16 + caplen
        return out
    if magic == b"\x0a\x0d\x0d\x0a":
        e, ifs, off = "<", [], 0
        while off + 12 <= len(raw):
            if raw[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if raw[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifs = []
            btype, blen = struct.unpack(e + "II", raw[off:off + 8])
            if blen < 12 or off + blen > len(raw):
                break
            body = raw[off + 8:off + blen - 4]
            if btype == 1 and len(body) >= 2:
                ifs.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                ifid, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
                if ifid < len(ifs):
                    out.append((ifs[ifid], body[20:20 + caplen]))
            elif btype == 3 and len(body) >= 4 and ifs:
                origlen = struct.unpack(e + "I", body[:4])[0]
                out.append((ifs[0], body[4:4 + origlen]))
            off += blen
        return out
    return out

def follow(cap, proto, n):
    """{stream: (c2s, s2c)} for the first n streams of proto."""
    args = ["tshark", "-r", cap, "-q"]
    for i in range(n):
        args += ["-z", f"follow,{proto},raw,{i}"]
    try:
        text = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    except subprocess.TimeoutExpired:
        return {}
    streams, cur = {}, None
    for line in text.splitlines():
        if line.startswith("Filter:"):
            cur = line.split()[-1]
            streams[cur] = [bytearray(), bytearray()]
        elif cur is None or not line.strip() or line.startswith(("=", "Follow:", "Node ")):
            continue
        else:
            side = 1 if line.startswith("\t") else 0
            try:
                streams[cur][side] += bytes.fromhex(line.strip())
            except ValueError:
                pass
    return streams

def count_streams(cap, proto):
    field = f"{proto}.stream"
    r = subprocess.run(["tshark", "-r", cap, "-T", "fields", "-e", field], capture_output=True, text=True)
    vals = [int(v) for v in r.stdout.split() if v.isdigit()]
    return max(vals) + 1 if vals else 0

CAP = 4096  # exaudit's default --inspect-bytes per direction

def flow_records(cap):
    """Packet records for fuzz_targets/flow.rs from a capture's TCP/UDP packets."""
    r = subprocess.run(["tshark", "-r", cap, "-T", "fields", "-E", "separator=|",
                        "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
                        "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport",
                        "-e", "tcp.flags", "-e", "tcp.seq_raw", "-e", "tcp.len", "-e", "udp.length",
                        "-e", "frame.time_delta"], capture_output=True, text=True)
    hosts, ports, out = {}, {}, bytearray([0x12])  # cap 3 flows, 64-byte streams
    common = {25: 0, 135: 1, 443: 2, 389: 3, 49152: 5, 50000: 6}
    def host(a):
        v6 = ":" in a
        return hosts.setdefault(a, len(hosts) & 7) | (0x80 if v6 else 0)
    def port(p):
        p = int(p)
        if p in common:
            return 0x80 | common[p]
        return ports.setdefault(p, len(ports) & 7)
    for line in r.stdout.splitlines()[:200]:
        f = line.split("|")
        if len(f) < 13:
            continue
        src, dst = (f[0] or f[1]).split(",")[0], (f[2] or f[3]).split(",")[0]
        if not src or not dst:
            continue
        if f[4]:
            sp, dp, kind = f[4], f[5], 0
            flags = int(f[8], 16) if f[8] else 0
            seq = int(f[9]) if f[9] else 0
            plen = int(f[10]) if f[10] else 0
        elif f[6]:
            sp, dp, kind, flags, seq = f[6], f[7], 2, 0, 0
            plen = max(int(f[11] or 8) - 8, 0)
        else:
            continue
        try:
            dt = min(int(float(f[12] or 0) / 0.4), 30)
        except ValueError:
            dt = 0
        plen = min(plen, 63)
        out += bytes([host(src), host(dst), port(sp.split(",")[0]), port(dp.split(",")[0]),
                      kind | (dt << 3), flags & 0xff]) + struct.pack("<I", seq & 0xffffffff) + bytes([plen])
        out += bytes(plen)
    return bytes(out)

for cap in sys.argv[1:]:
    with open(cap, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    small = raw[:16384]
    put("reader", small)
    put("reader_gz", b"\x00" + small)
    for lt, fr in frames(raw)[:MAX_FRAMES]:
        if lt in LINK:
            put("decode", bytes([LINK[lt]]) + fr[:4096])
    for proto in ("tcp", "udp"):
        n = min(count_streams(cap, proto), 60)
        if n == 0:
            continue
        for c2s, s2c in follow(cap, proto, n).values():
            if not c2s and not s2c:
                continue
            c2s, s2c = bytes(c2s[:CAP]), bytes(s2c[:CAP])
            seed = struct.pack("<H", len(c2s)) + c2s + s2c
            for t in INSPECTORS:
                put(t, seed)
    rec = flow_records(cap)
    if len(rec) > 1:
        put("flow", rec[:8192])
PY
# Committed seeds (tiny hand-made inputs and minimised regressions).
if [ -d seeds ]; then
    for d in seeds/*/; do
        t=$(basename "$d")
        mkdir -p "corpus/$t"
        cp "$d"* "corpus/$t/" 2>/dev/null || true
    done
fi
for d in corpus/*/; do
    printf '%-10s %5d seeds\n' "$(basename "$d")" "$(ls "$d" | wc -l)"
done
