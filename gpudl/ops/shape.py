"""Reshaping, transposing, broadcasting, joining, padding, indexing and device moves.
These only move numbers, so each backward moves the gradient back the same way."""
import numpy as np

from .. import backend, profiler
from ..tensor import Function, Tensor
from .arithmetic import unbroadcast


def _shape_arg(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _reshaped(kernels, x, shape):
    """A reshape that is always a view: a non-contiguous input is first copied by a kernel."""
    return (x if x.flags.c_contiguous else kernels.copy(x)).reshape(shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.save(x.shape)
        return _reshaped(ctx.kernels, x, shape)

    @staticmethod
    def backward(ctx, g):
        return _reshaped(ctx.kernels, g, ctx.saved[0])


class Transpose(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.save(axes)
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.saved[0]))  # the inverse permutation


class BroadcastTo(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.save(x.shape, x.dtype)
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(ctx.kernels, g, *ctx.saved)


class Concat(Function):
    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.save(axis, [x.shape[axis] for x in xs])
        return ctx.kernels.concat(xs, axis)

    @staticmethod
    def backward(ctx, g):
        axis, sizes = ctx.saved  # each input's gradient is its slab of g (a view)
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(g[(slice(None),) * axis + (slice(int(a), int(a) + n),)] for a, n in zip(starts, sizes))


class Pad(Function):
    @staticmethod
    def forward(ctx, x, pad_width, value):
        ctx.save(tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape)))
        return ctx.kernels.pad(x, pad_width, value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.saved[0]]


class GetItem(Function):
    """Basic indexing (a view) followed, when there are index arrays, by a gather on the leading axes."""

    @staticmethod
    def forward(ctx, x, basic, arrays):
        view = x[basic]
        ctx.save(x.shape, x.dtype, basic, arrays, view.shape)
        if arrays is None:
            return view
        return ctx.kernels.take(view, arrays)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, basic, arrays, view_shape = ctx.saved
        k = ctx.kernels
        grad = k.full(shape, 0, dtype)
        if arrays is None:
            k.copy(g, out=grad[basic])
            return grad
        whole = all(b == slice(None) for b in basic)
        part = grad if whole else k.full(view_shape, 0, dtype)
        k.index_add(part, arrays, g)  # scatter-add: repeated indices accumulate
        if not whole:
            k.copy(part, out=grad[basic])
        return grad


class To(Function):
    @staticmethod
    def forward(ctx, x, device, dtype):
        ctx.save(ctx.device, x.dtype)
        ctx.device_from, ctx.device = ctx.device, device  # the result lives on the target device
        return _moved(ctx.device_from, device, x, dtype)

    @staticmethod
    def backward(ctx, g):
        source, dtype = ctx.saved
        return _moved(ctx.device, source, g, dtype)


def _moved(source, target, a, dtype):
    """`a` on `target` as `dtype`: a cast kernel on one device, else a transfer (a host sync when it
    leaves a kernel device for the host; the profiler counts it)."""
    if source == target:
        return a if dtype is None or a.dtype == dtype else target.kernels.cast(a, dtype)
    if source.uses_kernels and not target.uses_kernels:
        profiler.sync("to", a.shape)
    with target.activate():
        return target.asarray(a, dtype=dtype)


def reshape(x, *shape):
    shape = _shape_arg(shape)
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}") from None


def _dim(op, x, d):
    """Axis `d` of x in 0..ndim-1 (negative counts from the end; a 0-d tensor takes 0 and -1)."""
    n = max(x.ndim, 1)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{op}: dims must be integers, got {d!r}")
    if not -n <= d < n:
        raise IndexError(f"{op}: dim {d} is out of range for a tensor of shape {x.shape} "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return int(d) % n


def transpose(x, dim0, dim1):
    """Swap axes dim0 and dim1 (as torch.transpose); `x.T` reverses all axes, `permute` reorders them."""
    order = list(range(x.ndim))
    a, b = _dim("transpose", x, dim0), _dim("transpose", x, dim1)
    if x.ndim:  # a 0-d tensor has nothing to swap
        order[a], order[b] = order[b], order[a]
    return Transpose.apply(x, axes=tuple(order))


def permute(x, *dims):
    """Reorder all axes: axis i of the result is axis dims[i] of x (negative dims allowed; one
    tuple or list also works). ValueError unless dims is a permutation of x's axes."""
    dims, n = _shape_arg(dims), x.ndim
    valid = all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and -n <= d < n for d in dims)
    order = tuple(int(d) % n for d in dims) if valid else ()
    if not valid or sorted(order) != list(range(n)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {n} axes of a tensor of shape {x.shape}")
    return Transpose.apply(x, axes=order)


def flatten(x, start_axis=0, end_axis=-1):
    start, end = start_axis % x.ndim, end_axis % x.ndim
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])


def broadcast_to(x, *shape):
    shape = _shape_arg(shape)
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return BroadcastTo.apply(x, shape=shape)


def concat(tensors, axis=0):
    tensors = list(tensors)
    ref = tensors[0].shape
    for t in tensors[1:]:
        if len(t.shape) != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref)) if i != axis % len(ref)):
            raise ValueError(f"concat: shapes {ref} and {t.shape} differ outside axis {axis}")
    return Concat.apply(*tensors, axis=axis % len(ref))


def stack(tensors, axis=0):
    tensors = list(tensors)
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors must have one shape, got {tensors[0].shape} and {t.shape}")
    axis = axis % (tensors[0].ndim + 1)
    return concat([reshape(t, t.shape[:axis] + (1,) + t.shape[axis:]) for t in tensors], axis)


def pad(x, pad_width, value=0.0):
    """Constant padding; `pad_width` as in numpy.pad: ((before, after), ...) per axis."""
    pad_width = tuple((int(lo), int(hi)) for lo, hi in np.broadcast_to(np.asarray(pad_width), (x.ndim, 2)))
    return Pad.apply(x, pad_width=pad_width, value=value)


def getitem(x, index):
    """Basic slicing, integer-array indexing (repeated indices accumulate) and bool masks.

    Index arrays must be next to each other and come first, or after full slices `:` only
    (x[idx], x[rows, cols], x[:, idx], x[idx, 1:3]).  Their range is checked on the host: free for
    lists and NumPy arrays, a host sync for a Tensor index on a kernel device (as is a bool mask there).
    """
    items = list(index) if isinstance(index, tuple) else [index]
    if not any(_is_array_index(v) for v in items):
        try:
            return GetItem.apply(x, basic=index, arrays=None)
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None
    items, positions = _advanced(x, items)
    first, count = positions[0], len(positions)
    if positions != list(range(first, first + count)) or any(v != slice(None) for v in items[:first]):
        raise IndexError(f"getitem: index arrays must be adjacent and preceded only by full slices ':' "
                         f"(tensor shape {x.shape})")
    arrays = tuple(items[first:first + count])
    rest = tuple(items[first + count:])
    # move the indexed axes to the front (a view), gather there, move the result's axes back
    order = tuple(range(first, first + count)) + tuple(range(first)) + tuple(range(first + count, x.ndim))
    moved = Transpose.apply(x, axes=order) if first else x
    out = GetItem.apply(moved, basic=(slice(None),) * (count + first) + rest, arrays=arrays)
    if first:
        lead = out.ndim - (x.ndim - count)  # the axes of the broadcast index shape
        back = tuple(range(lead, lead + first)) + tuple(range(lead)) + tuple(range(lead + first, out.ndim))
        out = Transpose.apply(out, axes=back)
    return out


def _is_array_index(v):
    return isinstance(v, (Tensor, list, np.ndarray)) or hasattr(v, "__cuda_array_interface__")


def _advanced(x, items):
    """Items with every index array (bool masks as their nonzero positions, integers as 0-d arrays,
    NumPy's rule next to arrays) checked against its axis and placed on x's device as int64;
    returns (items, positions of the index arrays)."""
    out, positions, axis = [], [], 0
    for v in items:
        if v is None or v is Ellipsis:
            raise IndexError(f"getitem: None and ... cannot be combined with index arrays (tensor shape {x.shape})")
        if not _is_array_index(v) and not isinstance(v, (int, np.integer)):
            out.append(v)
            axis += 1
            continue
        host = _host_index(x, v)
        if host.dtype != np.bool_ and not np.issubdtype(host.dtype, np.integer):
            raise IndexError(f"getitem: index arrays must be integer or bool, got dtype {host.dtype}")
        if host.dtype == np.bool_:
            if host.shape != x.shape[axis:axis + host.ndim]:
                raise IndexError(f"getitem: bool mask of shape {host.shape} does not match axes {axis}.. of "
                                 f"tensor shape {x.shape}")
            parts = np.nonzero(host)
        else:
            parts = (host,)
        for a in parts:
            if axis >= x.ndim:
                raise IndexError(f"getitem: too many indices for a tensor of shape {x.shape}")
            n = x.shape[axis]
            if a.size and (a.min() < -n or a.max() >= n):
                bad = a.max() if a.max() >= n else a.min()
                raise IndexError(f"getitem: index {bad} is out of bounds for axis {axis} with size {n} "
                                 f"(tensor shape {x.shape})")
            positions.append(len(out))
            out.append(x.device.asarray(np.asarray(a, dtype=np.int64)))
            axis += 1
    return out, positions


def _host_index(x, v):
    """An index's values on the host (for a Tensor on a kernel device, a sync: the profiler counts it)."""
    if isinstance(v, Tensor):
        if v.device != x.device:
            raise RuntimeError(f"getitem: index is on {v.device} but the tensor is on {x.device}")
        return v._host("getitem index")
    return np.asarray(backend.to_numpy(v) if hasattr(v, "__cuda_array_interface__") else v)
