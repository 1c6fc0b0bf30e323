#!/usr/bin/env bash
# A dashboard attaching late to a running collector gets the whole history (downsampled), then follows
# live; stop requests from the viewer reach the probe through the collector.
source "$(dirname "$0")/lib.sh"

EP=ipc://$T/c.sock
"$BIN/traintopd" --listen "$EP" --quiet 2> "$T/d.err" &
PIDS+=($!)
wait_for 15 test -S "$T/c.sock"
"$BIN/traintop-demo-trainer" --run watched --endpoint "$EP" --steps 100000 --step-delay-ms 2 --quiet --spectral-every 0 2> "$T/trainer.err" &
TPID=$!
PIDS+=($TPID)
step_now() { "$BIN/traintop" ls --endpoint "$EP" --json | $PY -c "import json,sys; r=json.load(sys.stdin); print(r[0]['step'] if r else 0)"; }
wait_for 60 bash -c "[ \$($(declare -f step_now | head -0)true; \"$BIN/traintop\" ls --endpoint '$EP' --json | $PY -c 'import json,sys; r=json.load(sys.stdin); print(r[0][\"step\"] if r else 0)') -ge 1000 ]"
check "the run passed step 1000 before the viewer attached" test "$(step_now)" -ge 1000

TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t v; }
tm -f /dev/null new-session -d -s v -x 120 -y 40 "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR LANG=C.UTF-8 TERM=xterm-256color $BIN/traintop --connect $EP"
wait_for 20 bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t v | grep -q watched"
check "the viewer shows the run" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t v | grep -q watched"
# the loss chart reaches up to the first steps' loss (> 2 for 10 classes): the history came along,
# not only the live steps after 1000, where the loss is below 1
wait_for 20 bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t v | grep -Eq '│[2-9]┤'"
check "the loss chart includes the run's first steps" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t v | grep -Eq '│[2-9]┤'"
step_shown() { screen | grep -oE 'watched +run +[0-9]+' | grep -oE '[0-9]+$'; }
step_past() { local s; s=$(step_shown); [ -n "$s" ] && [ "$s" -gt "$1" ]; }
s1=$(step_shown)
wait_for 20 step_past "${s1:-0}"
s2=$(step_shown)
check "it follows live ($s1 -> $s2)" test -n "$s1" -a -n "$s2" -a "${s2:-0}" -gt "${s1:-0}"
screen > "$T/viewer.txt"; tm send-keys -t v q
wait_for 15 bash -c "! tmux -S '$TMUX_SOCK' has-session -t v 2>/dev/null"
kill $TPID 2>/dev/null; wait $TPID 2>/dev/null

# A finished run: the viewer shows the collector's steps per second (its history carries the rate),
# not the pace at which it read the history.
EP2=ipc://$T/c2.sock
"$BIN/traintopd" --listen "$EP2" --quiet 2> "$T/d2.err" &
PIDS+=($!)
wait_for 15 test -S "$T/c2.sock"
"$BIN/traintop-demo-trainer" --run timed --endpoint "$EP2" --steps 300 --step-delay-ms 5 --quiet --spectral-every 0 2> /dev/null
timed_rate() { "$BIN/traintop" ls --endpoint "$EP2" --json | $PY -c "
import json, sys
r = [x for x in json.load(sys.stdin) if x['run'] == 'timed' and x['state'] == 'finished']
print(r[0]['steps_per_s'] if r else '')"; }
has_rate() { test -n "$(timed_rate)"; }          # asked again at each poll
wait_for 30 has_rate
RATE=$(timed_rate)
tm -f /dev/null new-session -d -s v2 -x 120 -y 40 "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR LANG=C.UTF-8 TERM=xterm-256color $BIN/traintop --connect $EP2"
wait_for 20 bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t v2 | grep -q 'timed finished'"
SHOWN=$(tm capture-pane -p -t v2 | grep -oE 'timed finished +step 300 +[0-9.]+k? st/s' | grep -oE '[0-9.]+k? st/s' | grep -oE '^[0-9.]+k?')
# the same figure, to the dashboard's rounding (4 significant digits)
check "--connect shows the same steps/s as ls ($SHOWN and $RATE)" $PY -c "
shown, rate = '$SHOWN', float('$RATE' or 'nan')
v = float(shown[:-1]) * 1e3 if shown.endswith('k') else float(shown)
assert abs(v - rate) <= 0.0051 * rate, (v, rate)"
tm send-keys -t v2 q
"$BIN/traintop" --connect "ipc://$T/nobody.sock" 2> "$T/none.err" < /dev/null
check "no collector: one clear line" grep -q "no collector answered on ipc://$T/nobody.sock" "$T/none.err"
finish
