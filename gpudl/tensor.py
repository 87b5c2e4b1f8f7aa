"""Tensor and reverse-mode autograd: micrograd, but every value is an array.

A Tensor wraps a raw array (`.data`: NumPy on cpu/emu, CuPy on cuda) and remembers the
Function that made it. `backward()` sorts the graph topologically once and applies the
chain rule from the output back to the leaves:

    dL/dx = sum over uses u of x:  dL/du * du/dx

Each op is a Function subclass with `forward(ctx, *arrays)` and `backward(ctx, grad)`
side by side, working on raw arrays of the op's device.
"""
import contextlib
import time

import numpy as np

from . import backend, profiler

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record no graph (inference, optimizer updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled():
    return _grad_enabled


_callbacks = []  # run once the backward in progress has finished


def queue_callback(fn):
    """Run fn() when the backward now running has finished every gradient (DistributedDataParallel's
    all-reduce); a backward that raises drops its queue."""
    _callbacks.append(fn)


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def _is_float(dtype):
    return np.issubdtype(dtype, np.floating)


class Context:
    """Scratch space a Function's forward leaves for its backward (`ctx.save(...)`)."""

    released = False

    def save(self, *arrays):
        self.saved = arrays

    def release(self):
        """Drop everything forward left here (its backward has run and the graph is not retained)."""
        self.__dict__.clear()
        self.released = True


class Function:
    """One differentiable op. Subclasses define `forward(ctx, *arrays, **kw) -> array` and
    `backward(ctx, grad) -> one gradient per array input (None where not needed)`.

    Both compute only through `ctx.kernels`, the device's function table (NumPy on cpu,
    gpudl kernels on cuda / emu); `ctx.xp` is for views and allocation."""

    @classmethod
    def apply(cls, *inputs, **kwargs):
        tensors = [x for x in inputs if isinstance(x, Tensor)]
        if not tensors:
            raise TypeError(f"{cls.__name__}.apply: needs at least one Tensor input, got "
                            f"({', '.join(type(x).__name__ for x in inputs)})")
        dev = tensors[0].device
        for t in tensors[1:]:
            if t.device != dev:
                raise RuntimeError(f"{cls.__name__}: tensors are on different devices: {dev} and {t.device}")
        ctx = Context()
        ctx.device, ctx.xp, ctx.kernels = dev, dev.xp, dev.kernels
        raw = [x.data if isinstance(x, Tensor) else x for x in inputs]
        with dev.activate():
            if profiler.recording():
                t0 = time.perf_counter()
                out = cls.forward(ctx, *raw, **kwargs)
                profiler.function(f"{cls.__name__}.forward", time.perf_counter() - t0)
            else:
                out = cls.forward(ctx, *raw, **kwargs)
        needs_grad = _grad_enabled and any(t.requires_grad for t in tensors)
        result = Tensor._wrap(out, ctx.device, needs_grad)  # ctx.device: a move may change it
        if needs_grad:
            ctx.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
            result._creator = (cls, ctx, inputs)
        return result

    @staticmethod
    def forward(ctx, *arrays, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError


def _run_backward(fn, ctx, g):
    """fn.backward(ctx, g) as a tuple (timed per Function when the profiler is on)."""
    if profiler.recording():
        t0 = time.perf_counter()
        out = fn.backward(ctx, g)
        profiler.function(f"{fn.__name__}.backward", time.perf_counter() - t0)
    else:
        out = fn.backward(ctx, g)
    return out if isinstance(out, tuple) else (out,)


def _in_memory_of(array, device):
    """Whether a raw array lives in `device`'s memory (NumPy for cpu and emu, CuPy on that GPU for cuda)."""
    held = backend.device_of(array)
    return held == device if device.type == "cuda" else held.type == "cpu"


def _check_gradients(fn, inputs, grads):
    """RuntimeError naming `fn` unless backward gave one gradient per input, each an array with its
    input's shape, dtype and device (None, or any value for a non-Tensor input, passes)."""
    if len(grads) != len(inputs):
        raise RuntimeError(f"{fn.__name__}.backward returned {len(grads)} gradient(s) for {len(inputs)} input(s)")
    for i, (x, gx) in enumerate(zip(inputs, grads)):
        if gx is None or not isinstance(x, Tensor):
            continue
        what = f"{fn.__name__}.backward returned for input {i}"
        if isinstance(gx, Tensor) or not hasattr(gx, "dtype"):
            raise RuntimeError(f"{what} a {type(gx).__name__}, not a raw array")
        if tuple(gx.shape) != x.shape:
            raise RuntimeError(f"{what} a gradient of shape {tuple(gx.shape)}; the input has shape {x.shape}")
        if gx.dtype != x.dtype:
            raise RuntimeError(f"{what} a gradient of dtype {gx.dtype}; the input has dtype {x.dtype}")
        if not _in_memory_of(gx, x.device):
            raise RuntimeError(f"{what} a gradient on {backend.device_of(gx)}; the input is on {x.device}")


class Tensor:
    """An n-d array on a device, with an optional gradient. Build with `gd.tensor(...)`."""

    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import to_array
        dev = backend.device(device)
        self.data = to_array(data, dtype, dev)
        self.device = dev
        self.grad = None
        self._creator = None
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, array, device, requires_grad=False):
        """Wrap an array that is already on `device` (no copy, no dtype rules)."""
        t = cls.__new__(cls)
        t.data, t.device, t.grad, t._creator, t.requires_grad = array, device, None, None, requires_grad
        return t

    def requires_grad_(self, flag=True):
        if flag and not _is_float(self.dtype):
            raise TypeError(f"requires_grad: only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = bool(flag)
        return self

    # ---- properties ------------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    is_leaf = property(lambda self: self._creator is None)
    T = property(lambda self: self.permute(*reversed(range(self.ndim))))  # all axes reversed

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({self._host('repr')!r}, device='{self.device}'{grad})"

    # ---- leaving the graph / the device -------------------------------------------------
    def _host(self, what):
        """The values as a host NumPy array; on a kernel device this is a host sync (the profiler counts it)."""
        if self.device.uses_kernels:
            profiler.sync(what, self.shape)
        return backend.to_numpy(self.data)

    def numpy(self):
        """A host NumPy copy (never a view of GPU memory)."""
        return np.array(self._host("numpy"))

    def item(self):
        return self._scalar("item")

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        """A one-element integer tensor as a Python int (`range(t)`, `seq[t]`); TypeError otherwise."""
        if not np.issubdtype(self.dtype, np.integer) or self.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} and shape {self.shape}")
        return int(self._scalar("index"))

    def __bool__(self):
        """The truth value of a one-element tensor; RuntimeError for more (or no) elements."""
        if self.size != 1:
            values = "no values" if self.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of a Tensor with {values} is ambiguous (shape {self.shape})")
        return bool(self._scalar("bool"))

    def __array__(self, dtype=None, copy=None):
        """`np.asarray(t)`: a host NumPy copy of the values, as `numpy()` (a host sync on kernel devices)."""
        if copy is False:
            raise ValueError("__array__: a Tensor becomes a NumPy array only by copying; copy=False cannot be met")
        return np.array(self._host("array"), dtype=dtype)

    def _scalar(self, what):
        """The one element as a Python scalar (a host sync on kernel devices)."""
        if self.size != 1:
            raise ValueError(f"{what}: only a one-element tensor converts to a Python scalar, got shape {self.shape}")
        return self._host(what).reshape(()).item()

    def tolist(self):
        return self._host("tolist").tolist()

    def detach(self):
        return Tensor._wrap(self.data, self.device)

    def clone(self):
        """A copy in new memory; differentiable (gradients flow back to self)."""
        return ops.clone(self)

    def to(self, device=None, dtype=None):
        """Copy to another device and/or dtype; differentiable (gradients flow back)."""
        from .ops.shape import To
        dev = backend.device(device) if device is not None else self.device
        if dev == self.device and (dtype is None or np.dtype(dtype) == self.dtype):
            return self
        return To.apply(self, device=dev, dtype=dtype)

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def long(self):
        """int64 (truncating toward zero); an integer result never requires grad."""
        return self.detach().to(dtype=np.int64)

    def int(self):
        """int32 (truncating toward zero); an integer result never requires grad."""
        return self.detach().to(dtype=np.int32)

    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    # ---- autograd ------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires grad.

        `grad` (the gradient of some scalar with respect to self) must have self's shape and device;
        it may be omitted for a one-element self (then 1). Each Function's saved values are freed
        once its backward has run, so a second backward through the same graph raises, unless the
        first one was given retain_graph=True."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no leaf that requires grad made it)")
        kernels = self.device.kernels
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward: grad can be omitted only for a scalar output; got shape {self.shape}"
                                   " (pass grad= of the same shape, or call .sum() first)")
            with self.device.activate():
                grad = kernels.full(self.data.shape, 1, self.dtype)
        else:
            if isinstance(grad, Tensor) and grad.device != self.device:
                raise RuntimeError(f"backward: grad is on {grad.device} but the output is on {self.device}")
            grad = grad.data if isinstance(grad, Tensor) else self.device.asarray(grad, dtype=self.dtype)
            if tuple(grad.shape) != self.shape:
                raise ValueError(f"backward: grad shape {tuple(grad.shape)} does not match output shape {self.shape}")
            if grad.dtype != self.dtype:
                with self.device.activate():
                    grad = kernels.cast(grad, self.dtype)
        grads = {id(self): grad}
        _callbacks.clear()
        for node in reversed(self._topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            with node.device.activate():
                if node._creator is None:  # a leaf: accumulate
                    total = g if node.grad is None else node.device.kernels.add(node.grad.data, g)
                    node.grad = Tensor._wrap(total, node.device)
                    for hook in node.__dict__.get("_post_accumulate_hooks", ()):
                        hook(node)
                    continue
                fn, ctx, inputs = node._creator
                if ctx.released:
                    raise RuntimeError(f"{fn.__name__}: trying to backward through the graph a second time (its "
                                       "saved values were freed by the first backward); specify "
                                       "retain_graph=True in the first backward() if you need a second one")
                input_grads = _run_backward(fn, ctx, g)
                _check_gradients(fn, inputs, input_grads)
                if not retain_graph:
                    ctx.release()
                for x, gx in zip(inputs, input_grads):
                    if gx is not None and isinstance(x, Tensor) and x.requires_grad:
                        grads[id(x)] = gx if id(x) not in grads else x.device.kernels.add(grads[id(x)], gx)
        while _callbacks:
            _callbacks.pop(0)()

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) each time a backward has accumulated into this leaf's .grad; returns a
        handle whose remove() unregisters it."""
        if not self.is_leaf:
            raise RuntimeError("register_post_accumulate_grad_hook: only a leaf tensor accumulates a .grad")
        hooks = self.__dict__.setdefault("_post_accumulate_hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def _topological_order(self):
        """Nodes ordered so each comes after everything it depends on (iterative DFS)."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            if node._creator is not None:
                stack.extend((x, False) for x in node._creator[2] if isinstance(x, Tensor) and x.requires_grad)
        return order

    # ---- operators (the op families live in gpudl/ops) -----------------------------------
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __pow__(self, other): return ops.pow(self, other)
    def __rpow__(self, other): return ops.pow(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __getitem__(self, index): return ops.getitem(self, index)
    def __setitem__(self, index, value): ops.setitem(self, index, value)
    def __lt__(self, other): return ops.compare(self, other, "less")
    def __le__(self, other): return ops.compare(self, other, "less_equal")
    def __gt__(self, other): return ops.compare(self, other, "greater")
    def __ge__(self, other): return ops.compare(self, other, "greater_equal")
    def __eq__(self, other): return ops.compare(self, other, "equal")
    def __ne__(self, other): return ops.compare(self, other, "not_equal")
    __hash__ = object.__hash__

    # reductions: NumPy's axis= / keepdims= / ddof=, or PyTorch's dim= / keepdim= / correction=
    # (gpudl/ops/reduction.py: each spelling keeps its library's meaning)
    def sum(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return ops.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return ops.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis=None, keepdims=None, ddof=None, *, correction=None, dim=None, keepdim=None):
        return ops.var(self, axis, keepdims, ddof, correction=correction, dim=dim, keepdim=keepdim)

    def std(self, axis=None, keepdims=None, ddof=None, *, correction=None, dim=None, keepdim=None):
        return ops.std(self, axis, keepdims, ddof, correction=correction, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return ops.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return ops.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def any(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return ops.any(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def all(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return ops.all(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def topk(self, k, dim=-1, largest=True, sorted=True): return ops.topk(self, k, dim, largest, sorted)

    # elementwise and activations
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def clip(self, min=None, max=None): return ops.clip(self, min, max)
    def clamp(self, min=None, max=None): return ops.clamp(self, min, max)
    def relu(self): return ops.relu(self)
    def sigmoid(self): return ops.sigmoid(self)
    def tanh(self): return ops.tanh(self)
    def softmax(self, dim=-1): return ops.softmax(self, dim)
    def log_softmax(self, dim=-1): return ops.log_softmax(self, dim)

    # shapes
    def reshape(self, *shape): return ops.reshape(self, *shape)
    def view(self, *shape): return ops.view(self, *shape)
    def unsqueeze(self, dim): return ops.unsqueeze(self, dim)
    def squeeze(self, dim=None): return ops.squeeze(self, dim)
    def t(self): return ops.t(self)
    def transpose(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    def permute(self, *dims): return ops.permute(self, *dims)
    def flatten(self, start_axis=0, end_axis=-1): return ops.flatten(self, start_axis, end_axis)
    def expand(self, *shape): return ops.broadcast_to(self, *shape)
    def broadcast_to(self, *shape): return ops.broadcast_to(self, *shape)

from . import ops  # noqa: E402  (ops need Tensor and Function defined first)
