"""TRAINTOP_TOKEN from Python: watch() sends it (through libtraintop), a collector with the same token
records the run without it (files 0600), one with another token refuses every message, and a token
that cannot travel (a space) is refused at watch() with one line naming the variable."""
import glob
import os
import stat
import subprocess
import time

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import ROOT, Collector  # noqa: E402


def train(endpoint, run, steps=5):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    with traintop.watch(model, opt, run=run, endpoint=endpoint) as tt:
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            tt.step()


@pytest.fixture
def token_collector(monkeypatch):
    monkeypatch.setenv("TRAINTOP_TOKEN", "py-s3cret")
    c = Collector()              # traintopd inherits the token
    try:
        yield c
    finally:
        c.close()


def test_the_token_travels_and_is_never_recorded(token_collector):
    train(token_collector.endpoint, "tok-ok")
    msgs = token_collector.messages("tok-ok")
    assert [m["type"] for m in msgs][0] == "run_start" and msgs[-1]["type"] == "run_end"
    assert sum(m["type"] == "step" for m in msgs) == 5
    for path in glob.glob(os.path.join(token_collector.rec, "*")):
        assert "py-s3cret" not in open(path, errors="replace").read(), path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(token_collector.rec).st_mode) == 0o700


def test_another_token_is_refused(token_collector, monkeypatch):
    monkeypatch.setenv("TRAINTOP_TOKEN", "not-the-one")
    train(token_collector.endpoint, "tok-wrong")
    monkeypatch.setenv("TRAINTOP_TOKEN", "py-s3cret")
    deadline = time.time() + 30            # every message of the run was refused, and counted
    while True:
        rep = token_collector.query({"v": 1, "type": "ls", "token": "py-s3cret"})
        if rep["counters"]["rejected"] >= 7 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert [r["run"] for r in rep["runs"]] == []
    assert rep["counters"]["accepted"] == 0 and rep["counters"]["rejected"] >= 7, rep["counters"]
    # and a query without the token gets nothing
    assert token_collector.query({"v": 1, "type": "ls"})["type"] == "error"


def test_a_token_that_cannot_travel_is_refused_at_watch(monkeypatch):
    monkeypatch.setenv("TRAINTOP_TOKEN", "has space")
    model = nn.Linear(2, 2)
    with pytest.raises(traintop.TraintopError) as e:
        traintop.watch(model, run="tok-bad", endpoint="ipc:///tmp/traintop-test-nobody.sock")
    assert "TRAINTOP_TOKEN: expected" in str(e.value) and "\n" not in str(e.value)


def test_traintop_ls_carries_the_token(token_collector, monkeypatch):
    train(token_collector.endpoint, "tok-ls")
    token_collector.messages("tok-ls")
    assert [r["run"] for r in token_collector.ls()] == ["tok-ls"]
    monkeypatch.delenv("TRAINTOP_TOKEN")
    out = subprocess.run([os.path.join(ROOT, "bin", "traintop"), "ls", "--endpoint", token_collector.endpoint],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "token: missing or wrong" in out.stderr
