#!/usr/bin/env python3
"""The layering of src/: no include goes up a layer, no module cycle.

The table of layers lives in one place, doc/design.md (section "Layers",
the table whose first column is the folder, bottom row first); this test
reads it from there.  A file of src/<folder>/ may include headers of its
own folder, of folders listed above it in the table (lower layers), and
the public headers of include/.  Modules (x.c + x.h) must form no cycle,
inside a layer too.

usage: check_layers.py SOURCE_ROOT
"""
import os
import re
import sys


def layer_table(root):
    text = open(os.path.join(root, "doc", "design.md"), encoding="utf-8").read()
    m = re.search(r"^## Layers\n(.*?)(?=^## )", text, re.M | re.S)
    if not m:
        sys.exit("doc/design.md: no '## Layers' section")
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`src/"):
            rows.append(cells[0].strip("`").rstrip("/").split("/", 1)[1])
    if not rows:
        sys.exit("doc/design.md: the Layers table lists no src/ folder")
    return rows


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    layers = layer_table(root)
    rank = {name: i for i, name in enumerate(layers)}
    src = os.path.join(root, "src")
    public = set(os.listdir(os.path.join(root, "include")))
    where = {}
    for d in os.listdir(src):
        path = os.path.join(src, d)
        if not os.path.isdir(path):
            continue
        if d not in rank:
            print("src/%s/ is not in the Layers table of doc/design.md" % d)
            return 1
        for f in os.listdir(path):
            if f.endswith((".c", ".h")):
                if f in where:
                    print("%s exists in src/%s/ and src/%s/" % (f, where[f], d))
                    return 1
                where[f] = d
    stray = [f for f in os.listdir(src) if f.endswith((".c", ".h"))]
    if stray:
        print("files outside every layer folder: " + " ".join(sorted(stray)))
        return 1

    bad = []
    edges = {}
    for f, d in sorted(where.items()):
        text = open(os.path.join(src, d, f), encoding="utf-8").read()
        mod = os.path.splitext(f)[0]
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.M):
            name = os.path.basename(inc)
            if name.endswith(".c"):
                bad.append("src/%s/%s includes a .c file: %s" % (d, f, inc))
            elif name in where:
                if rank[where[name]] > rank[d]:
                    bad.append("src/%s/%s includes %s of the higher layer %s"
                               % (d, f, name, where[name]))
                target = os.path.splitext(name)[0]
                if target != mod:
                    edges.setdefault(mod, set()).add(target)
            elif name not in public:
                bad.append("src/%s/%s includes %s, found nowhere" % (d, f, inc))

    # Tarjan's strongly connected components over modules.
    sys.setrecursionlimit(10000)
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted({os.path.splitext(f)[0] for f in where}):
        if v not in index:
            visit(v)
    for c in cycles:
        bad.append("modules include each other in a circle: " + " ".join(c))
    for b in bad:
        print(b)
    if not bad:
        print("%d files in %d layers: every include goes down or sideways, "
              "no module cycle" % (len(where), len(layers)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
