"""Batch-wise transforms: each takes a whole batch (N, ..., H, W) and returns a new one.

They run on the batch's own device through its kernel table (`device.kernels`: the kernels of
kernels/data.cu and elementwise.cu on cuda / emu, their NumPy twins on cpu), vectorised over the
batch: no Python loop over samples, no host round trip.  A gpudl Tensor is accepted (and comes
back as a Tensor on its device); a raw NumPy array is treated as a cpu batch, a CuPy one as cuda.

Random transforms draw their per-sample choices on the device from Philox, fixed by (seed, call
number) (the math is in gpudl/cpu/data.py), so every device makes the same choices and their state
is two plain ints (`state_dict()` / `load_state_dict()`), which the DataLoader saves with its own.
"""
import numpy as np

from .. import backend, checks, creation
from ..cpu.data import check_images
from ..tensor import Tensor


def _pair(v, what):
    """(a, b) from an int or a pair of ints."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or any(not isinstance(k, (int, np.integer)) or k < 0 for k in pair):
        raise ValueError(f"{what}: expected a non-negative int or a pair of them, got {v!r}")
    return int(pair[0]), int(pair[1])


class Transform:
    """Base class: subclasses define `apply(device, x)` on a raw array held by `device`."""

    def __call__(self, x):
        if isinstance(x, Tensor):
            with x.device.activate():
                return Tensor._wrap(self.apply(x.device, x.data), x.device)
        return self.apply(backend.device_of(x), x)

    def apply(self, device, x):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class RandomTransform(Transform):
    """A transform with seeded randomness; seed=None draws one from `generator` or gpudl's cpu generator."""

    def __init__(self, seed=None, generator=None):
        if seed is None:
            seed = (generator if generator is not None else creation.generator("cpu")).integers(2**63)
        self._seed, self._calls = int(seed), 0

    def next_call(self):
        """(seed, call number) fixing this call's draws; counts the call."""
        self._calls += 1
        return self._seed, self._calls - 1

    def state_dict(self):
        return {"seed": self._seed, "calls": self._calls}

    def load_state_dict(self, state):
        self._seed, self._calls = int(state["seed"]), int(state["calls"])


class ToFloat(Transform):
    """x -> float32(x) * scale (default 1/255: uint8 pixels to [0, 1])."""

    def __init__(self, scale=1 / 255, dtype=np.float32):
        self.scale, self.dtype = scale, np.dtype(dtype)

    def apply(self, device, x):
        return device.kernels.to_float(x, self.scale, self.dtype)


class Normalize(Transform):
    """x -> (x - mean) / std, with scalar or per-channel (axis 1) mean and std."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float64).reshape(-1)
        self.std = np.asarray(std, np.float64).reshape(-1)
        sizes = {self.mean.size, self.std.size}
        if 0 in sizes or len(sizes - {1}) > 1:
            raise ValueError(f"Normalize: mean {mean!r} and std {std!r} must be scalars or equally long")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be > 0, got {std!r}")
        self._arrays = {}  # (device, dtype, shape) -> (mean, std) arrays

    def apply(self, device, x):
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize: expected a floating-point batch, got {x.dtype} (apply ToFloat first)")
        channels = max(self.mean.size, self.std.size)
        shape = ()
        if channels > 1:
            if x.ndim < 2 or x.shape[1] != channels:
                raise ValueError(f"Normalize: {channels} channel means/stds but the batch has shape "
                                 f"{tuple(x.shape)} (channels on axis 1)")
            shape = (1, channels) + (1,) * (x.ndim - 2)
        mean, std = self._constants(device, x.dtype, shape)
        return device.kernels.div(device.kernels.sub(x, mean), std)

    def _constants(self, device, dtype, shape):
        """mean and std as Python floats, or as per-channel arrays on `device` (moved there once)."""
        if not shape:
            return float(self.mean[0]), float(self.std[0])
        key = (device, np.dtype(dtype), shape)
        if key not in self._arrays:
            self._arrays[key] = tuple(device.asarray(np.broadcast_to(v, shape[1:2]).reshape(shape).astype(dtype))
                                      for v in (self.mean, self.std))
        return self._arrays[key]


class RandomCrop(RandomTransform):
    """Zero-pad by `padding`, then crop `size` (int or (h, w)) at a random offset per sample."""

    def __init__(self, size, padding=0, seed=None, generator=None):
        super().__init__(seed, generator)
        self.size, self.padding = _pair(size, "RandomCrop size"), _pair(padding, "RandomCrop padding")

    def apply(self, device, x):
        return device.kernels.random_crop(x, self.size, self.padding, *self.next_call())


class RandomTranslate(RandomTransform):
    """Shift each image by its own random (dy, dx), |dy|, |dx| <= max_shift, filling with zeros:

        out[n, ..., i, j] = x[n, ..., i - dy_n, j - dx_n]   (0 where that lies outside)
    """

    def __init__(self, max_shift, seed=None, generator=None):
        super().__init__(seed, generator)
        self.max_shift = _pair(max_shift, "RandomTranslate max_shift")

    def apply(self, device, x):
        check_images("RandomTranslate", x)
        # a window of the image padded by max_shift: top = my - dy, left = mx - dx
        return device.kernels.random_crop(x, x.shape[-2:], self.max_shift, *self.next_call())


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability p: out[n, ..., j] = x[n, ..., W-1-j]."""

    def __init__(self, p=0.5, seed=None, generator=None):
        super().__init__(seed, generator)
        checks.probability("RandomHorizontalFlip", "p", p)
        self.p = p

    def apply(self, device, x):
        return device.kernels.random_hflip(x, self.p, *self.next_call())


class Compose(Transform):
    """Apply transforms in order: Compose([a, b])(x) = b(a(x))."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def state_dict(self):
        return {"transforms": [t.state_dict() if hasattr(t, "state_dict") else {} for t in self.transforms]}

    def load_state_dict(self, state):
        states = state["transforms"]
        if len(states) != len(self.transforms):
            raise ValueError(f"Compose.load_state_dict: {len(states)} states for {len(self.transforms)} transforms")
        for t, s in zip(self.transforms, states):
            if hasattr(t, "load_state_dict"):
                t.load_state_dict(s)
