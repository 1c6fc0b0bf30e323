#!/usr/bin/env bash
# Oversized and malformed inputs everywhere: files given to replay and --rules (/dev/zero, a 1 GB file),
# recording directories with planted links, queries and messages beyond their limits, hostile run names
# and bytes, bad options. Each is refused with one line, within a small memory bound, and the collector
# keeps serving. Times are printed as figures, never judged.
source "$(dirname "$0")/lib.sh"

# mem_kb CMD...: runs CMD (its stderr to $T/err, status to $T/rc) and prints its peak RSS in KiB.
mem_kb() {
    /usr/bin/time -f "%M %e" -o "$T/time" "$@" > /dev/null 2> "$T/err"; echo $? > "$T/rc"
    read -r kb secs < <(tail -1 "$T/time"); echo "  ($*: ${secs} s, ${kb} KiB)" >&2; echo "$kb"
}
one_line() { [ "$(wc -l < "$1")" -eq 1 ] && grep -q "$2" "$1"; }
truncate -s 1G "$T/big"                  # sparse: a gigabyte to read, no disk spent

# replay
kb=$(mem_kb timeout 60 "$BIN/traintop" replay --summary /dev/zero)
check "replay /dev/zero: refused, one line" bash -c "[ \$(cat '$T/rc') -ne 0 ] && grep -q '/dev/zero: expected a regular file' '$T/err' && [ \$(wc -l < '$T/err') -eq 1 ]"
check "  within 64 MiB" test "$kb" -lt 65536
kb=$(mem_kb timeout 60 "$BIN/traintop" replay --summary "$T/big")
check "replay of 1 GB without a newline: refused, one line" bash -c "[ \$(cat '$T/rc') -ne 0 ] && grep -q 'line 1 is longer than a message may be' '$T/err' && [ \$(wc -l < '$T/err') -eq 1 ]"
check "  within 64 MiB" test "$kb" -lt 65536

# rules
kb=$(mem_kb timeout 60 "$BIN/traintopd" --listen "ipc://$T/r1.sock" --rules /dev/zero)
check "traintopd --rules /dev/zero: exit 2, one line" bash -c "[ \$(cat '$T/rc') -eq 2 ] && grep -q '/dev/zero: expected a regular file' '$T/err' && [ \$(wc -l < '$T/err') -eq 1 ]"
check "  within 64 MiB" test "$kb" -lt 65536
kb=$(mem_kb timeout 60 "$BIN/traintopd" --listen "ipc://$T/r2.sock" --rules "$T/big")
check "traintopd --rules of 1 GB: exit 2, one line" bash -c "[ \$(cat '$T/rc') -eq 2 ] && grep -q 'expected a rules file of at most 32 MiB' '$T/err' && [ \$(wc -l < '$T/err') -eq 1 ]"
check "  within 64 MiB" test "$kb" -lt 65536
"$BIN/traintopd" --listen "ipc://$T/r3.sock" --rules "$T/missing.json" --daemon > /dev/null 2> "$T/daemon.err"
check "traintopd --daemon --rules MISSING: exit 2 before detaching, one line" bash -c "[ $? -eq 2 ] && [ \$(wc -l < '$T/daemon.err') -eq 1 ] && [ ! -e '$T/r3.sock' ]"
echo '{"rules": [{"name": "x", "kind": "threshold", "monitor": "loss", "op": ">", "threshold": 1e999}]}' > "$T/inf.json"
"$BIN/traintopd" --listen "ipc://$T/r4.sock" --rules "$T/inf.json" 2> "$T/inf.err" &
PIDS+=($!)
wait_for 10 grep -q listening "$T/inf.err"
check "threshold 1e999: named as out of range, not 'null'" grep -q 'field "threshold": expected a number.*got a number beyond the range of a double' "$T/inf.err"
$PY -c "
import json; print(json.dumps({'defaults': False, 'rules': [{'name': 'r%d' % i, 'kind': 'spike', 'monitor': 'loss'} for i in range(100000)]}))" > "$T/100k.json"
start=$(date +%s.%N)
"$BIN/traintopd" --listen "ipc://$T/r5.sock" --rules "$T/100k.json" 2> "$T/100k.err" &
PIDS+=($!)
wait_for 120 grep -q listening "$T/100k.err"
check "100k rules load" grep -q listening "$T/100k.err"
echo "  (100k rules loaded and listening after $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s)"

# recording directories
touch "$T/afile"
"$BIN/traintopd" --listen "ipc://$T/d1.sock" --record "$T/afile" 2> "$T/recfile.err"
check "--record onto a file: exit 1, one line" bash -c "[ $? -eq 1 ] && one_line() { [ \$(wc -l < \$1) -eq 1 ]; }; one_line '$T/recfile.err' && grep -q 'expected a directory' '$T/recfile.err'"
mkdir -m 700 "$T/rec" && echo untouched > "$T/target" && ln -s "$T/target" "$T/rec/planted.jsonl"
"$BIN/traintopd" --listen "ipc://$T/d2.sock" --record "$T/rec" 2> "$T/planted.err"
check "a planted link in the recording directory: refused, one line, the target untouched" \
    bash -c "[ $? -eq 1 ] && [ \$(wc -l < '$T/planted.err') -eq 1 ] && grep -q 'planted.jsonl: is a symbolic link' '$T/planted.err' && [ \"\$(cat '$T/target')\" = untouched ]"
rm "$T/rec/planted.jsonl"
ln -s "$T/target" "$T/loglink"
"$BIN/traintopd" --listen "ipc://$T/d3.sock" --log "$T/loglink" 2> "$T/loglink.err"
check "--log onto a link: refused, one line" bash -c "[ $? -eq 1 ] && [ \$(wc -l < '$T/loglink.err') -eq 1 ] && grep -q 'symbolic link' '$T/loglink.err'"

# a collector that takes hostile messages and queries, then still serves
EP=ipc://$T/c.sock
"$BIN/traintopd" --listen "$EP" --record "$T/rec" 2> "$T/c.err" &
CP=$!; PIDS+=($CP)
wait_for 10 test -S "$T/c.sock"
send() { timeout 2 nanocat --push --connect "$EP" --interval 5 "$@" 2>/dev/null; }
for run in -rf .hidden a/b ../up; do
    send --data '{"v":1,"type":"run_start","run":"'"$run"'","rank":0,"world":1,"stats":[],"layers":[]}'
done
printf '{"v":1,"type":"run_start","run":"\xff\xfe\x1b[31m","rank":0,"world":1,"stats":[],"layers":[]}' > "$T/bytes.msg"
send --file "$T/bytes.msg"
$PY -c "print('{\"v\":1,\"type\":\"run_start\",\"run\":\"big\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[],\"pad\":\"' + 'x' * (5 << 20) + '\"}')" > "$T/huge.msg"
send --file "$T/huge.msg"
$PY -c "print('{\"v\":1,\"type\":\"ls\",\"pad\":\"' + 'x' * 100000 + '\"}')" > "$T/huge.q"
timeout 3 nanocat --req --connect "$EP.q" --file "$T/huge.q" --raw > "$T/hugeq.out" 2>&1
check "a query over 64 KiB: dropped, no answer" test ! -s "$T/hugeq.out"
for q in 'not json' '[]' '{"v":1,"type":"live","epoch":1,"since":-1}' '{"v":1,"type":"live","epoch":1e300,"since":1}' '{"v":1,"type":"stop"}'; do
    timeout 5 nanocat --req --connect "$EP.q" --data "$q" --raw > "$T/q.out" 2>&1
    check "query '$q': an error reply" grep -q '"type":"error"' "$T/q.out"
done
wait_for 10 grep -q "rejected message" "$T/c.err"
"$BIN/traintop-demo-trainer" --run fine --endpoint "$EP" --steps 20 --quiet --spectral-every 0
"$BIN/traintop" ls --endpoint "$EP" > "$T/ls.out"
check "the collector still serves: only the valid run is there" bash -c "grep -q '^fine ' '$T/ls.out' && [ \$(grep -vc '^RUN' '$T/ls.out') -eq 1 ]"
check "run names starting with - or ., or with /, are refused" bash -c "[ \$(grep -c \"rejected message (field): run: expected a run name\" '$T/c.err') -ge 1 ]"
check "  and no file was made for them" bash -c "ls -A '$T/rec' | grep -v -e '^fine.jsonl$' -e '^alerts.jsonl$' | wc -l | grep -qx 0"
check "the log is ASCII: raw bytes of a message are masked" bash -c "! LC_ALL=C grep -q \$'[\x80-\xff\x1b]' '$T/c.err'"
check "the 5 MiB message left no trace but a refusal" bash -c "! grep -q '\"run\":\"big\"' '$T/rec'/*.jsonl"
kill $CP; wait $CP 2>/dev/null

# options and files of the command line: one line each
for cmd in "traintop --frobnicate" "traintop ls --frobnicate" "traintop replay -Z" "traintopd --frobnicate" "traintopd --listen"; do
    set -- $cmd
    "$BIN/$1" "${@:2}" < /dev/null > /dev/null 2> "$T/opt.err"
    rc=$?
    check "$cmd: exit 2, one line naming the option" bash -c "[ $rc -eq 2 ] && [ \$(wc -l < '$T/opt.err') -eq 1 ] && grep -q 'unknown option, or one missing its value' '$T/opt.err'"
done
"$BIN/traintop-demo-trainer" --run s --endpoint "ipc://$T/none.sock" --steps 2 --spool /proc/nonexistent/spool 2> "$T/spool.err"
check "--spool where nothing can be written: exit non-zero, one line" bash -c "[ $? -ne 0 ] && [ \$(wc -l < '$T/spool.err') -eq 1 ] && grep -q 'spool /proc/nonexistent/spool' '$T/spool.err'"
finish
