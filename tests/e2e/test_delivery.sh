#!/usr/bin/env bash
# Nothing lost, ever: a collector paused as a run ends, a collector killed and replaced mid-run, and no
# collector at all — each time every step the probe made ends up recorded exactly once, and the loss
# columns of `traintop ls` say so. Waits poll for the outcome; the only sleeps are the faults' lengths.
source "$(dirname "$0")/lib.sh"

EP=ipc://$T/c.sock
start_collector() {   # start_collector RECORD_DIR: a traintopd on $EP, its pid in DPID
    "$BIN/traintopd" --listen "$EP" --record "$1" --no-default-rules 2>> "$T/d.err" &
    DPID=$!
    PIDS+=($DPID)
    wait_for 20 test -S "$T/c.sock"
}
# run_is RUN STATE STEP: the collector lists RUN in STATE at STEP.
run_is() {
    "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c "
import json, sys
r = [x for x in json.load(sys.stdin) if x['run'] == '$1']
sys.exit(0 if r and r[0]['state'] == '$2' and r[0]['step'] == $3 else 1)"
}
# at_step RUN N: the collector has RUN at step N or later.
at_step() {
    "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c "
import json, sys
sys.exit(0 if any(x['run'] == '$1' and x['step'] >= $2 for x in json.load(sys.stdin)) else 1)"
}
# every_step RUN STEPS FILE...: the files (recordings, spools) hold steps 1..STEPS of RUN, the union
# complete, each file in order, and no file a line that is not JSON.
every_step() {
    $PY - "$@" <<'PYEOF'
import json, sys
run, steps, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
have = set()
for path in files:
    prev = 0
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = json.loads(line)          # every line is JSON
        if m.get("run") != run or m.get("type") != "step":
            continue
        assert m["step"] > prev, f"{path}:{n}: step {m['step']} after {prev}"
        prev = m["step"]
        have.add(m["step"])
missing = sorted(set(range(1, steps + 1)) - have)
assert not missing, f"{len(missing)} steps missing, first {missing[:10]}"
print(f"{run}: all {steps} steps in {', '.join(p.rsplit('/', 1)[-1] for p in files)}")
PYEOF
}
ls_loss() {   # ls_loss RUN: the run's delivery columns from `traintop ls`, one line
    "$BIN/traintop" ls --endpoint "$EP" --json | $PY -c "
import json, sys
r = [x for x in json.load(sys.stdin) if x['run'] == '$1'][0]
print('sent', r['sent'], 'received', r['steps'], 'lost', r['lost'], 'resent', r['resent'], 'spooled', r['spooled'])"
}

# 1. The collector is stopped (SIGSTOP, as Ctrl-Z does to a dashboard) for 3 s as a run ends.
start_collector "$T/rec"
"$BIN/traintop-demo-trainer" --run paused --endpoint "$EP" --steps 400 --step-delay-ms 5 --spectral-every 0 \
    --persample off --quiet 2> "$T/paused.err" &
TPID=$!
wait_for 60 at_step paused 300
check "the run got to step 300 with the collector running" test $? -eq 0
kill -STOP $DPID
wait $TPID
check "the trainer exits 0 while its collector is stopped" test $? -eq 0
sleep 3                                   # the fault: the collector stays stopped this long
kill -CONT $DPID
wait_for 60 run_is paused finished 400
check "after SIGCONT the collector has the run to its end" test $? -eq 0
check "every step is in the recording exactly once, in order" every_step paused 400 "$T/rec/paused.jsonl"
check "no spool is left behind (imported)" test -z "$(find "$T/state" -name '*.jsonl' 2>/dev/null)"
ls_loss paused | tee "$T/paused.loss"
check "ls: 400 sent, 400 received, 0 lost" grep -q "^sent 400 received 400 lost 0 " "$T/paused.loss"

# 2. The collector is killed mid-run and a new one, which never heard of the run, starts 5 s later.
"$BIN/traintop-demo-trainer" --run restarted --endpoint "$EP" --steps 700 --step-delay-ms 10 --spectral-every 0 \
    --persample off --quiet 2> "$T/restarted.err" &
TPID=$!
wait_for 60 at_step restarted 100
check "the run got to step 100" test $? -eq 0
kill -9 $DPID; wait $DPID 2>/dev/null
sleep 5                                   # the fault: no collector for 5 s
start_collector "$T/rec2"                 # an empty recording: it does not know the run
wait $TPID
check "the trainer kept going through the collector's death" test $? -eq 0
wait_for 60 run_is restarted finished 700
check "the new collector has the run to its end" test $? -eq 0
check "the new collector's recording is in order, without a gap, to step 700" \
    $PY -c "
import json
s = [json.loads(l)['step'] for l in open('$T/rec2/restarted.jsonl') if json.loads(l)['type'] == 'step']
assert s == list(range(s[0], 701)), (s[:3], s[-3:])
print('the new collector received steps', s[0], 'to 700')"
check "the dead collector's recording and the new one's hold all 700 steps" \
    every_step restarted 700 "$T/rec/restarted.jsonl" "$T/rec2/restarted.jsonl"
ls_loss restarted | tee "$T/restarted.loss"
check "ls: nothing lost" grep -q " lost 0 " "$T/restarted.loss"

# 3. No collector during the whole run: everything waits in the spool, and a collector imports it.
kill $DPID; wait $DPID 2>/dev/null
"$BIN/traintop-demo-trainer" --run alone --endpoint "$EP" --steps 500 --spectral-every 0 --persample off --quiet \
    2> "$T/alone.err"
check "the trainer exits 0 without a collector" test $? -eq 0
check "the probe warned that nobody acknowledged its messages, and where they are kept" \
    grep -q "traintop: run 'alone' rank 0: 501 messages were not acknowledged by a collector; kept in $T/state/traintop/spool/" "$T/alone.err"
start_collector "$T/rec3"
wait_for 60 run_is alone finished 500
check "a collector started later imports the spool: the run is complete" test $? -eq 0
check "the spool's steps are in the recording" every_step alone 500 "$T/rec3/alone.jsonl"
check "the imported spool is removed" test -z "$(find "$T/state" -name '*.jsonl*')"
ls_loss alone | tee "$T/alone.loss"
check "ls: 500 sent, 500 received, 0 lost, 500 spooled" grep -q "^sent 500 received 500 lost 0 resent 0 spooled 500" "$T/alone.loss"
"$BIN/traintop" ls --endpoint "$EP" > "$T/ls.txt"
check "the ls table has the delivery columns" grep -Eq "^alone +0 +finished .* 500 +500 +0 +0 +500$" "$T/ls.txt"

# 4. The dashboard's embedded collector records by default (and not with --no-record).
kill $DPID; wait $DPID 2>/dev/null
TMUX_SOCK=$T/tmux.sock
dash() {   # dash NAME ARGS...: the dashboard in a detached tmux session
    local name=$1; shift
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s "$name" -x 120 -y 40 \
        "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_STATE_HOME=$XDG_STATE_HOME LANG=C.UTF-8 TERM=xterm-256color $BIN/traintop --endpoint $EP $*"
    wait_for 20 test -S "$T/c.sock"
}
dash_quit() {
    tmux -S "$TMUX_SOCK" send-keys -t "$1" q
    wait_for 20 bash -c "! tmux -S '$TMUX_SOCK' has-session -t '$1' 2>/dev/null"
}
dash d1
"$BIN/traintop-demo-trainer" --run dashed --endpoint "$EP" --steps 200 --spectral-every 0 --persample off --quiet 2> /dev/null
check "a trainer feeding the dashboard exits 0" test $? -eq 0
dash_quit d1
check "the dashboard recorded the run under XDG_STATE_HOME" every_step dashed 200 "$T/state/traintop/recordings/dashed.jsonl"
dash d2 --no-record
"$BIN/traintop-demo-trainer" --run unrecorded --endpoint "$EP" --steps 50 --spectral-every 0 --persample off --quiet 2> /dev/null
dash_quit d2
check "--no-record: nothing recorded" test ! -e "$T/state/traintop/recordings/unrecorded.jsonl"
finish
