"""Nothing lost from Python either: a watched model whose collector is not there keeps its steps in the
default spool (under XDG_STATE_HOME, the tests' own), says so, and a collector started later on that
endpoint imports them — the run complete, as the probe made it."""
import glob
import os
import tempfile
import time

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

import traintop  # noqa: E402
from conftest import Collector, Run  # noqa: E402


def test_no_collector_then_one_imports_the_spool(capfd):
    d = tempfile.mkdtemp(prefix="ttpy", dir="/tmp")
    endpoint = "ipc://%s/c.sock" % d
    model = nn.Linear(4, 3)
    tt = traintop.watch(model, run="late", endpoint=endpoint, persample=False)
    for _ in range(40):
        model.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        tt.step()
    counters = tt.probe.counters()
    tt.close()
    err = capfd.readouterr().err
    assert "traintop: run 'late' rank 0: 41 messages were not acknowledged by a collector; kept in" in err, err
    spools = glob.glob(os.path.join(os.environ["XDG_STATE_HOME"], "traintop", "spool", "*", "late.*.jsonl"))
    assert len(spools) == 1, spools
    assert counters["sent"] == 0 and counters["dropped"] == 0 and counters["queued"] == 40   # all held, none lost
    c = Collector(dir=d)
    try:
        deadline = time.time() + 60
        while not any(r["run"] == "late" and r["state"] == "finished" for r in c.ls()):
            assert time.time() < deadline, c.ls()
            time.sleep(0.05)
        r = next(r for r in c.ls() if r["run"] == "late")
        assert r["steps"] == 40 and r["sent"] == 40 and r["lost"] == 0 and r["spooled"] == 40, r
        run = Run(c.messages("late"))
        assert sorted(run.steps) == list(range(1, 41)) and run.end["status"] == "finished"
        assert not glob.glob(os.path.join(os.environ["XDG_STATE_HOME"], "traintop", "spool", "*", "late.*.jsonl"))
    finally:
        c.close()
