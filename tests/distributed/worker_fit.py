"""Run under mpiexec by test_data_parallel.py: `fit` across ranks, straight through or stopped by a
Ctrl-C that reaches only rank 1, then resumed.  The model has dropout, so each rank's generator
matters (with 3 ranks the shards of the last batch differ, 4, 3, 3, and so do the ranks' draws).

    mpiexec -n W python tests/distributed/worker_fit.py straight|interrupt|resume|nan FOLDER
"""
import json
import os
import signal
import sys
from pathlib import Path

import gpudl as gd
import gpudl.distributed as dist
from gpudl import data, nn, train
from gpudl.nn import functional as F

from worker import LR, SEED, dataset

EPOCHS, INTERRUPT_AT = 3, 6  # 4 steps an epoch: the interrupt comes in the middle of epoch 2


def main(mode, folder):
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    gd.manual_seed(100 + rank)
    model = dist.DistributedDataParallel(nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(784, 10)).double())
    loader = data.DataLoader(dataset("float64"), batch_size=12, shuffle=True, seed=SEED, shard=(rank, world))
    opt = gd.optim.Adam(model.parameters(), lr=LR)
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        if mode == "interrupt" and rank == 1 and len(calls) == INTERRUPT_AT:
            os.kill(os.getpid(), signal.SIGINT)  # only this rank is interrupted
        if mode == "nan" and rank == 1 and len(calls) == 3:
            return F.cross_entropy(out, y) * float("nan")  # rank 1's third loss; the others' turn NaN a step later
        return F.cross_entropy(out, y)

    start, history = 0, None
    if mode == "resume":
        start, history = train.resume(folder / "ckpt.npz.interrupted.npz", model, opt, loader)
    history = train.fit(model, opt, loss_fn, loader, epochs=EPOCHS, callbacks=[train.Checkpoint(folder / "ckpt.npz")],
                        start_epoch=start, history=history, progress=False)
    if rank == 0:
        gd.save({"model": model.state_dict(), "steps": gd.tensor(len(calls))}, folder / f"{mode}.npz")
        (folder / f"{mode}.json").write_text(json.dumps(history.metrics))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
