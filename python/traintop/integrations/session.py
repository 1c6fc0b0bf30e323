"""What the framework callbacks share: one Watch per training run, stepped by the Trainer's events.

A Trainer decides when the optimizer steps (gradient accumulation, a skipped AMP step) and logs its
metrics at moments of its own, some after the step (Hugging Face logs the loss, then evaluates; Lightning
validates right after the last batch of an epoch). So a step is *held*: the optimizer step is read right
away by the Watch's post-step hook (automatic stepping, torch >= 2), held() records the step number and
its scalars, add() merges what is logged afterwards, and flush() publishes it — at the start of the next
training step, at the end of training, or on an exception. Only a step whose optimizer step really
ran is published (Watch.pending).
"""
import numbers

import torch

import traintop

__all__ = ["Session", "scalars_of"]


def scalars_of(metrics, prefix=""):
    """The numeric entries of a metrics mapping: numbers and one-element tensors (bools and the rest are
    left out); tensors are kept as tensors, so the Watch fetches them in one transfer."""
    out = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, torch.Tensor):
            if v.numel() == 1 and (v.is_floating_point() or not v.dtype.is_complex):
                out[prefix + str(k)] = v.detach().reshape(())
        elif isinstance(v, numbers.Real) and not isinstance(v, bool):
            out[prefix + str(k)] = float(v)
    return out


class Session:
    """watch() keywords in, one Watch per fit; step numbers are the Trainer's global step."""

    def __init__(self, watch_kwargs):
        self.kwargs = dict(watch_kwargs)
        self.tt = None
        self._held = None                 # (step, scalars) of an optimizer step not yet published

    def open(self, model, optimizer, hparams=None):
        self.close()                      # a second fit() is a new run
        # wrappers (accelerate's AcceleratedOptimizer, Lightning's LightningOptimizer) hold the torch
        # optimizer whose post-step hook reads the step
        for attr in ("optimizer", "_optimizer"):
            inner = getattr(optimizer, attr, None)
            if isinstance(inner, torch.optim.Optimizer):
                optimizer = inner
                break
        kw = dict(self.kwargs)
        kw["hparams"] = dict(hparams or {}, **(kw.get("hparams") or {}))
        tt = traintop.watch(model, optimizer, **kw)
        if not tt.auto_step:
            tt.close("failed")
            raise traintop.TraintopError("traintop callback: the step must be read right after optimizer.step(), "
                                         "before the Trainer zeroes the gradients: needs an optimizer with "
                                         "register_step_post_hook (torch >= 2.0) and auto_step left on")
        self.tt = tt
        return tt

    @property
    def live(self):
        return self.tt is not None and not self.tt.closed

    def hold(self, step, scalars):
        """The Trainer finished an optimizer step numbered `step`: keep it with its scalars until flush().
        A call with no optimizer step behind it (accumulation, a step a scaler skipped) holds nothing."""
        if not self.live:
            return
        if self._held is not None:
            self.flush()
        tt = self.tt
        if tt.auto_step and not tt.pending:
            return
        if step <= tt.last_step:
            return
        self._held = (int(step), dict(scalars))

    def add(self, scalars):
        """Metrics logged after the step (loss logs, evaluation) join the held step."""
        if self._held is not None:
            self._held[1].update(scalars)

    def flush(self):
        held, self._held = self._held, None
        if held is None or not self.live:
            return
        if self.tt.auto_step and not self.tt.pending:
            return                        # published already (the next backward pass came first)
        step, scalars = held
        self.tt.step(step=step, **scalars)

    def should_stop(self):
        """The collector asked this run to stop (a rule or a user)."""
        return self.live and self.tt.should_stop

    def close(self, status=None):
        if self.live:
            try:
                self.flush()
            finally:
                self.tt.close(status)
        self._held = None
