#!/usr/bin/env python3
"""Benchmarks of the PyTorch probe (python/traintop), CPU, one thread for every library
(torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1), all measured in the same run:

  torch_probe_overhead_pct      an MLP of 1.33M parameters (784-1024-512-10), batch 256, SGD+momentum:
                                a training step with traintop.watch() publishing every step (every §1
                                statistic of every parameter, per-sample statistics and GWA of the three
                                Linear layers) to a real collector, against the same step without a probe
  torch_vs_naive_hooks_speedup  the probe's added time per step against the usual hand-written logging:
                                per-parameter torch ops for the same §1 statistics, one host transfer
                                (.tolist()) per tensor, and a 20-bin torch.histc per tensor
                                (the naive way computes no per-sample statistics and sends nothing)
  stats_vs_torch_speedup        the C fused §1 pass (through the public API: tt_probe_step of a probe with
                                these layers, on the tensors' own buffers, W_prev refreshed in the same pass,
                                the step message included; libtraintop exports nothing else) against the same 12 statistics
                                per tensor with torch ops (float32, one transfer per tensor)

Timings interleave the variants in repeated blocks (base, probe, base, naive) and take medians of the
per-block ratios, so slow drifts of the machine cancel. Output lines: `name value unit (target …)`;
lines starting with # are details. --quick: fewer and shorter blocks (< 60 s).
"""
import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from traintop import _lib  # noqa: E402

torch.set_num_threads(1)


# ---------------------------------------------------------------- a collector to publish to

class Collector:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ttbench", dir="/tmp")
        self.endpoint = "ipc://%s/c.sock" % self.dir
        self.proc = subprocess.Popen([os.path.join(ROOT, "bin", "traintopd"), "--listen", self.endpoint, "--quiet"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(self.dir, "c.sock.q")):
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit("bench_torch: bin/traintopd did not start (make bin/traintopd)")
            time.sleep(0.02)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- the hand-written way

def torch_layer_stats(w, g, prev, w0):
    """The 12 §1 statistics of one tensor with plain torch ops (float32), then one transfer."""
    rows = w.shape[0] if w.dim() > 1 else 1
    w2, p2 = w.reshape(rows, -1), prev.reshape(rows, -1)
    wn, gn, pn = w.norm(), g.norm(), prev.norm()
    d = w - prev
    dn = d.norm()
    cos = (w * prev).sum() / (wn * pn)
    angle = torch.acos(cos.clamp(-1, 1))
    rc = (w2 * p2).sum(1) / (w2.norm(dim=1) * p2.norm(dim=1))
    angle_rows = torch.acos(rc.clamp(-1, 1)).pow(2).mean().sqrt()
    n = w.numel()
    out = torch.stack([wn, gn, wn / math.sqrt(n), gn / math.sqrt(n), w.var(unbiased=False), dn, dn / pn, angle,
                       angle_rows, -(g * w).sum() / (gn * wn), (w - w0).norm(),
                       (~torch.isfinite(w)).sum() + (~torch.isfinite(g)).sum()])
    prev.copy_(w)
    return out.tolist()


class NaiveLogger:
    """What people write by hand: per parameter, torch ops for the statistics and a histogram, each
    tensor's numbers fetched with its own host transfer, every step."""

    def __init__(self, model):
        self.params = [p for p in model.parameters()]
        with torch.no_grad():
            self.prev = [p.detach().clone() for p in self.params]
            self.w0 = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def step(self):
        logged = []
        for p, prev, w0 in zip(self.params, self.prev, self.w0):
            logged.append(torch_layer_stats(p.detach(), p.grad, prev, w0))
            logged.append(torch.histc(p.detach(), bins=20).tolist())
        return logged


# ---------------------------------------------------------------- overhead of a training step

def make_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 10))


def overhead(args, collector):
    model = make_mlp()
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 784, generator=g)
    y = torch.randint(0, 10, (256,), generator=g)

    def block(n, tt=None, naive=None):
        t0 = time.perf_counter()
        for _ in range(n):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            if tt is not None:
                tt.step(loss=loss)
            if naive is not None:
                naive.step()
        return (time.perf_counter() - t0) / n

    # time spent inside the per-sample C call, for the breakdown
    dense_time = [0.0]
    orig_dense = traintop.Probe.dense_batch

    def timed_dense(self, *a, **kw):
        t = time.perf_counter()
        try:
            return orig_dense(self, *a, **kw)
        finally:
            dense_time[0] += time.perf_counter() - t

    traintop.Probe.dense_batch = timed_dense
    block(args.warmup)
    base, probe, naive = [], [], []
    ratios_probe, ratios_naive, ratios_every10 = [], [], []
    c_stats, c_publish, c_dense, n_probe = 0.0, 0.0, 0.0, 0

    def probed(rep, every):
        tt = traintop.watch(model, opt, run="bench-%d-%d" % (every, rep), endpoint=collector.endpoint, every=every,
                            persample=True, linger_ms=200)
        block(3, tt=tt)                                    # warm: buffers, first messages
        c0, d0 = tt.counters(), dense_time[0]
        t = block(args.steps, tt=tt)
        c1 = tt.counters()
        tt.close()
        return t, c1["stats_seconds"] - c0["stats_seconds"], c1["publish_seconds"] - c0["publish_seconds"], dense_time[0] - d0

    for rep in range(args.reps):
        b1 = block(args.steps)
        pr, cs, cp, cd = probed(rep, 1)
        c_stats, c_publish, c_dense, n_probe = c_stats + cs, c_publish + cp, c_dense + cd, n_probe + args.steps
        b2 = block(args.steps)
        nv_logger = NaiveLogger(model)
        block(2, naive=nv_logger)
        nv = block(args.steps, naive=nv_logger)
        p10 = probed(rep, 10)[0] if not args.quick else None
        b = (b1 + b2) / 2
        base += [b1, b2]
        probe.append(pr)
        naive.append(nv)
        ratios_probe.append(pr / b - 1)
        ratios_naive.append((nv - b) / max(pr - b, 1e-9))
        if p10 is not None:
            ratios_every10.append(p10 / b - 1)
        print("# rep %d: base %.2f/%.2f ms, probe %.2f ms, naive %.2f ms%s per step; C per-sample %.2f ms" %
              (rep, b1 * 1e3, b2 * 1e3, pr * 1e3, nv * 1e3, ", probe every=10 %.2f ms" % (p10 * 1e3) if p10 else "",
               cd / args.steps * 1e3), flush=True)
    traintop.Probe.dense_batch = orig_dense
    b, pr, nv = statistics.median(base), statistics.median(probe), statistics.median(naive)
    print("# MLP 784-1024-512-10, %d parameters, batch 256, SGD: step %.2f ms without a probe, %.2f ms probed, "
          "%.2f ms with naive logging (medians of %d blocks of %d steps)" % (nparams, b * 1e3, pr * 1e3, nv * 1e3,
                                                                            args.reps, args.steps))
    print("# probe per step: C §1 statistics %.3f ms, C publishing %.3f ms, C per-sample (3 layers) %.3f ms, "
          "Python hooks and the rest %.3f ms" % (c_stats / n_probe * 1e3, c_publish / n_probe * 1e3,
                                                   c_dense / n_probe * 1e3,
                                                   (pr - b) * 1e3 - (c_stats + c_publish + c_dense) / n_probe * 1e3))
    if ratios_every10:
        print("# the same probe with every=10 (statistics and per-sample every 10th step): %.2f %% overhead"
              % (statistics.median(ratios_every10) * 100))
    ov = statistics.median(ratios_probe) * 100
    sp = statistics.median(ratios_naive)
    print("torch_probe_overhead_pct %.2f %% (target <= 3)" % ov)
    print("torch_vs_naive_hooks_speedup %.1f x (target >= 5)" % sp)
    return ov, sp


# ---------------------------------------------------------------- the fused pass against torch ops

def stats_speed(args):
    torch.manual_seed(2)
    shapes = [(1024, 784), (1024,), (512, 1024), (512,), (4096, 1024), (4096,), (1024, 4096), (10, 512), (10,)]
    ws = [torch.randn(s) * 0.05 for s in shapes]
    gs = [torch.randn(s) * 1e-3 for s in shapes]
    w0s = [w + 1e-3 * torch.randn_like(w) for w in ws]
    prevs_c = [w + 1e-4 * torch.randn_like(w) for w in ws]
    prevs_t = [p.clone() for p in prevs_c]
    nparams = sum(w.numel() for w in ws)
    _lib.load()

    def dims(w):
        return (w.shape[0], w.numel() // w.shape[0]) if w.dim() > 1 else (w.shape[0], 1)

    # libtraintop exports only its public API: the fused pass is timed through tt_probe_step, with these
    # tensors as the probe's layers (its numbers are checked against numpy by tests/ref/test_layerstats.py)
    probe = traintop.Probe("bench-stats", endpoint="ipc:///tmp/traintop-bench-nobody.sock")
    for i, (w, g) in enumerate(zip(ws, gs)):
        probe.add_layer("l%d" % i, *dims(w), w.data_ptr(), g.data_ptr())
    step = [0]

    def c_pass():
        step[0] += 1
        probe.step(step[0])

    def t_pass():
        return [torch_layer_stats(w, g, p, w0) for w, g, p, w0 in zip(ws, gs, prevs_t, w0s)]

    def timeit(fn):
        fn()
        best = []
        for _ in range(args.stat_reps):
            t0 = time.perf_counter()
            for _ in range(args.stat_iters):
                fn()
            best.append((time.perf_counter() - t0) / args.stat_iters)
        return statistics.median(best)

    tc, tt_ = timeit(c_pass), timeit(t_pass)
    print("# %d float32 tensors, %d values: C fused pass %.3f ms (%.1f GB/s of W, G, W_prev, W_0 read and W_prev "
          "written), torch ops %.3f ms (C timed through tt_probe_step)" % (len(ws), nparams, tc * 1e3, nparams * 20 / tc / 1e9,
                                                                 tt_ * 1e3))
    sp = tt_ / tc
    print("stats_vs_torch_speedup %.1f x (target >= 3)" % sp)
    return sp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter blocks (< 60 s)")
    args = ap.parse_args()
    args.reps, args.steps, args.warmup = (3, 12, 5) if args.quick else (7, 30, 10)
    args.stat_reps, args.stat_iters = (5, 5) if args.quick else (9, 10)
    if not os.path.exists(os.path.join(ROOT, "bin", "traintopd")):
        sys.exit("bench_torch: build bin/traintopd first (make)")
    print("# torch %s, libtraintop %s, %d torch thread(s)" % (torch.__version__, _lib.library_path(), torch.get_num_threads()))
    collector = Collector()
    try:
        overhead(args, collector)
    finally:
        collector.close()
    stats_speed(args)


if __name__ == "__main__":
    main()
