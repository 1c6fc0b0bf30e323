#!/usr/bin/env bash
# traintop attach through a real OpenSSH server on 127.0.0.1 with throw-away host and user keys: the
# dashboard shows the remote run live, survives the ssh connection being killed (it says so and
# reconnects), and each failure — unreachable host, refused key, no collector — is one clear line.
source "$(dirname "$0")/lib.sh"

SSHD=/usr/sbin/sshd
if [ ! -x $SSHD ] || [ "$(id -u)" -ne 0 ]; then
    echo "test_attach: skipped: needs root and $SSHD (scripts/install-deps.sh installs openssh-server)"
    echo "test_attach: 0 passed, 0 failed"
    exit 0
fi
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N "" -f "$T/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$T/user_key"
ssh-keygen -q -t ed25519 -N "" -f "$T/wrong_key"
cp "$T/user_key.pub" "$T/authorized_keys"
PORT=$((20000 + RANDOM % 20000))
cat > "$T/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
SetEnv PATH=$BIN:/usr/bin:/bin XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR
CFG
$SSHD -f "$T/sshd_config" -D -e 2> "$T/sshd.log" &
PIDS+=($!)
cfg() { cat > "$T/$1" <<CFG
Host tthost
  HostName 127.0.0.1
  Port $2
  User $(id -un)
  IdentityFile $3
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile $T/known_hosts
  LogLevel ERROR
  ConnectTimeout 5
CFG
}
cfg ssh_config $PORT "$T/user_key"
cfg ssh_wrong $PORT "$T/wrong_key"
cfg ssh_closed 1 "$T/user_key"
wait_for 5 bash -c "ssh -F '$T/ssh_config' -o BatchMode=yes tthost true 2>/dev/null"
check "the throw-away sshd accepts the test key" ssh -F "$T/ssh_config" -o BatchMode=yes tthost true

# A collector on the "remote" side's default endpoint, with a run training into it.
EP=$("$BIN/traintop" endpoint)
"$BIN/traintopd" --listen "$EP" --quiet 2> "$T/d.err" &
PIDS+=($!)
wait_for 5 test -S "${EP#ipc://}"
"$BIN/traintop-demo-trainer" --run remote-run --endpoint "$EP" --steps 100000 --step-delay-ms 3 --quiet --spectral-every 0 &
PIDS+=($!)

TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
shows() { tm capture-pane -p -t a | grep -q -- "$1"; }
step_shown() { tm capture-pane -p -t a | grep -oE '^remote-run +(run +)?[0-9]+' | grep -oE '[0-9]+$'; }   # the state column goes first on narrow tables
step_past() { local s; s=$(step_shown); [ -n "$s" ] && [ "$s" -gt "$1" ]; }   # the step shown moved past $1
tm -f /dev/null new-session -d -s a -x 120 -y 40 \
   "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR LANG=C.UTF-8 TERM=xterm-256color TRAINTOP_SSH='ssh -F $T/ssh_config' $BIN/traintop attach tthost"
wait_for 20 shows remote-run
check "attach shows the remote run" shows remote-run
check "the header names the host" shows "tthost"
s1=$(step_shown); wait_for 20 step_past "${s1:-0}"; s2=$(step_shown)
check "live data flows ($s1 -> $s2)" test -n "$s1" -a -n "$s2" -a "${s2:-0}" -gt "${s1:-0}"

# Kill the ssh connection: the dashboard says so, then reconnects by itself.
pkill -f "[s]sh -F $T/ssh_config -N"
wait_for 20 shows "LINK DOWN"
check "a dropped link is shown" shows "LINK DOWN"
check "a dropped link says it is reconnecting, and which attempt" shows "reconnecting (attempt"
wait_for 60 bash -c "! tmux -S '$TMUX_SOCK' capture-pane -p -t a | grep -q 'LINK DOWN'"
check "the link comes back" bash -c "! tmux -S '$TMUX_SOCK' capture-pane -p -t a | grep -q 'LINK DOWN'"
s3=$(step_shown); wait_for 20 step_past "${s3:-0}"; s4=$(step_shown)
check "and data flows again ($s3 -> $s4)" test -n "$s3" -a -n "$s4" -a "${s4:-0}" -gt "${s3:-0}"
tm send-keys -t a q
wait_for 15 bash -c "! tmux -S '$TMUX_SOCK' has-session -t a 2>/dev/null"
check "q ends the dashboard" bash -c "! tmux -S '$TMUX_SOCK' has-session -t a 2>/dev/null"
check "and its ssh" bash -c "! pgrep -f '[s]sh -F $T/ssh_config -N' >/dev/null"

# Failures, one line each.
TRAINTOP_SSH="ssh -F $T/ssh_closed" "$BIN/traintop" attach tthost < /dev/null 2> "$T/e1"
check "unreachable host: exit 1, one line" test $? -eq 1 -a "$(wc -l < "$T/e1")" -eq 1
check "  it says so" grep -q "cannot reach tthost" "$T/e1"
TRAINTOP_SSH="ssh -F $T/ssh_wrong -o BatchMode=yes" "$BIN/traintop" attach tthost < /dev/null 2> "$T/e2"
check "refused key: exit 1, one line" test $? -eq 1 -a "$(wc -l < "$T/e2")" -eq 1
check "  it says so" grep -q "authentication failed for tthost" "$T/e2"
TRAINTOP_SSH="ssh -F $T/ssh_config" "$BIN/traintop" attach "tthost:$T/none.sock" < /dev/null 2> "$T/e3"
check "no collector there: exit 1, one line" test $? -eq 1 -a "$(wc -l < "$T/e3")" -eq 1
check "  it says so" grep -q "no collector on tthost at ipc://$T/none.sock" "$T/e3"

# --start: a collector is started over there when none answers.
tm -f /dev/null new-session -d -s b -x 100 -y 30 \
   "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR LANG=C.UTF-8 TERM=xterm-256color TRAINTOP_SSH='ssh -F $T/ssh_config' $BIN/traintop attach --start tthost:$T/started.sock"
wait_for 15 bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t b | grep -q 'tthost'"
check "--start starts traintopd over there and attaches" bash -c "tmux -S '$TMUX_SOCK' capture-pane -p -t b | grep -q 'Runs (0)'"
tm send-keys -t b q
"$BIN/traintop" ls --endpoint "ipc://$T/started.sock" > /dev/null
check "  and that collector keeps running" test $? -eq 0
pkill -f "traintopd --listen ipc://$T/started.sock"
finish
