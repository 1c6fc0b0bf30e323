"""One rank of the two-process FSDP2 test (test_fsdp.py), started by torch.multiprocessing.spawn.

Trains fsdp_model() sharded with fully_shard over 2 gloo ranks on the CPU, each rank on its half of
batch(step), watched by traintop. After each step every rank gathers the full tensors (full_tensor(),
for the test only: the probe never gathers) and rank 0 writes the float64 references of the full layers
computed from them (refs.layer_stats)."""
import json
import os
import sys


def fsdp_model():
    import torch.nn as nn
    # 10 and 5 rows over 2 ranks: even and uneven shards; a LayerNorm gain (a vector near 1)
    return nn.Sequential(nn.Linear(6, 10), nn.LayerNorm(10), nn.ReLU(), nn.Linear(10, 5))


def batch(step):
    import torch
    g = torch.Generator().manual_seed(100 + step)
    return torch.randn(16, 6, generator=g), torch.randint(0, 5, (16,), generator=g)


def make_optimizer(params):
    import torch
    return torch.optim.SGD(params, lr=0.2, momentum=0.9, weight_decay=1e-2)


STEPS = 4


def worker(rank, world, port, endpoint, out_dir, pkg_dir, tests_dir):
    sys.path[:0] = [pkg_dir, tests_dir]
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    import traintop
    from refs import STATS, layer_stats

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world)
    torch.manual_seed(0)
    model = fsdp_model()
    mesh = init_device_mesh("cpu", (world,))
    for layer in (model[0], model[1], model[3]):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    opt = make_optimizer(model.parameters())

    def full():
        return {n: p.detach().full_tensor().double().numpy().reshape(p.shape[0], -1) if p.dim() > 1 else
                p.detach().full_tensor().double().numpy().reshape(1, -1) for n, p in model.named_parameters()}

    tt = traintop.watch(model, opt, endpoint=endpoint, every=1)   # the run name: rank 0's
    w0 = full()
    want = {}
    for step in range(1, STEPS + 1):
        prev = full()
        x, y = batch(step)
        half = slice(8 * rank, 8 * rank + 8)
        opt.zero_grad()
        loss = F.cross_entropy(model(x[half]), y[half])
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        grads = {n: p.grad.full_tensor().double().numpy().reshape(w0[n].shape) for n, p in model.named_parameters()}
        now = full()
        want[step] = {n: [layer_stats(now[n], grads[n], prev[n], w0[n])[s] for s in STATS] for n in now}
    sharded_layers = tt.counters().get("sharded_layers")
    tt.close()
    if rank == 0:
        with open(os.path.join(out_dir, "rank0.json"), "w") as f:
            json.dump({"run": tt.run, "want": want, "skipped": tt.persample_skipped,
                       "sharded_layers": sharded_layers}, f)
    dist.destroy_process_group()
