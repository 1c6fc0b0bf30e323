"""torch.compile: what the probe does differently for a compiled model (docs/python.md, Supported stack).

The §1 statistics need no hook inside the forward pass: they are read after the optimizer step, outside
any compiled region, so a compiled model publishes exactly what the eager one does. Per-sample
statistics need a forward hook on each nn.Linear and a tensor hook on its output; inside a compiled
forward those would break the graph (or be traced into it), so under compile they are off, with one
warning:
  * torch.compile(model) (an OptimizedModule) or model.compile() before watch(): seen by watch(),
    which watches the original module (names as in eager mode) without per-sample hooks;
  * compiled after watch(): the hooks see that they are being traced (compiling()) and do nothing,
    so the compiled graph holds no probe code and no graph break; the watcher warns once.
"""
__all__ = ["compiling", "unwrap", "PERSAMPLE_MSG"]

PERSAMPLE_MSG = ("traintop: per-sample statistics are off under torch.compile (their hooks would break the "
                 "compiled graph); for them, watch the model uncompiled, or pass persample=False to silence this")


def compiling():
    """True while torch.compile (dynamo) traces the calling code; False in eager mode and on torch 1.x.
    Dynamo folds it to a constant, so `if compiling(): return` leaves nothing in the graph."""
    try:
        import torch
        return torch.compiler.is_compiling()
    except AttributeError:
        return False


def unwrap(model):
    """(compiled, module): an OptimizedModule (torch.compile(model)) is replaced by the module it
    compiled; compiled is True for it and for a module whose .compile() was called."""
    inner = getattr(model, "_orig_mod", None)
    try:
        from torch._dynamo.eval_frame import OptimizedModule
        if isinstance(model, OptimizedModule) and inner is not None:
            return True, inner
    except ImportError:
        pass
    return getattr(model, "_compiled_call_impl", None) is not None, model
