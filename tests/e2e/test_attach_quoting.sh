#!/usr/bin/env bash
# traintop attach --start builds one command for the remote shell: every part that comes from the user
# (the socket path) arrives there as one argument, exactly as given, whatever quotes, $(), backticks or
# spaces it holds; a path ssh -L would misread (':') or with control characters is refused with one line.
# A stand-in ssh does what sshd does with a command — hands the joined words to `sh -c` — and stand-in
# traintop/traintopd record the argv they got.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/fakebin"
cat > "$T/fakessh" <<'SH'
#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -o|-L) shift 2;; -*) shift;; *) break;; esac; done
shift                                  # the host
[ $# -eq 0 ] && { echo "fake ssh: forwarding is not part of this test" >&2; exit 255; }
PATH="$FAKEBIN:$PATH" exec sh -c "$*"
SH
for b in traintop traintopd; do
    printf '#!/bin/sh\nprintf "%%s\\n" "%s" "$@" >> "$ARGLOG"\n[ %s = traintopd ]\n' "$b" "$b" > "$T/fakebin/$b"
done
chmod +x "$T/fakessh" "$T/fakebin/traintop" "$T/fakebin/traintopd"
export FAKEBIN=$T/fakebin

n=0
for path in "/tmp/x';touch $T/PWNED1;'" "/tmp/\$(touch $T/PWNED2)" "/tmp/\`touch $T/PWNED3\`" \
            "/tmp/a b\"c\\d e" "/tmp/'\"'\"'; touch $T/PWNED4 #"; do
    n=$((n + 1))
    export ARGLOG=$T/args$n
    "$BIN/traintop" attach --start --ssh "$T/fakessh" "somehost:$path" < /dev/null > /dev/null 2> "$T/err$n"
    check "hostile path $n: the remote commands got it as one argument, unchanged" $PY - "$ARGLOG" "ipc://$path" <<'PYEOF'
import sys
got = open(sys.argv[1]).read().split("\n")[:-1]
ep = sys.argv[2]
want = ["traintop", "ls", "--endpoint", ep, "--timeout", "1000", "traintopd", "--listen", ep, "--daemon"]
assert got == want, (got, want)
PYEOF
done
check "nothing was injected" bash -c "! ls '$T'/PWNED* 2>/dev/null | grep -q ."

"$BIN/traintop" attach --start --ssh "$T/fakessh" "somehost:/tmp/a:b" 2> "$T/colon.err"
check "a path with ':' (ssh -L would read host:port): exit 2" test $? -eq 2
check "  one line saying what is expected" bash -c "[ \$(wc -l < '$T/colon.err') -eq 1 ] && grep -q \"expected an absolute socket path after ':', without ':' or control characters\" '$T/colon.err'"
"$BIN/traintop" attach --start --ssh "$T/fakessh" "somehost:/tmp/a
touch $T/PWNED5" 2> "$T/nl.err"
check "a path with a newline: exit 2" test $? -eq 2
check "  one line, the newline masked" bash -c "[ \$(wc -l < '$T/nl.err') -eq 1 ] && grep -q \"/tmp/a?touch .*without ':' or control characters\" '$T/nl.err'"
check "  and nothing run" bash -c "! ls '$T'/PWNED* 2>/dev/null | grep -q ."
finish
