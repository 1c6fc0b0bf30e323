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

# The exec hook: hostile names arrive as environment values, nothing runs through a shell; the hook
# gets an environment of its own (no token, nothing of the collector's) and no descriptor but 0, 1, 2.
cat > "$T/hook.sh" <<'HOOK'
#!/bin/sh
env > "$1.env"
ls -l /proc/self/fd | awk 'NR > 1 { print $9, $11 }' > "$1.fds"   # ls's own: what it inherited
printf 'run=[%s] layer=[%s] rule=[%s] metric=[%s] value=[%s] step=[%s] arg2=[%s]\n' \
  "$TRAINTOP_RUN" "$TRAINTOP_LAYER" "$TRAINTOP_RULE" "$TRAINTOP_METRIC" "$TRAINTOP_VALUE" "$TRAINTOP_STEP" "$2" >> "$1"
HOOK
chmod +x "$T/hook.sh"
cat > "$T/rules.json" <<JSON
{"defaults": false, "rules": [
  {"name": "any-layer", "kind": "threshold", "monitor": "w_norm", "layer": "*", "op": ">", "threshold": 0,
   "exec": ["$T/hook.sh", "$T/hook.out", "\$(touch $T/pwned)"]}
]}
JSON
EP=ipc://$T/c.sock
TRAINTOP_TOKEN=hooktok HOOK_SECRET=inherited "$BIN/traintopd" --listen "$EP" --rules "$T/rules.json" --record "$T/rec" 2> "$T/d.err" &
DPID=$!; PIDS+=($DPID)
wait_for 20 test -S "$T/c.sock"
TRAINTOP_TOKEN=hooktok push "$EP" '{"v":1,"type":"run_start","run":"evil:run","rank":0,"token":"hooktok","world":1,"stats":["w_norm"],"layers":[{"name":"l$(touch '"$T"'/pwned3);\"`id`\nx","rows":1,"cols":1}]}' 2>/dev/null
TRAINTOP_TOKEN=hooktok push "$EP" '{"v":1,"type":"run_start","run":"evil:run","rank":0,"token":"hooktok","world":1,"stats":["w_norm"],"layers":[{"name":"l$(touch '"$T"'/pwned3);`id`","rows":1,"cols":1}]}' 2>/dev/null
TRAINTOP_TOKEN=hooktok push "$EP" '{"v":1,"type":"step","run":"evil:run","rank":0,"token":"hooktok","step":1,"layers":[[2.5]]}' 2>/dev/null
wait_for 20 test -s "$T/hook.out"
check "the exec hook ran" test -s "$T/hook.out"
check "  with the hostile layer name as plain data" grep -qF 'layer=[l$(touch '"$T"'/pwned3);`id`]' "$T/hook.out"
check "  and its argument vector untouched" grep -qF 'arg2=[$(touch '"$T"'/pwned)]' "$T/hook.out"
wait_for 20 test -s "$T/hook.out.fds"
check "  its environment: PATH and the documented TRAINTOP_* values only (no token)" \
    bash -c "! grep -vE '^(PATH|PWD|TRAINTOP_(RUN|RANK|RULE|METRIC|LAYER|VALUE|STEP|REASON))=' '$T/hook.out.env' && ! grep -q hooktok '$T/hook.out.env'"
check "  no descriptor of the collector's (recordings, sockets, logs): only 0, 1, 2" \
    bash -c "! awk '\$1 > 2 && \$2 !~ /^\\/proc\\//' '$T/hook.out.fds' | grep -q ."
[ "$FAIL" -gt 0 ] && cat "$T/hook.out.fds"
check "  no token recorded either" bash -c "! grep -rq hooktok '$T/rec'"
check "  value and step passed" grep -qF 'value=[2.5] step=[1]' "$T/hook.out"
check "nothing was injected" bash -c "! ls '$T'/pwned* 2>/dev/null | grep -q ."
check "the alert is in the alerts log" grep -q '"rule":"any-layer"' "$T/rec/alerts.jsonl"

# traintop stop, by hand (the collector above has a token: the trainer and traintop carry it).
export TRAINTOP_TOKEN=hooktok
"$BIN/traintop-demo-trainer" --run manual --endpoint "$EP" --steps 100000 --step-delay-ms 2 --quiet --spectral-every 0 2> "$T/manual.err" &
MP=$!
wait_for 30 bash -c "'$BIN/traintop' ls --endpoint '$EP' | grep -q manual"
"$BIN/traintop" stop manual --endpoint "$EP" --reason "enough" > /dev/null
check "traintop stop exits 0" test $? -eq 0
wait_for 30 bash -c "! kill -0 $MP 2>/dev/null"
check "the trainer stopped with the reason" grep -q "stopped at step [0-9]*: enough" "$T/manual.err"
"$BIN/traintop" stop nosuchrun --endpoint "$EP" 2> "$T/nosuch.err"
check "stopping an unknown run: exit 1, one line" test $? -eq 1 -a "$(wc -l < "$T/nosuch.err")" -eq 1

unset TRAINTOP_TOKEN

# SIGHUP: the rules again; a mistake is reported with file, rule and field, valid rules are kept.
cat > "$T/rules.json" <<JSON
{"rules": [ {"name": "fine", "kind": "spike", "monitor": "loss"},
            {"name": "broken", "kind": "threshold", "monitor": "loss", "op": "~", "threshold": 1} ]}
JSON
kill -HUP $DPID
wait_for 20 grep -q "rules reloaded" "$T/d.err"
check "SIGHUP reloads and reports the mistake with file, rule and field" \
    grep -qF "$T/rules.json: rule \"broken\": field \"op\": expected \">\", \">=\", \"<\" or \"<=\", got \"~\"" "$T/d.err"
check "  keeping the valid rules (3 defaults + fine)" grep -q "rules reloaded: 4 rules, 1 mistake;" "$T/d.err"
check "  and the collector keeps running" kill -0 $DPID

# SIGHUP keeps the state of unchanged rules: an early_stop rule (patience 3) that has counted 2 bad
# checks fires on the next one after a reload of the same file; a changed patience starts over; a
# broken file keeps the rules in use.
EP2=ipc://$T/s.sock
send() { push "$EP2" "$1"; }          # returns once the collector has read it
vl() { send '{"v":1,"type":"step","run":"'"$1"'","rank":0,"step":'"$2"',"scalars":{"val_loss":'"$3"'}}'; }
es_rules() { echo '{"rules": [{"name": "es", "kind": "early_stop", "monitor": "val_loss", "patience": '"$1"'}]}' > "$T/es.json"; }
es_rules 3
"$BIN/traintopd" --listen "$EP2" --no-default-rules --rules "$T/es.json" 2> "$T/s.err" &
SPID=$!; PIDS+=($SPID)
wait_for 20 test -S "$T/s.sock"
send '{"v":1,"type":"run_start","run":"r","rank":0,"world":1,"stats":[],"layers":[]}'
vl r 1 1.0; vl r 2 1.1; vl r 3 1.2
kill -HUP $SPID
wait_for 20 grep -q "rules reloaded" "$T/s.err"
check "a reload of the same file keeps the rule's state" grep -q "rules reloaded: 1 rules, 0 mistakes; 1 kept their state, 0 changed, 0 new, 0 removed" "$T/s.err"
check "  no alert before the third bad check" bash -c "! grep -q 'alert es' '$T/s.err'"
vl r 4 1.3
wait_for 20 grep -q "alert es on run 'r'" "$T/s.err"
check "  which fires the rule (patience counted across the reload)" grep -q "alert es on run 'r' at step 4:" "$T/s.err"
es_rules 2
kill -HUP $SPID
wait_for 20 grep -q "1 changed" "$T/s.err"
check "a changed patience: the rule starts over" grep -q "0 kept their state, 1 changed, 0 new, 0 removed" "$T/s.err"
vl r 5 1.4; vl r 6 1.5; vl r 7 1.6
wait_for 20 grep -q "alert es on run 'r' at step 7" "$T/s.err"
check "  and fires again, 2 bad checks after its new best" grep -q "alert es on run 'r' at step 7:" "$T/s.err"
echo '{"rules": [{"name": "es", "kind": "early_stop",' > "$T/es.json"
kill -HUP $SPID
wait_for 20 grep -q "rules not reloaded" "$T/s.err"
check "a broken file on reload: said so, with the file" grep -qF "$T/es.json: not valid JSON (near line 1)" "$T/s.err"
check "  and the rules in use are kept" grep -q "rules not reloaded: 1 rules file could not be read (above); keeping the 1 rules in use, with their state" "$T/s.err"
send '{"v":1,"type":"run_start","run":"r2","rank":0,"world":1,"stats":[],"layers":[]}'
vl r2 1 1.0; vl r2 2 1.1; vl r2 3 1.2
wait_for 20 grep -q "alert es on run 'r2'" "$T/s.err"
check "  still evaluated (patience 2 on a new run)" grep -q "alert es on run 'r2' at step 3:" "$T/s.err"
"$BIN/traintopd" --listen "ipc://$T/x.sock" --alert 'loss frobnicate' 2> "$T/bad.err" &
BP=$!; PIDS+=($BP)
wait_for 20 grep -q "listening" "$T/bad.err"
check "a bad --alert is one line naming it, and the collector still runs" grep -q "alert 'loss frobnicate': 'frobnicate'" "$T/bad.err"
"$BIN/traintopd" --listen "ipc://$T/y.sock" --alert 'val_loss min patiense=3' 2> "$T/typo.err" &
YP=$!; PIDS+=($YP)
wait_for 20 grep -q "listening" "$T/typo.err"
check "a misspelt key: did you mean" grep -qF "traintop: --alert 'val_loss min patiense=3': 'patiense': unknown key; did you mean \"patience\"?" "$T/typo.err"
finish
