#!/usr/bin/env python3
"""The GPU backend against torch on the same device tensors.

§1: parameters in fp32, fp16 and bf16 (gradients of the same dtype and fp32) on a CUDA device, trained a
few SGD steps by torch on the current stream; after each step the backend's statistics are compared
with an independent float64 torch reference on the same tensors (arccos of the clamped cosine for the
angles — accurate at these step sizes —, torch.var for w_var, per-row arccos RMS for angle_rows).
Tolerance 1e-9 relative (1e-7 for the angles: arccos near 1 loses ~1e-8 of relative precision).
§2: per-sample statistics of a linear layer against per-sample gradients materialised by torch
(einsum over the batch) in float64: double-accumulated outputs 1e-8, GEMM-based ones 2e-4 relative.

traintop.watch() on a CUDA model: the GPU backend's layer statistics equal the torch-ops path's on
the same run (1e-6 relative), with gpu_busy_ms ≥ probe_gpu_ms > 0 every step, and its per-sample
statistics (GWA, noise scale, tests) equal the CPU probe's on the same model and data (1e-3).
Beside torch.profiler (started before watch() and after it) the profiler still records CUDA kernels
and every step still has probe_gpu_ms (event timing).

Without torch or without a CUDA device: prints "skipped: no CUDA device" and exits 0.
Runs as a script (`python3 tests/cuda/test_cuda_torch.py`) or under pytest.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tt_cuda_ctypes as ttc  # noqa: E402

_READY, _WHY = ttc.cuda_ready()


def _ref_stats(w, g, prev, w0, rows, cols, have_prev):
    """METRICS.md §1 in float64 torch, written from the definitions (not from layerstats.c)."""
    import torch
    r, c = (1, rows * cols) if cols == 1 or rows == 1 else (rows, cols)
    w = w.detach().reshape(r, c).double()
    g = g.detach().reshape(r, c).double()
    n = r * c
    nf = float((~torch.isfinite(w)).sum() + (~torch.isfinite(g)).sum())
    if nf > 0:
        return [math.nan] * 11 + [nf]
    wn, gn = float(w.norm()), float(g.norm())
    out = [wn, gn, wn / math.sqrt(n), gn / math.sqrt(n), float(w.reshape(-1).var(unbiased=False))]
    if have_prev:
        p = prev.detach().reshape(r, c).double()
        dn, pn = float((w - p).norm()), float(p.norm())
        cos = float((w * p).sum()) / (wn * pn) if wn > 0 and pn > 0 else math.nan
        ang = math.acos(max(-1.0, min(1.0, cos))) if not math.isnan(cos) else math.nan
        if r > 1:
            rw, rp = w.norm(dim=1), p.norm(dim=1)
            ok = (rw > 0) & (rp > 0)
            rc = ((w * p).sum(1)[ok] / (rw[ok] * rp[ok])).clamp(-1, 1)
            ra = torch.arccos(rc)
            angle_rows = float(ra.pow(2).mean().sqrt()) if ok.any() else math.nan
        else:
            angle_rows = ang
        out += [dn, dn / pn if pn > 0 else math.nan, ang, angle_rows]
    else:
        out += [math.nan] * 4
    out += [-float((g * w).sum()) / (gn * wn) if gn > 0 and wn > 0 else math.nan,
            float((w - w0.detach().reshape(r, c).double()).norm()), 0.0]
    return out


def _close(a, b, tol):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(abs(b), 1e-300)


def _layerstats(dtype, gdtype, every):
    import torch
    torch.manual_seed(0)
    dev = torch.device("cuda")
    shapes = [(300, 1), (1, 777), (64, 64), (3, 5), (17, 768), (2, 8193), (3, 20000), (256, 1024)]
    ps = [(torch.rand(r, c, device=dev) * 0.2 - 0.05).to(dtype) for r, c in shapes]
    gs = [torch.zeros(r, c, device=dev, dtype=gdtype) for r, c in shapes]
    lib = ttc.load()
    be = ttc.Backend(lib, every=every)
    for i, ((r, c), p, g) in enumerate(zip(shapes, ps, gs)):
        be.add("l%d" % i, r, c, p, g)
    w0 = [p.clone() for p in ps]
    prev = [p.clone() for p in ps]
    have_prev = True
    bad = []
    for step in range(6):
        sampled, nxt = step % every == 0, (step + 1) % every == 0
        if step:
            for p, g in zip(ps, gs):
                g.copy_((torch.randn_like(p, dtype=torch.float32) * 0.02).to(gdtype))
                p.sub_((0.5 * g.float()).to(dtype))
        be.step(step)
        be.collect(1)
        if sampled:
            for i, ((r, c), p, g) in enumerate(zip(shapes, ps, gs)):
                ref = _ref_stats(p, g, prev[i], w0[i], r, c, have_prev)
                got = be.result(i)
                for k, name in enumerate(ttc.STAT_NAMES):
                    tol = 1e-7 if name in ("angle", "angle_rows") else 1e-9
                    if not _close(got[k], ref[k], tol):
                        bad.append("%s/%s every=%d step %d layer %dx%d %s: %.15g vs torch %.15g" % (
                            dtype, gdtype, every, step, r, c, name, got[k], ref[k]))
            have_prev = nxt
        elif nxt:
            have_prev = True
        if nxt:
            prev = [p.clone() for p in ps]
    be.close()
    return bad


def _persample(T, with_z, dtype):
    import torch
    torch.manual_seed(1)
    dev = torch.device("cuda")
    B, din, dout = 12, 40, 24
    A = torch.randn(B, T, din, device=dev).to(dtype)
    D = (torch.randn(B, T, dout, device=dev) * 1e-2).to(dtype)
    W = (torch.randn(dout, din, device=dev) * 0.1).to(dtype)
    bias = (torch.randn(dout, device=dev) * 0.1).to(dtype)
    Z = (A.double() @ W.double().t() + bias.double()).to(dtype) if with_z else None
    gi = torch.einsum("bto,bti->boi", D.double(), A.double()) * B      # per-sample gradients of a mean loss
    bi = D.double().sum(1) * B
    Gbar, bbar = gi.mean(0), bi.mean(0)
    Gd, bd = Gbar.to(dtype), bbar.to(dtype)
    Gq, bq = Gd.double(), bd.double()
    code = ttc.dtype_code(A)
    L = ttc.Dense(B, T, din, dout, code, code, code, A.data_ptr(), D.data_ptr(), float(B), W.data_ptr(),
                  bias.data_ptr(), Z.data_ptr() if with_z else None, Gd.data_ptr(), bd.data_ptr())
    lib = ttc.load()
    be = ttc.Backend(lib)
    out, bufs = be.persample(L, B)
    be.collect(1)
    Wd = W.double()
    if with_z:           # the backend reads W a from Z: the reference does the same
        Wa = Z.double() - bias.double()
        gw_ref = (D.double() * Wa).sum((1, 2)) * B
    else:
        gw_ref = (gi * Wd).sum((1, 2))
    ref = {"gw": gw_ref, "gg": (gi * gi).sum((1, 2)), "gG": (gi * Gq).sum((1, 2)),
           "bw": (bi * bias.double()).sum(1), "bb": (bi * bi).sum(1), "bB": (bi * bq).sum(1)}
    ref["gamma"] = -ref["gw"] / (ref["gg"].sqrt() * float(Wd.norm()) + 1e-12)
    ref["bgamma"] = -ref["bw"] / (ref["bb"].sqrt() * float(bias.double().norm()) + 1e-12)
    bad = []
    # GEMM-based sums against the bound of their rounding (docs/gpu.md, Precision): an entry of g_i
    # (or of a Gram matrix) is off by at most u·|g|_i, |g|_i = B·Σ_t|δ_t||a_t|ᵀ, u = 2^-10 (TF32 for
    # fp32 operands, fp32 accumulation); so ‖g‖² by 2u·Σ|g|², ⟨g,M⟩ by u·Σ|M||g|; γ takes both.
    u = 2.0 ** -10
    gabs = torch.einsum("bto,bti->boi", D.double().abs(), A.double().abs()) * B
    sc = {"gg": 2 * u * (gabs * gabs).sum((1, 2)), "gw": u * (gabs * Wd.abs()).sum((1, 2)),
          "gG": u * (gabs * Gq.abs()).sum((1, 2))}
    gw_gemm, gg_gemm = not with_z, T > 1
    for name in ttc.PS_FIELDS:
        other = 1e-8 if dtype == torch.float32 else 2e-4     # double sums of the inputs as stored
        scale = float(ref[name].abs().max())
        for i in range(B):
            g, r = bufs[name][i], float(ref[name][i])
            if name == "gG" or (name == "gw" and gw_gemm) or (name == "gg" and gg_gemm):
                tol_abs = float(sc[name][i])
            elif name == "gamma" and (gw_gemm or gg_gemm):
                gg = float(ref["gg"][i])
                tol_abs = (float(sc["gw"][i]) / (math.sqrt(gg) * float(Wd.norm())) if gw_gemm else 0) \
                    + abs(r) * (float(sc["gg"][i]) / (2 * gg) if gg_gemm else 0) + 1e-8 * abs(r)
            else:
                tol_abs = other * max(abs(r), 1e-3 * scale)
            if not abs(g - r) <= tol_abs:
                bad.append("T=%d z=%d %s %s[%d]: %.12g vs torch %.12g" % (T, with_z, dtype, name, i, g, r))
    if not _close(out.w_norm2, float((Wd * Wd).sum()), 1e-10):
        bad.append("w_norm2 %.15g vs %.15g" % (out.w_norm2, float((Wd * Wd).sum())))
    be.close()
    return bad


# ---------------------------------------------------------------- traintop.watch() on a CUDA model

def _spooled_steps(path):
    """{step: message} of a probe's spool (the collector was never there: every message is in it)."""
    import json
    out = {}
    with open(path) as f:
        for line in f:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("type") == "step":
                out[m["step"]] = m
    return out


def _watch_run(device, dtype, gpu_backend, steps=5, gwa_window=2, seed=0, profile_from=None, profs=None):
    """Trains a small MLP on `device` under traintop.watch with a spool and no collector; returns
    ({step: message}, counters, the model's first weight at the end). profile_from: torch.profiler
    records from that step on (-1: from before watch(); appended to profs)."""
    import tempfile
    import torch
    import torch.nn as nn
    import traintop
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(48, 96), nn.ReLU(), nn.Linear(96, 10)).to(dtype).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(seed + 1)
    data = [(torch.randn(32, 48, generator=g), torch.randint(0, 10, (32,), generator=g)) for _ in range(steps)]
    d = tempfile.mkdtemp(prefix="tt-cuda-watch-")
    spool = os.path.join(d, "spool.jsonl")
    prof = None

    def start_profiler():
        acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        p = torch.profiler.profile(activities=acts)
        p.__enter__()
        profs.append(p)
        return p
    if profile_from == -1:
        prof = start_profiler()
    # every=1: the comparisons need the same steps sampled on both sides (not an overhead budget's choice)
    w = traintop.watch(model, opt, run="cuda-watch", endpoint="ipc://%s/none.sock" % d, spool=spool, every=1,
                       gwa_window=gwa_window, persample_full=True, gpu_backend=gpu_backend, auto_step=False,
                       linger_ms=0)
    for i, (x, y) in enumerate(data):
        if profile_from is not None and i == profile_from:
            prof = start_profiler()
        x, y = x.to(device).to(dtype), y.to(device)
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        opt.step()
        w.step(loss=loss)
    if prof is not None:
        torch.cuda.synchronize()
        prof.__exit__(None, None, None)
    counters = w.counters()
    w.close()
    msgs = _spooled_steps(spool)
    os.unlink(spool)
    os.rmdir(d)
    return msgs, counters, model[0].weight.detach().float().cpu()


def _watch_gpu_vs_torch_ops(dtype):
    """The GPU backend's layer rows equal the torch-ops path's on the same run (same device, same data)."""
    import torch
    bad = []
    gpu, cg, w1 = _watch_run("cuda", dtype, True)
    ops, co, w2 = _watch_run("cuda", dtype, False)
    if cg["gpu_layers"] != 4 or co["gpu_layers"] != 0:
        bad.append("gpu_layers: %d with the backend (want 4), %d without (want 0)" % (cg["gpu_layers"], co["gpu_layers"]))
    if not torch.equal(w1, w2):
        bad.append("the probe changed training: final weights differ")
    tol = 1e-6
    # angles absolutely: the torch-ops path forms unit vectors in fp32 (entries rounded to 6e-8), so
    # an angle that is exactly 0 on the backend (W = W_prev) reads ~1e-8 there
    ang_abs = 1e-6
    # dist_init: the backend reads W_0 on every W0_EVERY-th sampled step and repeats the last value in
    # between; the torch-ops path computes it every step (every step is sampled here)
    from traintop.backends.gpu import W0_EVERY
    k_dist = ttc.STAT_NAMES.index("dist_init")
    first = min(ops)
    for step in sorted(ops):
        rg, ro = gpu.get(step, {}).get("layers"), ops[step].get("layers")
        if not rg or not ro:
            bad.append("step %d: layer rows missing (gpu %s, torch ops %s)" % (step, bool(rg), bool(ro)))
            continue
        for li, (a, b) in enumerate(zip(rg, ro)):
            for k, (x, y) in enumerate(zip(a[:ttc.NSTATS], b[:ttc.NSTATS])):
                x = math.nan if x is None else x
                y = math.nan if y is None else y
                if k == k_dist and (step - first) % W0_EVERY:
                    y = ops[first + (step - first) // W0_EVERY * W0_EVERY]["layers"][li][k]   # the repeated one
                    y = math.nan if y is None else y
                angle = ttc.STAT_NAMES[k] in ("angle", "angle_rows")
                if not _close(x, y, tol) and not (abs(x - y) < (ang_abs if angle else 1e-12)):
                    bad.append("step %d layer %d %s: GPU backend %r, torch ops %r" % (step, li, ttc.STAT_NAMES[k], x, y))
        sc = gpu.get(step, {}).get("scalars", {})
        if "probe_gpu_ms" not in sc or "gpu_busy_ms" not in sc:
            bad.append("step %d: no gpu_busy_ms / probe_gpu_ms scalars" % step)
        elif not (0 < sc["probe_gpu_ms"] <= sc["gpu_busy_ms"]):
            bad.append("step %d: probe_gpu_ms %r, gpu_busy_ms %r" % (step, sc["probe_gpu_ms"], sc["gpu_busy_ms"]))
    return bad


def _watch_persample_gpu_vs_cpu():
    """GWA, the noise scale and the tests of a CUDA model (per-sample sums on the GPU) equal the CPU
    probe's on the same model and data. Different GEMMs: 1e-3 relative."""
    import torch
    gpu, _, _ = _watch_run("cuda", torch.float32, True)
    cpu, _, _ = _watch_run("cpu", torch.float32, True)
    bad = []
    names = ("gamma_mean", "noise_scale_raw", "trace_sigma", "grad_sq", "norm_test", "inner_test", "ortho_test", "gwa")
    for step in sorted(cpu):
        a, b = gpu.get(step, {}).get("scalars", {}), cpu[step].get("scalars", {})
        for n in names:
            if n not in b:
                if n != "gwa":
                    bad.append("step %d: CPU probe has no %s" % (step, n))
                continue
            if n not in a:
                bad.append("step %d: GPU probe has no %s" % (step, n))
            elif not _close(a[n], b[n], 1e-3) and abs(a[n] - b[n]) > 1e-9:
                bad.append("step %d %s: GPU %r, CPU %r" % (step, n, a[n], b[n]))
    return bad


def _watch_beside_profiler():
    """torch.profiler alongside watch(), started before it and after it: the profiler still records the
    CUDA kernels (ours took nothing from it), and every step still has probe_gpu_ms > 0 (event timing
    replaced CUPTI)."""
    import torch
    bad = []
    for start in (-1, 2):
        profs = []
        msgs, _, _ = _watch_run("cuda", torch.float32, True, steps=6, profile_from=start, profs=profs)
        kernels = [e for e in profs[0].events() if e.device_type == torch.autograd.DeviceType.CUDA]
        if not kernels:
            bad.append("profiler from step %d: it recorded no CUDA kernels beside watch()" % start)
        for step, m in sorted(msgs.items()):
            sc = m.get("scalars", {})
            if not sc.get("probe_gpu_ms", 0) > 0:
                bad.append("profiler from step %d: step %d has probe_gpu_ms %r" % (start, step, sc.get("probe_gpu_ms")))
    return bad


def _watch_no_sync_unsampled():
    """A step that samples nothing waits for nothing on the device: with torch's sync debug mode on,
    the optimizer step and tt.step(loss=<CUDA tensor>) of such a step raise no synchronisation warning
    (through the optimizer hook and through tt.step alone); every step still arrives with its own loss."""
    import tempfile
    import warnings
    import torch
    import torch.nn as nn
    import traintop
    bad = []
    for auto in (None, False):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(48, 96), nn.ReLU(), nn.Linear(96, 10)).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        g = torch.Generator().manual_seed(1)
        data = [(torch.randn(32, 48, generator=g).cuda(), torch.randint(0, 10, (32,), generator=g).cuda())
                for _ in range(12)]
        d = tempfile.mkdtemp(prefix="tt-cuda-nosync-")
        spool = os.path.join(d, "spool.jsonl")
        w = traintop.watch(model, opt, run="nosync", endpoint="ipc://%s/none.sock" % d, spool=spool, every=4,
                           auto_step=auto, linger_ms=0)
        losses = []
        for step, (x, y) in enumerate(data, 1):
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if step % 4:
                    torch.cuda.set_sync_debug_mode("warn")
                try:
                    opt.step()
                    w.step(loss=loss)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            syncs = [str(c.message) for c in caught if "synchroniz" in str(c.message)]
            if syncs:
                bad.append("auto_step=%s step %d (not sampled): %s" % (auto, step, syncs[0][:120]))
            losses.append(loss.detach())
        w.close()
        msgs = _spooled_steps(spool)
        for step, l in enumerate(losses, 1):
            got = msgs.get(step, {}).get("scalars", {}).get("loss")
            if got is None or abs(got - float(l)) > 1e-6 * max(1.0, abs(float(l))):
                bad.append("auto_step=%s step %d: loss %r, expected %r" % (auto, step, got, float(l)))
        os.unlink(spool)
        os.rmdir(d)
    return bad


CASES = []


def _cases():
    import torch
    out = []
    for dt, gdt in ((torch.float32, torch.float32), (torch.float16, torch.float16), (torch.bfloat16, torch.bfloat16),
                    (torch.bfloat16, torch.float32), (torch.float16, torch.float32)):
        for every in (1, 3):
            out.append(("layerstats %s/%s every=%d" % (dt, gdt, every), lambda dt=dt, gdt=gdt, e=every: _layerstats(dt, gdt, e)))
    for T in (1, 6, 96):                    # 96: g_i materialised (T² ≫ d_in·d_out), 6: the Gram form
        for z in (True, False):
            for dt in (torch.float32, torch.bfloat16):
                out.append(("persample T=%d z=%d %s" % (T, z, dt), lambda T=T, z=z, dt=dt: _persample(T, z, dt)))
    for dt in (torch.float32, torch.bfloat16):
        out.append(("watch: GPU backend = torch ops %s" % dt, lambda dt=dt: _watch_gpu_vs_torch_ops(dt)))
    out.append(("watch: per-sample on the GPU = CPU probe", _watch_persample_gpu_vs_cpu))
    out.append(("watch beside torch.profiler", _watch_beside_profiler))
    out.append(("watch: no host wait in an unsampled step", _watch_no_sync_unsampled))
    return out


def test_cuda_torch():
    import pytest
    if not _READY:
        pytest.skip(_WHY)
    failures = []
    for name, fn in _cases():
        failures += fn()
    assert not failures, "\n".join(failures[:20])


def main():
    if not _READY:
        print("skipped: %s" % _WHY)
        return 0
    passed = failed = 0
    for name, fn in _cases():
        bad = fn()
        if bad:
            failed += 1
            print("FAIL %s" % name)
            for b in bad[:8]:
                print("  " + b)
        else:
            passed += 1
            print("ok   %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
