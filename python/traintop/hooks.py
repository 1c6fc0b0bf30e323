"""What every probe hook shares: the failure rule (a hook never takes the training down) and the
CUDA-graph-capture test. Call sites use ``hooks.capturing()`` through this module, so one patch of
it (tests simulate a capture on the CPU) reaches them all."""
import torch

__all__ = ["Hook", "guarded", "capturing", "CAPTURE_MSG"]

CAPTURE_MSG = ("traintop: CUDA graph capture: the probe skips captured hooks; call tt.step() after each "
               "replay to publish the step (no per-sample statistics for replayed steps)")


def guarded(warn, fn, *args):
    """fn(*args), the probe's part of a hook. Whatever it raises (out of memory in a copy, a CUDA error,
    a bug) is reported once per kind of error through warn(key, message) and that call's work is
    skipped: None is returned and backward() or optimizer.step() go on."""
    try:
        return fn(*args)
    except Exception as e:
        if warn is not None:
            warn("hook:%s:%s" % (type(e).__name__, str(e)[:80]),
                 "traintop: a probe hook failed and was skipped, training goes on: %s: %s" % (type(e).__name__, e))
        return None


class Hook:
    """A hook torch calls: fn through guarded(). Torch will not try to serialise it (torch.save of a
    module with hooks stays quiet)."""
    __torch_unserializable__ = True
    __slots__ = ("fn", "warn", "__weakref__")

    def __init__(self, fn, warn):
        self.fn, self.warn = fn, warn

    def __call__(self, *args):
        return guarded(self.warn, self.fn, *args)


def capturing():
    """A CUDA graph is being captured on the current stream. A replay runs no Python and no host
    reads may happen during capture, so the probe does nothing then: it reads the step when tt.step()
    is called after the replay (the graph's static parameters and gradients are read in place)."""
    try:
        return torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing()
    except (AttributeError, RuntimeError):
        return False
