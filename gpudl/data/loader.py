"""DataLoader: mini-batches of a dataset as gpudl Tensors on one device.

One epoch visits every sample once. The order of epoch e is fixed by (seed, e):

    order_e = a keyed permutation of 0 .. N-1 (a Feistel network, kernels/data.cu)   (shuffle=True)
    order_e = 0, 1, ..., N-1                                                         (shuffle=False)

and batch b holds order_e[b*B : (b+1)*B]. So the whole random state of a loader is three
plain integers (seed, epoch, batches done): `state_dict()` saves them and
`load_state_dict()` resumes with exactly the batches that would have come next.

Two ways to make a batch, with the same batches either way:

- resident (cuda / emu, for array-backed datasets that fit: TensorDataset, MNIST, their
  Subsets): the dataset's arrays are copied to the device once, when the loader is made.
  Each batch is then two kinds of launches and no host-to-device copy: `permutation`
  computes the batch's positions of the epoch order on the device, and `gather_rows` copies
  those rows of each array into a new device array (from the memory pool; a batch you keep
  stays valid).  Fashion-MNIST's training split takes 47 MB (uint8 images, int64 labels).
- from the host (cpu, or resident=False): `get_batch(indices)` fetches the rows (one
  fancy-index per array) and each batch is moved to the device once (`device.asarray`).

`transform` then runs on the device, batch-wise, on the first array (the inputs), through the
device's kernels (gpudl.data.transforms).

Data parallelism (gpudl.distributed): with `shard=(rank, world)` a rank takes its part of every
(global) batch: batch b's B positions are cut into `world` contiguous pieces of B // world or
B // world + 1 positions, and rank r takes piece r.  Every rank has the same seed, so the ranks'
shards are disjoint and together are exactly the batches one process would see; `len` and
`state_dict` count global batches, the same on every rank.
"""
import numpy as np

from .. import backend, checks, creation
from ..cpu.data import feistel_keys, permutation
from ..cpu.parallel import piece_bounds
from ..tensor import Tensor
from .dataset import Dataset, collate

_STATE_KEYS = ("seed", "epoch", "batch")
RESIDENT = (True, False, "auto")
EMU_RESIDENT_BYTES = 2 ** 32   # emu device memory is host memory: 'auto' keeps datasets up to 4 GiB
CUDA_RESIDENT_SHARE = 0.5      # on cuda, 'auto' keeps a dataset taking at most half the free memory


def _host_arrays(dataset):
    """All of an array-backed dataset (one get_batch: a tuple of arrays or one array), or None."""
    if type(dataset).get_batch is Dataset.get_batch or not len(dataset):
        return None
    return dataset.get_batch(np.arange(len(dataset)))


def shard_bounds(count, rank, world):
    """[lo, hi): rank's contiguous piece of `count` positions cut into `world` near-equal pieces."""
    return piece_bounds(count, world, rank)


def _check_shard(shard, n, batch_size, drop_last):
    """(rank, world) after checking that every batch gives every rank at least one sample."""
    op = "DataLoader"
    if not isinstance(shard, (tuple, list)) or len(shard) != 2:
        raise TypeError(f"{op}: shard must be (rank, world size), got {shard!r}")
    rank, world = checks.integer(op, "shard rank", shard[0], 0), checks.integer(op, "shard world size", shard[1], 1)
    if rank >= world:
        raise ValueError(f"{op}: shard rank {rank} must be below the world size {world}")
    batches = n // batch_size if drop_last else -(-n // batch_size)
    smallest = batch_size if drop_last or not n % batch_size else n % batch_size
    if batches and smallest < world:
        raise ValueError(f"{op}: a batch of {smallest} samples cannot give each of {world} ranks one (dataset of {n}, "
                         f"batch_size {batch_size}); use drop_last=True or a batch size of at least {world}")
    return rank, world


def _fits(device, nbytes):
    if device.type == "cuda":
        with device.activate():
            free, _ = device.xp.cuda.runtime.memGetInfo()
        return nbytes <= CUDA_RESIDENT_SHARE * free
    return nbytes <= EMU_RESIDENT_BYTES


class DataLoader:
    """Iterate over `dataset` in batches: each item is a tuple of Tensors (one per field).

    seed: int, or None to draw one from `generator` (a numpy.random.Generator) or, when that
    is None too, from gpudl's cpu generator (so `gd.manual_seed` makes runs repeatable).
    resident: 'auto' (keep an array-backed dataset on a cuda / emu device when it fits), True
    (always; ValueError where it cannot be) or False (copy each batch from the host).
    shard: None, or (rank, world size): this rank's part of each batch of batch_size (see above).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, device=None,
                 transform=None, seed=None, generator=None, resident="auto", shard=None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not any(resident is r for r in RESIDENT):
            raise ValueError(f"DataLoader: resident must be True, False or 'auto', got {resident!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.transform = bool(shuffle), bool(drop_last), transform
        self.shard = None if shard is None else _check_shard(shard, len(dataset), self.batch_size, self.drop_last)
        self.device = backend.device(device)
        if seed is None:
            seed = (generator if generator is not None else creation.generator("cpu")).integers(2**63)
        self.seed = int(seed)
        self._position = (0, 0)  # (epoch, batches of it done)
        self._resume = None
        self._next_epoch = 0
        self.arrays = self._resident_arrays(resident)  # the dataset on the device, or None

    def _resident_arrays(self, resident):
        """The dataset's arrays copied to the device once, when `resident` asks for it and they fit."""
        if resident is False or (resident == "auto" and not self.device.uses_kernels):
            return None
        if not self.device.uses_kernels:
            raise ValueError(f"DataLoader: resident=True keeps the dataset on a cuda or emu device, not {self.device}")
        arrays = _host_arrays(self.dataset)
        if arrays is None:
            if resident is True:
                raise ValueError(f"DataLoader: resident=True needs an array-backed dataset (TensorDataset, MNIST, "
                                 f"a Subset of one), not an empty one or {type(self.dataset).__name__}")
            return None
        self._single = not isinstance(arrays, tuple)
        arrays = (arrays,) if self._single else arrays
        if resident == "auto" and not _fits(self.device, sum(a.nbytes for a in arrays)):
            return None
        return tuple(self.device.asarray(a) for a in arrays)

    def __len__(self):
        """Number of batches in one epoch."""
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def resident(self):
        """True when the dataset lives on the device (batches gathered there, no copies per step)."""
        return self.arrays is not None

    def keys(self, epoch):
        """The round keys of `epoch`'s order (None without shuffling: the order is 0 .. N-1)."""
        return feistel_keys(self.seed, int(epoch)) if self.shuffle else None

    def order(self, epoch):
        """The sample indices of `epoch` in visiting order (a NumPy array)."""
        return permutation(None, len(self.dataset), self.keys(epoch))

    def __iter__(self):
        epoch, start = self._resume or (self._next_epoch, 0)
        self._resume, self._next_epoch = None, epoch + 1
        self._position = (epoch, start)
        keys, n, size = self.keys(epoch), len(self.dataset), self.batch_size
        order = None if self.resident else permutation(None, n, keys)
        for b in range(start, len(self)):
            lo, hi = 0, min(size, n - b * size)
            if self.shard is not None:
                lo, hi = shard_bounds(hi, *self.shard)
            first = b * size + lo
            arrays = self._gather(keys, first, hi - lo) if self.resident else self._fetch(order[first:first + hi - lo])
            batch = self._finish(arrays)
            self._position = (epoch, b + 1)
            yield batch

    def _gather(self, keys, start, count):
        """Positions start .. start+count-1 of the epoch order, gathered on the device."""
        kernels = self.device.kernels
        with self.device.activate():
            rows = kernels.permutation(len(self.dataset), keys, start, count)
            batch = tuple(kernels.gather_rows(a, rows) for a in self.arrays)
        return batch[0] if self._single else batch

    def _fetch(self, indices):
        """The rows at `indices` from the dataset, each array moved to the device once."""
        fetch = getattr(self.dataset, "get_batch", None)
        arrays = fetch(indices) if fetch is not None else collate(self.dataset, indices)
        if not isinstance(arrays, tuple):
            return self.device.asarray(arrays)
        return tuple(self.device.asarray(a) for a in arrays)

    def _finish(self, arrays):
        """Wrap as Tensors and transform the inputs (the first array); a tuple unless the dataset gives one array."""
        single = not isinstance(arrays, tuple)
        tensors = [Tensor._wrap(a, self.device) for a in ((arrays,) if single else arrays)]
        if self.transform is not None:
            tensors[0] = self.transform(tensors[0])
        return tensors[0] if single else tuple(tensors)

    def state_dict(self):
        """Plain ints: where the next batch comes from (plus the transform's state, if any)."""
        epoch, done = self._position
        if done >= len(self):
            epoch, done = epoch + 1, 0
        state = {"seed": self.seed, "epoch": epoch, "batch": done}
        if hasattr(self.transform, "state_dict"):
            state["transform"] = self.transform.state_dict()
        return state

    def load_state_dict(self, state):
        """Resume: the next iteration continues at (epoch, batch) of `state`."""
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: missing keys {missing}; got {sorted(state)}")
        epoch, done = int(state["epoch"]), int(state["batch"])
        if epoch < 0 or not 0 <= done <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: epoch {epoch} / batch {done} out of range "
                             f"(this loader has {len(self)} batches per epoch)")
        if done == len(self):
            epoch, done = epoch + 1, 0
        self.seed = int(state["seed"])
        self._position = self._resume = (epoch, done)
        self._next_epoch = epoch
        if "transform" in state and hasattr(self.transform, "load_state_dict"):
            self.transform.load_state_dict(state["transform"])
