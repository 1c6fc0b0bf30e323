#!/usr/bin/env bash
# The charts view's system strip in a real terminal (tmux) at 80x24 and 120x40: a real run's CPU and
# memory, sampled by the probe, shown as the recording holds them; a run with GPUs (a recording written
# here with the probe's scalar names) shows a line per GPU; a run without system metrics gets no strip.
source "$(dirname "$0")/lib.sh"

TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t tt; }
shows() { screen | grep -q -- "$1"; }
hides() { ! screen | grep -q -- "$1"; }
prompt_back() { screen | grep -v '^\s*$' | tail -1 | grep -q '^tt\$ *$'; }
keys() { tm send-keys -t tt "$@"; }

# A real run, spooled (no collector): system metrics every 0.05 s.
"$BIN/traintop-demo-trainer" --run sysrun --steps 400 --step-delay-ms 1 --system-metrics 0.05 \
    --endpoint "ipc://$T/none.sock" --spool "$T/sys.jsonl" --quiet
check "the run carries system samples" grep -q '"sys_rss_bytes"' "$T/sys.jsonl"
# What the strip must show: the last sample, formatted as the panel does (MiB, three digits).
read -r cpu rss < <($PY - "$T/sys.jsonl" <<'PYEOF'
import json, sys
cpu = rss = None
for line in open(sys.argv[1]):
    m = json.loads(line)
    s = m.get("scalars", {})
    if "sys_rss_bytes" in s:
        cpu, rss = s["sys_cpu_percent"], s["sys_rss_bytes"]
v = rss / 2**20
print("%.0f%%" % cpu, ("%.2f" if v < 10 else "%.1f" if v < 100 else "%.0f") % v + " MiB")
PYEOF
)
# A run on two GPUs, as a GPU machine's probe records it (the GPU numbers cannot come from this machine).
$PY - "$T/gpu.jsonl" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"v": 1, "type": "run_start", "run": "gpurun", "rank": 0, "world": 1, "stats": [], "layers": []}) + "\n")
    for step in range(1, 21):
        sc = {"loss": 1.0 / step, "sys_cpu_percent": 101.0, "sys_rss_bytes": 3 * 2**30, "sys_host_mem_used_bytes": 40 * 2**30,
              "sys_host_mem_total_bytes": 512 * 2**30}
        for g, util in ((0, 87.0), (1, 12.0)):
            sc.update({"gpu%d_util_percent" % g: util, "gpu%d_mem_used_bytes" % g: 10 * 2**30, "gpu%d_mem_total_bytes" % g: 80 * 2**30,
                       "gpu%d_torch_max_allocated_bytes" % g: 9 * 2**30, "gpu%d_power_watts" % g: 312.0,
                       "gpu%d_temp_celsius" % g: 71.0, "gpu%d_sm_clock_mhz" % g: 1980.0})
        f.write(json.dumps({"v": 1, "type": "step", "run": "gpurun", "rank": 0, "step": step, "scalars": sc}) + "\n")
PYEOF

tm -f /dev/null new-session -d -s tt -x 80 -y 24 \
   "env -i PATH=$PATH HOME=$T TERM=xterm-256color LANG=C.UTF-8 XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_CONFIG_HOME=$XDG_CONFIG_HOME PS1='tt\$ ' bash --norc --noprofile"
wait_for 15 prompt_back
keys "cd $T; clear" Enter

keys "$BIN/traintop replay sys.jsonl --view charts" Enter
wait_for 20 shows "System"
check "80x24: the charts view has a system strip" shows "System"
check "80x24: the process line shows the last sample's CPU ($cpu) and RSS ($rss)" shows "proc  CPU $cpu  RSS $rss  host memory"
tm resize-window -t tt -x 120 -y 40
wait_for 15 shows "proc  CPU $cpu  RSS $rss"
check "120x40: still there after a resize" shows "proc  CPU $cpu  RSS $rss"
check "120x40: a sparkline of CPU follows the figures" sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t tt | grep 'proc  CPU' | grep -q '[▁▂▃▄▅▆▇█]'"
keys 1
wait_for 15 hides "proc  CPU"
check "the overview has no system strip" hides "proc  CPU"
keys q
wait_for 15 prompt_back

keys "clear; $BIN/traintop replay gpu.jsonl --view charts" Enter
wait_for 20 shows "gpu1"
check "120x40: one line per GPU" shows "gpu0  util 87%  mem 10.0 GiB / 80.0 GiB  torch peak 9.00 GiB  312 W  71°C  1980 MHz"
check "120x40: the second GPU" shows "gpu1  util 12%"
check "120x40: the process line of a GPU run" shows "proc  CPU 101%  RSS 3.00 GiB  host memory 40.0 GiB / 512 GiB"
tm resize-window -t tt -x 80 -y 24
wait_for 15 shows "gpu1  util 12%"
check "80x24: both GPUs still shown" shows "gpu1  util 12%"
keys q
wait_for 15 prompt_back

# Without system metrics: no strip, the charts keep the whole view.
"$BIN/traintop-demo-trainer" --run plain --steps 30 --system-metrics 0 --endpoint "ipc://$T/none2.sock" --spool "$T/plain.jsonl" --quiet
keys "clear; $BIN/traintop replay plain.jsonl --view charts" Enter
wait_for 20 shows "plain"
check "a run without system metrics has no strip" hides "System"
keys q
wait_for 15 prompt_back
finish
