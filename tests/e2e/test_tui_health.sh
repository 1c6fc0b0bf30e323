#!/usr/bin/env bash
# The dashboard answers "is a run ok, what is wrong, where" on its first screen, in a real terminal
# (tmux): recordings of runs whose health is known (tests/e2e/health_runs.py: one improving, one
# overfitting from step ~400, one diverging from ~700, one whose loss goes NaN at 900, one at chance,
# and a 1000-layer run with one NaN layer and one outlier) replayed at 80x24 and 200x60 and compared
# with golden screens; ! reaches the NaN layer among 1000; the layer table's problem sort and P; the
# rule options (--alert, --no-default-rules) in a replay; an unknown escape sequence does nothing;
# a view key in help switches the view; then `traintop demo` shows its runs' health without a key.
# UPDATE_GOLDEN=1 rewrites tests/e2e/golden/health-*.txt from this run.
source "$(dirname "$0")/lib.sh"

GOLDEN=$ROOT/tests/e2e/golden
TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t tt; }
shows() { screen | grep -q -- "$1"; }
shows_re() { screen | grep -Eq -- "$1"; }
hides() { ! screen | grep -q -- "$1"; }
prompt_back() { screen | grep -v '^\s*$' | tail -1 | grep -q '^tt\$ *$'; }
keys() { tm send-keys -t tt "$@"; }
matches() { screen | diff -q "$GOLDEN/$1.txt" - > /dev/null 2>&1; }
golden() {   # golden NAME: compare the screen with golden/NAME.txt (or write it), once drawn: it may take a
             # loaded machine a while to draw the frame whole, so the screen is polled up to 20 s
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then sleep 1; else wait_for 20 matches "$1"; fi
    screen > "$T/$1.txt"
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then cp "$T/$1.txt" "$GOLDEN/$1.txt"; fi
    if diff -u "$GOLDEN/$1.txt" "$T/$1.txt" > "$T/$1.diff"; then ok "golden screen $1"; else bad "golden screen $1"; head -40 "$T/$1.diff"; fi
}
quit() { keys q; wait_for 20 prompt_back; }

mkdir -p "$T/runs"
"$PY" "$ROOT/tests/e2e/health_runs.py" "$T/runs"
check "six recordings of known health written" test "$(ls "$T/runs" | wc -l)" = 6

tm -f /dev/null new-session -d -s tt -x 80 -y 24 \
   "env -i PATH=$PATH HOME=$T TERM=xterm-256color LANG=C.UTF-8 XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_CONFIG_HOME=$XDG_CONFIG_HOME TRAINTOP_CLOCK=12:00:00 NO_COLOR=1 PS1='tt\$ ' bash --norc --noprofile"
wait_for 15 prompt_back
keys "cd $T/runs; clear" Enter

# ---- the first screen, 80x24: which runs are sick and since when, without a key ----
keys "$BIN/traintop replay *.jsonl" Enter
wait_for 20 shows "wide"
wait_for 20 shows "NaN loss"
sleep 0.5
golden health-80x24
check "80x24 header: the worst first, with its step" shows "6 runs: 1 NaN loss since 8"
check "80x24 runs table: diverging since ~700" shows_re "^diverge .*diverging +(6[5-9][0-9]|7[0-4][0-9]) "
check "80x24 runs table: the loss goes NaN, and since when" shows_re "^nanloss .*NaN loss +(8[5-9][0-9]) "
check "80x24 runs table: at chance" shows_re "^chance .*at chance"
keys j j j j
wait_for 15 shows_re "^overfit .*overfitting +(3[5-9][0-9]|4[0-9][0-9]|5[0-4][0-9]) "
check "80x24 runs table: overfitting since the validation low (~400)" shows_re "^overfit .*overfitting +(3[5-9][0-9]|4[0-9][0-9]|5[0-4][0-9]) "
keys j
wait_for 15 shows_re "^wide .*NaN layer"
check "80x24 runs table: the NaN layer of the 1000-layer run" shows_re "^wide .*NaN layer"

# ---- ! : the worst problem, then the next; the NaN layer among 1000 is two keys away ----
keys g '!'
wait_for 15 shows "nanloss: loss is NaN since step"
check "! first: the run whose loss went NaN, said in words" shows "nanloss: loss is NaN since step"
keys '!'
wait_for 15 shows "Layers (1000) of wide"
check "! again: the layer table of the 1000-layer run" shows "Layers (1000) of wide"
check "! again: the NaN layer selected, its problem said" shows "layer blocks.159.attn.b: NaN or Inf values"
check "the NaN layer's row is on screen with its problem" shows_re "^blocks\.159\.attn\.b +NaN "
keys P
wait_for 15 shows "Layers (2/1000) of wide"
check "P: only the layers with a problem (the NaN one and the outlier)" shows "Layers (2/1000) of wide"
check "P: the outlier is among them" shows_re "^blocks\.52\.mlp\.b +outlier"
keys 4
wait_for 15 shows "problem layers onl"
check "P in the heatmap: only the problem rows" bash -c "[ \$(tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep '^blocks\.' | grep -vc ' steps ') = 2 ]"
keys 3 P
wait_for 15 shows "Layers (1000) of wide"
keys '<'                                # the previous sort from the wire order: the last column
wait_for 15 shows "sort: w_var"
check "< sorts by the last column, scrolled into view" bash -c "[ \$(tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep '^layer ' | grep -o 'w_var' | wc -l) = 2 ]"
keys '>'
wait_for 15 shows "sort: order"
keys s
wait_for 15 shows "sort: problems"
check "s: problems first — the NaN layer is the first row" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -A1 '^layer ' | tail -1 | grep -q '^blocks\.159\.attn\.b'"
# ---- * folds the layers by prefix (blocks.N.*), a folded group shows its worst layer; the heatmap follows ----
keys '*'
wait_for 15 shows "250 rows, groups folded"
check "*: 1000 layers folded into 250 groups" shows "250 rows, groups folded"
check "a folded group stands with its NaN layer, first under the problems sort" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -A1 '^layer ' | tail -1 | grep -Eq '^▸ blocks\.159\.\*.* NaN '"
keys 4
wait_for 15 shows "blocks.159.* (4)"
check "the heatmap shows the folded groups too" shows "blocks.52.* (4)"
keys 3 '*'
wait_for 15 hides "groups folded"
keys 1

# ---- an escape sequence curses does not know does nothing (it used to select the previous run) ----
keys g
wait_for 15 shows " chance finished"
tm send-keys -t tt -l $'\e[99~'
sleep 0.5
check "unknown escape sequence: the selection stays" shows " chance finished"
check "unknown escape sequence: the view stays" shows "Runs (6)"
# ---- help: a view key switches the view ----
keys '?'
wait_for 15 shows "Keys"
keys 2
wait_for 15 hides "a view key switches"
check "help: 2 leaves help for the Charts view" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -q '^ chance finished  step 1200'"
# ---- charts at 80x24: loss and accuracy first and large, whole legends, accuracy on 0-1, the rest a page away ----
check "charts 80x24: the loss chart first, its legend whole" shows_re "^━loss [0-9.]+ ━val [0-9.]+ +│━val_acc"
check "charts 80x24: accuracy on a 0-1 axis (the data is near 0.1)" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -q '│  1┤' && tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -q '│  0┤'"
check "charts 80x24: no title cut to …" hides "…"
check "charts: an ended run is not 'live'" shows "(all, ended)"
quit

# ---- 200x60 ----
tm resize-window -t tt -x 200 -y 60
keys "clear; $BIN/traintop replay *.jsonl" Enter
wait_for 20 shows "wide"
wait_for 20 shows "2 ok"
sleep 0.5
golden health-200x60
check "200x60 header: every kind of trouble" shows "1 NaN loss since 894 · 1 diverging since 692 · 1 at chance since 10 · 1 overfitting since"
check "200x60 header: the NaN layer and where" shows "1 NaN layer in wide"
# ---- the runs' order: > sorts the runs table by health (worst first), kept across starts ----
first_run() { tmux -S "$TMUX_SOCK" capture-pane -p -t tt | grep -A1 '^run' | sed -n 2p | awk '{print $1}'; }
check "runs in name order at first" test "$(first_run)" = chance
keys '>'
wait_for 15 bash -c "[ \"\$(tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -A1 '^run' | sed -n 2p | awk '{print \$1}')\" = nanloss ]"
check "> : runs by health, the NaN loss first" test "$(first_run)" = nanloss
check "> : the health head is highlighted as sorted" shows_re "▼health"
quit
keys "clear; $BIN/traintop replay *.jsonl" Enter
wait_for 20 shows "wide"
wait_for 20 bash -c "[ \"\$(tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -A1 '^run' | sed -n 2p | awk '{print \$1}')\" = nanloss ]"
check "the runs' order is kept across starts (settings)" test "$(first_run)" = nanloss
keys '<'
wait_for 15 bash -c "[ \"\$(tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -A1 '^run' | sed -n 2p | awk '{print \$1}')\" = chance ]"
quit

# ---- the rules: the same sources in a replay as in traintopd ----
keys "clear; $BIN/traintop replay diverge.jsonl --alert 'loss > 3 for=5' --view alerts" Enter
wait_for 20 shows "Alerts (1)"
check "replay --alert: the rule fires on the recording" shows "loss > 3"
quit
keys "clear; $BIN/traintop replay nanloss.jsonl --view alerts" Enter
wait_for 20 shows "Alerts (1)"
check "replay: the default rules see the NaN loss" shows "default:nonfini"
check "alerts: the selected alert in full, its rule name whole" shows "nanloss, rule default:nonfinite-loss, at step"
quit
keys "clear; $BIN/traintop replay nanloss.jsonl --no-default-rules --view alerts" Enter
wait_for 20 shows "No alerts"
check "replay --no-default-rules: no alert" shows "No alerts"
quit
# a recording whose run never ended: shown running, never 'stale' (nothing is live in a replay)
head -n -1 "$T/runs/healthy.jsonl" > "$T/unended.jsonl"
keys "clear; $BIN/traintop replay $T/unended.jsonl" Enter
wait_for 20 shows_re "^healthy +run "
sleep 12                               # staleness needs 10 s without data to pass: let them pass
check "replay: an unended run is not called stale" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -Eq '^healthy +run ' && ! tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -q 'last data'"
quit
"$BIN/traintop" replay "$T/runs/nanloss.jsonl" --alert 'loss >' 2> "$T/rule.err"
rc=$?
check "a bad --alert: exit 2 with one line naming it" bash -c "[ $rc = 2 ] && [ \$(wc -l < '$T/rule.err') = 1 ] && grep -q 'loss >' '$T/rule.err'"
"$BIN/traintop" replay "$T/runs/nanloss.jsonl" --summary > "$T/sum.txt"
check "replay --summary: the health column" grep -Eq "^nanloss .*NaN loss since 8[5-9][0-9]" "$T/sum.txt"

# ---- staleness: a run that stops sending is marked stale, the header says since when ----
EP=ipc://$T/c.sock
"$BIN/traintopd" --listen "$EP" --quiet --no-default-rules 2> "$T/d.err" &
PIDS+=($!)
wait_for 15 test -S "$T/c.sock"
"$BIN/traintop-demo-trainer" --run frozen --endpoint "$EP" --steps 1000000 --step-delay-ms 5 --quiet --spectral-every 0 2> "$T/trainer.err" &
TPID=$!
PIDS+=($TPID)
tm resize-window -t tt -x 120 -y 30
keys "clear; $BIN/traintop --connect $EP" Enter
wait_for 20 shows_re "^frozen +run "
check "viewer: the live run is running" shows_re "^frozen +run "
kill -STOP $TPID                       # a hung trainer, or a frozen link: no more data
# on a loaded machine the collector may still be reading what was sent before the stop: staleness
# counts from the last step it has, so wait until its step stands still
collector_step() { "$BIN/traintop" ls --endpoint "$EP" --json 2>/dev/null | $PY -c 'import json,sys; print(max([r["step"] for r in json.load(sys.stdin)] or [-1]))' 2>/dev/null; }
last=$(collector_step); still=0
for _ in $(seq 120); do
    sleep 0.5
    now=$(collector_step)
    if [ -n "$now" ] && [ "$now" = "$last" ]; then still=$((still + 1)); [ $still -ge 4 ] && break; else still=0; fi
    last=$now
done
wait_for 60 shows_re "^frozen +stale "
check "no data for 10 s: the run is marked stale" shows_re "^frozen +stale "
check "the header says how long since the last data" shows_re "last data ([0-9]+m)?[0-9]+s ago"
kill -CONT $TPID
wait_for 20 shows_re "^frozen +run "
check "data again: running, the header's note gone" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -Eq '^frozen +run ' && ! tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep -q 'last data'"
quit
kill $TPID 2>/dev/null

# ---- traintop demo: the runs' health on the first screen, at 80x24 and 200x60, without a key ----
for size in 80x24 200x60; do
    tm resize-window -t tt -x "${size%x*}" -y "${size#*x}"
    keys "clear; $BIN/traintop demo" Enter
    wait_for 60 shows_re "^(sgd|adamw)-lr[0-9.]+ .*(overfitting|diverging|at chance|NaN loss) +[0-9.k]+( |$)"
    check "demo $size: a run's health and since when, in the runs table" shows_re "^(sgd|adamw)-lr[0-9.]+ .*(overfitting|diverging|at chance|NaN loss) +[0-9.k]+( |$)"
    check "demo $size: the header sums it up" shows_re "4 runs: [0-9] (overfitting|diverging|at chance|NaN loss)"
    check "demo $size: no chart titled only …" hides "│…"
    screen > "$T/demo-$size.txt"
    if [ "$size" = 200x60 ]; then      # spectra: an undefined alpha reads n/a, not an alarming nan
        keys 7
        wait_for 30 shows "n/a: too small"
        check "panels: an undefined alpha is n/a" shows "n/a: too small"
        check "panels: no nan in the spectra table or legend" hides "nan"
        keys 1
    fi
    quit
done
finish
