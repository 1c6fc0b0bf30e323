"""The package without torch's help: library lookup, the low-level Probe on numpy buffers, errors, and an
offline `pip install` of python/ (setuptools, no build isolation, no index)."""
import os
import subprocess

import numpy as np
import pytest

pytest.importorskip("torch")      # the suite as a whole needs torch; skip cleanly where it is missing

import traintop  # noqa: E402
from conftest import PY, ROOT, Run  # noqa: E402
from refs import STATS, close, layer_stats  # noqa: E402


def run_py(code, env=None, cwd="/"):
    e = dict(os.environ)
    e.pop("TRAINTOP_LIB", None)
    e.update(env or {})
    return subprocess.run([PY, "-c", code], capture_output=True, text=True, env=e, cwd=cwd, timeout=60)


def test_library_lookup_order():
    pkg = os.path.join(ROOT, "python")
    code = "import sys; sys.path.insert(0, %r); import traintop; print(traintop.library_path())" % pkg
    # the repository's lib/ when nothing says otherwise
    r = run_py(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.join(ROOT, "lib", "libtraintop.so")
    # $TRAINTOP_LIB first, and only it: a wrong path is an error that says so
    r = run_py(code, {"TRAINTOP_LIB": "/nonexistent/libtraintop.so"})
    assert r.returncode != 0 and "TRAINTOP_LIB" in r.stderr and "/nonexistent/libtraintop.so" in r.stderr
    r = run_py(code, {"TRAINTOP_LIB": os.path.join(ROOT, "lib", "libtraintop.so")})
    assert r.stdout.strip() == os.path.join(ROOT, "lib", "libtraintop.so")


def test_probe_on_numpy_buffers(collector):
    """traintop.Probe reads float32 buffers in place, like the C API."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    g = np.zeros_like(w)
    w0 = w.astype(np.float64)
    p = traintop.Probe("numpy-run", endpoint=collector.endpoint, every=1)
    assert p.hparam("lr", 0.1) and p.hparam("name", "numpy") and p.hparam("flag", True)
    assert p.add_layer("w", 4, 3, w.ctypes.data, g.ctypes.data) == 0
    ext = p.add_external_layer("ext", 2, 2)
    snaps = {}
    for step in (1, 2, 3):
        prev = w.astype(np.float64)
        g[:] = rng.standard_normal(w.shape).astype(np.float32)
        w -= 0.1 * g                                # updated in place: the probe sees it
        snaps[step] = (w.astype(np.float64), g.astype(np.float64), prev)
        assert p.scalar("loss", 1.0 / step)
        assert p.layer_stats(ext, [float(k) for k in range(12)])
        p.step(step)
    with pytest.raises(traintop.TraintopError):
        p.step(3)                                   # steps must increase
    assert p.should_stop() == (False, None)
    c = p.counters()
    assert c["steps"] == 3 and c["dropped"] == 0
    p.close("finished")
    assert p.closed
    r = Run(collector.messages("numpy-run"))
    assert r.start["hparams"] == {"lr": 0.1, "name": "numpy", "flag": 1}
    for step, (W, G, P) in snaps.items():
        want = layer_stats(W, G, P, w0)
        got = r.layer(step, "w")
        assert all(close(got[s], want[s], 1e-8, 1e-13) for s in STATS), (step, got, want)
        assert [r.layer(step, "ext")[s] for s in STATS] == [float(k) for k in range(12)]
        assert r.scalar(step, "loss") == pytest.approx(1.0 / step)


def test_errors_are_one_line_messages():
    with pytest.raises(traintop.TraintopError, match="run name"):
        traintop.Probe("bad name with spaces")
    p = traintop.Probe("errs", endpoint="ipc:///tmp/traintop-test-nobody/c.sock")
    buf = np.zeros(4, dtype=np.float32)
    p.add_layer("a", 4, 1, buf.ctypes.data, buf.ctypes.data)
    with pytest.raises(traintop.TraintopError, match="already registered"):
        p.add_layer("a", 4, 1, buf.ctypes.data, buf.ctypes.data)
    with pytest.raises(traintop.TraintopError, match="dense batch"):
        p.dense_batch(0, 5, 1, 1, buf.ctypes.data, buf.ctypes.data, 1.0)
    p.close(None, 0)


def test_offline_pip_install(tmp_path):
    """`pip install --no-build-isolation --no-index` of python/ works offline (into --target here: the
    Debian interpreter refuses installs into the system site-packages, see docs/python.md)."""
    r = subprocess.run([PY, "-m", "pip", "--version"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("pip is not installed")
    src = tmp_path / "src"
    subprocess.run(["cp", "-r", os.path.join(ROOT, "python"), str(src)], check=True)
    target = tmp_path / "site"
    r = subprocess.run([PY, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps", "-q",
                        "--target", str(target), str(src)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for f in ("watch.py", "persample.py", "ddp.py", "backends/cpu.py", "backends/gpu.py", "backends/torchops.py"):
        assert (target / "traintop" / f).exists(), f
    code = "import sys; sys.path.insert(0, %r); import traintop; print(traintop.__file__, traintop.library_path())" % str(target)
    r = run_py(code, {"TRAINTOP_LIB": os.path.join(ROOT, "lib", "libtraintop.so")})
    assert r.returncode == 0 and str(target) in r.stdout, r.stderr


def test_gpu_backend_lookup_and_reasons():
    """libtraintop_cuda is found beside the libtraintop the package loaded (or at $TRAINTOP_CUDA_LIB);
    where it cannot be used, the one-line reason says why, and a CPU model never touches it."""
    pkg = os.path.join(ROOT, "python")
    built = os.path.exists(os.path.join(ROOT, "lib", "libtraintop_cuda.so"))
    code = ("import sys; sys.path.insert(0, %r); from traintop import cuda\n"
            "try:\n    print(cuda.library_path())\nexcept Exception as e:\n    print('ERR', e)\n"
            "print('WHY', cuda.why_unavailable())" % pkg)
    r = run_py(code)
    assert r.returncode == 0, r.stderr
    first, why = r.stdout.splitlines()[0], r.stdout.splitlines()[-1]
    if built:
        assert first == os.path.join(ROOT, "lib", "libtraintop_cuda.so")
    else:
        assert first.startswith("ERR libtraintop_cuda not found")
    import torch
    if not torch.cuda.is_available():
        assert why.startswith("WHY ") and why != "WHY None" and len(why.splitlines()) == 1
    r = run_py(code, env={"TRAINTOP_CUDA_LIB": "/nonexistent/libtraintop_cuda.so"})
    assert "ERR libtraintop_cuda not found" in r.stdout and "/nonexistent/libtraintop_cuda.so (missing)" in r.stdout


def test_cpu_model_has_no_gpu_layers(collector):
    import torch.nn as nn
    model = nn.Linear(4, 3)
    with traintop.watch(model, run="no-gpu", endpoint=collector.endpoint) as w:
        assert w.counters()["gpu_layers"] == 0
        assert w.counters()["gpu_device_bytes"] == 0
