#!/usr/bin/env python3
"""The PyTorch probe's cost on a torch.compile'd model against eager mode, measured in the same run
(CPU, one thread for every library):

  compile_probe_overhead_pct       an MLP of 1.33M parameters (784-1024-512-10), batch 256, SGD+momentum,
                                   compiled with torch.compile (inductor): a training step with
                                   traintop.watch() publishing every §1 statistic of every parameter every
                                   step to a real collector, against the same compiled step without a probe
  eager_probe_overhead_pct         the same probe (per-sample statistics off, as under compile) on the
                                   same model in eager mode, against the eager step
  compile_default_overhead_pct     the compiled step watched with watch()'s defaults: the overhead budget
                                   (2 % of the step) chooses the sampled steps; timed once it has settled
  compile_step_speedup             eager step / compiled step, both unprobed (what compile buys here)

Times are the process's CPU time (time.process_time: every thread of the training process, the probe's
included; the collector is another process), which other processes on a shared machine disturb far
less than wall-clock time. The four variants are interleaved in repeated blocks (A B B A per mode) and the
medians of the per-repetition ratios are taken, so slow drifts of the machine cancel. A detail line
gives the probe's added milliseconds compiled minus eager (the probe runs outside the compiled graph
and does the same work, so ≈ 0) beside the noise of one block. Output lines: `name value unit`; lines starting with # are details.
--quick: fewer and shorter blocks.
"""
import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "bench")]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

import traintop  # noqa: E402
from bench_torch import Collector, make_mlp  # noqa: E402

torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    args = ap.parse_args()
    reps, steps = (3, 8) if args.quick else (9, 15)
    if not os.path.exists(os.path.join(ROOT, "bin", "traintopd")):
        sys.exit("bench_compile: build bin/traintopd first (make)")
    print("# torch %s, %d torch thread(s)" % (torch.__version__, torch.get_num_threads()))
    model = make_mlp()
    compiled = torch.compile(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(256, 784, generator=g), torch.randint(0, 10, (256,), generator=g)
    collector = Collector()

    def block(fn, n, tt=None):
        t0 = time.process_time()
        for _ in range(n):
            opt.zero_grad()
            loss = F.cross_entropy(fn(x), y)
            loss.backward()
            opt.step()
            if tt is not None:
                tt.step(loss=loss)
        return (time.process_time() - t0) / n

    def probed(fn, watched, name, default=False):
        """A probed block: every=1 with per-sample statistics off, or watch()'s defaults (the overhead
        budget; per-sample statistics refused under compile), timed after the budget has settled."""
        kw = {} if default else {"every": 1, "persample": False}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # the per-sample refusal under compile
            tt = traintop.watch(watched, opt, run=name, endpoint=collector.endpoint, linger_ms=200, **kw)
        block(fn, 3 * steps if default else 2, tt)    # warm: buffers, first messages, the budget's intervals
        t = block(fn, steps, tt)
        tt.close()
        return t

    try:
        t0 = time.perf_counter()
        block(compiled, 3)                        # compile (forward and backward graphs)
        probed(compiled, compiled, "warm-c")      # and with the probe's hooks in place, if they differ
        print("# compile and warm-up: %.1f s" % (time.perf_counter() - t0))
        counters.clear()
        rows = {"eager": [], "eager_probe": [], "compiled": [], "compiled_probe": []}
        r_c, r_cd, r_e, added, noise, r_speed = [], [], [], [], [], []
        for rep in range(reps):
            # A B B A order per mode (unprobed, probed, probed, unprobed): a linear drift cancels
            e1, ep1 = block(model, steps), probed(model, model, "e-%d-1" % rep)
            c1, cp1 = block(compiled, steps), probed(compiled, compiled, "c-%d-1" % rep)
            cd1 = probed(compiled, compiled, "cd-%d-1" % rep, default=True)
            cd2 = probed(compiled, compiled, "cd-%d-2" % rep, default=True)
            cp2, c2 = probed(compiled, compiled, "c-%d-2" % rep), block(compiled, steps)
            ep2, e2 = probed(model, model, "e-%d-2" % rep), block(model, steps)
            e, ep, c, cp = (e1 + e2) / 2, (ep1 + ep2) / 2, (c1 + c2) / 2, (cp1 + cp2) / 2
            for k, v in (("eager", e), ("eager_probe", ep), ("compiled", c), ("compiled_probe", cp)):
                rows[k].append(v)
            r_c.append(cp / c - 1)
            r_cd.append((cd1 + cd2) / 2 / c - 1)
            r_e.append(ep / e - 1)
            added.append(((cp - c) - (ep - e)) * 1e3)
            noise.append(abs(e1 - e2) * 1e3)
            r_speed.append(e / c)
            print("# rep %d: eager %.2f ms, eager probed %.2f ms, compiled %.2f ms, compiled probed %.2f ms CPU per step"
                  % (rep, e * 1e3, ep * 1e3, c * 1e3, cp * 1e3), flush=True)
        med = {k: statistics.median(v) * 1e3 for k, v in rows.items()}
        print("# medians of CPU time per step: eager %.2f ms, eager probed %.2f ms, compiled %.2f ms, compiled probed %.2f ms; "
              "graph breaks during the timed blocks: %d, recompiles: %d" %
              (med["eager"], med["eager_probe"], med["compiled"], med["compiled_probe"],
               sum(counters["graph_break"].values()), counters["stats"]["unique_graphs"]))
        print("# the probe's added time, compiled minus eager: %+.2f ms per step (median); the noise of a block: "
              "median |eager block 1 - eager block 2| = %.2f ms" % (statistics.median(added), statistics.median(noise)))
        print("compile_probe_overhead_pct %.2f %%" % (statistics.median(r_c) * 100))
        print("eager_probe_overhead_pct %.2f %%" % (statistics.median(r_e) * 100))
        print("compile_default_overhead_pct %.2f %% (target <= 3)" % (statistics.median(r_cd) * 100))
        print("compile_step_speedup %.2f x" % statistics.median(r_speed))
    finally:
        collector.close()


if __name__ == "__main__":
    main()
