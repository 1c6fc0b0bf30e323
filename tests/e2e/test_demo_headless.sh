#!/usr/bin/env bash
# The headless demo: real trainer processes, the embedded collector receives every step of every run.
source "$(dirname "$0")/lib.sh"

STEPS=300
"$BIN/traintop" demo --headless --steps $STEPS --json > "$T/summary.json" 2> "$T/demo.err"
check "demo --headless exits 0" test $? -eq 0

$PY - "$T/summary.json" $STEPS > "$T/py.out" 2>&1 <<'PYEOF'
import json, math, sys
runs = json.load(open(sys.argv[1]))
steps = int(sys.argv[2])
assert len(runs) >= 3, f"expected at least 3 runs, got {len(runs)}"
for r in runs:
    name = r["run"]
    assert r["state"] == "finished", f"{name}: state {r['state']}"
    assert r["steps"] == steps, f"{name}: collector received {r['steps']} of {steps} steps"
    assert r["last_step"] == steps, f"{name}: last step {r['last_step']}"
    assert r["dropped"] == 0, f"{name}: probe dropped {r['dropped']}"
    for k in ("loss", "val_loss", "val_acc"):
        assert isinstance(r[k], float) and math.isfinite(r[k]), f"{name}: {k} = {r[k]!r}"
    assert r["val_acc"] > 0.2, f"{name}: val_acc {r['val_acc']} not above chance (0.1)"
    for k in ("val_best_step", "gwa_best_step"):
        assert isinstance(r[k], (int, float)) and 0 < r[k] <= steps, f"{name}: {k} = {r[k]!r}"
print("runs:", ", ".join(f"{r['run']} val_acc={r['val_acc']:.3f}" for r in runs))
PYEOF
check "every run finished, every step received, finite loss, val_acc above chance" test $? -eq 0
cat "$T/py.out"

"$BIN/traintop" demo --headless --steps 40 --runs 1 > "$T/text.out" 2>&1
check "text summary names the run" grep -q "sgd-lr0.01 .*finished" "$T/text.out"

"$BIN/traintop" demo --steps 0 2> "$T/bad.err"
rc=$?
check "bad --steps is exit 2 with one line" test $rc -eq 2 -a "$(wc -l < "$T/bad.err")" -eq 1
check "the line names the option" grep -q -- "--steps '0'" "$T/bad.err"
finish
