#!/usr/bin/env python3
"""Trains a tiny GPT-2 with the Hugging Face transformers Trainer, watched by traintop through one
callback. The model is built from a config and the data is made here (sequences that count up modulo
the vocabulary from a random start, so there is something to learn): nothing is downloaded.

traintop adds two lines, marked `# traintop (n/2)`: the import and the callback. The Trainer builds the
optimizer and runs the loop; the callback watches the model, publishes every optimizer step with what
the Trainer logs (loss, grad_norm, learning_rate, eval_loss), and stops training when the collector asks.

    bin/traintop &                                     # or: bin/traintopd, then bin/traintop ls
    .venv/bin/python examples/hf_trainer.py --steps 300

Exit status: 0 finished or stopped by the collector, 2 bad usage.
"""
import argparse
import os
import sys
import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging

try:
    from traintop.integrations.transformers import TraintopCallback      # traintop (1/2)
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from traintop.integrations.transformers import TraintopCallback


def counting(n, vocab, length, seed):
    """n sequences start, start+1, ... (mod vocab): next-token prediction a small model can learn."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, vocab, (n, 1), generator=g)
    ids = (start + torch.arange(length)) % vocab
    return [{"input_ids": x, "labels": x} for x in ids]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="optimizer steps (default 300)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-steps", type=int, default=50, help="steps between evaluations (default 50)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--vocab", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", default=None, help="run name (default: script name + time)")
    p.add_argument("--endpoint", default=None, help="collector endpoint (default: $TRAINTOP_ENDPOINT or per-user)")
    p.add_argument("--every", type=int, default=1, help="publish layer statistics every N steps")
    a = p.parse_args(argv)
    hf_logging.set_verbosity_error()
    torch.manual_seed(a.seed)
    model = GPT2LMHeadModel(GPT2Config(n_layer=a.layers, n_head=4, n_embd=a.width, vocab_size=a.vocab,
                                       n_positions=32, bos_token_id=0, eos_token_id=0))
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="hf_trainer-"), max_steps=a.steps,
                             per_device_train_batch_size=a.batch, learning_rate=a.lr, weight_decay=0.01,
                             warmup_steps=min(20, a.steps // 10), logging_steps=1, eval_strategy="steps",
                             eval_steps=a.eval_steps, save_strategy="no", report_to=[], use_cpu=True,
                             disable_tqdm=True, seed=a.seed)
    callback = TraintopCallback(run=a.run, endpoint=a.endpoint, every=a.every,          # traintop (2/2)
                                hparams={"data": "counting", "vocab": a.vocab, "width": a.width, "layers": a.layers})
    trainer = Trainer(model=model, args=args, train_dataset=counting(4096, a.vocab, 32, a.seed),
                      eval_dataset=counting(64, a.vocab, 32, a.seed + 1), callbacks=[callback])
    trainer.train()
    ev = trainer.evaluate()
    print("done: %d steps, eval_loss %.4f%s" % (trainer.state.global_step, ev["eval_loss"],
          " (stopped by the collector: %s)" % callback.tt.stop_reason if callback.tt.should_stop else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
