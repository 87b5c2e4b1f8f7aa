"""Data-parallel training across processes: one process (rank) per device, gradients averaged.

    mpiexec -n 4 python train.py          # 4 ranks; each runs the same script

    import gpudl.distributed as dist
    dist.init_process_group()             # 'auto': NCCL when every rank has its own GPU, else MPI
    model = dist.DistributedDataParallel(model)          # rank 0's weights everywhere
    loader = DataLoader(ds, batch_size=128, shuffle=True, shard=(dist.get_rank(), dist.get_world_size()))

All-reduce data parallelism, in the lectures' notation: rank r holds the same W and computes the
gradient g_r of its n_r samples' mean loss; one all-reduce gives every rank

    g = (sum_r n_r g_r) / (sum_r n_r)

the gradient of the mean loss over the whole (global) batch, so every rank takes the same
optimizer step and the weights stay identical, exactly as one process with the global batch.

A rank that raises ends all ranks at once with its message (MPI_Abort), instead of leaving the
others waiting in a collective.  Without mpiexec, a script runs as a world of one.
"""
import sys
import traceback

from threadpoolctl import threadpool_limits

from .. import cuda
from ..cpu import parallel
from ..tensor import Tensor
from .groups import OPS, MPIGroup, NCCLGroup, check_op, mpi

BACKENDS = ("auto", "mpi", "nccl")
_group = None


def init_process_group(backend="auto"):
    """Join the ranks started by mpiexec (a world of one without it) and return the group.

    backend: 'mpi' (mpi4py on host buffers), 'nccl' (CuPy's NCCL on cuda:<local rank>, needs a GPU per
    rank on each machine), or 'auto': NCCL when every rank has its own GPU, else MPI.  On the cpu,
    gpudl's cpu threads and NumPy's BLAS threads are limited to this machine's cores divided by its ranks."""
    global _group
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: backend must be one of {', '.join(map(repr, BACKENDS))}, "
                         f"got {backend!r}")
    if _group is not None:
        raise RuntimeError("init_process_group: already initialized (call destroy_process_group() first)")
    group = MPIGroup(mpi().COMM_WORLD)
    has_gpu = cuda.is_available() and cuda.device_count() >= group.local_size
    every_rank_has_gpu = not group.any(not has_gpu)
    if backend == "nccl" and not every_rank_has_gpu:
        raise RuntimeError(f"init_process_group: backend 'nccl' needs a GPU per rank; {group.local_size} rank(s) "
                           f"on this machine, cuda: {cuda.why_unavailable() or f'{cuda.device_count()} device(s)'}")
    if backend == "nccl" or (backend == "auto" and every_rank_has_gpu):
        group = NCCLGroup(group.comm)
    else:
        _share_cores(group.local_size)
    if group.size > 1:
        _abort_on_uncaught(group)
    _group = group
    return group


def _share_cores(ranks_here):
    """At most cores / ranks threads per rank (gpudl's cpu threads and BLAS's), so ranks on one machine
    do not oversubscribe it."""
    threads = max(1, parallel.usable_cores() // ranks_here)
    parallel.set_num_threads(threads)
    threadpool_limits(threads)


def _abort_on_uncaught(group):
    """An uncaught exception on this rank prints its traceback, then MPI_Abort ends every rank."""
    def hook(exc_type, exc, tb):
        sys.stderr.write(f"gpudl.distributed: rank {group.rank} of {group.size} failed; ending all ranks\n")
        traceback.print_exception(exc_type, exc, tb)
        sys.stderr.flush()
        group.abort(1)
    sys.excepthook = hook


def abort(message, code=1):
    """Print `message` (naming this rank) and end every rank with exit status `code`."""
    group = get_group()
    sys.stderr.write(f"rank {group.rank}: {message}\n")
    sys.stderr.flush()
    group.abort(code)


def is_initialized():
    return _group is not None


def get_group():
    """The process group, or RuntimeError when init_process_group has not run."""
    if _group is None:
        raise RuntimeError("gpudl.distributed: call gpudl.distributed.init_process_group() first")
    return _group


def get_rank():
    """This process's rank, 0 .. world size - 1 (0 when not initialized)."""
    return _group.rank if _group is not None else 0


def get_world_size():
    """The number of ranks (1 when not initialized)."""
    return _group.size if _group is not None else 1


def get_local_rank():
    """This process's rank among the ranks on its machine: the GPU it uses is cuda:<local rank>."""
    return _group.local_rank if _group is not None else 0


def barrier():
    get_group().barrier()


def _array(tensor, what):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a gpudl Tensor, got {type(tensor).__name__}")
    return tensor.data


def all_reduce(tensor, op="sum"):
    """In place: tensor <- the sum ('sum'), mean ('mean'), max or min of every rank's tensor; returns it."""
    a = _array(tensor, "all_reduce")
    check_op(op, OPS + ("mean",))
    with tensor.device.activate():
        get_group().all_reduce(a, "sum" if op == "mean" else op)
        if op == "mean":
            tensor.device.kernels.mul(a, 1 / get_world_size(), out=a)
    return tensor


def broadcast(tensor, src=0):
    """In place: every rank's tensor <- rank src's; returns it."""
    a = _array(tensor, "broadcast")
    if not 0 <= src < get_world_size():
        raise ValueError(f"broadcast: src must be a rank in [0, {get_world_size() - 1}], got {src}")
    with tensor.device.activate():
        get_group().broadcast(a, src)
    return tensor


def destroy_process_group():
    """Leave the group (MPI itself is finalized when the process exits)."""
    global _group
    if _group is not None:
        _group.destroy()
        if _group.size > 1:
            sys.excepthook = sys.__excepthook__
    _group = None


from .ddp import DistributedDataParallel  # noqa: E402  (uses get_group)

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "get_group", "get_rank",
           "get_world_size", "get_local_rank", "barrier", "all_reduce", "broadcast", "abort",
           "DistributedDataParallel"]
