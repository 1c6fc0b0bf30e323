#!/usr/bin/env bash
# Each bundled plugin panel loads and draws inside the dashboard (view 7), m cycles them, and a
# plugin given with --plugin shows up among them.
source "$(dirname "$0")/lib.sh"

make -s -C "$ROOT" install PREFIX="$T/prefix" > /dev/null 2>&1
cp -r "$ROOT/examples/plugins/hello" "$T/hello"
PKG_CONFIG_PATH=$T/prefix/lib/pkgconfig make -s -C "$T/hello" > /dev/null 2>&1
TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
shows() { tm capture-pane -p -t p | grep -q -- "$1"; }
tm -f /dev/null new-session -d -s p -x 120 -y 40 \
   "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_CONFIG_HOME=$XDG_CONFIG_HOME LANG=C.UTF-8 TERM=xterm-256color $BIN/traintop demo --runs 1 --delay-ms 2 --plugin $T/hello/hello.so"
wait_for 20 shows "fc1.weight"
# let a GWA window, noise statistics and one spectrum arrive
wait_for 30 bash -c "'$BIN/traintop' --help >/dev/null; tmux -S '$TMUX_SOCK' capture-pane -p -t p | grep -Eq 'sgd-lr0.01 +run +[0-9]{3,}'"
tm send-keys -t p 7
wait_for 20 shows "Spectra"
check "view 7 opens the first plugin panel (spectrum)" shows "Spectra"
wait_for 30 shows "alpha of fc"
check "  and it draws (per-layer alpha table and its chart)" shows "alpha of fc"
# m cycles the panels (in the order they were found): collect what each one drew, once its title is up
# and it has drawn what it must (polled: on a loaded machine the frame, or the data, may take a while)
title_line() { tm capture-pane -p -t p | grep -m1 'loaded; m/M'; }
title_moved() { [ "$(title_line)" != "$1" ]; }
drawn() {
    local s; s=$(tm capture-pane -p -t p)
    case "$s" in
        *"Spectra  ("*) grep -q "alpha of fc" <<< "$s" ;;
        *"Gradient noise  ("*) grep -q "critical batch size" <<< "$s" ;;
        *"Alignment (GWA)  ("*) grep -q "GWA = mean" <<< "$s" && grep -q "histogram at step" <<< "$s" ;;
        *"Hello  ("*) grep -q "hello, sgd-lr0.01" <<< "$s" ;;
        *) return 1 ;;
    esac
}
: > "$T/seen.txt"
for i in 1 2 3; do
    before=$(title_line)
    tm send-keys -t p m
    wait_for 20 title_moved "$before"
    wait_for 30 drawn
    tm capture-pane -p -t p >> "$T/seen.txt"
done
check "m: the noise panel draws" grep -q "critical batch size" "$T/seen.txt"
check "m: the gwa panel draws" grep -q "GWA = mean" "$T/seen.txt"
check "  with the γ histogram of the latest window" grep -q "histogram at step" "$T/seen.txt"
check "m: the --plugin panel draws" grep -q "hello, sgd-lr0.01" "$T/seen.txt"
check "  4 loaded" shows "4 loaded"
tm send-keys -t p q
wait_for 10 bash -c "! tmux -S '$TMUX_SOCK' has-session -t p 2>/dev/null"
check "q quits" bash -c "! tmux -S '$TMUX_SOCK' has-session -t p 2>/dev/null"
finish
