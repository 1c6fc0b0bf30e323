#!/usr/bin/env bash
# The wheel `make wheel` builds installs into a fresh virtual environment with pip, no root and no -dev
# package, and works there with the system's nanomsg, cJSON and libmicrohttpd hidden (bind-mounted over by
# /dev/null in a private mount namespace): its traintopd collects a traintop.watch run of its own
# package, its traintop lists it, its /metrics serves it; LD_DEBUG shows only the vendored copies load.
source "$(dirname "$0")/lib.sh"

"$PY" -c 'import auditwheel' 2>/dev/null || { echo "test_wheel: skipped: no auditwheel in $PY (scripts/install-deps.sh)"; finish; exit; }
"$ROOT/scripts/build-wheel.sh" "$T/dist" > "$T/build.out" 2> "$T/build.err"
check "scripts/build-wheel.sh builds a wheel" test $? -eq 0
WHL=$(tail -1 "$T/build.out")
check "it is a manylinux wheel for every Python 3: $(basename "$WHL")" test -f "$WHL" -a -n "$(basename "$WHL" | grep -E '^traintop-.*-py3-none-manylinux_2_[0-9]+_x86_64\.whl$')"
echo "  wheel: $(basename "$WHL"), $(du -k "$WHL" | cut -f1) KiB"
"$PY" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$WHL" > "$T/list.txt"
for lib in libnanomsg libcjson libmicrohttpd libopenblas libncursesw; do
    check "$lib is vendored in traintop.libs/" grep -q "traintop.libs/$lib" "$T/list.txt"
done

# A fresh environment from the interpreter the project's venv was made from. torch and numpy are
# borrowed from the project venv through a .pth line (appended to sys.path after the venv's own
# site-packages, so the wheel's traintop comes first) instead of downloading torch again.
BASE=$("$PY" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
"$BASE" -m venv "$T/venv"
V=$T/venv
"$V/bin/python" -m pip install -q --no-index --no-deps "$WHL" > "$T/pip.out" 2>&1
check "pip installs the wheel into a fresh venv" test $? -eq 0
"$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz-project-torch.pth"
check "traintop and traintopd are console commands" test -x "$V/bin/traintop" -a -x "$V/bin/traintopd"

cat > "$T/train.py" <<'PYEOF'
import sys, torch, traintop
assert traintop.__file__.startswith(sys.prefix), traintop.__file__        # the wheel's package, not the tree's
assert traintop.library_path().startswith(sys.prefix), traintop.library_path()
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
tt = traintop.watch(model, opt, run="wheel-run", endpoint=sys.argv[1])
x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
for _ in range(20):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    tt.step(loss=loss)
tt.close()
print("trained", traintop.library_path())
PYEOF

# Everything the installed wheel does, with the system copies hidden (run in a private mount namespace).
cat > "$T/inside.sh" <<'SHEOF'
set -u
V=$1 T=$2
for so in libnanomsg.so.5 libcjson.so.1 libmicrohttpd.so.12; do
    real=$(readlink -f "/usr/lib/x86_64-linux-gnu/$so" 2>/dev/null) && [ -f "$real" ] && mount --bind /dev/null "$real"
done
"$V/bin/python" -c 'import ctypes; ctypes.CDLL("libnanomsg.so.5")' 2> /dev/null && { echo "system nanomsg still loadable"; exit 1; }
"$V/bin/python" -c 'import ctypes; ctypes.CDLL("libcjson.so.1")' 2> /dev/null && { echo "system cJSON still loadable"; exit 1; }
echo "hidden: system nanomsg, cJSON, libmicrohttpd"
EP=ipc://$T/w.sock
"$V/bin/traintopd" --listen "$EP" --metrics-listen 127.0.0.1:0 2> "$T/d.err" &
D=$!
trap 'kill $D 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q "metrics on" "$T/d.err" && break; sleep 0.1; done
"$V/bin/python" "$T/train.py" "$EP" || exit 1
"$V/bin/traintop" ls --endpoint "$EP" --json > "$T/ls.json" || exit 1
url=$(grep -o 'http://[^ ]*' "$T/d.err")
"$V/bin/python" -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('$url').read().decode())" > "$T/metrics.txt" || exit 1
echo "inside: done"
SHEOF
if unshare -m true 2>/dev/null; then
    unshare -m bash "$T/inside.sh" "$V" "$T" > "$T/inside.out" 2>&1
    rc=$?
    sed 's/^/  /' "$T/inside.out"
    check "in a mount namespace without the system nanomsg/cJSON/libmicrohttpd: traintopd, traintop.watch and traintop ls of the wheel work" test $rc -eq 0
    check "the run arrived: 20 steps, finished" "$PY" -c "
import json; r = [x for x in json.load(open('$T/ls.json')) if x['run'] == 'wheel-run']
assert len(r) == 1 and r[0]['state'] == 'finished' and r[0]['steps'] == 20, r"
    check "the wheel's /metrics serves it" grep -q '^traintop_scalar_loss{run="wheel-run",rank="0"}' "$T/metrics.txt"
else
    echo "  (no mount namespace here: unshare -m needs root; the LD_DEBUG checks below still prove it)"
fi

# Which copies the dynamic loader takes: the vendored ones, for the programs and the library alike.
LD_DEBUG=libs "$V/bin/traintopd" --version 2> "$T/ld-d.txt" > /dev/null
LD_DEBUG=libs "$V/bin/python" -c 'import traintop, traintop._lib as l; l.load()' 2> "$T/ld-py.txt"
for f in ld-d ld-py; do
    check "$f: nanomsg and cJSON load from traintop.libs" \
        test "$(grep -E 'calling init: .*lib(nanomsg|cjson)' "$T/$f.txt" | grep -vc 'traintop.libs')" = 0 -a \
             "$(grep -cE 'calling init: .*traintop.libs/lib(nanomsg|cjson)' "$T/$f.txt")" = 2
done
finish
