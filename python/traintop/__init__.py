"""traintop: `top` for neural-network training — the Python probe.

    import traintop
    tt = traintop.watch(model, optimizer)      # PyTorch: every parameter, hooks for per-sample statistics
    ...
    tt.step(loss=loss)                          # after optimizer.step()

traintop.Probe is the framework-free wrapper of the C probe (libtraintop, loaded through ctypes).
See docs/python.md.
"""
from ._lib import STAT_NAMES, TraintopError, library_path
from .probe import Probe, default_endpoint

__version__ = "0.1.0"
__all__ = ["watch", "Watch", "Probe", "TraintopError", "default_endpoint", "library_path", "STAT_NAMES",
           "__version__"]


def watch(model, optimizer=None, run=None, every=1, endpoint=None, hparams=None, spectral_every=0,
          persample=True, persample_full=False, gwa_window=50, **kwargs):
    """Starts publishing a PyTorch model's training statistics; returns a traintop.Watch.

    See traintop.torch_probe.Watch and docs/python.md. Extra keywords: loss_reduction ("mean" | "sum" | a
    number), auto_step, spool, linger_ms."""
    from .torch_probe import Watch
    return Watch(model, optimizer=optimizer, run=run, every=every, endpoint=endpoint, hparams=hparams,
                 spectral_every=spectral_every, persample=persample, persample_full=persample_full,
                 gwa_window=gwa_window, **kwargs)


def __getattr__(name):
    if name == "Watch":
        from .torch_probe import Watch
        return Watch
    raise AttributeError(name)
