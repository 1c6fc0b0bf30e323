"""examples/torch_mlp.py end to end: sklearn's digits, label noise, a real collector."""
import os
import subprocess

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from conftest import PY, ROOT, Run  # noqa: E402

SCRIPT = os.path.join(ROOT, "examples", "torch_mlp.py")


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_example_trains_and_publishes(collector, optimizer):
    run = "example-" + optimizer
    r = subprocess.run([PY, SCRIPT, "--steps", "120", "--eval-every", "40", "--label-noise", "0.3", "--hidden", "64,32",
                        "--optimizer", optimizer, "--run", run, "--endpoint", collector.endpoint, "--threads", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rec = Run(collector.messages(run))
    assert rec.end["status"] == "finished" and sorted(rec.steps) == list(range(1, 121))
    hp = rec.start["hparams"]
    assert hp["label_noise"] == 0.3 and hp["dataset"] == "digits" and hp["optimizer"] == ("SGD" if optimizer == "sgd" else "AdamW")
    assert rec.layers == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    for step in (40, 80, 120):
        assert 0 <= rec.scalar(step, "val_acc") <= 1 and rec.scalar(step, "val_loss") > 0
    assert rec.scalar(41, "val_acc") is None
    assert rec.scalar(50, "gwa") is not None           # the GWA window (50 steps) closed
    assert rec.scalar(120, "eq_angle") > 0
    assert rec.scalar(1, "loss") > rec.scalar(120, "loss")


def test_example_without_probe():
    r = subprocess.run([PY, SCRIPT, "--steps", "20", "--no-probe", "--hidden", "16"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "done: 20 steps" in r.stderr, r.stderr
