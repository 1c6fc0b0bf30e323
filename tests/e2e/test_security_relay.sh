#!/usr/bin/env bash
# Secure defaults and the collector tree: the per-user socket directory is closed to others, a
# non-loopback tcp listener needs an explicit flag, a token mismatch is refused and counted, and three
# relaying node collectors feed one head collector, where a run spread over them appears with its ranks.
source "$(dirname "$0")/lib.sh"

# Socket permissions.
EP=$("$BIN/traintop" endpoint)
DIR=$(dirname "${EP#ipc://}")
check "the socket directory is mode 0700" test "$(stat -c %a "$DIR")" = 700
chmod 755 "$DIR"
"$BIN/traintop" endpoint 2> "$T/perm.err"
check "a directory open to others is refused" grep -q "expected a directory owned by uid $(id -u) with mode 0700" "$T/perm.err"
chmod 700 "$DIR"

# Non-loopback tcp.
"$BIN/traintopd" --listen tcp://0.0.0.0:$((30000 + RANDOM % 10000)) 2> "$T/tcp.err"
check "tcp on 0.0.0.0 without --allow-remote: refused" test $? -eq 1
check "  with a reason" grep -q "is not a loopback address" "$T/tcp.err"
PORT=$((30000 + RANDOM % 10000))
"$BIN/traintopd" --listen tcp://0.0.0.0:$PORT --allow-remote 2> "$T/tcp1.err"
check "  with --allow-remote but no token: refused too" test $? -eq 1
check "    naming the way out" grep -q "set TRAINTOP_TOKEN.*or pass --insecure-tcp" "$T/tcp1.err"
"$BIN/traintopd" --listen tcp://127.0.0.1:$PORT 2> "$T/tcp3.err"
check "loopback tcp without a token: refused (every local user can connect)" test $? -eq 1
"$BIN/traintopd" --listen tcp://0.0.0.0:$PORT --allow-remote --insecure-tcp 2> "$T/tcp2.err" &
TP=$!; PIDS+=($TP)
wait_for 5 grep -q "warning: listening on" "$T/tcp2.err"
check "  allowed with --allow-remote --insecure-tcp, with a warning" grep -q "WITHOUT a token" "$T/tcp2.err"
check "  and the loud one" grep -q "WARNING: --insecure-tcp: anyone who can connect" "$T/tcp2.err"
kill $TP; wait $TP 2>/dev/null

# Token.
TEP=tcp://127.0.0.1:$((40000 + RANDOM % 10000))
TRAINTOP_TOKEN=s3cret "$BIN/traintopd" --listen "$TEP" 2> "$T/tok.err" &
TD=$!; PIDS+=($TD)
wait_for 20 grep -q listening "$T/tok.err"         # listening, not a fixed 0.5 s: a loaded machine may take longer
TRAINTOP_TOKEN=s3cret "$BIN/traintop-demo-trainer" --run good --endpoint "$TEP" --steps 30 --quiet --spectral-every 0
# The refused probes spool what was never acknowledged, in the same user's state directory as the
# collector's — but a spool directory is per endpoint and token (a hash of it), so the collector, which
# imports the spools of its own, never sees theirs. Another user's probe writes to its own home, which
# the collector never reads (test_security_users.sh).
TRAINTOP_TOKEN=wrong "$BIN/traintop-demo-trainer" --run bad --endpoint "$TEP" --steps 30 --quiet --spectral-every 0 2>/dev/null
"$BIN/traintop-demo-trainer" --run none --endpoint "$TEP" --steps 30 --quiet --spectral-every 0 2>/dev/null
TRAINTOP_TOKEN=s3cret "$BIN/traintop" ls --endpoint "$TEP" --json > "$T/tok.json"
check "the run with the token is in, the others are not" $PY -c "
import json; r = {x['run']: x for x in json.load(open('$T/tok.json'))}
assert set(r) == {'good'} and r['good']['steps'] == 30, r"
check "the refused runs kept their steps in spools of their own token's" test "$(ls "$XDG_STATE_HOME"/traintop/spool/*/ 2>/dev/null | grep -c '^\(bad\|none\)\.')" -eq 2
kill $TD; wait $TD 2>/dev/null
mv "$T/tok.err" "$T/tok1.err"
# A collector imports its spools as it starts, before it listens: a restarted one shows what it took.
TRAINTOP_TOKEN=s3cret "$BIN/traintopd" --listen "$TEP" 2> "$T/tok.err" &
TD=$!; PIDS+=($TD)
wait_for 10 grep -q listening "$T/tok.err"
TRAINTOP_TOKEN=s3cret "$BIN/traintop" ls --endpoint "$TEP" --json > "$T/tok2.json"
check "  and a restarted collector, which imports its spools, does not take them" $PY -c "
import json; r = [x['run'] for x in json.load(open('$T/tok2.json'))]
assert 'bad' not in r and 'none' not in r, r"
kill $TD; wait $TD 2>/dev/null
cat "$T/tok1.err" >> "$T/tok.err"
check "a token mismatch is refused and logged" grep -q "rejected message (token): run 'bad' rank 0: token: does not match" "$T/tok.err"
check "a missing token too" grep -q "rejected message (token): run 'none' rank 0: token: missing" "$T/tok.err"
check "and counted" grep -Eq "received, [0-9]+ accepted, [1-9][0-9]* rejected" "$T/tok.err"

# Three relays feed a head collector; one run, three ranks, one per node.
HEAD=ipc://$T/head.sock
"$BIN/traintopd" --listen "$HEAD" --quiet 2> "$T/head.err" &
PIDS+=($!)
wait_for 5 test -S "$T/head.sock"
for n in 1 2 3; do
    "$BIN/traintopd" --listen "ipc://$T/node$n.sock" --forward-to "$HEAD" 2> "$T/node$n.err" &
    PIDS+=($!)
done
wait_for 5 test -S "$T/node3.sock"
for n in 1 2 3; do
    "$BIN/traintop-demo-trainer" --run spread --rank $((n - 1)) --world 3 --endpoint "ipc://$T/node$n.sock" \
        --steps 200 --quiet --spectral-every 0 --seed $n &
done
wait_jobs() { local rc=0; for j in $(jobs -p); do case " ${PIDS[*]} " in *" $j "*) continue;; esac; wait "$j" || rc=1; done; return $rc; }
wait_jobs
check "the three ranks' trainers exit 0 (their end acknowledged through the relays)" test $? -eq 0
"$BIN/traintop" ls --endpoint "$HEAD" --json > "$T/head.json"
check "the head has run 'spread' with ranks 0, 1, 2, every step, finished" $PY -c "
import json; r = [x for x in json.load(open('$T/head.json')) if x['run'] == 'spread']
assert sorted(x['rank'] for x in r) == [0, 1, 2], r
assert all(x['world'] == 3 and x['steps'] == 200 and x['state'] == 'finished' for x in r), r"
"$BIN/traintop-demo-trainer" --run stopme --endpoint "ipc://$T/node2.sock" --steps 100000 --step-delay-ms 2 --quiet --spectral-every 0 2> "$T/stopme.err" &
SP=$!
wait_for 10 bash -c "'$BIN/traintop' ls --endpoint '$HEAD' | grep -q stopme"
timeout 3 nanocat --req --connect "$HEAD.q" --data '{"v":1,"type":"stop","run":"stopme","reason":"relay test"}' --ascii > "$T/stop.out" 2>&1
wait_for 10 bash -c "! kill -0 $SP 2>/dev/null"
check "a stop from the head reaches a probe behind a relay" grep -q "stopped at step [0-9]*: relay test" "$T/stopme.err"
finish
