"""traintop.integrations.transformers.TraintopCallback with a real transformers.Trainer on tiny models
built from configs in the test (GPT-2 language model with tied embeddings, BERT classifier; CPU, no
downloads, random token data).

Checked from the recording of a real traintopd: one step per optimizer step under state.global_step
(also with gradient accumulation); the §1 statistics of every parameter against float64 references from
the gradient the optimizer used (after the Trainer's clipping) and the weights around its step
(snapshots a helper callback takes; rtol 1e-8 as test_stats.py); the Trainer's logged `loss`,
`learning_rate`, `grad_norm` with the step they belong to, `eval_loss` after each evaluation, the
optimizer's `lr`; the collector's stop request ending train() through control.should_training_stop.
GPT-2's per-sample statistics come from its transformers Conv1D projections (c_attn, c_proj, c_fc: a finite
γ every step; the numbers themselves are checked against brute force in test_persample_layers.py).
"""
import math
import tempfile
import time

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from transformers import (BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel,  # noqa: E402
                          Trainer, TrainerCallback, TrainingArguments)

from conftest import Run  # noqa: E402
from refs import STATS, as2d, close, layer_stats  # noqa: E402
from traintop.integrations.transformers import TraintopCallback  # noqa: E402

V, T = 40, 8


def gpt2():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=V, n_positions=T,
                                      bos_token_id=0, eos_token_id=0, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0))


def bert():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=V, hidden_size=16, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=32,
                                                    max_position_embeddings=T, num_labels=3, hidden_dropout_prob=0,
                                                    attention_probs_dropout_prob=0))


def dataset(kind, n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, V, (n, T), generator=g)
    if kind == "gpt2":
        return [{"input_ids": x, "labels": x} for x in ids]
    labels = torch.randint(0, 3, (n,), generator=g)
    return [{"input_ids": x, "labels": y} for x, y in zip(ids, labels)]


class Snapshots(TrainerCallback):
    """The references' inputs: W_0, and per optimizer step the gradient it used and the weights around it;
    also what the Trainer logged, by step."""

    def __init__(self, model):
        self.model, self.snaps, self.logs, self._before = model, {}, {}, None
        self.w0 = {n: as2d(p) for n, p in model.named_parameters()}

    def on_pre_optimizer_step(self, args, state, control, **kw):
        self._before = {n: (as2d(p), as2d(p.grad)) for n, p in self.model.named_parameters()}

    def on_optimizer_step(self, args, state, control, **kw):
        self.snaps[state.global_step + 1] = {n: (as2d(p), self._before[n][1], self._before[n][0])
                                             for n, p in self.model.named_parameters()}

    def on_log(self, args, state, control, logs=None, **kw):
        self.logs.setdefault(state.global_step, {}).update(logs)


def args(**kw):
    base = dict(output_dir=tempfile.mkdtemp(prefix="tthf", dir="/tmp"), per_device_train_batch_size=4,
                learning_rate=1e-3, weight_decay=0.01, logging_steps=1, report_to=[], save_strategy="no",
                use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0)
    base.update(kw)
    return TrainingArguments(**base)


@pytest.mark.parametrize("kind,accumulate", [("gpt2", 1), ("bert", 2)])
def test_hf_trainer_publishes_each_optimizer_step(collector, kind, accumulate):
    model = gpt2() if kind == "gpt2" else bert()
    run = "hf-%s" % kind
    snap = Snapshots(model)
    cb = TraintopCallback(run=run, endpoint=collector.endpoint, every=1)
    steps = 4
    tr = Trainer(model=model, args=args(max_steps=steps, gradient_accumulation_steps=accumulate,
                                        eval_strategy="steps", eval_steps=2, per_device_eval_batch_size=8),
                 train_dataset=dataset(kind, 64, 1), eval_dataset=dataset(kind, 8, 2), callbacks=[snap, cb])
    tr.train()
    assert cb.tt.closed
    r = Run(collector.messages(run))
    assert sorted(r.steps) == list(range(1, steps + 1)) == sorted(snap.snaps)
    assert r.start["hparams"]["trainer"] == "transformers"
    assert r.layers == [n for n, _ in model.named_parameters()]
    for step, s in snap.snaps.items():
        for n, (W, G, P) in s.items():
            want, got = layer_stats(W, G, P, snap.w0[n]), r.layer(step, n)
            for st in STATS:
                assert close(got[st], want[st], 1e-8, 1e-13), (step, n, st, got[st], want[st])
        logged = snap.logs[step]
        for k in ("loss", "grad_norm", "learning_rate"):
            assert r.scalar(step, k) == pytest.approx(logged[k], rel=1e-6), (step, k)
        assert r.scalar(step, "lr") == pytest.approx(logged["learning_rate"], rel=1e-9)
        assert r.scalar(step, "epoch") == pytest.approx(logged["epoch"], rel=1e-9)
        assert (r.scalar(step, "eval_loss") is not None) == (step % 2 == 0)
        if step % 2 == 0:
            assert r.scalar(step, "eval_loss") == pytest.approx(logged["eval_loss"], rel=1e-6)
    if kind == "gpt2":     # tied embeddings: one parameter; lm_head shares it, no per-sample statistics
        assert "lm_head.weight" not in r.layers
        # transformers' Conv1D (weight nx × nf) covered: every projection of the block
        conv1d = ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc",
                  "transformer.h.0.mlp.c_proj"]
        assert cb.tt.persample_layers == conv1d, cb.tt.persample_skipped
        covered = sum(p.numel() for n, p in model.named_parameters() if n.rsplit(".", 1)[0] in conv1d)
        assert cb.tt.gamma_coverage == pytest.approx(covered / sum(p.numel() for p in model.parameters()))
        for step in r.steps:
            assert r.scalar(step, "gamma_coverage") == pytest.approx(cb.tt.gamma_coverage), step
            g = r.scalar(step, "gamma_mean")
            assert g is not None and math.isfinite(g) and abs(g) <= 1, (step, g)
            for n in conv1d:
                assert math.isfinite(r.extra(step, n + ".weight", "gamma_mean")), (step, n)
                assert math.isfinite(r.extra(step, n + ".bias", "gamma_mean")), (step, n)
    else:
        assert "classifier" in cb.tt.persample_layers
        assert r.scalar(steps, "gamma_mean") is not None
    assert r.end["status"] == "finished"


def test_gpt2_conv1d_gamma_against_brute_force(collector):
    """The real transformers Conv1D through watch() (no Trainer): the model's γ mean and each Conv1D
    parameter's own γ mean against every sample's own gradient by autograd on a float64 copy, over the
    covered parameters (the Conv1D weights and biases). Tolerance as test_persample_layers.py: atol 1e-6."""
    import copy
    import numpy as np
    from refs import gamma, per_sample_grads
    from transformers.pytorch_utils import Conv1D
    import traintop
    model = gpt2()
    ref = copy.deepcopy(model).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="hf-conv1d", endpoint=collector.endpoint, every=1, gwa_head=False)
    names = [n for n, _ in model.named_parameters()]
    conv1d = [n for n, m in model.named_modules() if isinstance(m, Conv1D)]
    assert len(conv1d) == 4 and set(conv1d) <= set(tt.persample_layers)
    covered = [k for k, n in enumerate(names) if n.rsplit(".", 1)[0] in conv1d]
    B, want = 4, {}
    for step in (1, 2):
        x = torch.randint(1, V, (B, T), generator=torch.Generator().manual_seed(step))
        ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        params = list(ref.parameters())
        grads = per_sample_grads(ref, params, lambda m, i: m(input_ids=x[i:i + 1], labels=x[i:i + 1]).loss, B)
        weights = [params[k].detach().numpy() for k in covered]
        want[step] = (float(np.mean([gamma([gi[k] for k in covered], weights) for gi in grads])),
                      {names[k]: float(np.mean([gamma([gi[k]], [params[k].detach().numpy()]) for gi in grads]))
                       for k in covered})
        opt.zero_grad()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        tt.step(loss=loss)
    assert tt.persample_layers == conv1d        # wpe left at the first step: broadcast position ids
    tt.close()
    r = Run(collector.messages("hf-conv1d"))
    for step, (g, layers) in want.items():
        assert r.scalar(step, "gamma_mean") == pytest.approx(g, abs=1e-6), step
        for n, v in layers.items():
            assert r.extra(step, n, "gamma_mean") == pytest.approx(v, abs=1e-6), (step, n)


class StopAt(TrainerCallback):
    def __init__(self, collector, run, tt_cb, at):
        self.collector, self.run, self.tt_cb, self.at = collector, run, tt_cb, at

    def on_step_end(self, args, state, control, **kw):
        if state.global_step != self.at:
            return
        deadline = time.time() + 60
        while not any(r["run"] == self.run for r in self.collector.ls()):
            assert time.time() < deadline, "the collector never saw the run"
            time.sleep(0.05)
        assert self.collector.stop(self.run, "test: enough")["type"] == "ok"
        while not self.tt_cb.tt.should_stop:
            assert time.time() < deadline, "the stop request never reached the probe"
            time.sleep(0.02)


def test_collector_stop_ends_train(collector):
    model = gpt2()
    cb = TraintopCallback(run="hf-stop", endpoint=collector.endpoint, every=1)
    tr = Trainer(model=model, args=args(max_steps=100), train_dataset=dataset("gpt2", 64, 1),
                 callbacks=[StopAt(collector, "hf-stop", cb, at=2), cb])
    tr.train()
    assert tr.state.global_step == 2
    r = Run(collector.messages("hf-stop"))
    assert sorted(r.steps) == [1, 2] and r.end["status"] == "stopped"


def test_import_without_transformers():
    import subprocess
    from conftest import PY, ROOT
    code = ("import sys; sys.modules['transformers'] = None\n"
            "import traintop.integrations\n"
            "try:\n    import traintop.integrations.transformers\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": ROOT + "/python", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == ("traintop.integrations.transformers needs Hugging Face transformers: "
                                  "pip install transformers"), out.stderr


def test_example_hf_trainer(collector):
    """examples/hf_trainer.py, a few steps of a tiny GPT-2: the callback publishes, eval_loss arrives."""
    import os
    import subprocess
    from conftest import PY, ROOT
    r = subprocess.run([PY, os.path.join(ROOT, "examples", "hf_trainer.py"), "--steps", "4", "--eval-steps", "2",
                        "--layers", "1", "--width", "16", "--batch", "4", "--run", "ex-hf", "--endpoint",
                        collector.endpoint], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rec = Run(collector.messages("ex-hf"))
    assert sorted(rec.steps) == [1, 2, 3, 4] and rec.end["status"] == "finished"
    assert rec.start["hparams"]["data"] == "counting"
    assert rec.scalar(2, "eval_loss") is not None and rec.scalar(4, "loss") > 0


def test_hf_trainer_torch_compile(collector):
    """TrainingArguments(torch_compile=True): the Trainer compiles the model the callback watches; the
    probe's hooks stand aside in the compiled forward (no graph break, one warning for per-sample
    statistics), and the §1 statistics and logged scalars are published."""
    import warnings
    from torch._dynamo.utils import counters
    model = bert()
    cb = TraintopCallback(run="hf-compile", endpoint=collector.endpoint, every=1)
    torch._dynamo.reset()
    counters.clear()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Trainer(model=model, args=args(max_steps=2, torch_compile=True), train_dataset=dataset("bert", 16, 1),
                callbacks=[cb]).train()
    assert sum(counters["graph_break"].values()) == 0 and counters["stats"]["unique_graphs"] >= 1
    assert len([w for w in said if "per-sample statistics are off under torch.compile" in str(w.message)]) == 1
    r = Run(collector.messages("hf-compile"))
    assert sorted(r.steps) == [1, 2] and r.end["status"] == "finished"
    assert r.layer(2, "classifier.weight")["g_norm"] > 0 and r.scalar(2, "loss") > 0
