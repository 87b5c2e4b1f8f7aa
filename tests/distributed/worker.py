"""Run under mpiexec by tests/distributed/test_data_parallel.py: N data-parallel training steps.

    mpiexec -n W python tests/distributed/worker.py MODEL DEVICE DTYPE STEPS BATCH OUT.npz [BUCKET_MB]

Each rank starts from its own random weights (seed 100 + rank), so the result shows that the
wrapper broadcast rank 0's; rank 0 writes the weights, the optimizer state and the number of
collective calls each step made.
"""
import sys

import numpy as np

import gpudl as gd
import gpudl.distributed as dist
from gpudl import data, models
from gpudl.nn import functional as F

SAMPLES, SEED, LR = 46, 7, 1e-2  # 46 = 3 batches of 12 and one of 10 (shards of 4, 3, 3 with 3 ranks)


def dataset(dtype):
    rng = np.random.default_rng(0)
    return data.TensorDataset(rng.standard_normal((SAMPLES, 1, 28, 28)).astype(dtype),
                              rng.integers(0, 10, SAMPLES))


def model_on(name, device, dtype, seed):
    gd.manual_seed(seed)
    return models.MODELS[name]().to(device, dtype=dtype)


def train(model, loader, steps):
    """`steps` Adam steps over `loader` (epochs repeat); returns the optimizer and the collective calls per step."""
    opt = gd.optim.Adam(model.parameters(), lr=LR)
    calls, done = [], 0
    while done < steps:
        for x, y in loader:
            before = sum(dist.get_group().calls.values()) if dist.is_initialized() else 0
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            calls.append((sum(dist.get_group().calls.values()) if dist.is_initialized() else 0) - before)
            done += 1
            if done == steps:
                break
    return opt, calls


def main(name, device, dtype, steps, batch, out, bucket_mb=25):
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = dist.DistributedDataParallel(model_on(name, device, dtype, 100 + rank), bucket_cap_mb=bucket_mb)
    loader = data.DataLoader(dataset(dtype), batch_size=batch, shuffle=True, seed=SEED, device=device,
                             shard=(rank, world))
    opt, calls = train(model, loader, steps)
    if rank == 0:
        gd.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "calls": np.array(calls), "buckets": np.array(len(model.buckets))}, out)


if __name__ == "__main__":
    name, device, dtype, steps, batch, out, *cap = sys.argv[1:]
    main(name, device, dtype, int(steps), int(batch), out, *map(float, cap))
