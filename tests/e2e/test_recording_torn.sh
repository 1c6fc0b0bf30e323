#!/usr/bin/env bash
# Recordings are always valid JSON lines: after kill -9 of a recording collector every file reads with a
# real JSON-lines reader (json line by line, pandas); a torn tail (what a crashed machine can leave) is
# moved to <run>.torn with a warning when the collector restarts, and the runs still end complete.
source "$(dirname "$0")/lib.sh"

EP=ipc://$T/c.sock
REC=$T/rec
start_collector() {
    "$BIN/traintopd" --listen "$EP" --record "$REC" --no-default-rules 2>> "$T/d.err" &
    DPID=$!
    PIDS+=($DPID)
    wait_for 30 test -S "$T/c.sock"
}
# jsonl_ok FILE...: each file parses line by line (json) and as a whole (pandas.read_json(lines=True)).
jsonl_ok() {
    $PY - "$@" <<'PYEOF'
import json, sys
import pandas
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            assert line.endswith("\n"), f"{path}:{n}: no newline at the end"
            json.loads(line)
    pandas.read_json(path, lines=True)
print(f"{len(sys.argv) - 1} recordings are valid JSON lines")
PYEOF
}
# steps_at_least N: every run p1..p6 has a step N or later.
steps_at_least() {
    "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c "
import json, sys
runs = {r['run']: r for r in json.load(sys.stdin)}
sys.exit(0 if all(f'p{i}' in runs and runs[f'p{i}']['step'] >= $1 for i in range(1, 7)) else 1)"
}

start_collector
TP=()
for i in 1 2 3 4 5 6; do
    "$BIN/traintop-demo-trainer" --run "p$i" --endpoint "$EP" --steps 300 --step-delay-ms 10 --spectral-every 0 \
        --persample off --quiet --seed $i 2>> "$T/trainers.err" &
    TP+=($!)
done
wait_for 120 steps_at_least 20
check "six runs are recording" test $? -eq 0
kill -9 $DPID; wait $DPID 2>/dev/null
check "after kill -9 every recording is valid JSON lines" jsonl_ok "$REC"/p*.jsonl

# What kill -9 cannot do to these files, a crashed machine can: leave half a line at the end.
printf '{"v":2,"type":"step","run":"p1","rank":0,"seq":9' >> "$REC/p1.jsonl"
printf '{"v":2,"type":"st' >> "$REC/p2.jsonl"
start_collector
check "the restart warns of each torn tail and names the side file" \
    wait_for 30 bash -c "grep -q 'traintop: $REC/p1.jsonl: its last line was torn .* moved to $REC/p1.torn' '$T/d.err' &&
             grep -q 'traintop: $REC/p2.jsonl: its last line was torn .* moved to $REC/p2.torn' '$T/d.err'"
check "the torn tails are in the .torn files" \
    bash -c "grep -qx '{\"v\":2,\"type\":\"step\",\"run\":\"p1\",\"rank\":0,\"seq\":9' '$REC/p1.torn' && grep -qx '{\"v\":2,\"type\":\"st' '$REC/p2.torn'"
check "no other recording had a torn tail" test "$(ls "$REC"/*.torn | wc -l)" -eq 2
rc=0; for p in "${TP[@]}"; do wait "$p" || rc=1; done
check "the trainers ran through the crash" test $rc -eq 0
all_finished() {
    "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c "
import json, sys
runs = {r['run']: r for r in json.load(sys.stdin)}
sys.exit(0 if all(runs.get(f'p{i}', {}).get('state') == 'finished' and runs[f'p{i}']['steps'] == 300 for i in range(1, 7)) else 1)"
}
wait_for 120 all_finished
check "every run finished with all 300 steps" test $? -eq 0
kill $DPID; wait $DPID 2>/dev/null
check "the recordings are still valid JSON lines" jsonl_ok "$REC"/p*.jsonl
check "and hold every step once, in order" $PY -c "
import json
for i in range(1, 7):
    s = [m['step'] for m in map(json.loads, open('$REC/p%d.jsonl' % i)) if m['type'] == 'step']
    assert s == list(range(1, 301)), (i, len(s))"
finish
