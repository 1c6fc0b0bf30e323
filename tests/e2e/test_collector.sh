#!/usr/bin/env bash
# traintopd over a real socket: a real trainer's run arrives, `traintop ls` lists it, hostile messages
# are rejected and counted without harm, and every binary answers --help/--version.
source "$(dirname "$0")/lib.sh"

EP=ipc://$T/collector.sock
"$BIN/traintopd" --listen "$EP" > "$T/d.out" 2> "$T/d.err" &
PIDS+=($!)
DPID=$!
wait_for 5 test -S "$T/collector.sock"
check "traintopd listens" test -S "$T/collector.sock"

"$BIN/traintop-demo-trainer" --run e2e-run --endpoint "$EP" --steps 50 --quiet
check "trainer exits 0" test $? -eq 0

"$BIN/traintop" ls --endpoint "$EP" --json > "$T/ls.json"
check "ls --json exits 0" test $? -eq 0
$PY - "$T/ls.json" <<'PYEOF'
import json, sys
runs = json.load(open(sys.argv[1]))
r = [x for x in runs if x["run"] == "e2e-run"]
assert len(r) == 1, runs
r = r[0]
assert r["state"] == "finished" and r["steps"] == 50 and r["step"] == 50, r
assert "loss" in r["scalars"] and "lr" in r["scalars"], r["scalars"]
assert r["layers"] >= 2 and r["hparams"], r
PYEOF
check "ls shows the run finished with all 50 steps, scalars and layers" test $? -eq 0
"$BIN/traintop" ls --endpoint "$EP" > "$T/ls.txt"
check "ls table lists the run" grep -q "^e2e-run .*finished" "$T/ls.txt"

"$BIN/traintop" demo --headless --steps 60 --runs 2 --endpoint "$EP" --json > "$T/remote-demo.json"
check "demo --headless --endpoint sends its runs to the running collector" $PY -c "
import json; r = json.load(open('$T/remote-demo.json'))
assert sorted(x['run'] for x in r) == ['sgd-lr0.01', 'sgd-lr0.05'] and all(x['steps'] == 60 for x in r), r"

send() { push "$EP" "$1" || echo "  (not read by the collector: $1)" | cut -c1-120; }   # returns once read
send 'not json at all'
send '{"v":99,"type":"step","run":"x","rank":0}'
send '{"v":2,"type":"run_start","run":"e2e-bad","rank":0,"world":1,"stats":["w_norm"],"layers":[{"name":"fc","rows":1,"cols":1}]}'
send '{"v":1,"type":"step","run":"e2e-bad","rank":0,"step":"many"}'
send '{"v":1,"type":"step","run":"e2e-run","rank":0,"step":51}'
send "{\"v\":1,\"type\":\"run_start\",\"run\":\"deep\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[],\"hparams\":$(printf '{"a":%.0s' $(seq 200))1$(printf '}%.0s' $(seq 200))}"
head -c 100000 /dev/urandom | tr -d '\0' > "$T/noise"
send "$(head -c 4000 "$T/noise" | tr -d '\0')"
check "traintopd survives hostile messages" kill -0 $DPID
"$BIN/traintop" ls --endpoint "$EP" --json > "$T/ls2.json"
check "the recorded run is intact after them" grep -q '"steps":\s*50' "$T/ls2.json"
check "each rejection is logged as one line with its cause" wait_for 10 grep -q "rejected message (version)" "$T/d.err"
check "the bad field is named" wait_for 10 grep -q "run 'e2e-bad' rank 0: step: expected an integer" "$T/d.err"
check "a step after the run's end is refused" wait_for 10 grep -q "rejected message (ended): run 'e2e-run' rank 0: step after the run's end (finished)" "$T/d.err"
check "deep nesting is refused" wait_for 10 grep -q "hparams: expected an object" "$T/d.err"

"$BIN/traintopd" --listen "$EP" 2> "$T/second.err"
check "a second collector on the same socket is refused" grep -q "another collector is already listening" "$T/second.err"

kill $DPID; wait $DPID 2>/dev/null
check "traintopd reports its counters on exit" grep -q "messages received" "$T/d.err"
"$BIN/traintop" ls --endpoint "$EP" --timeout 300 2> "$T/none.err"
rc=$?
check "ls with no collector: exit 1, one line" test $rc -eq 1 -a "$(wc -l < "$T/none.err")" -eq 1

for b in traintop traintopd traintop-demo-trainer; do
    "$BIN/$b" --help > "$T/h" 2>&1; check "$b --help exits 0" test $? -eq 0
    "$BIN/$b" --version | grep -q "0\.1\.0"; check "$b --version" test $? -eq 0
    "$BIN/$b" --no-such-option > /dev/null 2>&1; check "$b rejects an unknown option" test $? -ne 0
done
"$BIN/traintop" frobnicate 2> "$T/cmd.err"
check "unknown command: exit 2 naming it" test $? -eq 2
check "unknown command line" grep -q "unknown command 'frobnicate'" "$T/cmd.err"
finish
