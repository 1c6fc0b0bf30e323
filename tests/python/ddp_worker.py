"""One rank of the two-process DDP test (test_ddp.py), started by torch.multiprocessing.spawn."""
import copy
import json
import os
import sys


def worker(rank, world, port, endpoint, out_dir, pkg_dir):
    sys.path.insert(0, pkg_dir)
    import torch
    import torch.distributed as dist
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    import traintop

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    ref = copy.deepcopy(model)                 # same weights, no DDP: the local gradient
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    tt = traintop.watch(ddp, opt, endpoint=endpoint, hparams={"per_rank_batch": 8}, every=1)   # run name from rank 0
    local_sq = {}
    for step in range(1, 6):
        g = torch.Generator().manual_seed(1000 * rank + step)
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        ref.load_state_dict(model.state_dict())
        grads = torch.autograd.grad(F.cross_entropy(ref(x), y), list(ref.parameters()))
        local_sq[step] = sum(float((gr.double() ** 2).sum()) for gr in grads)
        opt.zero_grad()
        loss = F.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
    tt.close()
    with open(os.path.join(out_dir, "rank%d.json" % rank), "w") as f:
        json.dump({"run": tt.run, "rank": tt.rank, "world": tt.world_size, "local_sq": local_sq}, f)
    dist.destroy_process_group()
