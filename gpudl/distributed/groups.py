"""Process groups: the communication engines under gpudl.distributed, MPI and NCCL.

Every rank is one process.  A group offers in-place collectives on raw arrays of the rank's
device or on host NumPy arrays, and counts its calls (`calls['all_reduce']`, ...):

    all_reduce(a, op)    a <- op over the ranks of every rank's a      (op: sum, max, min)
    broadcast(a, src)    a <- rank src's a
    barrier()            returns once every rank has called it
    any(flag)            True on every rank when flag is True on some rank
    gather_text(s)       every rank's string, in rank order, on rank 0 (the checkpoint's RNG states)

MPIGroup works on host buffers (mpi4py).  NumPy arrays (cpu, and emu, whose memory is host
memory) go straight to MPI; CuPy arrays are staged through the host (copied down, reduced,
copied up), since an MPI from the package registries is not CUDA-aware.  NCCLGroup keeps CuPy
arrays on the GPU (cupy.cuda.nccl, on the current stream) and uses MPI for host arrays and to
hand every rank rank 0's NCCL id.
"""
from collections import Counter

import numpy as np

from .. import backend

OPS = ("sum", "max", "min")


def mpi():
    """The mpi4py.MPI module, or ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("gpudl.distributed needs mpi4py and an MPI library: pip install 'gpudl[mpi]' "
                          f"(mpi4py and MPICH from PyPI) ({e})") from None
    return MPI


def check_op(op, allowed=OPS):
    if op not in allowed:
        raise ValueError(f"all_reduce: op must be one of {', '.join(map(repr, allowed))}, got {op!r}")
    return op


class MPIGroup:
    """All the processes of an MPI communicator (`comm`), exchanging host buffers."""

    backend = "mpi"

    def __init__(self, comm):
        self.MPI = mpi()
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        local = comm.Split_type(self.MPI.COMM_TYPE_SHARED)  # the ranks on this machine
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()
        self.calls = Counter()

    def _mpi_op(self, op):
        return {"sum": self.MPI.SUM, "max": self.MPI.MAX, "min": self.MPI.MIN}[check_op(op)]

    def _host(self, a):
        """(a host NumPy array with a's values, a function that writes it back into a)."""
        if isinstance(a, np.ndarray):
            if not a.flags.c_contiguous:
                raise ValueError(f"gpudl.distributed: arrays must be C-contiguous, got strides {a.strides}")
            return a, lambda: None
        host = backend.to_numpy(a)
        return host, lambda: a.set(host)

    def all_reduce(self, a, op="sum"):
        self.calls["all_reduce"] += 1
        host, write_back = self._host(a)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self._mpi_op(op))
        write_back()
        return a

    def broadcast(self, a, src=0):
        self.calls["broadcast"] += 1
        host, write_back = self._host(a)
        self.comm.Bcast(host, root=src)
        write_back()
        return a

    def barrier(self):
        self.calls["barrier"] += 1
        self.comm.Barrier()

    def any(self, flag):
        self.calls["any"] += 1
        return bool(self.comm.allreduce(int(bool(flag)), op=self.MPI.MAX))

    def gather_text(self, text, root=0):
        """Every rank's `text` as a list in rank order on rank `root` (None on the others)."""
        self.calls["gather"] += 1
        data = np.frombuffer(text.encode(), np.uint8)
        sizes = np.zeros(self.size, np.int64)
        self.comm.Allgather(np.array([data.size], np.int64), sizes)
        out = np.empty(int(sizes.sum()), np.uint8) if self.rank == root else None
        self.comm.Gatherv(data, [out, sizes, self.MPI.BYTE] if self.rank == root else None, root=root)
        if self.rank != root:
            return None
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return [out[a:b].tobytes().decode() for a, b in zip(bounds[:-1], bounds[1:])]

    def abort(self, code=1):
        """End every rank at once (MPI_Abort): what a failing rank does instead of leaving the others waiting."""
        self.comm.Abort(code)

    def destroy(self):
        pass


class NCCLGroup(MPIGroup):
    """NCCL on the ranks' GPUs (one per rank, cuda:<local rank>), bootstrapped over MPI."""

    backend = "nccl"

    def __init__(self, comm):
        super().__init__(comm)
        import cupy
        from cupy.cuda import nccl
        self.cupy, self.nccl = cupy, nccl
        cupy.cuda.Device(self.local_rank).use()
        uid = nccl.get_unique_id()  # bytes or a tuple of 128 ints, by CuPy version; rank 0's is used
        raw = np.frombuffer(uid, np.int8).copy() if isinstance(uid, bytes) else np.array(uid, np.int8)
        comm.Bcast(raw, root=0)
        uid = raw.tobytes() if isinstance(uid, bytes) else tuple(int(v) for v in raw)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.dtypes = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                       np.dtype(np.int32): nccl.NCCL_INT32, np.dtype(np.int64): nccl.NCCL_INT64}

    def _nccl_args(self, a):
        if isinstance(a, np.ndarray):
            return None
        if not a.flags.c_contiguous or np.dtype(a.dtype) not in self.dtypes:
            raise ValueError(f"gpudl.distributed (nccl): arrays must be C-contiguous float32/64 or int32/64, "
                             f"got {a.dtype} with strides {a.strides}")
        return a.data.ptr, a.size, self.dtypes[np.dtype(a.dtype)], self.cupy.cuda.get_current_stream().ptr

    def all_reduce(self, a, op="sum"):
        args = self._nccl_args(a)
        if args is None:
            return super().all_reduce(a, op)
        self.calls["all_reduce"] += 1
        ptr, count, dtype, stream = args
        nccl_op = {"sum": self.nccl.NCCL_SUM, "max": self.nccl.NCCL_MAX, "min": self.nccl.NCCL_MIN}[check_op(op)]
        self.nccl_comm.allReduce(ptr, ptr, count, dtype, nccl_op, stream)
        return a

    def broadcast(self, a, src=0):
        args = self._nccl_args(a)
        if args is None:
            return super().broadcast(a, src)
        self.calls["broadcast"] += 1
        ptr, count, dtype, stream = args
        self.nccl_comm.bcast(ptr, count, dtype, src, stream)
        return a

    def destroy(self):
        self.nccl_comm.destroy()
