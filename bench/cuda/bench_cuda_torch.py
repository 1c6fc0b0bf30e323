#!/usr/bin/env python3
"""The fused GPU statistics against torch doing the same work on the same device tensors.

torch's side is what a PyTorch probe would write without the backend: torch._foreach_norm over the
lists of W, G, W − W_prev, W_prev, W − W_0, plus per-tensor ops for ⟨G, W⟩, the variance, the per-row
angles and the NaN/Inf count, the results stacked and copied to the host once, and W_prev refreshed
with copy_ — the same 12 statistics. The backend's side: tt_cuda_step + tt_cuda_collect (one kernel,
one copy, one event wait). Both are timed per step on the wall clock, synchronised, median of reps.

  cuda_stats_vs_torch_speedup = t_torch / t_backend          target >= 2

Without torch or a CUDA device: prints "skipped: no CUDA device" and exits 0. --quick: smaller model.
"""
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tests", "cuda"))
import tt_cuda_ctypes as ttc  # noqa: E402


def torch_stats(ws, gs, prevs, w0s, shapes):
    """The 12 statistics of every tensor with torch ops, one host transfer; refreshes prevs."""
    import torch
    wn = torch._foreach_norm(ws)
    gn = torch._foreach_norm(gs)
    diffs = torch._foreach_sub(ws, prevs)
    dn = torch._foreach_norm(diffs)
    pn = torch._foreach_norm(prevs)
    d0 = torch._foreach_norm(torch._foreach_sub(ws, w0s))
    per = []
    for w, g, p, d, (r, c) in zip(ws, gs, prevs, diffs, shapes):
        w2, p2, d2 = w.view(r, c), p.view(r, c), d.view(r, c)
        gw = (g.view(r, c).float() * w2.float()).sum()
        var = w2.float().var(unbiased=False)
        rw, rp, rd = w2.float().norm(dim=1), p2.float().norm(dim=1), d2.float().norm(dim=1)
        dn_ = rw - rp
        chord = ((rd * rd - dn_ * dn_) / (rw * rp)).clamp(min=0).sqrt()
        ra = 2 * torch.asin((chord / 2).clamp(max=1))
        ok = ~torch.isnan(ra)
        rows = torch.where(ok, ra * ra, torch.zeros_like(ra)).sum() / ok.sum().clamp(min=1)
        nf = (~torch.isfinite(w)).sum() + (~torch.isfinite(g)).sum()
        per.append(torch.stack([gw, var, rows.sqrt(), nf.float()]))
    allv = torch.cat([torch.stack([a.float() for a in wn]), torch.stack([a.float() for a in gn]),
                      torch.stack([a.float() for a in dn]), torch.stack([a.float() for a in pn]),
                      torch.stack([a.float() for a in d0]), torch.stack(per).reshape(-1)])
    host = allv.cpu()                                   # the one synchronisation
    for p, w in zip(prevs, ws):
        p.copy_(w)
    return host


def model(quick):
    # a transformer-ish parameter set: 2-D matrices, their biases and norm gains
    d = 512 if quick else 1024
    blocks = 2 if quick else 8
    shapes = [(50257 if not quick else 8192, d)]
    for _ in range(blocks):
        shapes += [(3 * d, d), (3 * d, 1), (d, d), (d, 1), (4 * d, d), (4 * d, 1), (d, 4 * d), (d, 1), (d, 1), (d, 1)]
    return shapes


def bench(dtype, gdtype, quick, reps):
    import torch
    dev = torch.device("cuda")
    shapes = model(quick)
    ws = [(torch.rand(r, c, device=dev) * 0.1).to(dtype) for r, c in shapes]
    gs = [(torch.rand(r, c, device=dev) * 1e-3).to(gdtype) for r, c in shapes]
    prevs = [w.clone() for w in ws]
    w0s = [w.clone() for w in ws]
    n = sum(r * c for r, c in shapes)

    lib = ttc.load()
    be = ttc.Backend(lib, every=1)
    for i, ((r, c), w, g) in enumerate(zip(shapes, ws, gs)):
        be.add("p%d" % i, r, c, w, g)

    def run_backend(step):
        be.step(step)
        be.collect(1)

    tb, tt = [], []
    for k in range(reps + 2):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        run_backend(k)
        t1 = time.perf_counter()
        torch_stats(ws, gs, prevs, w0s, shapes)
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        if k >= 2:
            tb.append(t1 - t0)
            tt.append(t2 - t1)
    be.close()
    b, t = statistics.median(tb), statistics.median(tt)
    print("# %s weights, %s gradients: %d tensors, %.1fM parameters: backend %.3f ms, torch %.3f ms per step"
          % (str(dtype).replace("torch.", ""), str(gdtype).replace("torch.", ""), len(shapes), n / 1e6, b * 1e3, t * 1e3))
    return t / b


def main():
    quick = "--quick" in sys.argv
    ready, why = ttc.cuda_ready()
    if not ready:
        print("skipped: %s" % why)
        return 0
    import torch
    print("# torch %s on %s" % (torch.__version__, torch.cuda.get_device_name()))
    reps = 5 if quick else 20
    sp = bench(torch.float32, torch.float32, quick, reps)
    sp16 = bench(torch.bfloat16, torch.float32, quick, reps)
    spb = bench(torch.bfloat16, torch.bfloat16, quick, reps)
    print("cuda_stats_vs_torch_speedup_bf16_fp32grad %.2f x" % sp16)
    print("cuda_stats_vs_torch_speedup_bf16 %.2f x" % spb)
    print("cuda_stats_vs_torch_speedup %.2f x (target >= 2)" % sp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
