#!/usr/bin/env bash
# The collector under load and under failure: 64 probe processes into one collector with every record
# accounted for; kill -9 of the collector mid-run, restart on the same recording, the recording
# intact, the probes back and every step there. Polls for outcomes: it must pass on a loaded machine.
source "$(dirname "$0")/lib.sh"

EP=ipc://$T/c.sock
REC=$T/rec
start_collector() {
    "$BIN/traintopd" --listen "$EP" --record "$REC" --quiet 2>> "$T/d.err" &
    DPID=$!
    PIDS+=($DPID)
    wait_for 30 test -S "$T/c.sock"
}
start_collector

# 64 probes at once.
N=64 STEPS=60
for i in $(seq 1 $N); do
    "$BIN/traintop-demo-trainer" --run "p$i" --endpoint "$EP" --steps $STEPS --eval-every 60 --spectral-every 0 \
        --persample off --quiet --seed $i &
done
wait_all() { local rc=0; for j in $(jobs -p); do [ "$j" = "$DPID" ] && continue; wait "$j" || rc=1; done; return $rc; }
wait_all
check "64 trainers exit 0" test $? -eq 0
# every run, each checked (not the first failure only): finished, every step received, nothing lost.
# A trainer that could not get its end acknowledged in time leaves a spool the collector imports, so
# poll until the runs are complete (or the time is up), then report every run that is not.
all_complete() {
    "$BIN/traintop" ls --endpoint "$EP" --json > "$T/ls64.json" 2>/dev/null || return 1
    $PY - "$T/ls64.json" $N $STEPS "${1:-quiet}" <<'PYEOF'
import json, sys
runs = {r["run"]: r for r in json.load(open(sys.argv[1]))}
n, steps, verbose = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "verbose"
bad = []
for i in range(1, n + 1):
    r = runs.get(f"p{i}")
    if not r or r["state"] != "finished" or r["steps"] != steps or r["dropped"] or r["lost"]:
        bad.append(f"p{i}: " + (f"{r['state']} {r['steps']} steps, dropped {r['dropped']}, lost {r['lost']}" if r else "absent"))
if verbose:
    print(f"{n - len(bad)} of {n} runs complete" + "".join("\n  " + b for b in bad))
sys.exit(1 if bad else 0)
PYEOF
}
wait_for 120 all_complete
all_complete verbose
check "every step of all 64 runs arrived, none dropped or lost" test $? -eq 0

# kill -9 mid-run, restart, the probe comes back and resends what the dead collector had not acknowledged.
"$BIN/traintop-demo-trainer" --run survivor --endpoint "$EP" --steps 400 --step-delay-ms 10 --quiet --spectral-every 0 &
TPID=$!
survivor_at() {
    "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c "
import json, sys
sys.exit(0 if any(r['run'] == 'survivor' and r['step'] >= $1 for r in json.load(sys.stdin)) else 1)"
}
wait_for 120 survivor_at 50
check "the survivor run is under way" test $? -eq 0
kill -9 $DPID; wait $DPID 2>/dev/null
sleep 1                                   # the fault: no collector for a second
start_collector
wait $TPID
check "the trainer kept going through the collector's death" test $? -eq 0
survivor_done() {
    "$BIN/traintop" ls --endpoint "$EP" --json > "$T/ls2.json" 2>/dev/null && $PY -c "
import json, sys
sys.exit(0 if any(r['run'] == 'survivor' and r['state'] == 'finished' and r['steps'] == 400 for r in json.load(open('$T/ls2.json'))) else 1)"
}
wait_for 120 survivor_done
$PY - "$T/ls2.json" "$REC/survivor.jsonl" <<'PYEOF'
import json, sys
runs = {r["run"]: r for r in json.load(open(sys.argv[1]))}
r = runs["survivor"]
assert r["state"] == "finished" and r["lost"] == 0, r
assert r["steps"] == 400, r["steps"]      # the dead collector's unacknowledged steps were resent
steps = []
for l in open(sys.argv[2], "rb"):
    m = json.loads(l)                       # every line is JSON: a torn tail was moved aside
    if m.get("type") == "step":
        steps.append(m["step"])
assert steps == list(range(1, 401)), (len(steps), steps[-5:])
print(f"survivor: {r['steps']} of 400 steps after kill -9 and restart; recording whole and in order")
PYEOF
check "recording whole and the run complete after kill -9 + restart" test $? -eq 0
check "the 64 earlier runs were reloaded from the recording" test "$($PY -c "import json,sys; print(len(json.load(open('$T/ls2.json'))))")" -eq 65
finish
