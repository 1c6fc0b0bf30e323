"""should_stop end to end: a real training loop runs until a real collector, asked over its query
socket (nanomsg REQ, as `traintop` or a rule would), tells the run to stop."""
import threading
import time

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402


def test_collector_stops_a_training_loop(collector):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(32, 10), torch.randint(0, 4, (32,))
    tt = traintop.watch(model, opt, run="stop-me", endpoint=collector.endpoint)
    replies = []

    def operator():
        # wait until the collector has seen the run, then stop it
        deadline = time.time() + 60     # generous: returns as soon as the run is at step 20
        while time.time() < deadline:
            if any(r["run"] == "stop-me" and r["step"] >= 20 for r in collector.ls()):
                break
            time.sleep(0.05)
        replies.append(collector.stop("stop-me", "plateau: loss flat for 500 steps"))

    t = threading.Thread(target=operator)
    t.start()
    steps, t0 = 0, time.time()
    while not tt.should_stop:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        steps += 1
        assert time.time() - t0 < 120, "the stop never arrived"
    t.join()
    assert replies == [{"v": 2, "type": "ok"}]
    assert tt.stop_reason == "plateau: loss flat for 500 steps"
    assert steps >= 20
    tt.close()                               # status defaults to "stopped" once asked
    r = Run(collector.messages("stop-me"))
    assert r.end["status"] == "stopped" and r.end["step"] == steps
    state = {x["run"]: x["state"] for x in collector.ls()}
    assert state["stop-me"] == "stopped"


def test_should_stop_is_false_without_a_request(collector):
    model = nn.Linear(3, 2)
    with traintop.watch(model, run="no-stop", endpoint=collector.endpoint) as tt:
        for _ in range(3):
            model.zero_grad()
            model(torch.randn(4, 3)).sum().backward()
            assert tt.step() is False
        assert not tt.should_stop and tt.stop_reason is None
    assert Run(collector.messages("no-stop")).end["status"] == "finished"
