"""Flat buffers of one parameter group: what lets a single kernel launch update all of it.

A group's parameters must share one device and one dtype.  When the optimizer first needs
them (its first `step()` or `load_state_dict`), the group gets, on that device:

    P       one flat buffer holding every parameter.  Each parameter's values are copied in and
            the Tensor is re-pointed at its slice, `p.data = P[off:off + n].reshape(p.shape)`:
            the Tensor objects stay the same (a Module keeps working), but arrays taken from
            `p.data` earlier are stale from then on.  A parameter whose `.data` is later
            replaced (Module.load_state_dict) is copied back in at the next step.
    G       one flat gradient buffer: each step copies `p.grad.data` into p's slice (a copy
            kernel) unless it already is that slice, and re-points `p.grad.data` at it.
    state   one flat buffer per kind of optimizer state (exp_avg, momentum_buffer, ...), made
            when first needed and filled with its initial value; `view(name, i)` is parameter
            i's slice, shaped like it (what `optimizer.state[p][name]` holds).
    step    a 1-element int32 device counter, advanced by the `optim_tick` kernel;
    lr      a 1-element device buffer of the parameters' dtype, rewritten (by the `fill`
            kernel) only when the group's lr changed since the last write.

The update kernels read t and η from those two buffers, so a step makes no host sync and no
host-to-device copy.  Parameters without a gradient, and frozen ones (requires_grad False, whose
values are packed into P unchanged and never written), are skipped: `gather` returns the runs
[start, start + count) of consecutive parameters that have a gradient and require grad (usually a
single run).  Making the buffers and writing η are one-time setup for `gd.capture`: eager, never
inside a captured step (gd.capture writes a changed η before each replay).
"""
import numpy as np

from .. import backend
from ..capture import setup


def common_placement(params, label):
    """(device, dtype) shared by every parameter, or ValueError naming the group (`label`)."""
    first = params[0]
    for i, p in enumerate(params):
        if p.device != first.device or p.dtype != first.dtype:
            raise ValueError(f"{label}: all parameters of a group must share device and dtype; parameter 0 is "
                             f"{first.dtype} on {first.device}, parameter {i} is {p.dtype} on {p.device}")
    return first.device, first.dtype


class FlatGroup:
    """The flat buffers (P, G, state, step, lr) of one parameter group; see the module docstring."""

    def __init__(self, params, label):
        self.device, self.dtype = common_placement(params, label)
        self.params, self.label = params, label
        self.shapes = [p.shape for p in params]
        self.kernels = self.device.kernels
        self.offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        with self.device.activate(), setup(f"{label}: making the flat buffers"):
            self.P, self.G = self._empty(self.offsets[-1]), self._empty(self.offsets[-1])
            self.step = self.device.xp.empty((1,), dtype=np.int32)
            self.kernels.fill(self.step, 0)
            self.lr, self.lr_value = self._empty(1), None
            self.param_views = [self._adopt(i, p) for i, p in enumerate(params)]
        self.grad_views = [self._slice(self.G, i) for i in range(len(params))]
        self.state, self.initial = {}, {}

    def _empty(self, n):
        return self.device.xp.empty((n,), dtype=self.dtype)

    def _slice(self, flat, i):
        """Parameter i's part of a flat buffer, shaped like the parameter (a view)."""
        return flat[self.offsets[i]:self.offsets[i + 1]].reshape(self.shapes[i])

    def _adopt(self, i, p):
        """Copy p's values into its slice of P and re-point p at that slice."""
        if p.device != self.device or p.dtype != self.dtype or p.shape != self.shapes[i]:
            raise RuntimeError(f"{self.label}: parameter {i} became {p.dtype} {p.shape} on {p.device} after the "
                               f"optimizer's first step ({self.dtype} on {self.device}); build the optimizer after "
                               "moving or converting the model")
        view = self._slice(self.P, i)
        self.kernels.copy(p.data, out=view)
        p.data = view
        return view

    def sync_params(self):
        """Copy back in any parameter whose `.data` was replaced since it was re-pointed at P."""
        for i, p in enumerate(self.params):
            if p.data is not self.param_views[i]:
                self.param_views[i] = self._adopt(i, p)

    def gather(self):
        """(runs, stepped): gradients copied into G, the runs (start, count) of consecutive
        parameters that have one and require grad, and those parameters' indices."""
        runs, stepped = [], []
        for i, p in enumerate(self.params):
            if p.grad is None or not p.requires_grad:  # frozen: never updated, even with an old gradient
                continue
            view = self.grad_views[i]
            if p.grad.data is not view:
                self.kernels.copy(p.grad.data, out=view)
                p.grad.data = view
            start, end = self.offsets[i], self.offsets[i + 1]
            if runs and runs[-1][1] == start:
                runs[-1][1] = end
            else:
                runs.append([start, end])
            stepped.append(i)
        return [(start, end - start) for start, end in runs], stepped

    def buffer(self, name, initial):
        """The flat state buffer `name`, made (filled with `initial`) on first use."""
        if name not in self.state:
            with setup(f"{self.label}: making state buffer {name!r}"):
                buf = self._empty(self.offsets[-1])
                self.kernels.fill(buf, initial)
            self.state[name], self.initial[name] = buf, initial
        return self.state[name]

    def view(self, name, i):
        return self._slice(self.state[name], i)

    def reset(self, initials):
        """Every state buffer back to its initial value (`initials` overrides the recorded ones)."""
        for name, buf in self.state.items():
            self.kernels.fill(buf, initials.get(name, self.initial[name]))

    def load(self, name, i, value):
        """Write host values into parameter i's slice of state buffer `name` (not replacing it)."""
        host = np.ascontiguousarray(backend.to_numpy(value), dtype=self.dtype).reshape(self.shapes[i])
        self.kernels.copy(self.device.asarray(host), out=self.view(name, i))

    def set_lr(self, lr):
        """Write η to the device buffer when it differs from the last value written."""
        if lr != self.lr_value:
            with setup(f"{self.label}: writing lr {lr}"):
                self.kernels.fill(self.lr, lr)
            self.lr_value = lr

    def tick(self):
        self.kernels.optim_tick(self.step)

    def read_step(self):
        """The device step counter, read back by the host (a sync)."""
        return int(backend.to_numpy(self.step)[0])

    def write_step(self, t):
        self.kernels.fill(self.step, t)
