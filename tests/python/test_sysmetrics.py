"""System metrics of a watched PyTorch run: sampled on their own timer (not every step), published as
scalars whose values agree with what the kernel says about this very process."""
import os
import resource
import time

import pytest
import torch

import traintop
from conftest import Run


def train(tt, model, opt, steps, pause=0.0):
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        if pause:
            time.sleep(pause)      # paces the steps so several sampling intervals pass; not a synchronisation


def test_published_on_their_own_timer(collector):
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    t0 = time.monotonic()
    tt = traintop.watch(model, opt, run="sys-a", endpoint=collector.endpoint, system_metrics=0.2)
    train(tt, model, opt, 40, pause=0.02)
    rss_now = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tt.close()
    elapsed = time.monotonic() - t0
    run = Run(collector.messages("sys-a"))
    with_sys = [s for s in sorted(run.steps) if run.scalar(s, "sys_rss_bytes") is not None]
    # one sample at once, then at most one per interval, whatever the machine's load
    assert with_sys, "no system sample was published"
    assert len(with_sys) <= elapsed / 0.2 + 1, (len(with_sys), elapsed)
    last = with_sys[-1]
    rss = run.scalar(last, "sys_rss_bytes")
    # the kernel's peak (ru_maxrss) is updated lazily: allow it a few pages behind
    assert 0.5 * rss_now < rss <= peak + (4 << 20), (rss, rss_now, peak)
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(run.scalar(last, "sys_host_mem_total_bytes") - total) < 1 << 20
    assert 0 < run.scalar(last, "sys_host_mem_used_bytes") < total
    assert 0 <= run.scalar(last, "sys_cpu_percent") <= 100 * os.cpu_count() + 1
    if not torch.cuda.is_available():
        assert not any(n.startswith("gpu") for m in run.steps.values() for n in m.get("scalars", {}))


def test_off_and_bad_values(collector):
    model = torch.nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="sys-off", endpoint=collector.endpoint, system_metrics=0)
    train(tt, model, opt, 5)
    tt.close()
    run = Run(collector.messages("sys-off"))
    assert not any(n.startswith("sys_") for m in run.steps.values() for n in m.get("scalars", {}))
    # a long interval: the first sample only — published with one step, not every step
    tt = traintop.watch(model, opt, run="sys-once", endpoint=collector.endpoint, system_metrics=3600)
    deadline = time.monotonic() + 60
    while not any("sys_cpu_percent" in r["scalars"] for r in collector.ls() if r["run"] == "sys-once"):
        assert time.monotonic() < deadline, "the first system sample never arrived"
        train(tt, model, opt, 1)
    train(tt, model, opt, 20)
    tt.close()
    run = Run(collector.messages("sys-once"))
    assert len([s for s in run.steps if run.scalar(s, "sys_cpu_percent") is not None]) == 1
    for bad in (-1, float("nan"), "5", True):
        with pytest.raises(ValueError, match="system_metrics=.*expected seconds between samples"):
            traintop.watch(model, opt, run="sys-bad", endpoint=collector.endpoint, system_metrics=bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_metrics(collector):
    model = torch.nn.Linear(256, 256).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="sys-gpu", endpoint=collector.endpoint, system_metrics=0.2)
    x = torch.randn(64, 256, device="cuda")
    for _ in range(30):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        time.sleep(0.02)
    d = torch.cuda.current_device()
    peak = torch.cuda.max_memory_allocated(d)
    tt.close()
    run = Run(collector.messages("sys-gpu"))
    steps = [s for s in sorted(run.steps) if run.scalar(s, "gpu%d_torch_max_allocated_bytes" % d) is not None]
    assert steps and run.scalar(steps[-1], "gpu%d_torch_max_allocated_bytes" % d) <= peak
    nvml = [s for s in sorted(run.steps) if run.scalar(s, "gpu%d_mem_total_bytes" % d) is not None]
    assert nvml, "NVML gave no GPU readings on a CUDA machine"
    s = nvml[-1]
    assert run.scalar(s, "gpu%d_mem_used_bytes" % d) >= run.scalar(s, "gpu%d_torch_reserved_bytes" % d, 0) * 0.5
    assert 0 <= run.scalar(s, "gpu%d_util_percent" % d) <= 100
