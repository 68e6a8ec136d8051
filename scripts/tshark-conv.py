#!/usr/bin/env python3
"""Prints tshark's TCP and UDP conversation tables of a capture in a canonical,
diffable form: one line per conversation,

    proto lo_addr lo_port hi_addr hi_port packets_lo_to_hi packets_hi_to_lo

with (lo_addr, lo_port) <= (hi_addr, hi_port) compared as addresses, sorted.
Used to make the expected files beside captures (tests/expected/*.conv) and
by tests/tshark_conv.rs when tshark is installed.

Usage: scripts/tshark-conv.py CAPTURE
"""
import ipaddress
import subprocess
import sys


def split_endpoint(s):
    addr, _, port = s.rpartition(":")
    return ipaddress.ip_address(addr), int(port)


def key(ep):
    a, p = ep
    # IPv4 sorts as IPv4-mapped IPv6, as exaudit's canonical key does.
    packed = a.packed if a.version == 6 else b"\0" * 10 + b"\xff\xff" + a.packed
    return (packed, p)


def main(path):
    out = subprocess.run(
        ["tshark", "-n", "-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
        capture_output=True, text=True,
    ).stdout
    proto = None
    rows = []
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "tcp"
        elif line.startswith("UDP Conversations"):
            proto = "udp"
        # "A <-> B  frames_B->A size unit  frames_A->B size unit  total ..."
        # (sizes print as "123 bytes", "22 kB", "1 MB").
        t = line.split()
        if proto is None or len(t) < 7 or t[1] != "<->":
            continue
        a, b = split_endpoint(t[0]), split_endpoint(t[2])
        b_to_a = int(t[3].replace(",", ""))
        a_to_b = int(t[6].replace(",", ""))
        if key(a) > key(b):
            a, b, a_to_b, b_to_a = b, a, b_to_a, a_to_b
        rows.append(f"{proto} {a[0]} {a[1]} {b[0]} {b[1]} {a_to_b} {b_to_a}")
    for r in sorted(rows):
        print(r)


if __name__ == "__main__":
    main(sys.argv[1])
