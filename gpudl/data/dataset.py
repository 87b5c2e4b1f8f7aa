"""Datasets: things with a length that hand out samples, and, when they can, whole batches.

`get_batch(indices)` is the fast path the DataLoader uses: array-backed datasets answer it
with one fancy-indexing per array (`a[indices]`), with no Python loop over samples. The
base class answers it with the slow loop, so any Dataset works in a DataLoader.
"""
import numbers

import numpy as np

from .. import backend, creation
from ..tensor import Tensor


class Dataset:
    """Abstract dataset: subclasses define `__len__` and `__getitem__(i)`."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def get_batch(self, indices):
        """The samples at `indices` stacked field by field (one Python call per sample)."""
        return collate(self, indices)


def _stack(values):
    """One field of many samples as one host array (Python scalars follow gd.tensor's dtypes)."""
    values = [v.data if isinstance(v, Tensor) else v for v in values]
    if all(hasattr(v, "dtype") for v in values):
        return np.stack([backend.to_numpy(v) for v in values])
    return creation.to_array(values, None, backend.Device("cpu"))


def collate(dataset, indices):
    """Fetch `dataset[i]` for each i and stack: a tuple of arrays for tuple samples, else one array."""
    samples = [dataset[int(i)] for i in indices]
    if samples and isinstance(samples[0], (tuple, list)):
        return tuple(_stack(field) for field in zip(*samples))
    return _stack(samples)


def _index_for(array, indices):
    """`indices` as an index array living where `array` lives (NumPy or CuPy)."""
    return backend.device_of(array).asarray(indices)


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: `ds[i] == (a[i], b[i], ...)`.

    Accepts gpudl Tensors, NumPy or CuPy arrays (or lists). The raw arrays stay where they
    are; `.arrays` holds them and `.tensors` wraps them as Tensors.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(a.data if isinstance(a, Tensor) else
                            a if hasattr(a, "shape") else np.asarray(a) for a in arrays)
        self._devices = tuple(t.device if isinstance(t, Tensor) else backend.device_of(a)
                              for t, a in zip(arrays, self.arrays))
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
            raise ValueError(f"TensorDataset: all arrays need the same first dimension, got shapes {shapes}")

    @property
    def tensors(self):
        return tuple(Tensor._wrap(a, dev) for a, dev in zip(self.arrays, self._devices))

    def __len__(self):
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices):
        return tuple(a[_index_for(a, indices)] for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        inner = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(inner)
        return collate(self.dataset, inner)


def _split_sizes(n, lengths):
    """Integer lengths summing to n, from ints or from fractions summing to 1."""
    lengths = list(lengths)
    if all(isinstance(k, numbers.Integral) for k in lengths):
        if any(k < 0 for k in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} must be >= 0 and sum to the dataset length {n}")
        return [int(k) for k in lengths]
    if any(not 0 <= f <= 1 for f in lengths) or abs(sum(lengths) - 1) > 1e-6:
        raise ValueError(f"random_split: fractions {lengths} must lie in [0, 1] and sum to 1")
    sizes = [int(np.floor(n * f)) for f in lengths]
    for i in range(n - sum(sizes)):  # hand out the remainder one by one
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths, seed=None):
    """Split into non-overlapping random Subsets of the given lengths (ints, or fractions of len).

    seed=None draws the seed from gpudl's cpu generator, so gd.manual_seed makes it repeatable.
    """
    n = len(dataset)
    sizes = _split_sizes(n, lengths)
    if seed is None:
        seed = int(creation.generator("cpu").integers(2**63))
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
