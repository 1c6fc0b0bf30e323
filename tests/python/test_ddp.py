"""Two-process DistributedDataParallel on the CPU (gloo, 127.0.0.1): both ranks publish under rank 0's
run name with their rank and the world size; run metadata (hyperparameters) comes once, from rank 0;
each rank's gradient norm² before the all-reduce arrives as the scalar local_grad_sq (taken in a DDP
communication hook) and equals the local gradient computed without DDP (rtol 1e-6: the same float32
gradients summed in float64 in a different order)."""
import json
import os
import tempfile

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from conftest import ROOT, Run, free_port  # noqa: E402
import ddp_worker  # noqa: E402


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_two_rank_ddp(collector):
    out = tempfile.mkdtemp(prefix="ttddp", dir="/tmp")
    mp.spawn(ddp_worker.worker, args=(2, free_port(), collector.endpoint, out, os.path.join(ROOT, "python")),
             nprocs=2, join=True)
    res = [json.load(open(os.path.join(out, "rank%d.json" % r))) for r in range(2)]
    run = res[0]["run"]
    assert res[1]["run"] == run
    msgs = collector.messages(run, ranks=(0, 1))
    for rank in (0, 1):
        r = Run(msgs, rank)
        assert r.start["world"] == 2 and res[rank]["world"] == 2
        assert ("hparams" in r.start and r.start["hparams"].get("per_rank_batch") == 8) == (rank == 0)
        assert sorted(r.steps) == [1, 2, 3, 4, 5]
        for step in range(1, 6):
            want = res[rank]["local_sq"][str(step)]
            assert r.scalar(step, "local_grad_sq") == pytest.approx(want, rel=1e-6), (rank, step)
            assert r.layer(step, "0.weight")["g_norm"] > 0
        assert r.end["status"] == "finished"
    # the ranks saw different data: their local norms differ
    assert res[0]["local_sq"]["1"] != pytest.approx(res[1]["local_sq"]["1"], rel=1e-3)


def test_rank_and_world_from_environment(collector, monkeypatch):
    """Without torch.distributed initialised, $RANK and $WORLD_SIZE (as torchrun sets them) decide."""
    import torch.nn as nn
    import traintop
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    model = nn.Linear(2, 2)
    with traintop.watch(model, run="env-rank", endpoint=collector.endpoint, hparams={"x": 1}) as tt:
        model(torch.randn(3, 2)).sum().backward()
        tt.step()
    assert (tt.rank, tt.world_size) == (1, 3)
    r = Run(collector.messages("env-rank", ranks=(1,)), rank=1)
    assert r.start["world"] == 3 and not r.start.get("hparams")      # metadata comes from rank 0 only


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
@pytest.mark.parametrize("bucket_view", [False, True])
def test_bucket_view_warning(collector, bucket_view, recwarn):
    """Per-sample statistics read p.grad at the end of backward: DDP's default keeps the local gradient
    there until its own end of backward; with gradient_as_bucket_view=True it may be mid-all-reduce,
    and watch() says so."""
    import torch.nn as nn
    import traintop
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % free_port(), rank=0, world_size=1)
    try:
        ddp = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(4, 3)), gradient_as_bucket_view=bucket_view)
        tt = traintop.watch(ddp, run="bv-%d" % bucket_view, endpoint=collector.endpoint)
        tt.close()
    finally:
        dist.destroy_process_group()
    said = [str(w.message) for w in recwarn if "gradient_as_bucket_view" in str(w.message)]
    assert bool(said) == bucket_view
