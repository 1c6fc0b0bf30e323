"""FSDP2 (fully_shard) on the CPU, two gloo ranks: exact full-layer statistics from sharded parameters
(python/traintop/backends/sharded.py), and the sharding schemes watch() refuses with one line.

Each rank computes the 11 sums of the §1 statistics on its own shards and one all-reduce per sampled
step combines them. Checked twice:
* against float64 references of the full layers gathered from the same run (full_tensor(), for the
  test only), at rtol 1e-8 as test_stats.py: the merge is exact up to summation order;
* against the same model trained unsharded on the whole batch (same seed), every layer and every step,
  at rtol 1e-6 (atol 1e-9): the two runs' float32 gradients differ in summation order (a mean over 8
  samples per rank, averaged over the ranks, against a mean over 16).
"""
import json
import os
import tempfile

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import ROOT, Run, free_port  # noqa: E402
from refs import STATS, close  # noqa: E402
import fsdp_worker  # noqa: E402

try:
    from torch.distributed.fsdp import fully_shard  # noqa: F401
    HAVE_FSDP2 = dist.is_available()
except ImportError:
    HAVE_FSDP2 = False


def unsharded(collector):
    torch.manual_seed(0)
    model = fsdp_worker.fsdp_model()
    opt = fsdp_worker.make_optimizer(model.parameters())
    tt = traintop.watch(model, opt, run="fsdp-unsharded", endpoint=collector.endpoint, every=1)
    for step in range(1, fsdp_worker.STEPS + 1):
        x, y = fsdp_worker.batch(step)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
    tt.close()
    return Run(collector.messages("fsdp-unsharded"))


@pytest.mark.skipif(not HAVE_FSDP2, reason="FSDP2 (torch.distributed.fsdp.fully_shard) needs torch >= 2.6")
def test_fsdp2_two_ranks_equal_unsharded(collector):
    out = tempfile.mkdtemp(prefix="ttfsdp", dir="/tmp")
    mp.spawn(fsdp_worker.worker, args=(2, free_port(), collector.endpoint, out, os.path.join(ROOT, "python"),
                                       os.path.dirname(__file__)), nprocs=2, join=True)
    res = json.load(open(os.path.join(out, "rank0.json")))
    msgs = collector.messages(res["run"], ranks=(0, 1))
    ref = unsharded(collector)
    names = ref.layers
    assert res["sharded_layers"] == len(names) == 6
    assert set(res["skipped"]) == {"0", "3"}                     # no per-sample sums of a sharded Linear
    for rank in (0, 1):
        r = Run(msgs, rank)
        assert r.layers == names
        assert r.start["layers"] == ref.start["layers"]         # full-layer shapes, not the shards'
        assert sorted(r.steps) == list(range(1, fsdp_worker.STEPS + 1))
        for step in r.steps:
            for n in names:
                got, unsh = r.layer(step, n), ref.layer(step, n)
                want = dict(zip(STATS, res["want"][str(step)][n]))
                for s in STATS:
                    assert close(got[s], want[s], 1e-8, 1e-13), ("gathered", rank, step, n, s, got[s], want[s])
                    assert close(got[s], unsh[s], 1e-6, 1e-9), ("unsharded", rank, step, n, s, got[s], unsh[s])
        assert r.end["status"] == "finished"


@pytest.fixture
def one_rank():
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % free_port(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_fsdp1_refused(collector, one_rank):
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    model = FSDP(nn.Sequential(nn.Linear(4, 3)), device_id=torch.device("cpu"))
    with pytest.raises(traintop.TraintopError, match=r"FullyShardedDataParallel \(FSDP1\) is not supported.*fully_shard"):
        traintop.watch(model, run="fsdp1", endpoint=collector.endpoint)


@pytest.mark.skipif(not HAVE_FSDP2, reason="DTensor placements need torch >= 2.6")
def test_dtensor_sharded_by_columns_refused(collector, one_rank):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor
    mesh = init_device_mesh("cpu", (1,))
    model = nn.Linear(4, 3)
    model.weight = nn.Parameter(distribute_tensor(model.weight.detach(), mesh, [Shard(1)]))
    with pytest.raises(traintop.TraintopError, match=r"parameter 'weight': a DTensor placed \(Shard\(dim=1\),\)"):
        traintop.watch(model, run="cols", endpoint=collector.endpoint)


def test_deepspeed_zero3_refused(collector):
    """DeepSpeed is not installed here: a parameter as ZeRO-3 leaves it outside forward (0 elements, its
    partition in ds_tensor) stands in for one."""
    model = nn.Linear(4, 3)
    model.weight.ds_id, model.weight.ds_tensor = 0, torch.zeros(6)
    model.weight.data = torch.empty(0)
    with pytest.raises(traintop.TraintopError, match=r"DeepSpeed ZeRO stage 3 is not supported: .*'weight'"):
        traintop.watch(model, run="zero3", endpoint=collector.endpoint)
