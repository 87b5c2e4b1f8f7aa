"""Reshaping, transposing, broadcasting, joining, padding, indexing and device moves.
These only move numbers, so each backward moves the gradient back the same way.

PyTorch's `dim` is accepted next to NumPy's `axis` (concat / cat, stack); `setitem` writes in
place into tensors that are not part of an autograd graph."""
import numpy as np

from .. import backend, checks, profiler
from ..tensor import Function, Tensor, is_grad_enabled
from .arithmetic import cast_back, unbroadcast


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


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return ctx.kernels.copy(x)  # new contiguous memory

    @staticmethod
    def backward(ctx, g):
        return g


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
    """Inputs of mixed dtypes are joined in their promoted dtype (np.result_type, as torch.cat)."""

    @staticmethod
    def forward(ctx, *xs, axis):
        dtype = np.result_type(*(x.dtype for x in xs))
        ctx.save(axis, [x.shape[axis] for x in xs], [x.dtype for x in xs])
        return ctx.kernels.concat([x if x.dtype == dtype else ctx.kernels.cast(x, dtype) for x in xs], axis)

    @staticmethod
    def backward(ctx, g):
        (axis, sizes, dtypes), k = ctx.saved, ctx.kernels  # each input's gradient is its slab of g (a view)
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(cast_back(k, g[(slice(None),) * axis + (slice(int(a), int(a) + n),)], dtype)
                     for a, n, dtype in zip(starts, sizes, dtypes))


class TakeAlong(Function):
    """y = x[index]: `index` holds one index array per axis of x, broadcast together (a gather); the
    gradient scatters g back (repeated positions accumulate)."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.save(x.shape, x.dtype, index)
        return ctx.kernels.take(x, index)

    @staticmethod
    def backward(ctx, g):
        (shape, dtype, index), k = ctx.saved, ctx.kernels
        grad = k.full(shape, 0, dtype)
        k.index_add(grad, index, g)
        return grad


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


def reshape(x, *shape, op="reshape"):
    shape = _shape_arg(shape)
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise ValueError(f"{op}: cannot reshape a tensor of shape {x.shape} into {shape}") from None


def clone(x):
    """A copy in new memory (differentiable: the gradient passes through unchanged)."""
    return Clone.apply(x)


def view(x, *shape):
    """reshape under PyTorch's name (-1 allowed): a view of contiguous data; where PyTorch's view
    would refuse a non-contiguous tensor, gpudl copies it first (as reshape does)."""
    return reshape(x, *shape, op="view")


def _dim(op, x, d, n=None):
    """Axis `d` in 0..n-1 (negative counts from the end); n defaults to x.ndim (a 0-d tensor takes 0 and -1)."""
    return checks.axis(op, d, x.ndim if n is None else n, x.shape)


def unsqueeze(x, dim):
    """x with a new axis of length 1 inserted at `dim`, in [-ndim - 1, ndim] (as torch.unsqueeze)."""
    d = _dim("unsqueeze", x, dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:], op="unsqueeze")


def squeeze(x, dim=None):
    """x without its axes of length 1: all of them (dim=None), or those among `dim` (an int or a tuple);
    a named axis whose length is not 1 stays, as in PyTorch."""
    dims = range(x.ndim) if dim is None else dim if isinstance(dim, (tuple, list)) else (dim,)
    drop = {_dim("squeeze", x, d) for d in dims}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in drop and n == 1)), op="squeeze")


def t(x):
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (PyTorch's Tensor.t)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape {x.shape}; "
                         "use transpose(dim0, dim1) or permute(*dims)")
    return Transpose.apply(x, axes=tuple(reversed(range(x.ndim))))


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
    """x with axes start_axis..end_axis merged into one."""
    start, end = _dim("flatten", x, start_axis), _dim("flatten", x, end_axis)
    if start > end:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for shape {x.shape}")
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


def _tensors(op, tensors):
    """The sequence as a list of Tensors; ValueError when empty, TypeError for anything else."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: item {i} is a {type(x).__name__}, not a Tensor")
    return tensors


def _axis_or_dim(op, axis, dim, default):
    """NumPy's `axis` or PyTorch's `dim` (TypeError when both are given)."""
    if axis is not None and dim is not None:
        raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; give one")
    return default if axis is None and dim is None else axis if dim is None else dim


def concat(tensors, axis=None, *, dim=None):
    """Join tensors along `axis` (default 0; `dim` is PyTorch's name); mixed dtypes are promoted
    (np.result_type, as torch.cat) and each input's gradient comes back in its own dtype."""
    tensors = _tensors("concat", tensors)
    ref = tensors[0].shape
    if not ref:
        raise ValueError("concat: zero-dimensional tensors cannot be joined (stack them instead)")
    axis = _dim("concat", tensors[0], _axis_or_dim("concat", axis, dim, 0))
    for x in tensors[1:]:
        if len(x.shape) != len(ref) or any(a != b for i, (a, b) in enumerate(zip(x.shape, ref)) if i != axis):
            raise ValueError(f"concat: shapes {ref} and {x.shape} differ outside axis {axis}")
    return Concat.apply(*tensors, axis=axis)


cat = concat


def stack(tensors, axis=None, *, dim=None):
    """Join same-shaped tensors along a new axis `axis` (default 0; `dim` is PyTorch's name)."""
    tensors = _tensors("stack", tensors)
    for x in tensors[1:]:
        if x.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors must have one shape, got {tensors[0].shape} and {x.shape}")
    axis = _dim("stack", tensors[0], _axis_or_dim("stack", axis, dim, 0), tensors[0].ndim + 1)
    return concat([reshape(x, x.shape[:axis] + (1,) + x.shape[axis:]) for x in tensors], axis)


_positions = {}  # (device, n) -> arange(n) as int64 on the device


def positions(device, n):
    """arange(n) as an int64 array on `device`: sent from the host once per (device, n), then reused."""
    key = (device, n)
    if key not in _positions:
        with device.activate():
            _positions[key] = device.asarray(np.arange(n, dtype=np.int64))
    return _positions[key]


def take_along_dim(x, indices, dim):
    """y[..., j, ...] = x[..., indices[..., j, ...], ...] along axis `dim` (torch.take_along_dim,
    np.take_along_axis): `indices` is a raw int64 device array with x's number of axes whose other
    axes match x's (or are 1). The positions must be valid (the kernels make them: no range check)."""
    d = _dim("take_along_dim", x, dim)
    index = tuple(indices if a == d else positions(x.device, n).reshape((n,) + (1,) * (x.ndim - 1 - a))
                  for a, n in enumerate(x.shape))
    return TakeAlong.apply(x, index=index)


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
    first, count, arrays, rest, _ = _array_layout("getitem", x, items)
    order, back = _moves(x.ndim, first, count, x.ndim + len(np.broadcast_shapes(*(a.shape for a in arrays))) - count)
    # move the indexed axes to the front (a view), gather there, move the result's axes back
    moved = Transpose.apply(x, axes=order) if first else x
    out = GetItem.apply(moved, basic=(slice(None),) * (count + first) + rest, arrays=arrays)
    return Transpose.apply(out, axes=back) if first else out


def _array_layout(op, x, items):
    """(first, count, index arrays on x's device, the basic items after them, host copies of the arrays)
    for items with index arrays; IndexError unless the arrays are adjacent and preceded only by ':'."""
    items, positions, hosts = _advanced(op, x, items)
    first, count = positions[0], len(positions)
    if positions != list(range(first, first + count)) or any(v != slice(None) for v in items[:first]):
        raise IndexError(f"{op}: index arrays must be adjacent and preceded only by full slices ':' "
                         f"(tensor shape {x.shape})")
    return first, count, tuple(items[first:first + count]), tuple(items[first + count:]), hosts


def _moves(ndim, first, count, out_ndim):
    """(order, back): `order` puts the `count` indexed axes (after `first` sliced ones) in front;
    `back` puts the gathered result's broadcast index axes back after the sliced ones."""
    order = tuple(range(first, first + count)) + tuple(range(first)) + tuple(range(first + count, ndim))
    lead = out_ndim - (ndim - count)  # the axes of the broadcast index shape
    back = tuple(range(lead, lead + first)) + tuple(range(lead)) + tuple(range(lead + first, out_ndim))
    return order, back


def setitem(x, index, value):
    """x[index] = value, in place, with getitem's indices; `value` (a number, a Tensor on x's device,
    or array-like data) broadcasts to x[index]'s shape and is cast to x's dtype.

    Basic indices write through a view (one fill or copy kernel); index arrays and bool masks write
    with a scatter (index_add) and a where kernel, and refuse repeated positions (ValueError: PyTorch
    leaves the winner undefined). As PyTorch, RuntimeError for a leaf that requires grad while grad
    mode is on (use `with gd.no_grad():`); also for a tensor made by ops that recorded a graph (an
    in-place change would corrupt the values its backward saved: gpudl has no version counters)
    and for a value that requires grad (the write is not recorded)."""
    _check_inplace(x, value)
    items = list(index) if isinstance(index, tuple) else [index]
    with x.device.activate():
        if not any(_is_array_index(v) for v in items):
            try:  # a trailing ... keeps an all-integer index a (0-d) view
                view = x.data[tuple(items) + (() if any(v is Ellipsis for v in items) else (Ellipsis,))]
            except IndexError as e:
                raise IndexError(f"setitem: {e} (tensor shape {x.shape})") from None
            _write(x, view, value)
        else:
            _scatter_write(x, items, value)


def _check_inplace(x, value):
    """RuntimeError where an in-place write would break autograd (see setitem)."""
    if x.requires_grad and x.is_leaf and is_grad_enabled():
        raise RuntimeError("setitem: a leaf Variable that requires grad is being used in an in-place operation; "
                           "change a parameter's values inside `with gd.no_grad():`")
    if not x.is_leaf:
        raise RuntimeError("setitem: this tensor is part of an autograd graph (ops that record gradients made "
                           "it); an in-place change would corrupt the values saved for backward: build the "
                           "new values out of place (gd.where, gd.concat) or write into x.detach().clone()")
    if isinstance(value, Tensor):
        if value.device != x.device:
            raise RuntimeError(f"setitem: value is on {value.device} but the tensor is on {x.device}")
        if value.requires_grad and is_grad_enabled():
            raise RuntimeError("setitem: the value requires grad, but an in-place write is not recorded by "
                               "autograd; write value.detach(), or build the result out of place (gd.where)")


def _values(x, value, shape):
    """value on x's device in x's dtype, broadcast to `shape` (a view); ValueError when it does not fit."""
    data = value.data if isinstance(value, Tensor) else x.device.asarray(value)
    if data.dtype != x.dtype:
        data = x.device.kernels.cast(data, x.dtype)
    try:
        return x.device.xp.broadcast_to(data, shape)
    except ValueError:
        raise ValueError(f"setitem: value of shape {tuple(data.shape)} cannot be broadcast to the indexed "
                         f"shape {tuple(shape)}") from None


def _write(x, view, value):
    """Write value into the strided view of x.data: fill for a number, else a copy kernel."""
    k = x.device.kernels
    if isinstance(value, (bool, int, float, np.generic)):
        k.fill(view, value)
    else:
        k.copy(_values(x, value, view.shape), out=view)


def _scatter_write(x, items, value):
    """x[items] = value for items with index arrays: scatter the values and a hit count into zeros
    shaped like the indexed view of x, then where(hit, scattered, view) written back into the view."""
    k = x.device.kernels
    first, count, arrays, rest, hosts = _array_layout("setitem", x, items)
    _check_distinct(x, first, hosts)
    index_shape = np.broadcast_shapes(*(a.shape for a in arrays))
    order, back = _moves(x.ndim, first, count, x.ndim + len(index_shape) - count)
    view = x.data.transpose(order)[(slice(None),) * (count + first) + rest]  # writes reach x.data
    gathered = index_shape + view.shape[count:]
    src = _values(x, value, tuple(gathered[a] for a in back) if first else gathered)
    src = k.copy(src.transpose(np.argsort(back)) if first else src)  # in the moved axes' order
    scattered, hits = k.full(view.shape, 0, x.dtype), k.full(view.shape, 0, x.dtype)
    k.index_add(scattered, arrays, src)
    k.index_add(hits, arrays, k.full((1,) * len(gathered), 1, x.dtype))
    k.copy(k.where(k.greater(hits, 0), scattered, view), out=view)


def _check_distinct(x, first, hosts):
    """ValueError when the index arrays name one position twice."""
    flat = np.ravel_multi_index(np.broadcast_arrays(*hosts), x.shape[first:first + len(hosts)], mode="wrap")
    if np.unique(flat).size != flat.size:
        raise ValueError("setitem: the index names some positions more than once; which value would win is "
                         "undefined (PyTorch too): index each position once")


def _is_array_index(v):
    return isinstance(v, (Tensor, list, np.ndarray)) or hasattr(v, "__cuda_array_interface__")


def _advanced(op, x, items):
    """Items with every index array (bool masks as their nonzero positions, integers as 0-d arrays,
    NumPy's rule next to arrays) checked against its axis and placed on x's device as int64;
    returns (items, positions of the index arrays, their host copies)."""
    out, positions, hosts, axis = [], [], [], 0
    for v in items:
        if v is None or v is Ellipsis:
            raise IndexError(f"{op}: None and ... cannot be combined with index arrays (tensor shape {x.shape})")
        if not _is_array_index(v) and not isinstance(v, (int, np.integer)):
            out.append(v)
            axis += 1
            continue
        host = _host_index(op, x, v)
        if host.dtype != np.bool_ and not np.issubdtype(host.dtype, np.integer):
            raise IndexError(f"{op}: index arrays must be integer or bool, got dtype {host.dtype}")
        if host.dtype == np.bool_:
            if host.shape != x.shape[axis:axis + host.ndim]:
                raise IndexError(f"{op}: bool mask of shape {host.shape} does not match axes {axis}.. of "
                                 f"tensor shape {x.shape}")
            parts = np.nonzero(host)
        else:
            parts = (host,)
        for a in parts:
            if axis >= x.ndim:
                raise IndexError(f"{op}: too many indices for a tensor of shape {x.shape}")
            n = x.shape[axis]
            if a.size and (a.min() < -n or a.max() >= n):
                bad = a.max() if a.max() >= n else a.min()
                raise IndexError(f"{op}: index {bad} is out of bounds for axis {axis} with size {n} "
                                 f"(tensor shape {x.shape})")
            positions.append(len(out))
            hosts.append(np.asarray(a, dtype=np.int64))
            out.append(x.device.asarray(hosts[-1]))
            axis += 1
    return out, positions, hosts


def _host_index(op, x, v):
    """An index's values on the host (for a Tensor on a kernel device, a sync: the profiler counts it)."""
    if isinstance(v, Tensor):
        if v.device != x.device:
            raise RuntimeError(f"{op}: index is on {v.device} but the tensor is on {x.device}")
        return v._host(f"{op} index")
    return np.asarray(backend.to_numpy(v) if hasattr(v, "__cuda_array_interface__") else v)
