"""Batch-wise transforms: each takes a whole batch (N, ..., H, W) and returns a new one.

They run on the batch's own device with its array module (`xp`, NumPy or CuPy, found
through gpudl.backend), vectorised over the batch: no Python loop over samples. A gpudl
Tensor is accepted too and comes back as a Tensor on the same device.

Random transforms draw their per-sample choices on the host from a generator fixed by
(seed, call number), `default_rng([seed, calls])`, so their state is two plain ints
(`state_dict()` / `load_state_dict()`), which the DataLoader saves with its own.
"""
import numpy as np

from .. import backend, creation
from ..tensor import Tensor


def _pair(v, what):
    """(a, b) from an int or a pair of ints."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or any(not isinstance(k, (int, np.integer)) or k < 0 for k in pair):
        raise ValueError(f"{what}: expected a non-negative int or a pair of them, got {v!r}")
    return int(pair[0]), int(pair[1])


def _check_images(x, what):
    if x.ndim < 3:
        raise ValueError(f"{what}: expected a batch of images (N, ..., H, W), got shape {tuple(x.shape)}")


def _pad(xp, x, ph, pw):
    """Zero padding of ph rows / pw columns on both sides of the last two axes."""
    if ph == pw == 0:
        return x
    return xp.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])


def _crop(xp, x, top, left, h, w):
    """out[n, ..., i, j] = x[n, ..., top[n] + i, left[n] + j] for all n at once (one gather)."""
    n = x.shape[0]
    flat = x.reshape(n, -1, *x.shape[-2:])  # (N, C, H, W), C = product of the middle axes
    rows = xp.asarray(top[:, None] + np.arange(h))[:, None, :, None]
    cols = xp.asarray(left[:, None] + np.arange(w))[:, None, None, :]
    out = flat[xp.arange(n)[:, None, None, None], xp.arange(flat.shape[1])[None, :, None, None], rows, cols]
    return out.reshape(*x.shape[:-2], h, w)


class Transform:
    """Base class: subclasses define `apply(xp, x)` on a raw array."""

    def __call__(self, x):
        if isinstance(x, Tensor):
            return Tensor._wrap(self(x.data), x.device)
        return self.apply(backend.device_of(x).xp, x)

    def apply(self, xp, x):
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

    def next_rng(self):
        """The host generator for this call: default_rng([seed, calls])."""
        rng = np.random.default_rng([self._seed, self._calls])
        self._calls += 1
        return rng

    def state_dict(self):
        return {"seed": self._seed, "calls": self._calls}

    def load_state_dict(self, state):
        self._seed, self._calls = int(state["seed"]), int(state["calls"])


class ToFloat(Transform):
    """x -> float32(x) * scale (default 1/255: uint8 pixels to [0, 1])."""

    def __init__(self, scale=1 / 255, dtype=np.float32):
        self.scale, self.dtype = scale, np.dtype(dtype)

    def apply(self, xp, x):
        out = x.astype(self.dtype)
        if self.scale != 1:
            out *= self.dtype.type(self.scale)
        return out


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

    def apply(self, xp, x):
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize: expected a floating-point batch, got {x.dtype} (apply ToFloat first)")
        channels = max(self.mean.size, self.std.size)
        shape = ()
        if channels > 1:
            if x.ndim < 2 or x.shape[1] != channels:
                raise ValueError(f"Normalize: {channels} channel means/stds but the batch has shape "
                                 f"{tuple(x.shape)} (channels on axis 1)")
            shape = (1, channels) + (1,) * (x.ndim - 2)
        mean = xp.asarray(np.broadcast_to(self.mean, (channels,)).reshape(shape), dtype=x.dtype)
        std = xp.asarray(np.broadcast_to(self.std, (channels,)).reshape(shape), dtype=x.dtype)
        return (x - mean) / std


class RandomCrop(RandomTransform):
    """Zero-pad by `padding`, then crop `size` (int or (h, w)) at a random offset per sample."""

    def __init__(self, size, padding=0, seed=None, generator=None):
        super().__init__(seed, generator)
        self.size, self.padding = _pair(size, "RandomCrop size"), _pair(padding, "RandomCrop padding")

    def apply(self, xp, x):
        _check_images(x, "RandomCrop")
        (h, w), (ph, pw) = self.size, self.padding
        x = _pad(xp, x, ph, pw)
        H, W = x.shape[-2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop {h}x{w} is larger than the padded image {H}x{W}")
        rng, n = self.next_rng(), x.shape[0]
        top, left = rng.integers(0, H - h + 1, n), rng.integers(0, W - w + 1, n)
        return _crop(xp, x, top, left, h, w)


class RandomTranslate(RandomTransform):
    """Shift each image by its own random (dy, dx), |dy|, |dx| <= max_shift, filling with zeros:

        out[n, ..., i, j] = x[n, ..., i - dy_n, j - dx_n]   (0 where that lies outside)
    """

    def __init__(self, max_shift, seed=None, generator=None):
        super().__init__(seed, generator)
        self.max_shift = _pair(max_shift, "RandomTranslate max_shift")

    def apply(self, xp, x):
        _check_images(x, "RandomTranslate")
        (my, mx), n = self.max_shift, x.shape[0]
        rng = self.next_rng()
        dy, dx = rng.integers(-my, my + 1, n), rng.integers(-mx, mx + 1, n)
        # in the padded image, out[i, j] sits at (i - dy + my, j - dx + mx)
        return _crop(xp, _pad(xp, x, my, mx), my - dy, mx - dx, *x.shape[-2:])


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability p: out[n, ..., j] = x[n, ..., W-1-j]."""

    def __init__(self, p=0.5, seed=None, generator=None):
        super().__init__(seed, generator)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p}")
        self.p = p

    def apply(self, xp, x):
        _check_images(x, "RandomHorizontalFlip")
        flip = self.next_rng().random(x.shape[0]) < self.p
        mask = xp.asarray(flip).reshape((-1,) + (1,) * (x.ndim - 1))
        return xp.where(mask, x[..., ::-1], x)


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
