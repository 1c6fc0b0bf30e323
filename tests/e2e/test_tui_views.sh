#!/usr/bin/env bash
# The dashboard's views in a real terminal (tmux), driven by keys: a replayed recording compared with
# golden screens (deterministic: a fixed seed, a pinned BLAS kernel, a frozen clock), then `traintop
# demo` at 40x12, 80x24, 120x40 and 200x60 with every view, help, the layer filter (valid and invalid
# regex), sorting, the heatmap, compare, pause, a resize storm while data flows, NO_COLOR, a bad
# settings file, and clean exits on q, SIGINT and SIGTERM with the terminal restored.
# UPDATE_GOLDEN=1 rewrites tests/e2e/golden/ from this run.
source "$(dirname "$0")/lib.sh"

GOLDEN=$ROOT/tests/e2e/golden
TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t tt; }
shows() { screen | grep -q -- "$1"; }
hides() { ! screen | grep -q -- "$1"; }
prompt_back() { screen | grep -v '^\s*$' | tail -1 | grep -q '^tt\$ *$'; }
size() { tm resize-window -t tt -x "$1" -y "$2"; }
keys() { tm send-keys -t tt "$@"; }
# view_shows SIZE KEY TEXT: press KEY, expect TEXT
view_shows() { keys "$2"; wait_for 15 shows "$3"; check "$1: key $2 shows \"$3\"" shows "$3"; }
# the dashboard this suite started: a child of its tmux pane's shell (not another suite's, on a shared machine)
dashboard_pid() { pgrep -P "$(tm display -p -t tt '#{pane_pid}')" -f "^$BIN/traintop (demo|replay)" | head -1; }

tm -f /dev/null new-session -d -s tt -x 80 -y 24 \
   "env -i PATH=$PATH HOME=$T TERM=xterm-256color LANG=C.UTF-8 XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_CONFIG_HOME=$XDG_CONFIG_HOME TRAINTOP_CLOCK=12:00:00 PS1='tt\$ ' bash --norc --noprofile"
wait_for 15 prompt_back
keys "stty -g > $T/stty.before; cd $T; clear" Enter
wait_for 15 test -s "$T/stty.before"

# ---- a deterministic recording, replayed: golden screens ----
# No collector listens on none.sock: the probe spools every message, in order, to the file.
OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1 "$BIN/traintop-demo-trainer" --run golden --seed 1 --steps 300 \
    --spectral-every 0 --endpoint "ipc://$T/none.sock" --spool "$T/golden.jsonl" --quiet
check "recording of 300 steps generated" test "$(grep -c '"type":"step"' "$T/golden.jsonl" 2>/dev/null)" = 300

matches() { screen | diff -q "$GOLDEN/$1.txt" - > /dev/null 2>&1; }
golden() {   # golden NAME: compare the screen with golden/NAME.txt (or write it), once drawn: it may take a
             # loaded machine a while to draw the frame whole, so the screen is polled up to 20 s
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then sleep 1; else wait_for 20 matches "$1"; fi
    screen > "$T/$1.txt"
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then mkdir -p "$GOLDEN" && cp "$T/$1.txt" "$GOLDEN/$1.txt"; fi
    if diff -u "$GOLDEN/$1.txt" "$T/$1.txt" > "$T/$1.diff"; then ok "golden screen $1"; else bad "golden screen $1"; head -40 "$T/$1.diff"; fi
}
keys "NO_COLOR=1 $BIN/traintop replay golden.jsonl" Enter
wait_for 20 shows "Runs (1)"
keys 3; wait_for 15 shows "Layers (6) of golden"; sleep 0.3
golden layers-80x24
keys 4; wait_for 15 shows "Heatmap of golden"; sleep 0.3
golden heatmap-80x24
keys n; wait_for 15 shows "per layer"; sleep 0.3     # n: each layer on its own colour scale
golden heatmap-rows-80x24
keys n; wait_for 15 hides "per layer"
keys s s s; sleep 0.3                                # heatmap rows follow the table's sort: problems, name, w_norm
keys 3; wait_for 15 shows "sort: w_norm"; sleep 0.3
golden layers-sorted-80x24
keys 1; wait_for 15 shows "Runs (1)"
tm send-keys -t tt -l $'\e[<0;21;2M'; tm send-keys -t tt -l $'\e[<0;21;2m'     # a click on the tab "3 Lay"
wait_for 15 shows "Layers (6) of golden"; check "mouse: a click on a tab switches the view" shows "Layers (6) of golden"
tm capture-pane -p -e -t tt > "$T/nocolor.txt"
check "replay: NO_COLOR leaves no colour on screen" bash -c "! grep -qP '\x1b\\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]' '$T/nocolor.txt'"
check "replay: NO_COLOR keeps the highlights (reverse video)" grep -qP '\x1b\[(?:[0-9;]*;)?7[;m]' "$T/nocolor.txt"
keys q
wait_for 20 prompt_back; check "replay: q returns to the shell prompt" prompt_back

# ---- settings: a bad field costs one line on stderr and that field; a file that is not JSON is never
# overwritten; a change from the keyboard is saved ----
CFG=$XDG_CONFIG_HOME/traintop/config.json
mkdir -p "$XDG_CONFIG_HOME/traintop"
printf '{"theme": "purple", "view": "layers", "mine": 1}' > "$CFG"
keys "clear; $BIN/traintop replay golden.jsonl 2> $T/cfg.err" Enter
wait_for 20 shows "Layers (6) of golden"; check "bad settings: the valid fields still apply (view layers)" shows "Layers (6) of golden"
keys T; sleep 0.3                                    # a setting changed from the keyboard is saved
keys q
wait_for 20 prompt_back
check "bad settings: one line on stderr naming the file and the field" \
    bash -c "[ \$(wc -l < '$T/cfg.err') = 1 ] && grep -q 'config.json: field \"theme\"' '$T/cfg.err'"
check "settings: T saved the light theme, other fields kept" bash -c "grep -q '\"theme\":[[:space:]]*\"light\"' '$CFG' && grep -q '\"mine\"' '$CFG'"
printf '{"theme": "dark",' > "$CFG"
cp "$CFG" "$T/cfg.orig"
keys "clear; $BIN/traintop replay golden.jsonl 2> $T/cfg.err" Enter
wait_for 20 shows "Runs (1)"
keys T; wait_for 15 shows "not saved"; check "settings: not JSON: the change is not saved, said in the footer" shows "not saved"
keys q
wait_for 20 prompt_back
check "settings: a file that is not JSON is never overwritten" cmp -s "$CFG" "$T/cfg.orig"
check "settings: not JSON: one line on stderr" bash -c "[ \$(wc -l < '$T/cfg.err') = 1 ] && grep -q 'not valid JSON' '$T/cfg.err'"
rm -f "$CFG"

# ---- SIGTERM ends the replay cleanly ----
keys "clear; $BIN/traintop replay golden.jsonl" Enter
wait_for 20 shows "Runs (1)"
kill -TERM "$(dashboard_pid)" 2>/dev/null
wait_for 20 prompt_back; check "replay: SIGTERM returns to the shell prompt" prompt_back
keys "stty -g > $T/stty.after1; clear" Enter
wait_for 15 test -s "$T/stty.after1"
check "terminal settings restored after SIGTERM" cmp -s "$T/stty.before" "$T/stty.after1"

# ---- a crash signal: the terminal is given back before the process dies ----
keys "clear; ulimit -c 0; $BIN/traintop replay golden.jsonl" Enter
wait_for 20 shows "Runs (1)"
kill -SEGV "$(dashboard_pid)" 2>/dev/null
wait_for 20 prompt_back; check "replay: SIGSEGV returns to the shell prompt" prompt_back
keys "stty -g > $T/stty.after3; clear" Enter
wait_for 15 test -s "$T/stty.after3"
check "terminal settings restored after SIGSEGV" cmp -s "$T/stty.before" "$T/stty.after3"

# ---- live: every view at every size ----
keys "$BIN/traintop demo --steps 100000" Enter
wait_for 20 shows "fc1.weight"
size 40 12
for sz in 40x12 80x24 120x40 200x60; do
    size "${sz%x*}" "${sz#*x}"
    sleep 0.2
    view_shows "$sz" 2 "loss"
    view_shows "$sz" 3 "Layers ("
    view_shows "$sz" 4 "Heatmap of"
    view_shows "$sz" 5 "Compare: loss"
    view_shows "$sz" 6 "No alerts"
    view_shows "$sz" 1 "Runs (4)"
    view_shows "$sz" "?" "quit traintop"
    keys Escape; wait_for 15 hides "quit traintop"
done
check "200x60: the overview shows every run" bash -c "for r in sgd-lr0.01 sgd-lr0.05 sgd-lr0.2 adamw-lr0.002; do tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -q \$r || exit 1; done"

# ---- the layer table: filter as you type, an invalid regex said inline, sort ----
size 120 40
keys 3; wait_for 15 shows "Layers (6)"
keys / f c 2
wait_for 15 shows "Layers (2/6)"; check "filter /fc2: two layers" shows "Layers (2/6)"
check "filter /fc2: fc1.weight is gone" hides "fc1.weight "
keys Enter
keys / "("
wait_for 15 shows "invalid regex"; check "filter /fc2(: invalid regex said inline" shows "invalid regex"
check "invalid regex: the last valid filter stays" shows "Layers (2/6)"
keys Escape
wait_for 15 shows "filter: /fc2/"
keys Escape; wait_for 15 shows "Layers (6)"; check "Esc clears the filter" shows "Layers (6)"
keys s; wait_for 15 shows "sort: problems"; check "s sorts by problems first" shows "sort: problems"
keys s; wait_for 15 shows "sort: name"; check "s sorts by name" shows "sort: name"
keys s; wait_for 15 shows "sort: w_norm"; check "s again: by w_norm" shows "sort: w_norm"
keys S; wait_for 15 shows "sort: w_norm ↑"; check "S reverses" shows "sort: w_norm ↑"
keys s S; sleep 0.2

# ---- heatmap: metric, log scale, cursor readout ----
keys 4; wait_for 15 shows "log scale"
check "heatmap: a legend with the scale" shows "log scale"
keys y; wait_for 15 shows "linear scale"; check "heatmap: y switches to a linear scale" shows "linear scale"
keys y m; wait_for 15 hides "Heatmap of [^ ]*: update_ratio"
check "heatmap: m picks the next statistic" hides "Heatmap of [^ ]*: update_ratio"
keys M Left Left; wait_for 15 shows "update_ratio mean"; check "heatmap: cursor readout (layer, steps, value)" shows "update_ratio mean"

# ---- compare: mark runs, other metric ----
keys 5; wait_for 15 shows "Compare: loss"
keys Space Down Space
wait_for 15 shows "Runs (2 marked)"; check "compare: Space marks runs" shows "Runs (2 marked)"
keys m; wait_for 15 hides "Compare: loss "; check "compare: m picks another metric" hides "Compare: loss "
keys M

# ---- charts: zoom and the cursor ----
keys 2 +; wait_for 15 shows "zoom [0-9.]*x"; check "charts: + zooms in" shows "zoom [0-9.]*x"
keys Left Left; wait_for 15 shows "cursor: step"; check "charts: Left shows the cursor's step" shows "cursor: step"
keys 0; wait_for 15 shows "(all, live)"; check "charts: 0 goes back to the whole history, live" shows "(all, live)"

# ---- pause: the display freezes while data keeps arriving ----
keys 3 p
wait_for 15 shows "PAUSED"; check "p: a PAUSED badge" shows "PAUSED"
screen | grep -E '^fc[0-9]' | cut -c1-60 > "$T/paused.1"; sleep 1.2; screen | grep -E '^fc[0-9]' | cut -c1-60 > "$T/paused.2"
check "paused: the layer table stays still" bash -c "[ -s '$T/paused.1' ] && cmp -s '$T/paused.1' '$T/paused.2'"
wait_for 20 shows "paused, +"           # the tab bar's count moves once a second, when messages came
check "paused: the tab bar counts the messages that keep arriving" shows "paused, +"
keys p; wait_for 15 hides "PAUSED"; check "p again resumes" hides "PAUSED"
moved_since_pause() { screen | grep -E '^fc[0-9]' | cut -c1-60 > "$T/paused.3"; ! cmp -s "$T/paused.1" "$T/paused.3"; }
wait_for 20 moved_since_pause
check "resumed: the layer table moves again" bash -c "! cmp -s '$T/paused.1' '$T/paused.3'"
keys 1

# ---- a resize storm while data flows ----
pid=$(dashboard_pid)
for i in $(seq 1 60); do size $((20 + (i * 37) % 190)) $((6 + (i * 13) % 56)); done
size 30 8
wait_for 15 shows "too small"; check "below 40x10: a clear message" shows "need at least 40x10"
size 100 30
wait_for 15 shows "Runs (4)"; check "after the resize storm: the dashboard is whole" shows "Runs (4)"
check "after the resize storm: the same process" test "$(dashboard_pid)" = "$pid"

# ---- ^C ends the demo cleanly ----
keys C-c
wait_for 20 prompt_back; check "^C returns to the shell prompt" prompt_back
keys "stty -g > $T/stty.after2; clear" Enter
wait_for 15 test -s "$T/stty.after2"
check "terminal settings restored after ^C" cmp -s "$T/stty.before" "$T/stty.after2"
finish
