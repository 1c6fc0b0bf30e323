#!/usr/bin/env bash
# traintopd's /metrics scraped by a real Prometheus server: after two scrapes its query API returns the
# values `traintop ls --json` shows; the token is required, non-loopback addresses refused, bad flags named.
source "$(dirname "$0")/lib.sh"

if ! command -v prometheus > /dev/null; then
    echo "test_prometheus: skipped: no prometheus server (Debian package prometheus; scripts/install-deps.sh)"
    finish; exit
fi
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

EP=ipc://$T/c.sock
export TRAINTOP_TOKEN=prom-secret
"$BIN/traintopd" --listen "$EP" --metrics-listen 127.0.0.1:0 --metrics-layers 'fc1\..*' 2> "$T/d.err" &
PIDS+=($!)
wait_for 10 grep -q "metrics on http://" "$T/d.err"
URL=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$T/d.err")
check "traintopd says where its metrics are" test -n "$URL"
PORT=${URL#http://127.0.0.1:}; PORT=${PORT%/metrics}

"$BIN/traintop-demo-trainer" --run prom-a --endpoint "$EP" --steps 40 --quiet
"$BIN/traintop-demo-trainer" --run prom-b --endpoint "$EP" --steps 25 --lr 0.05 --quiet
"$BIN/traintop" ls --endpoint "$EP" --json > "$T/ls.json"
check "both runs finished" $PY -c "
import json; r = json.load(open('$T/ls.json')); assert sorted(x['run'] for x in r) == ['prom-a', 'prom-b'] and all(x['state'] == 'finished' for x in r), r"

code=$($PY -c "import urllib.request, urllib.error, sys
try: urllib.request.urlopen(sys.argv[1]); print(200)
except urllib.error.HTTPError as e: print(e.code)" "$URL")
check "a scrape without the token gets 401" test "$code" = 401

PROM_PORT=$(free_port)
mkdir -p "$T/prom"
cat > "$T/prom/prometheus.yml" <<YML
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: traintop
    authorization: { credentials: prom-secret }
    static_configs: [ { targets: ["127.0.0.1:$PORT"] } ]
YML
prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" > "$T/prom/log" 2>&1 &
PIDS+=($!)
API=http://127.0.0.1:$PROM_PORT/api/v1/query
query() { $PY - "$API" "$1" <<'PYEOF'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    body = json.load(urllib.request.urlopen(url, timeout=5))
except Exception as e:
    sys.exit(1)
print(json.dumps(body["data"]["result"]))
PYEOF
}
# two scrapes, both successful
two_scrapes() { query 'sum_over_time(up{job="traintop"}[5m])' 2>/dev/null | $PY -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not (r and float(r[0]["value"][1]) >= 2))' 2>/dev/null; }
check "Prometheus scraped traintopd twice with the token" wait_for 90 two_scrapes
query 'traintop_scalar_loss{run="prom-a"}' > "$T/q-loss.json"
echo "  query traintop_scalar_loss{run=\"prom-a\"}: $(cat "$T/q-loss.json")"

$PY - "$T/ls.json" "$API" <<'PYEOF'
import json, math, sys, urllib.parse, urllib.request
runs, api = json.load(open(sys.argv[1])), sys.argv[2]
def q(expr):
    url = api + "?" + urllib.parse.urlencode({"query": expr})
    return json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
def num(v):
    return float(v) if not isinstance(v, str) else float(v.replace("Inf", "inf"))
checked = 0
for r in runs:
    for name, v in r["scalars"].items():
        res = q('traintop_scalar_%s{run="%s",rank="%d"}' % (name, r["run"], r["rank"]))
        assert len(res) == 1, (name, res)
        got, want = float(res[0]["value"][1]), num(v)
        assert got == want or (math.isnan(got) and math.isnan(want)), (r["run"], name, got, want)
        checked += 1
    step = q('traintop_run_step{run="%s"}' % r["run"])
    assert float(step[0]["value"][1]) == r["step"], step
    state = q('traintop_run_state{run="%s"} == 1' % r["run"])
    assert state[0]["metric"]["state"] == r["state"], state
    for metric, key in (("run_messages_lost_total", "lost"), ("run_messages_resent_total", "resent"),
                        ("run_steps_spooled_total", "spooled"), ("run_gaps_total", "gaps"), ("run_probe_dropped_total", "dropped")):
        got = q('traintop_%s{run="%s"}' % (metric, r["run"]))
        assert float(got[0]["value"][1]) == r[key], (metric, got, r[key])
assert checked >= 10, checked
layers = q('traintop_layer_update_ratio{run="prom-a"}')
assert sorted(x["metric"]["layer"] for x in layers) == ["fc1.bias", "fc1.weight"], layers
assert len(q('traintop_layers_update_ratio{run="prom-a",agg="max"}')) == 1
assert float(q('traintop_collector_messages_rejected_total')[0]["value"][1]) == 0
print("  %d scalars equal between Prometheus and traintop ls --json" % checked)
PYEOF
check "Prometheus' query API returns what traintop ls --json shows, per-layer series only for the layers asked" test $? -eq 0

# The dashboard's embedded collector serves the same page (its terminal in tmux).
unset TRAINTOP_TOKEN
EMB_PORT=$(free_port)
TMUX_SOCK=$T/tmux.sock
tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s tt -x 100 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 $BIN/traintop --endpoint ipc://$T/emb.sock --metrics-listen 127.0.0.1:$EMB_PORT --metrics-layers 'fc2\.weight'"
emb_up() { $PY -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$EMB_PORT/metrics')" 2>/dev/null; }
check "traintop (the dashboard) serves /metrics" wait_for 30 emb_up
"$BIN/traintop-demo-trainer" --run emb-a --endpoint "ipc://$T/emb.sock" --steps 30 --quiet
emb_has() { $PY -c "import urllib.request; t = urllib.request.urlopen('http://127.0.0.1:$EMB_PORT/metrics').read().decode()
assert 'traintop_run_state{run=\"emb-a\",rank=\"0\",state=\"finished\"} 1' in t and 'layer=\"fc2.weight\"' in t and 'layer=\"fc1.weight\"' not in t" 2>/dev/null; }
check "its /metrics shows the run it collected, and the layers asked for" wait_for 30 emb_has
tmux -S "$TMUX_SOCK" send-keys -t tt q

"$BIN/traintopd" --listen "ipc://$T/x.sock" --metrics-listen 0.0.0.0:0 2> "$T/remote.err"
check "a non-loopback metrics address is refused without --allow-remote" grep -q "'0.0.0.0:0' is not a loopback address" "$T/remote.err"
"$BIN/traintopd" --listen "ipc://$T/x.sock" --metrics-listen 127.0.0.1 2> "$T/noport.err"
check "a metrics address without a port is named" grep -q "'127.0.0.1': expected HOST:PORT" "$T/noport.err"
"$BIN/traintopd" --listen "ipc://$T/x.sock" --metrics-listen 127.0.0.1:0 --metrics-layers 'fc(' 2> "$T/re.err"
check "a bad --metrics-layers pattern is named" test "$(wc -l < "$T/re.err")" -eq 1 -a "$(grep -c "expected a POSIX extended regular expression" "$T/re.err")" -eq 1
"$BIN/traintopd" --listen "ipc://$T/x.sock" --metrics-listen "127.0.0.1:$PORT" 2> "$T/busy.err"
check "a port in use is named" grep -q "127.0.0.1:$PORT': cannot listen there" "$T/busy.err"
finish
