#!/usr/bin/env python3
"""traintop.watch() on a GPT-style decoder on the GPU: what it costs a real training step.

The model: 12 pre-norm decoder blocks (d = 1024, 16 heads, nn.Linear qkv/proj/fc1/fc2 with bias,
causal scaled-dot-product attention), token and position embeddings and an untied nn.Linear head over
8192 tokens: 168M parameters. bf16 autocast, fused AdamW, T = 1024, batch 8, random tokens (a fixed
pool on the device). A real traintopd collects (--record), and every run is checked afterwards: every
sampled step arrived, with finite statistics for every layer (and finite per-sample numbers where
per-sample statistics were on).

Timing: the wall time of N steps with no synchronisation inside the loop (one before, one after), so
a probe that breaks CPU/GPU overlap shows up. Each variant is measured `--rounds` times, interleaved
with the others, on a fresh model; the fastest round counts. Lines:

  gpu_e2e_step_ms_none X                      the training alone
  gpu_e2e_overhead_pct_default X              watch() with its defaults           target <= 3
  gpu_e2e_overhead_pct_stats_every1 X         every=1, persample=False            target <= 8
  gpu_e2e_overhead_pct_persample_every1 X     every=1, per-sample statistics on   target <= 40
  gpu_e2e_overhead_pct_every10 X              every=10                            target <= 5
  check_gpu_e2e_sampled_steps ok|FAIL ...

Without torch or a CUDA device: prints "skipped: …" and exits 0. --quick: 4 blocks, fewer steps.
--cpu-smoke: a tiny model on the CPU through the same code, for checking the script without a GPU
(its lines are prefixed smoke_ and are not GPU figures).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

TARGETS = {"default": 3, "stats_every1": 8, "persample_every1": 40, "every10": 5}
VARIANTS = [("none", None), ("default", {}), ("stats_every1", {"every": 1, "persample": False}),
            ("persample_every1", {"every": 1, "persample": True}), ("every10", {"every": 10})]


class Collector:
    """bin/traintopd listening on a private socket, recording every message."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ttgpt", dir="/tmp")
        self.rec = os.path.join(self.dir, "rec")
        os.mkdir(self.rec)
        self.endpoint = "ipc://%s/c.sock" % self.dir
        exe = os.environ.get("TRAINTOPD") or os.path.join(ROOT, "bin", "traintopd")   # gpu-check.sh's packed one
        if not os.path.exists(exe):
            sys.exit("bench_gpt: build bin/traintopd first (make)")
        self.proc = subprocess.Popen([exe, "--listen", self.endpoint, "--record", self.rec, "--quiet"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(self.dir, "c.sock.q")):
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit("bench_gpt: bin/traintopd did not start")
            time.sleep(0.02)

    def steps(self, run):
        """{step: message} of a run's recording (the collector flushes every 0.2 s)."""
        path = os.path.join(self.rec, run + ".jsonl")
        out = {}
        deadline = time.time() + 5
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        if not os.path.exists(path):
            return out
        with open(path) as f:
            for line in f:
                try:
                    m = json.loads(line)
                except ValueError:
                    continue
                if isinstance(m, dict) and m.get("type") == "step" and "step" in m:
                    out[m["step"]] = m
        return out

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def build(cfg, device):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.tok, self.pos = nn.Embedding(c["vocab"], c["d"]), nn.Embedding(c["T"], c["d"])
            self.blocks = nn.ModuleList([Block(c["d"], c["heads"]) for _ in range(c["layers"])])
            self.ln = nn.LayerNorm(c["d"])
            self.head = nn.Linear(c["d"], c["vocab"], bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln(x))

    torch.manual_seed(0)
    with torch.device(device):          # built in place: no 168M-parameter detour through the CPU
        return GPT(cfg)


def measure(name, kw, cfg, device, collector, round_no):
    """(seconds per step over the timed steps, check failures) of one variant on a fresh model."""
    import torch
    import torch.nn.functional as F
    import traintop
    model = build(cfg, device)
    cuda = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)
    g = torch.Generator(device=device).manual_seed(1)
    pool = [torch.randint(0, cfg["vocab"], (cfg["B"], cfg["T"] + 1), device=device, generator=g) for _ in range(4)]
    run = "gpt-%s-%d" % (name, round_no)
    w = None
    if kw is not None:
        w = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, linger_ms=2000, **kw)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)

    def step(i):
        batch = pool[i % len(pool)]
        x, y = batch[:, :-1], batch[:, 1:]
        with amp:
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, cfg["vocab"]), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if w is not None:
            w.step(loss=loss)            # a CUDA tensor: it must not cost a host synchronisation

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for i in range(cfg["warmup"]):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(cfg["warmup"], cfg["warmup"] + cfg["steps"]):
        step(i)
    sync()
    dt = (time.perf_counter() - t0) / cfg["steps"]
    bad = []
    if w is not None:
        layers = len([p for p in model.parameters()])
        w.close()
        bad = check(run, kw, collector.steps(run), cfg["warmup"] + cfg["steps"], layers)
    del model, opt, pool
    if cuda:
        torch.cuda.empty_cache()
    return dt, bad


def check(run, kw, msgs, nsteps, nlayers):
    """Every sampled step arrived with finite statistics (w_norm, g_norm of every layer; gamma_mean
    where per-sample statistics were sampled)."""
    bad = []
    published = sorted(msgs)
    if len(published) < nsteps:
        bad.append("%s: %d of %d steps arrived" % (run, len(published), nsteps))
    every = kw.get("every")
    sampled = [s for s in published if msgs[s].get("layers")]
    if every:
        missing = [s for s in published if s % every == 0 and s not in sampled]
        if missing:
            bad.append("%s: sampled steps without layer statistics: %s" % (run, missing[:5]))
    if not sampled:
        bad.append("%s: no sampled step arrived" % run)
    for s in sampled:
        rows = msgs[s]["layers"]
        if len(rows) != nlayers:
            bad.append("%s step %d: %d layer rows, %d parameters" % (run, s, len(rows), nlayers))
            continue
        for li, r in enumerate(rows):
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in r[:2]):
                bad.append("%s step %d layer %d: w_norm, g_norm = %r" % (run, s, li, r[:2]))
                break
    if kw.get("persample") and every == 1:
        for s in sampled:
            v = msgs[s].get("scalars", {}).get("gamma_mean")
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                bad.append("%s step %d: gamma_mean %r" % (run, s, v))
                break
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 blocks, fewer steps")
    ap.add_argument("--cpu-smoke", action="store_true", help="a tiny model on the CPU: checks the script only")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print("skipped: no torch (%s)" % e)
        return 0
    if a.cpu_smoke:
        device, prefix = torch.device("cpu"), "smoke_"
        cfg = dict(d=64, heads=4, layers=2, vocab=256, T=32, B=2, warmup=3, steps=12)
    else:
        if not torch.cuda.is_available():
            print("skipped: no CUDA device (torch %s: torch.cuda.is_available() is False)" % torch.__version__)
            return 0
        device, prefix = torch.device("cuda"), ""
        cfg = dict(d=1024, heads=16, layers=4 if a.quick else 12, vocab=8192, T=1024, B=8, warmup=5,
                   steps=12 if a.quick else 30)
        torch.backends.cuda.matmul.allow_tf32 = True
    if a.steps:
        cfg["steps"] = a.steps
    nparams = sum(p.numel() for p in build(cfg, torch.device("meta")).parameters())
    print("%sgpt: %.0fM parameters, d=%d, %d blocks, T=%d, batch %d, %s, %d timed steps x %d rounds" % (
        prefix, nparams / 1e6, cfg["d"], cfg["layers"], cfg["T"], cfg["B"],
        torch.cuda.get_device_name() if device.type == "cuda" else "cpu", cfg["steps"], a.rounds))
    collector = Collector()
    best, bad = {}, []
    try:
        for r in range(a.rounds):
            for name, kw in VARIANTS:
                dt, b = measure(name, kw, cfg, device, collector, r)
                best[name] = min(best.get(name, math.inf), dt)
                bad += b
                print("  round %d %-17s %.2f ms/step" % (r, name, dt * 1e3), flush=True)
    finally:
        collector.close()
    base = best["none"]
    print("%sgpu_e2e_step_ms_none %.2f" % (prefix, base * 1e3))
    for name, _ in VARIANTS[1:]:
        print("%sgpu_e2e_overhead_pct_%s %.1f (target <= %d)" % (prefix, name, 100 * (best[name] / base - 1),
                                                                TARGETS[name]))
    print("%scheck_gpu_e2e_sampled_steps %s" % (prefix, "ok" if not bad else "FAIL: " + "; ".join(bad[:5])))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
