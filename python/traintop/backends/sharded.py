"""The sharded backend: parameters split across ranks by rows — FSDP2 (torch.distributed.fsdp.fully_shard)
and any DTensor placed Shard(0) — with exact full-layer §1 statistics and no weight ever gathered.

Every §1 statistic is finished from 11 sums (torchops.primitives): ‖W‖², ‖G‖², ⟨G,W⟩, Σ(w−c), Σ(w−c)²,
‖W−W_prev‖², ‖W_prev‖², ‖W−W_0‖², the non-finite count, and over rows Σ angle², the rows counted. Each
is a sum over elements or over rows, and a Shard(0) slice holds whole rows, so the slices' sums add up
to the layer's. Each rank computes them on its local shard (W, G, and its own W_prev and W_0 copies of
the shard), and ONE all-reduce (SUM) per sampled step, of all layers' sums at once (11 float64 values
per layer), over the process group the shards are spread over, gives every rank the full layer's sums.
Every rank then publishes the full layer's statistics under the layer's own name and shape: the same
numbers as the unsharded model's. The centre c of the variance sums must be the same on every rank:
it is the layer's mean at watch() time (one more all-reduce, at the first step).

The all-reduce is collective: every rank must publish the same sampled steps, as ranks that step
together do. A rank whose local computation fails still joins it (with NaN sums), so no rank waits.

Refused by watch() with one line (TraintopError), never per-shard numbers under a full-layer name:
FSDP1 (FullyShardedDataParallel: flat parameters mix slices of several layers), DeepSpeed ZeRO-2/3
(partitioned gradients and 0-element parameters), DTensors placed otherwise than Shard(0) or
Replicate, and sharded parameters spread over different process groups.
"""
import math

import torch

from .._lib import TraintopError
from .torchops import finish, primitives

__all__ = ["Sharded", "refuse_unsupported", "dtensor_type"]

FSDP1_MSG = ("traintop: FullyShardedDataParallel (FSDP1) is not supported: its flat parameters hold each rank's "
             "slice of several layers, so per-layer statistics cannot be told apart; shard the model with FSDP2 "
             "(torch.distributed.fsdp.fully_shard), which traintop watches exactly")
ZERO_MSG = ("traintop: DeepSpeed ZeRO stage %s is not supported: parameters or gradients are partitioned outside "
            "what torch sees (%s); use FSDP2 (torch.distributed.fsdp.fully_shard), which traintop watches exactly")


def dtensor_type():
    """torch's DTensor class, or None where this torch has none."""
    for mod in ("torch.distributed.tensor", "torch.distributed._tensor"):
        try:
            return __import__(mod, fromlist=["DTensor"]).DTensor
        except (ImportError, AttributeError):
            continue
    return None


def refuse_unsupported(model):
    """Raises TraintopError (one line) for a model whose parameters are sharded in a way the probe cannot
    read per layer: FSDP1, DeepSpeed ZeRO-2/3."""
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP1
    except ImportError:
        FSDP1 = ()
    stage = getattr(model, "zero_optimization_stage", None)     # a DeepSpeedEngine
    if callable(stage) and type(model).__name__ == "DeepSpeedEngine":
        s = stage()
        if s >= 2:
            raise TraintopError(ZERO_MSG % (s, "its engine's zero_optimization_stage() is %d" % s))
    for m in model.modules():
        if FSDP1 and isinstance(m, FSDP1):
            raise TraintopError(FSDP1_MSG)
    for name, p in model.named_parameters():
        if type(p).__name__ == "FlatParameter":
            raise TraintopError(FSDP1_MSG)
        if hasattr(p, "ds_id") or hasattr(p, "ds_tensor"):
            raise TraintopError(ZERO_MSG % (3, "parameter %r is a partitioned ZeRO-3 parameter of %d local elements"
                                            % (name, p.numel())))


def _shard_group(name, p):
    """The process group p's rows are spread over (None: replicated, every rank holds all of it)."""
    sharded = []
    for i, pl in enumerate(p.placements):
        if pl.is_replicate():
            continue
        if pl.is_shard() and (p.dim() == 0 or pl.dim % p.dim() == 0):
            sharded.append(i)
            continue
        raise TraintopError("parameter %r: a DTensor placed %s; traintop computes exact statistics of DTensors "
                            "sharded by rows (Shard(0), as FSDP2 places them) or replicated" % (name, tuple(p.placements)))
    if len(sharded) > 1:
        raise TraintopError("parameter %r: rows sharded over %d mesh dimensions %s; traintop expects one (FSDP2's)"
                            % (name, len(sharded), tuple(p.placements)))
    return p.device_mesh.get_group(sharded[0]) if sharded else None


def _local(t):
    return t.to_local() if hasattr(t, "to_local") else t


class _Layer:
    __slots__ = ("param", "index", "n", "rows", "cols", "as_row", "w0", "prev", "have_prev", "shift", "group")

    def __init__(self, param, index, rows, cols, group):
        self.param, self.index, self.group = param, index, group
        self.n, self.rows, self.cols = rows * cols, (1 if cols == 1 else rows), cols   # a vector is one row, as in the C pass
        self.as_row = cols == 1
        with torch.no_grad():
            local = _local(param.detach())
            self.w0, self.prev = local.clone(), local.clone()
        self.have_prev = True
        self.shift = None

    def shape(self, t):
        """The local slice as rows × cols (rows: this rank's)."""
        return t.reshape(1, -1) if self.as_row else t.reshape(-1, self.cols)


class Sharded:
    """The row-sharded (DTensor) layers of one probe. Tried before every other backend: a DTensor is
    never read as a plain tensor."""

    can_persample = False
    persample_refusal = "sharded parameter (FSDP2/DTensor): per-sample sums need the whole layer on one rank"

    def __init__(self, probe):
        self.probe = probe
        self.dtensor = dtensor_type()
        self.layers = []
        self.group = None            # the one process group the sharded layers are reduced over
        self._group_ranks = None
        self._stats = None

    def register(self, name, param, rows, cols, sparse_grad=False):
        if self.dtensor is None or not isinstance(param, self.dtensor):
            return None
        group = _shard_group(name, param)
        if group is not None:
            import torch.distributed as dist
            ranks = tuple(dist.get_process_group_ranks(group))
            if self._group_ranks is None:
                self.group, self._group_ranks = group, ranks
            elif ranks != self._group_ranks:
                raise TraintopError("parameter %r: sharded over ranks %s, other parameters over %s; traintop "
                                    "reduces all sharded layers over one process group" % (name, ranks, self._group_ranks))
        if self.layers and _local(param).device != self.layers[0].w0.device:
            raise TraintopError("parameter %r: its shard is on %s, the others' on %s; traintop expects one device per "
                                "rank" % (name, _local(param).device, self.layers[0].w0.device))
        idx = self.probe.add_external_layer(name, rows, cols)
        self.layers.append(_Layer(param, idx, rows, cols, group))
        return self, idx

    def sync_grads(self):
        pass                         # the gradients are read by prepare()

    def _reduce(self, sums):
        """Sums (layers × k, float64) of the sharded layers summed over the group, in one all-reduce."""
        rows = [i for i, L in enumerate(self.layers) if L.group is not None]
        if rows:
            import torch.distributed as dist
            part = sums[rows].contiguous()
            dist.all_reduce(part, group=self.group)
            sums[rows] = part
        return sums

    @torch.no_grad()
    def _centres(self):
        """Each layer's mean at watch() time, the same on every rank (the first step's all-reduce)."""
        dev = self.layers[0].w0.device
        sums = torch.stack([torch.stack([L.w0.to(torch.float64).sum(), torch.tensor(float(L.w0.numel()),
                                        dtype=torch.float64, device=dev)]) for L in self.layers])
        host = self._reduce(sums).cpu().tolist()
        for L, (s, k) in zip(self.layers, host):
            c = s / k if k > 0 else 0.0
            L.shift = c if math.isfinite(c) else 0.0

    @torch.no_grad()
    def prepare(self, step, sampled, next_sampled):
        if not self.layers:
            return
        if self.layers[0].shift is None:
            self._centres()
        self._stats = None
        if sampled:
            dev = self.layers[0].w0.device
            prims = []
            for L in self.layers:
                try:
                    w = L.shape(_local(L.param.detach()))
                    g = L.param.grad
                    g = None if g is None else L.shape(_local(g))
                    prims.append(primitives(w, g, L.w0, L.prev if L.have_prev else None,
                                            shift=torch.tensor(L.shift, dtype=torch.float64, device=dev),
                                            row_angles=L.rows > 1))
                except Exception:      # this rank still joins the all-reduce (the others must not wait):
                    prims.append(torch.full((11,), math.nan, dtype=torch.float64, device=dev))   # NaN statistics
            host = self._reduce(torch.stack(prims)).cpu().tolist()
            self._stats = [finish(h, L.n, L.rows, L.have_prev) for L, h in zip(self.layers, host)]
        # as TorchOps: the step before a sampled one refreshes W_prev, so updates describe one step
        if next_sampled:
            for L in self.layers:
                L.prev.copy_(_local(L.param.detach()))
                L.have_prev = True
        elif sampled:
            for L in self.layers:
                L.have_prev = False

    def collect(self):
        stats, self._stats = self._stats, None
        for L, st in zip(self.layers, stats or ()):
            self.probe.layer_stats(L.index, st)

    def counters(self):
        return {"sharded_layers": len(self.layers)} if self.layers else {}

    def close(self):
        self.layers, self._stats = [], None
