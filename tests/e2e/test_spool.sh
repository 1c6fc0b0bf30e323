#!/usr/bin/env bash
# A probe whose collector is away keeps what it could not send in its spool: replayed alone (no
# collector ever) or merged with the recording of a collector that died mid-run, nothing is lost but
# what the dead collector had received and not yet flushed.
source "$(dirname "$0")/lib.sh"

# No collector at all: everything ends in the spool.
"$BIN/traintop-demo-trainer" --run alone --endpoint "ipc://$T/nobody.sock" --steps 2500 --spool "$T/alone.spool" --quiet --spectral-every 0
check "trainer without a collector exits 0" test $? -eq 0
"$BIN/traintop" replay --summary --json "$T/alone.spool" > "$T/alone.json"
check "the spool replays every step" $PY -c "
import json; r = json.load(open('$T/alone.json'))[0]
assert r['run'] == 'alone' and r['steps'] == 2500 and r['state'] == 'finished', r"

# The collector dies mid-run and never comes back: recording + spool = the run.
EP=ipc://$T/c.sock
"$BIN/traintopd" --listen "$EP" --record "$T/rec" --quiet 2> "$T/d.err" &
DPID=$!; PIDS+=($DPID)
wait_for 20 test -S "$T/c.sock"
"$BIN/traintop-demo-trainer" --run split --endpoint "$EP" --steps 1500 --step-delay-ms 2 --spool "$T/split.spool" --quiet --spectral-every 0 &
TPID=$!
# the fault, mid-run: once the collector has a fifth of the run (not after a fixed time, which a loaded
# machine may spend starting the trainer)
split_at() { "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c "
import json, sys
sys.exit(0 if any(x['run'] == 'split' and x['step'] >= $1 for x in json.load(sys.stdin)) else 1)"; }
wait_for 60 split_at 300
check "the collector had the run to step 300 before it died" test $? -eq 0
kill -9 $DPID; wait $DPID 2>/dev/null
wait $TPID
check "trainer exits 0 after its collector died" test $? -eq 0
check "the spool has the rest" test -s "$T/split.spool"
"$BIN/traintop" replay --summary --json "$T/rec/split.jsonl" "$T/split.spool" > "$T/split.json" 2> "$T/split.err"
check "recording + spool replay together" $PY -c "
import json; r = json.load(open('$T/split.json'))[0]
assert r['run'] == 'split' and r['state'] == 'finished' and r['last_step'] == 1500, r
assert r['steps'] >= 1500 - 40, r   # at most 0.2 s of unflushed steps died with the collector
print('split run:', r['steps'], 'of 1500 steps from recording + spool')"
check "traintop ls reads recordings too" bash -c "'$BIN/traintop' ls '$T/alone.spool' | grep -Eq '^alone +0 +finished +2500 '"
finish
