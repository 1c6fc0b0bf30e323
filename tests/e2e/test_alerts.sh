#!/usr/bin/env bash
# Alerts reach the training loop: a rule stops a demo run (the trainer exits at that step), the exec
# hook gets hostile run and layer names as data — never as shell — and traintop stop, SIGHUP reload
# and rule mistakes behave.
source "$(dirname "$0")/lib.sh"

# A rule stops a run; the trainer exited at that step.
"$BIN/traintop" demo --headless --steps 3000 --runs 2 --json --alert 'vl:val_loss min patience=5 stop' \
    > "$T/stop.json" 2> "$T/stop.err"
check "demo with a stop rule exits 0" test $? -eq 0
$PY - "$T/stop.json" "$T/stop.err" <<'PYEOF'
import json, re, sys
runs = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
for r in runs:
    assert r["state"] == "stopped" and isinstance(r["stopped_at"], (int, float)), r
    assert r["stopped_at"] < 3000 and r["steps"] == r["stopped_at"], r
    assert r["stop_reason"].startswith("rule vl: val_loss did not improve"), r
    m = re.search(r"run %s: stopped at step (\d+): rule vl" % re.escape(r["run"]), err)
    assert m and int(m.group(1)) == r["stopped_at"], (r["run"], err)
print("stopped:", ", ".join(f"{r['run']} at {r['stopped_at']}" for r in runs))
PYEOF
check "each run stopped by the rule, the trainer exited at the step the collector saw last" test $? -eq 0

# The exec hook: hostile names arrive as environment values, nothing runs through a shell.
cat > "$T/hook.sh" <<'HOOK'
#!/bin/sh
printf 'run=[%s] layer=[%s] rule=[%s] metric=[%s] value=[%s] step=[%s] arg1=[%s]\n' \
  "$TRAINTOP_RUN" "$TRAINTOP_LAYER" "$TRAINTOP_RULE" "$TRAINTOP_METRIC" "$TRAINTOP_VALUE" "$TRAINTOP_STEP" "$1" >> "$HOOK_OUT"
HOOK
chmod +x "$T/hook.sh"
export HOOK_OUT=$T/hook.out
cat > "$T/rules.json" <<JSON
{"defaults": false, "rules": [
  {"name": "any-layer", "kind": "threshold", "monitor": "w_norm", "layer": "*", "op": ">", "threshold": 0,
   "exec": ["$T/hook.sh", "\$(touch $T/pwned)"]}
]}
JSON
EP=ipc://$T/c.sock
"$BIN/traintopd" --listen "$EP" --rules "$T/rules.json" --record "$T/rec" 2> "$T/d.err" &
DPID=$!; PIDS+=($DPID)
wait_for 5 test -S "$T/c.sock"
timeout 0.5 nanocat --push --connect "$EP" --interval 5 --data '{"v":1,"type":"run_start","run":"evil:run","rank":0,"world":1,"stats":["w_norm"],"layers":[{"name":"l$(touch '"$T"'/pwned3);\"`id`\nx","rows":1,"cols":1}]}' 2>/dev/null
timeout 0.5 nanocat --push --connect "$EP" --interval 5 --data '{"v":1,"type":"run_start","run":"evil:run","rank":0,"world":1,"stats":["w_norm"],"layers":[{"name":"l$(touch '"$T"'/pwned3);`id`","rows":1,"cols":1}]}' 2>/dev/null
timeout 0.5 nanocat --push --connect "$EP" --interval 5 --data '{"v":1,"type":"step","run":"evil:run","rank":0,"step":1,"layers":[[2.5]]}' 2>/dev/null
wait_for 5 test -s "$T/hook.out"
check "the exec hook ran" test -s "$T/hook.out"
check "  with the hostile layer name as plain data" grep -qF 'layer=[l$(touch '"$T"'/pwned3);`id`]' "$T/hook.out"
check "  and its argument vector untouched" grep -qF 'arg1=[$(touch '"$T"'/pwned)]' "$T/hook.out"
check "  value and step passed" grep -qF 'value=[2.5] step=[1]' "$T/hook.out"
check "nothing was injected" bash -c "! ls '$T'/pwned* 2>/dev/null | grep -q ."
check "the alert is in the alerts log" grep -q '"rule":"any-layer"' "$T/rec/alerts.jsonl"

# traintop stop, by hand.
"$BIN/traintop-demo-trainer" --run manual --endpoint "$EP" --steps 100000 --step-delay-ms 2 --quiet --spectral-every 0 2> "$T/manual.err" &
MP=$!
wait_for 10 bash -c "'$BIN/traintop' ls --endpoint '$EP' | grep -q manual"
"$BIN/traintop" stop manual --endpoint "$EP" --reason "enough" > /dev/null
check "traintop stop exits 0" test $? -eq 0
wait_for 10 bash -c "! kill -0 $MP 2>/dev/null"
check "the trainer stopped with the reason" grep -q "stopped at step [0-9]*: enough" "$T/manual.err"
"$BIN/traintop" stop nosuchrun --endpoint "$EP" 2> "$T/nosuch.err"
check "stopping an unknown run: exit 1, one line" test $? -eq 1 -a "$(wc -l < "$T/nosuch.err")" -eq 1

# SIGHUP: the rules again; a mistake is reported with file, rule and field, valid rules are kept.
cat > "$T/rules.json" <<JSON
{"rules": [ {"name": "fine", "kind": "spike", "monitor": "loss"},
            {"name": "broken", "kind": "threshold", "monitor": "loss", "op": "~", "threshold": 1} ]}
JSON
kill -HUP $DPID
wait_for 5 grep -q "rules reloaded" "$T/d.err"
check "SIGHUP reloads and reports the mistake with file, rule and field" grep -q "rules file $T/rules.json: rule 1 'broken': op: expected" "$T/d.err"
check "  keeping the valid rules (3 defaults + fine)" grep -q "rules reloaded: 4 rules, 1 mistakes" "$T/d.err"
check "  and the collector keeps running" kill -0 $DPID
"$BIN/traintopd" --listen "ipc://$T/x.sock" --alert 'loss frobnicate' 2> "$T/bad.err" &
BP=$!; PIDS+=($BP)
wait_for 5 grep -q "listening" "$T/bad.err"
check "a bad --alert is one line naming it, and the collector still runs" grep -q "alert 'loss frobnicate': 'frobnicate'" "$T/bad.err"
finish
