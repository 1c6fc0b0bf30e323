"""traintop: `top` for neural-network training — the Python probe.

    import traintop
    tt = traintop.watch(model, optimizer)      # PyTorch: every parameter, hooks for per-sample statistics
    ...
    tt.step(loss=loss)                          # after optimizer.step()

traintop.Probe is the framework-free wrapper of the C probe (libtraintop, loaded through ctypes).
See docs/python.md; the modules are described in docs/HACKING.md ("Python package").
"""
import sys
import types

from ._lib import STAT_NAMES, TraintopError, library_path
from .probe import Probe, default_endpoint

__version__ = "0.1.0"
__all__ = ["watch", "Watch", "Probe", "TraintopError", "default_endpoint", "library_path", "STAT_NAMES",
           "__version__"]


def watch(model, optimizer=None, run=None, every=None, endpoint=None, hparams=None, spectral_every=0,
          persample=True, persample_full=False, gwa_window=50, overhead=0.02, **kwargs):
    """Starts publishing a PyTorch model's training statistics to a traintop collector. Returns a Watch:

        tt = traintop.watch(model, optimizer)
        ...  loss.backward(); optimizer.step()
        tt.step(loss=loss)

    By default the probe keeps its measured cost within `overhead` (a fraction of the step time) by
    choosing the steps it samples; every=N samples every N-th step instead, whatever it costs.
    More keywords: loss_reduction ("mean" | "sum" | a number: the per-sample gradient scale),
    auto_step (None: publish from the optimizer's post-step hook where torch has it), spool, linger_ms,
    gpu_backend (False: CUDA parameters through torch ops instead of libtraintop_cuda), gpu_timing
    (False, or TRAINTOP_GPU_TIMING=0: no CUPTI gpu_busy_ms/probe_gpu_ms), scaler (the
    torch.cuda.amp.GradScaler of mixed-precision training, so per-sample statistics are unscaled),
    system_metrics (seconds between CPU, memory and GPU samples, published as scalars: 5; 0 turns them off).
    See docs/python.md."""
    from .watch import Watch           # torch is imported only now: Probe works without it
    return Watch(model, optimizer=optimizer, run=run, every=every, endpoint=endpoint, hparams=hparams,
                 spectral_every=spectral_every, persample=persample, persample_full=persample_full,
                 gwa_window=gwa_window, overhead=overhead, **kwargs)


def __getattr__(name):
    if name == "Watch":
        from .watch import Watch
        return Watch
    raise AttributeError(name)


class _Package(types.ModuleType):
    """The package's module type. Importing the submodule traintop.watch (watch.py) makes the import
    system set the package's attribute `watch` to that module; traintop.watch stays this function
    (the submodule is sys.modules["traintop.watch"], and `from traintop.watch import Watch` works)."""

    def __setattr__(self, name, value):
        if name == "watch" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
