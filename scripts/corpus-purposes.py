#!/usr/bin/env python3
"""Counts, over a folder of captures audited with no topology file, the flows an
inspector recognised as SMTP, DCE/RPC, LDAP, POP3 or IMAP4 and how many of them got a
purpose, and the hosts inferred with evidence. Usage:
    scripts/corpus-purposes.py EXAUDIT CAPTURE_DIR [--list]
"""
import json, os, subprocess, sys, collections

exe, folder = sys.argv[1], sys.argv[2]
listing = "--list" in sys.argv
kinds = ["smtp", "dcerpc", "ldap", "pop3", "imap"]
total = collections.Counter()
named = collections.Counter()
hosts_evidence = 0
hosts_inferred = 0
missing = []
for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        continue
    out = subprocess.run([exe, "read", path, "--format", "ndjson", "--no-progress"],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("type") == "flow":
            app = o.get("app") or {}
            for k in kinds:
                if k in app:
                    total[k] += 1
                    if o.get("purpose") not in (None, "unknown"):
                        named[k] += 1
                    else:
                        missing.append((name, o["id"], k))
                    break
        elif o.get("type") == "summary":
            for h in (o.get("topology_info") or {}).get("hosts", []):
                if "internal_clients" in h["roles"] and h["roles"] == "internal_clients":
                    continue
                hosts_inferred += 1
                if h.get("evidence"):
                    hosts_evidence += 1
for k in kinds:
    print(f"{k:7} {named[k]:4} of {total[k]:4} with a purpose")
print(f"all     {sum(named.values()):4} of {sum(total.values()):4} with a purpose")
print(f"server hosts inferred: {hosts_inferred}, with evidence: {hosts_evidence}")
if listing:
    for m in missing:
        print("no purpose:", *m)
