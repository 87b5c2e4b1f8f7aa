"""DataLoader: mini-batches of a dataset as gpudl Tensors on one device.

One epoch visits every sample once. The order of epoch e is fixed by (seed, e):

    order_e = default_rng([seed, e]).permutation(N)     (shuffle=True)
    order_e = 0, 1, ..., N-1                            (shuffle=False)

and batch b holds order_e[b*B : (b+1)*B]. So the whole random state of a loader is three
plain integers (seed, epoch, batches done): `state_dict()` saves them and
`load_state_dict()` resumes with exactly the batches that would have come next.

Array-backed datasets (TensorDataset, MNIST, their Subsets) answer `get_batch(indices)` with
one fancy-index per array; each batch is moved to the device once (`device.asarray`), and
`transform` then runs on the device, batch-wise, on the first array (the inputs).
"""
import numpy as np

from .. import backend, creation
from ..tensor import Tensor
from .dataset import collate

_STATE_KEYS = ("seed", "epoch", "batch")


class DataLoader:
    """Iterate over `dataset` in batches: each item is a tuple of Tensors (one per field).

    seed: int, or None to draw one from `generator` (a numpy.random.Generator) or, when that
    is None too, from gpudl's cpu generator (so `gd.manual_seed` makes runs repeatable).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, device=None,
                 transform=None, seed=None, generator=None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.transform = bool(shuffle), bool(drop_last), transform
        self.device = backend.device(device)
        if seed is None:
            seed = (generator if generator is not None else creation.generator("cpu")).integers(2**63)
        self.seed = int(seed)
        self._position = (0, 0)  # (epoch, batches of it done)
        self._resume = None
        self._next_epoch = 0

    def __len__(self):
        """Number of batches in one epoch."""
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch):
        """The sample indices of `epoch` in visiting order."""
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, int(epoch)]).permutation(n)
        return np.arange(n)

    def __iter__(self):
        epoch, start = self._resume or (self._next_epoch, 0)
        self._resume, self._next_epoch = None, epoch + 1
        self._position = (epoch, start)
        order, size = self.order(epoch), self.batch_size
        for b in range(start, len(self)):
            batch = self._load(order[b * size:(b + 1) * size])
            self._position = (epoch, b + 1)
            yield batch

    def _load(self, indices):
        """Fetch, move to the device once, transform the inputs, wrap as Tensors."""
        fetch = getattr(self.dataset, "get_batch", None)
        arrays = fetch(indices) if fetch is not None else collate(self.dataset, indices)
        single = not isinstance(arrays, tuple)
        arrays = [self.device.asarray(a) for a in ((arrays,) if single else arrays)]
        if self.transform is not None:
            with self.device.activate():
                arrays[0] = self.transform(arrays[0])
        tensors = tuple(Tensor._wrap(a, self.device) for a in arrays)
        return tensors[0] if single else tensors

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
