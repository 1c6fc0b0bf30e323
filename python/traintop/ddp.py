"""What is specific to distributed training: rank and world size, one run name for all ranks, and a
DistributedDataParallel model's communication hook (per-rank gradient norms, local_grad_sq).

Per-sample statistics under DDP (persample.py) read p.grad at the end of the backward pass: autograd
runs end-of-backward callbacks in the order they were queued, the probe's is queued by the first
Linear output gradient and DDP's (which copies the averaged gradients back) only at its last bucket,
so Ḡ is the rank's local gradient. With gradient_as_bucket_view=True p.grad is a view of the bucket
being all-reduced in place: attach() warns.
"""
import os
import weakref

import torch

__all__ = ["dist", "rank_world", "shared_run_name", "unwrap", "attach", "LocalGradSq"]


def dist():
    """torch.distributed when it is initialised, else None."""
    try:
        import torch.distributed as d
        if d.is_available() and d.is_initialized():
            return d
    except Exception:
        pass
    return None


def rank_world():
    """(rank, world size): from torch.distributed when it is initialised, else $RANK / $WORLD_SIZE."""
    d = dist()
    if d is not None:
        return d.get_rank(), d.get_world_size()
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        rank, world = 0, 1
    if world < 1 or not 0 <= rank < world:
        rank, world = 0, 1
    return rank, world


def shared_run_name(run, world_size):
    """A default run name the same on every rank: rank 0's, broadcast (collective) in an initialised
    job, unless $TRAINTOP_RUN names it already."""
    d = dist()
    if d is not None and world_size > 1 and "TRAINTOP_RUN" not in os.environ:
        box = [run]
        d.broadcast_object_list(box, src=0)     # every rank publishes under rank 0's name
        run = box[0]
    return run


def unwrap(model):
    """(the DistributedDataParallel wrapper or None, the module it trains)."""
    try:
        from torch.nn.parallel import DistributedDataParallel as DDP
        if isinstance(model, DDP):
            return model, model.module
    except ImportError:
        pass
    return None, model


class LocalGradSq:
    """The communication hook's state: the squared norm of this rank's gradient before the all-reduce,
    summed over the step's buckets. live(): whether the watcher still wants it (DDP cannot remove a
    comm hook, so after close() it only passes through)."""

    def __init__(self, live, process_group=None):
        self.live = live
        self.process_group = process_group
        self.sq = None

    def take(self):
        """The step's sum as a 0-d float64 tensor on the device (None if no bucket came), and resets it."""
        sq, self.sq = self.sq, None
        return sq


def _comm_hook(state, bucket):
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    if state.live():
        buf = bucket.buffer() if hasattr(bucket, "buffer") else bucket.get_tensor()
        sq = torch.linalg.vector_norm(buf.detach(), dtype=torch.float64) ** 2   # before the all-reduce
        state.sq = sq if state.sq is None else state.sq + sq
    return default_hooks.allreduce_hook(state.process_group, bucket)


def attach(ddp, watcher, warn, persample):
    """Registers the comm hook on a DDP model for watcher; returns its LocalGradSq, or None when the model
    has a comm hook of its own (one warning). persample: per-sample statistics are on."""
    ref = weakref.ref(watcher)
    state = LocalGradSq(lambda: ref() is not None and not ref().closed)
    try:
        ddp.register_comm_hook(state, _comm_hook)
    except Exception as e:           # one comm hook per model: the user may have their own
        warn("comm", "traintop: no per-rank gradient norms (local_grad_sq): %s" % e)
        state = None
    if persample and getattr(ddp, "gradient_as_bucket_view", False):
        warn("bucket-view", "traintop: DDP with gradient_as_bucket_view=True: the per-sample noise "
                            "statistics may read a gradient being all-reduced (gamma and GWA are unaffected)")
    return state
