#!/usr/bin/env bash
# test_layering: the include graph of the C sources points one way (docs/HACKING.md):
#   cli → tui/core → tui/panels → tui/widgets + tui (model, panel) → collectors → proto,
#   probes → metrics → proto (metrics reads only proto/protocol.h); plugins/host is a leaf. Fails on an include against that direction and
#   on any include cycle between modules (a module: NAME.c with NAME.h), and when a panel reads a store
#   field instead of going through tui/model.h.
set -u
cd "$(dirname "$0")/../.."
python3 - <<'PY'
import os, re, sys

FOLDERS = ["proto", "metrics", "probes", "collectors", "plugins", "tui/widgets", "tui/panels", "tui/core", "tui", "cli"]
BELOW = {"proto", "metrics"}
ALLOWED = {
    "proto": {"proto"},
    "metrics": {"metrics", "proto"},      # the statistic order (proto/protocol.h) is what layerstats fills
    "probes": {"probes", "metrics", "proto"},
    "collectors": {"collectors", "metrics", "proto"},
    "plugins": {"plugins"},
    "tui/widgets": {"tui/widgets", "collectors"} | BELOW,
    "tui": {"tui", "tui/widgets", "collectors", "plugins"} | BELOW,
    "tui/panels": {"tui/panels", "tui", "tui/widgets", "plugins"},
    "tui/core": {"tui/core", "tui/panels", "tui", "tui/widgets", "collectors", "plugins"} | BELOW,
    "cli": {"cli", "tui/core", "tui", "tui/widgets", "collectors", "plugins"} | BELOW,
}

def folder(path):
    d = os.path.dirname(path)
    return d if d in ALLOWED else None

def layer(path):
    return folder(path)

files = []
for d in FOLDERS:
    if os.path.isdir(d):
        files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith((".c", ".h"))]

bad, edges = [], {}
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for f in files:
    src = open(f, encoding="utf-8", errors="replace").read()
    for h in inc.findall(src):
        t = os.path.normpath(os.path.join(os.path.dirname(f), h))
        if not os.path.exists(t):
            continue                                   # include/traintop/… and system-like headers
        lt = layer(t)
        if lt is None:
            continue
        lf = layer(f)
        if lt not in ALLOWED[lf]:
            bad.append("%s includes %s (%s may not depend on %s)" % (f, t, lf, lt))
        a, b = os.path.splitext(f)[0], os.path.splitext(t)[0]
        if a != b:
            edges.setdefault(a, set()).add(b)

# cycles between modules (Tarjan's strongly connected components)
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        strong(v)
for c in sccs:
    bad.append("include cycle: " + " <-> ".join(c))

# panels read the store through tui/model.h only: no tt_store / tt_run field of the store's
STORE_FIELDS = re.compile(r"(?<!ctx)(?<!\bsc)->(runs|nruns|layers|nlayers|scalars|nscalars|stat_names|nstats|row_stats|hparams|"
                          r"alerts_n|alerts|bells|version|last_seen|first_seen|steps_per_s|end_status|stat)\b")
for f in files:
    if not f.startswith("tui/panels/"):
        continue
    for i, line in enumerate(open(f, encoding="utf-8").read().split("\n"), 1):
        m = STORE_FIELDS.search(line)
        if m and not line.lstrip().startswith(("/*", "*")):
            bad.append("%s:%d reads the store directly (%s): use tui/model.h" % (f, i, m.group(0)))

nedges = sum(len(v) for v in edges.values())
for b in bad:
    print("FAIL", b)
print("test_layering: %d passed, %d failed" % (1 if not bad else 0, len(bad)))
print("(%d files, %d module edges checked)" % (len(files), nedges))
sys.exit(1 if bad else 0)
PY
