#!/usr/bin/env bash
# The dashboard in a real terminal (tmux): `traintop demo` at 80x24 shows the runs and the layer
# table, quits on q and on ^C, and leaves the shell's terminal exactly as it found it.
source "$(dirname "$0")/lib.sh"

TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t tt; }
shows() { screen | grep -q -- "$1"; }
prompt_back() { screen | grep -v '^\s*$' | tail -1 | grep -q '^tt\$ *$'; }
trainers_gone() { ! pgrep -f "traintop-demo-trainer .*$T/run" > /dev/null; }

tm -f /dev/null new-session -d -s tt -x 80 -y 24 \
   "env -i PATH=$PATH HOME=$T TERM=xterm-256color LANG=C.UTF-8 XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_CONFIG_HOME=$XDG_CONFIG_HOME PS1='tt\$ ' bash --norc --noprofile"
wait_for 15 prompt_back
tm send-keys -t tt "stty -g > $T/stty.before; clear" Enter
tm send-keys -t tt "$BIN/traintop demo --steps 100000" Enter

for name in sgd-lr0.01 sgd-lr0.05 sgd-lr0.2; do
    wait_for 20 shows "$name"; check "run $name is listed at 80x24" shows "$name"
done
wait_for 20 shows "fc1.weight"; check "layer table shows fc1.weight" shows "fc1.weight"
check "layer table shows fc2.weight" shows "fc2.weight"
runs_rows() { screen | grep -E '^(sgd|adamw)-'; }   # the runs table (not the header, whose clock moves anyway)
runs_rows > "$T/screen-80x24.txt"
moved() { ! runs_rows | diff -q - "$T/screen-80x24.txt" > /dev/null; }
wait_for 20 moved
check "steps advance live" moved

tm send-keys -t tt "?"
wait_for 15 shows "quit"; check "? shows help naming the quit key" shows "quit"
tm send-keys -t tt "?"
tm send-keys -t tt q
wait_for 20 prompt_back; check "q returns to the shell prompt" prompt_back
wait_for 20 trainers_gone; check "q stops the demo trainers" trainers_gone
tm send-keys -t tt "stty -g > $T/stty.after; clear" Enter
wait_for 15 test -s "$T/stty.after"
check "terminal settings restored after q" cmp -s "$T/stty.before" "$T/stty.after"

# ^C (SIGINT) ends it the same clean way.
tm send-keys -t tt "$BIN/traintop demo --steps 100000" Enter
wait_for 20 shows "fc1.weight"
tm send-keys -t tt C-c
wait_for 20 prompt_back; check "^C returns to the shell prompt" prompt_back
wait_for 20 trainers_gone; check "^C stops the demo trainers" trainers_gone
rm -f "$T/stty.after"
tm send-keys -t tt "stty -g > $T/stty.after; clear" Enter
wait_for 15 test -s "$T/stty.after"
check "terminal settings restored after ^C" cmp -s "$T/stty.before" "$T/stty.after"

# SIGTERM from outside.
tm send-keys -t tt "$BIN/traintop demo --steps 100000" Enter
wait_for 20 shows "fc1.weight"
pkill -TERM -P "$(tm display -p -t tt '#{pane_pid}')" -f "^$BIN/traintop demo"   # ours: a child of the pane's shell
wait_for 20 prompt_back; check "SIGTERM returns to the shell prompt" prompt_back
wait_for 20 trainers_gone; check "SIGTERM stops the demo trainers" trainers_gone
finish
