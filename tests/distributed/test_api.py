"""gpudl.distributed pieces that need no mpiexec: sharded batches, the engine's gradient hooks, argument
checks, and a world of one (a script run without mpiexec)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpudl as gd
import gpudl.distributed as dist
from gpudl import data, train
from gpudl.data.loader import shard_bounds
from gpudl.nn import functional as F
from gpudl.tensor import queue_callback

ROOT = Path(__file__).parents[2]


def test_shard_bounds_cut_a_batch_into_near_equal_contiguous_pieces():
    assert [shard_bounds(10, r, 3) for r in range(3)] == [(0, 4), (4, 7), (7, 10)]
    assert [shard_bounds(12, r, 3) for r in range(3)] == [(0, 4), (4, 8), (8, 12)]
    assert [shard_bounds(2, r, 2) for r in range(2)] == [(0, 1), (1, 2)]


@pytest.mark.parametrize("where", ["cpu", "emu"])
def test_the_ranks_shards_together_are_the_batches_of_one_loader(where):
    """46 samples, global batches of 12 (the last 10), 3 ranks, 2 epochs: resident on emu, from the host on cpu."""
    ds = data.TensorDataset(np.arange(46, dtype=np.float32)[:, None], np.arange(46))
    whole = data.DataLoader(ds, batch_size=12, shuffle=True, seed=5, device=where)
    shards = [data.DataLoader(ds, batch_size=12, shuffle=True, seed=5, device=where, shard=(r, 3)) for r in range(3)]
    assert {len(s) for s in shards} == {len(whole)} == {4}
    for _ in range(2):
        for batch, *pieces in zip(whole, *shards):
            assert np.array_equal(np.concatenate([p[1].numpy() for p in pieces]), batch[1].numpy())
            assert [len(p[1]) for p in pieces] in ([4, 4, 4], [4, 3, 3])
    assert shards[1].state_dict() == whole.state_dict()


@pytest.mark.parametrize("shard, error, message", [
    ((0,), TypeError, "shard must be \\(rank, world size\\)"),
    ((3, 3), ValueError, "shard rank 3 must be below the world size 3"),
    ((-1, 2), ValueError, "shard rank must be >= 0"),
    ((0, 1.5), TypeError, "shard world size must be an int"),
])
def test_bad_shards_are_refused(shard, error, message):
    with pytest.raises(error, match=message):
        data.DataLoader(data.TensorDataset(np.zeros((8, 1))), batch_size=4, shard=shard)


def test_a_batch_too_small_for_the_ranks_is_refused_unless_dropped():
    ds = data.TensorDataset(np.zeros((13, 1)))  # batches of 4: the last holds 1 sample
    with pytest.raises(ValueError, match="a batch of 1 samples cannot give each of 2 ranks one.*drop_last=True"):
        data.DataLoader(ds, batch_size=4, shard=(0, 2))
    assert len(data.DataLoader(ds, batch_size=4, shard=(0, 2), drop_last=True)) == 3


def test_post_accumulate_hooks_run_once_per_backward_after_the_gradient_is_in():
    w = gd.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().tolist()))
    ((w * w).sum() + w.sum()).backward()  # two uses of w: one accumulation, one call
    assert seen == [[3.0, 5.0]]
    handle.remove()
    (w * 3).sum().backward()
    assert seen == [[3.0, 5.0]]
    with pytest.raises(RuntimeError, match="only a leaf tensor"):
        (w * 2).register_post_accumulate_grad_hook(print)


def test_a_queued_callback_runs_after_every_gradient_of_that_backward():
    a, b = gd.tensor([1.0], requires_grad=True), gd.tensor([2.0], requires_grad=True)
    seen = []
    a.register_post_accumulate_grad_hook(lambda t: queue_callback(
        lambda: seen.append((a.grad.item(), b.grad is not None and b.grad.item()))))
    (a * b).sum().backward()
    assert seen == [(2.0, 1.0)]  # b's gradient was in too when the callback ran


def test_the_api_says_what_is_missing_before_init():
    assert not dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    with pytest.raises(RuntimeError, match="init_process_group\\(\\) first"):
        dist.all_reduce(gd.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group\\(\\) first"):
        dist.DistributedDataParallel(gd.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'mpi', 'nccl'"):
        dist.init_process_group("gloo")


def test_fit_on_a_sharded_loader_needs_the_process_group():
    ds = data.TensorDataset(np.zeros((8, 4), np.float32), np.zeros(8, np.int64))
    model = gd.nn.Linear(4, 2)
    loader = data.DataLoader(ds, batch_size=4, shard=(0, 2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        train.fit(model, gd.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, loader, progress=False)


WORLD_OF_ONE = """
import numpy as np, gpudl as gd, gpudl.distributed as dist
from gpudl.nn import functional as F
group = dist.init_process_group()
assert (group.backend, group.rank, group.size) == ('mpi', 0, 1), group.backend
try:
    dist.init_process_group()
except RuntimeError as e:
    print('twice:', e)
x = gd.tensor([1.0, -2.0])
assert dist.all_reduce(x, 'mean') is x and x.tolist() == [1.0, -2.0]
for op, error in (('prod', ValueError),):
    try:
        dist.all_reduce(x, op)
    except error as e:
        print('op:', e)
try:
    dist.all_reduce(np.ones(2))
except TypeError as e:
    print('type:', e)
try:
    dist.broadcast(x, src=1)
except ValueError as e:
    print('src:', e)
gd.manual_seed(0)
plain = gd.nn.Linear(3, 2)
gd.manual_seed(0)
wrapped = dist.DistributedDataParallel(gd.nn.Linear(3, 2))
assert list(wrapped.state_dict()) == ['weight', 'bias']
xs, ys = gd.randn(5, 3), gd.tensor([0, 1, 1, 0, 1])
for m in (plain, wrapped):
    F.cross_entropy(m(xs), ys).backward()
assert np.allclose(plain.weight.grad.numpy(), wrapped.module.weight.grad.numpy(), rtol=1e-6)
print('calls:', dict(group.calls))
fresh = dist.DistributedDataParallel(gd.nn.Linear(3, 2))
try:
    fresh(x=xs).sum().backward()
except RuntimeError as e:
    print('samples:', e)
try:
    dist.destroy_process_group(); dist.init_process_group('nccl')
except RuntimeError as e:
    print('nccl:', e)
"""


def test_a_world_of_one_without_mpiexec():
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'gpudl[mpi]')")
    out = subprocess.run([sys.executable, "-c", WORLD_OF_ONE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = out.stdout
    assert "twice: init_process_group: already initialized" in printed
    assert "op: all_reduce: op must be one of 'sum', 'max', 'min', 'mean', got 'prod'" in printed
    assert "type: all_reduce: expected a gpudl Tensor, got ndarray" in printed
    assert "src: broadcast: src must be a rank in [0, 0], got 1" in printed
    assert "'broadcast': 2" in printed and "'all_reduce': 2" in printed  # weight and bias; mean and one bucket
    assert "nccl: init_process_group: backend 'nccl' needs a GPU per rank" in printed
    assert "samples: DistributedDataParallel: no training forward gave a batch size" in printed


NCCL_WORLD_OF_ONE = """
import numpy as np, gpudl as gd, gpudl.distributed as dist
from gpudl.nn import functional as F
group = dist.init_process_group('nccl')
x = gd.tensor([1.0, -2.0], device='cuda')
assert dist.all_reduce(x, 'sum').tolist() == [1.0, -2.0]
model = dist.DistributedDataParallel(gd.nn.Linear(3, 2).to('cuda'))
F.cross_entropy(model(gd.randn(4, 3, device='cuda')), gd.tensor([0, 1, 1, 0], device='cuda')).backward()
print(group.backend, dict(group.calls))
"""


@pytest.mark.skipif(not gd.cuda.is_available(), reason=f"cuda unavailable: {gd.cuda.why_unavailable()}")
def test_nccl_with_a_world_of_one_gpu():
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'gpudl[mpi]')")
    out = subprocess.run([sys.executable, "-c", NCCL_WORLD_OF_ONE], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("nccl") and "'all_reduce': 2" in out.stdout
