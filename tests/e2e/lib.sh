# Shared by the end-to-end tests: a private temp dir, cleanup of every process started, check helpers.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/bin
PY=${PY:-$ROOT/.venv/bin/python}   # the project virtual environment (scripts/install-deps.sh)
T=$(mktemp -d /tmp/tt-e2e.XXXXXX)
export XDG_RUNTIME_DIR=$T/run XDG_CONFIG_HOME=$T/config XDG_STATE_HOME=$T/state
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset TRAINTOP_ENDPOINT
PASS=0 FAIL=0
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    [ -n "${TMUX_SOCK:-}" ] && tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
    # processes that were told to stop may still be closing their files
    for _ in 1 2 3 4 5 6 7 8 9 10; do rm -rf "$T" 2>/dev/null && break; sleep 0.2; done
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}

# collector_received EP: how many messages the collector on EP has read so far (its `ls` counters, asked
# on its query socket; with TRAINTOP_TOKEN when that is set).
collector_received() {
    local q='{"v":1,"type":"ls"'${TRAINTOP_TOKEN:+,\"token\":\"$TRAINTOP_TOKEN\"}'}'
    timeout 10 nanocat --req --connect "$1.q" --data "$q" --raw 2>/dev/null | grep -o '"received":[0-9]*' | head -1 | cut -d: -f2
}
# push EP DATA: sends one message to the collector on EP with nanocat (a connection of its own) and returns
# once the collector has read it — its received counter moved — instead of after a fixed time, which a
# loaded machine may need entirely to start nanocat and connect (up to 30 s; 1 if it never arrived).
# Nothing else may be sending to EP meanwhile. TRAINTOP_TOKEN, when set, is used for the counter's query.
push() {
    local ep=$1 n0 pid rc
    n0=$(collector_received "$ep")
    [ -n "$n0" ] || return 1
    nanocat --push --connect "$ep" --interval 600 --data "$2" > /dev/null 2>&1 &
    pid=$!
    received_past() { local n; n=$(collector_received "$1"); [ -n "$n" ] && [ "$n" -gt "$2" ]; }
    wait_for 30 received_past "$ep" "$n0"; rc=$?
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return $rc
}

finish() {
    echo "$(basename "$0" .sh): $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
