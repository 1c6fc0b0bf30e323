#!/usr/bin/env bash
# Another user on the same host — a real second Unix user, ttother, made with useradd, its commands run
# through setpriv — cannot list, stop, watch (live or history), feed or read the owner's runs: over
# loopback TCP with a token, and over the owner's ipc socket. Every attempt that reaches the collector is
# refused and counted. Without a token TCP is refused unless --insecure-tcp, which then means what it says.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "test_security_users: skipped: needs root to add and become a second user (useradd, setpriv)"; exit 0
fi
if ! id ttother > /dev/null 2>&1 && ! useradd --system --no-create-home --shell /usr/sbin/nologin ttother 2> "$T/useradd.err"; then
    echo "test_security_users: skipped: cannot add the user ttother: $(head -1 "$T/useradd.err")"; exit 0
fi
OUID=$(id -u ttother) OGID=$(id -g ttother)
chmod 711 "$T"                      # others may pass through; what lies below decides what they may read
mkdir -p "$T/other" && chown "$OUID:$OGID" "$T/other"
# as ttother, with an environment of its own (no TRAINTOP_TOKEN unless given)
as_other() { setpriv --reuid="$OUID" --regid="$OGID" --clear-groups env -i PATH=/usr/bin:/bin HOME="$T/other" XDG_RUNTIME_DIR="$T/other" "$@"; }
check "the second user is someone else" test "$(as_other id -u)" = "$OUID" -a "$OUID" != 0

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
P=$((20000 + RANDOM % 20000))
until port_free $P && port_free $((P + 1)) && port_free $((P + 2)); do P=$((20000 + RANDOM % 20000)); done
EP=tcp://127.0.0.1:$P Q=tcp://127.0.0.1:$((P + 2))

# Without a token, TCP is refused.
"$BIN/traintopd" --listen "$EP" 2> "$T/notoken.err"
check "tcp without TRAINTOP_TOKEN: traintopd refuses to start" test $? -eq 1
check "  in one line naming the token and --insecure-tcp" bash -c "[ \$(wc -l < '$T/notoken.err') -eq 1 ] && grep -q 'set TRAINTOP_TOKEN.*--insecure-tcp' '$T/notoken.err'"

# The owner: a collector with a token, recording, and a run.
export TRAINTOP_TOKEN=owner-s3cret
"$BIN/traintopd" --listen "$EP" --record "$T/rec" --metrics-listen 127.0.0.1:0 2> "$T/d.err" &
DP=$!; PIDS+=($DP)
wait_for 10 grep -q "listening" "$T/d.err"
"$BIN/traintop-demo-trainer" --run mine --endpoint "$EP" --steps 1000000 --step-delay-ms 5 --quiet --spectral-every 0 2> "$T/mine.err" &
TP=$!; PIDS+=($TP)
wait_for 30 bash -c "'$BIN/traintop' ls --endpoint '$EP' 2>/dev/null | grep -q mine"
check "the owner, with the token, lists the run" bash -c "'$BIN/traintop' ls --endpoint '$EP' | grep -q '^mine '"
owner_ls() { nanocat --req --connect "$Q" --data "{\"v\":1,\"type\":\"ls\",\"token\":\"$TRAINTOP_TOKEN\"}" --raw 2>/dev/null; }

# The other user, with no token and with a guessed one. Each of these reaches the query socket once.
refusals=0
tries() { refusals=$((refusals + 1)); "$@"; }
for tok in "" guess; do
    what=${tok:-no token}
    tries as_other env ${tok:+TRAINTOP_TOKEN=$tok} "$BIN/traintop" ls --endpoint "$EP" --json > "$T/o-ls.out" 2> "$T/o-ls.err"
    check "other user ($what): traintop ls is refused" test $? -ne 0 -a ! -s "$T/o-ls.out"
    check "  with one line naming the token" bash -c "[ \$(wc -l < '$T/o-ls.err') -eq 1 ] && grep -q 'token: missing or wrong' '$T/o-ls.err'"
    tries as_other env ${tok:+TRAINTOP_TOKEN=$tok} "$BIN/traintop" stop mine --endpoint "$EP" > /dev/null 2> "$T/o-stop.err"
    check "other user ($what): traintop stop is refused" test $? -ne 0
    tries as_other env ${tok:+TRAINTOP_TOKEN=$tok} "$BIN/traintop" --connect "$EP" < /dev/null > /dev/null 2> "$T/o-view.err"
    check "other user ($what): the dashboard cannot connect (history and live refused)" test $? -eq 1
    check "  with one line naming the token" bash -c "[ \$(wc -l < '$T/o-view.err') -eq 1 ] && grep -q 'token: missing or wrong' '$T/o-view.err'"
done
for q in '{"v":1,"type":"ls"}' '{"v":1,"type":"stop","run":"mine"}' '{"v":1,"type":"history"}' \
         '{"v":1,"type":"live","epoch":0}' '{"v":1,"type":"live","epoch":1,"since":1,"token":"guess"}'; do
    tries as_other timeout 10 nanocat --req --connect "$Q" --data "$q" --raw > "$T/o-raw.out" 2>&1
    check "other user, raw $(echo "$q" | sed 's/.*"type":"\([a-z]*\)".*/\1/'): an error, no data" \
        bash -c "grep -q '\"type\":\"error\"' '$T/o-raw.out' && ! grep -q mine '$T/o-raw.out'"
done
as_other timeout 2 nanocat --sub --connect "tcp://127.0.0.1:$((P + 3))" --ascii > "$T/o-sub.out" 2>&1
check "other user: no socket hands out live data to a subscriber" bash -c "! grep -q mine '$T/o-sub.out'"

# Prometheus metrics: the same data, the same token (as a bearer).
MPORT=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/d.err" | head -1); MPORT=${MPORT##*:}
scrape() { exec 3<>"/dev/tcp/127.0.0.1/$1"; printf 'GET /metrics HTTP/1.0\r\n%s\r\n' "$2" >&3; cat <&3; }
as_other bash -c "$(declare -f scrape); scrape $MPORT ''" > "$T/o-metrics.out" 2>&1
check "other user: /metrics without the token gets 401, no data" bash -c "head -1 '$T/o-metrics.out' | grep -q ' 401 ' && ! grep -q 'traintop_run' '$T/o-metrics.out'"
scrape "$MPORT" "Authorization: Bearer $TRAINTOP_TOKEN"$'\r\n' > "$T/metrics.out" 2>&1
check "  the owner, with it, reads the run's metrics" grep -q 'run="mine"' "$T/metrics.out"

# Injection: a step for the owner's run, a new run, with no token and a wrong one.
for m in '{"v":1,"type":"step","run":"mine","rank":0,"step":999999999,"scalars":{"loss":-123}}' \
         '{"v":1,"type":"step","run":"mine","rank":0,"step":999999999,"token":"guess","scalars":{"loss":-123}}' \
         '{"v":1,"type":"run_start","run":"evil","rank":0,"world":1,"stats":[],"layers":[]}'; do
    as_other timeout 8 nanocat --push --connect "$EP" --interval 60 --data "$m" 2>/dev/null &   # one send, on connect
done
wait_for 20 bash -c "owner_ls() { nanocat --req --connect '$Q' --data '{\"v\":1,\"type\":\"ls\",\"token\":\"$TRAINTOP_TOKEN\"}' --raw 2>/dev/null; }; owner_ls | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"counters\"][\"rejected\"] >= 3' 2>/dev/null"
owner_ls > "$T/ls.json"
check "other user: injected steps and runs are refused, each counted" $PY - "$T/ls.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
runs = {r["run"]: r for r in d["runs"]}
assert set(runs) == {"mine"}, runs.keys()
assert runs["mine"]["step"] < 999999999 and runs["mine"]["scalars"]["loss"] != -123, runs["mine"]
assert d["counters"]["rejected"] == 3, d["counters"]
PYEOF
check "  the log names the token" grep -Eq "rejected message \(token\): run 'mine' rank 0: token: (missing|does not match)" "$T/d.err"
check "every query of the other user's was refused and counted ($refusals)" \
    bash -c "owner_ls() { nanocat --req --connect '$Q' --data '{\"v\":1,\"type\":\"ls\",\"token\":\"$TRAINTOP_TOKEN\"}' --raw; }; owner_ls | $PY -c 'import json,sys; n = json.load(sys.stdin)[\"counters\"][\"refused\"]; assert n == $refusals, n'"

# Recordings: 0700 directory, 0600 files, no token inside; the other user reads nothing.
check "the recording directory is 0700, the recording 0600" test "$(stat -c %a "$T/rec")" = 700 -a "$(stat -c %a "$T/rec/mine.jsonl")" = 600
check "  the alerts log 0600" test "$(stat -c %a "$T/rec/alerts.jsonl")" = 600
as_other cat "$T/rec/mine.jsonl" > "$T/o-cat.out" 2>&1
check "other user: cannot read the recording" bash -c "grep -q 'Permission denied' '$T/o-cat.out' && ! grep -q '\"type\"' '$T/o-cat.out'"
as_other "$BIN/traintop" replay --summary "$T/rec/mine.jsonl" > /dev/null 2> "$T/o-replay.err"
check "  nor replay it" test $? -ne 0
wait_for 10 bash -c "grep -q '\"run\":\"mine\"' '$T/rec/mine.jsonl'"
check "the token is in no recording" bash -c "! grep -rq owner-s3cret '$T/rec'"

# The owner still stops the run.
"$BIN/traintop" stop mine --endpoint "$EP" --reason "owner" > /dev/null
check "the owner, with the token, stops the run" test $? -eq 0
wait_for 20 bash -c "! kill -0 $TP 2>/dev/null"
check "  and the trainer stops" grep -q "stopped at step [0-9]*: owner" "$T/mine.err"
kill $DP; wait $DP 2>/dev/null
check "traintopd's last line counts the refused queries" grep -Eq "3 rejected, [0-9]+ resent, 1 runs, $refusals queries refused" "$T/d.err"

# The owner's ipc socket, in its 0700 runtime directory: the other user cannot even connect.
unset TRAINTOP_TOKEN
"$BIN/traintopd" 2> "$T/ipc.err" &
IP=$!; PIDS+=($IP)
wait_for 10 grep -q "listening" "$T/ipc.err"
IEP=$("$BIN/traintop" endpoint)
check "the runtime directory is 0700" test "$(stat -c %a "$(dirname "${IEP#ipc://}")")" = 700
as_other "$BIN/traintop" ls --endpoint "$IEP" --timeout 2000 > "$T/o-ipc.out" 2> "$T/o-ipc.err"
check "other user over ipc: traintop ls fails" test $? -ne 0 -a ! -s "$T/o-ipc.out"
as_other timeout 3 nanocat --push --connect "$IEP" --data '{"v":1,"type":"run_start","run":"evil","rank":0,"world":1,"stats":[],"layers":[]}' > /dev/null 2>&1
"$BIN/traintop" ls --endpoint "$IEP" > "$T/ipc-ls.out"
check "  and feeds nothing" bash -c "! grep -q evil '$T/ipc-ls.out'"
kill $IP; wait $IP 2>/dev/null

# --insecure-tcp: said loudly, and true — the other user can then list the runs.
"$BIN/traintopd" --listen "$EP" --insecure-tcp 2> "$T/insecure.err" &
XP=$!; PIDS+=($XP)
wait_for 10 grep -q "listening" "$T/insecure.err"
check "--insecure-tcp warns on start" grep -q "WARNING: --insecure-tcp: anyone who can connect to $EP can read, feed and stop every run" "$T/insecure.err"
as_other "$BIN/traintop" ls --endpoint "$EP" > /dev/null 2>&1
check "  and means it: the other user can list" test $? -eq 0
kill $XP; wait $XP 2>/dev/null
finish
