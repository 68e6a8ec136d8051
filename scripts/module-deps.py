#!/usr/bin/env python3
"""Module dependency graph of src/: edges from `crate::a::b` paths, cycles.

    scripts/module-deps.py            cycles between top-level modules
                                      (inspect/ and flow/ split one level)
    scripts/module-deps.py --edges    every edge, with the files that make it

Modules sit on floors (FLOORS, bottom first, as ARCHITECTURE.md draws them); an
import from a lower floor to a higher one "runs back up". Exit status 1 when
there is a cycle or more than MAX_UP imports run back up (ARCHITECTURE.md).
"""
import os, re, sys
from collections import defaultdict

# Bottom first. A module's floor is that of its own name, else of its folder.
FLOORS = [
    ["vocab", "diag"],
    ["decode"],
    ["source"],
    ["flow"],
    ["inspect"],
    ["pipeline", "analyze"],
    ["classify"],
    ["findings"],
    ["audit"],
    ["report"],
    ["cli"],
    ["run", "live"],
]
MAX_UP = 2

def floor(m):
    for i, names in enumerate(FLOORS):
        if m in names or m.split("::")[0] in names:
            return i
    return None

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
SPLIT = {"inspect", "flow", "source", "audit", "classify", "report"}

def module_of(rel):
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    if not parts or parts[0] in ("main", "lib"):
        return None
    if parts[0] in SPLIT and len(parts) > 1:
        return parts[0] + "::" + parts[1]
    return parts[0]

def target(path):
    parts = path.split("::")
    if parts[0] in SPLIT and len(parts) > 1 and re.match(r"^[a-z_0-9]+$", parts[1]):
        sub = os.path.join(ROOT, parts[0], parts[1])
        if os.path.exists(sub + ".rs") or os.path.isdir(sub):
            return parts[0] + "::" + parts[1]
        return parts[0]
    return parts[0]

edges = defaultdict(set)
for d, _, fs in os.walk(ROOT):
    for f in fs:
        if not f.endswith(".rs"):
            continue
        p = os.path.join(d, f)
        rel = os.path.relpath(p, ROOT)
        m = module_of(rel)
        if m is None:
            continue
        text = open(p, encoding="utf-8").read()
        # test modules may reach anywhere; comments name, they do not import
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        text = re.sub(r"//[^\n]*", "", text)
        for u in re.findall(r"crate::([a-z_0-9]+(?:::[a-z_0-9]+)?)", text):
            t = target(u)
            if t != m and t.split("::")[0] != "" :
                if t == m.split("::")[0] or m == t.split("::")[0]:
                    continue  # a folder and its own files
                edges[(m, t)].add(rel)
        # `super::x` from a file in a folder is a sibling of that folder
        parts = rel[:-3].split("/")
        if len(parts) == 2 and parts[0] in SPLIT and parts[1] != "mod":
            for u in re.findall(r"super::([a-z_0-9]+)", text):
                t = parts[0] + "::" + u
                if t != m and os.path.exists(os.path.join(ROOT, parts[0], u + ".rs")) or os.path.isdir(os.path.join(ROOT, parts[0], u)):
                    if t != m:
                        edges[(m, t)].add(rel)

graph = defaultdict(set)
for (a, b) in edges:
    graph[a].add(b)

# strongly connected components (Tarjan)
index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v:
                break
        comps.append(c)
sys.setrecursionlimit(10000)
for v in list(graph):
    if v not in index:
        strong(v)
cycles = [sorted(c) for c in comps if len(c) > 1]
if "--edges" in sys.argv:
    for (a, b), files in sorted(edges.items()):
        print(f"{a} -> {b}  ({', '.join(sorted(files))})")
for c in cycles:
    inner = [(a, b, sorted(edges[(a, b)])) for a in c for b in c if (a, b) in edges]
    print("cycle: " + " <-> ".join(c))
    for a, b, fs in inner:
        print(f"    {a} -> {b}: {', '.join(fs)}")
if not cycles:
    print("no import circles")
unplaced = sorted({m for e in edges for m in e if floor(m) is None})
for m in unplaced:
    print(f"module {m} has no floor: add it to FLOORS")
up = sorted((a, b) for (a, b) in edges if floor(a) is not None and floor(b) is not None and floor(a) < floor(b))
for a, b in up:
    print(f"runs back up: {a} -> {b} ({', '.join(sorted(edges[(a, b)]))})")
print(f"{len(up)} import(s) run back up a floor (at most {MAX_UP})")
sys.exit(1 if cycles or unplaced or len(up) > MAX_UP else 0)
