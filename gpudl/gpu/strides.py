"""Broadcasting and strided views as the kernels see them: a few dimensions and element strides.

NumPy broadcasting gives every operand a stride per output axis (0 where it is broadcast).
`layout` drops axes of length 1 and merges neighbouring axes that every operand walks
contiguously, so (128, 6, 28, 28) + bias (1, 6, 1, 1) becomes dims (128, 6, 784) with bias
strides (0, 1, 0), and two contiguous operands become one flat axis.  The kernels read the
result from a small int32 device array (`layout_array`), cached per layout, so a training
step that repeats its shapes uploads nothing after its first step:

    layout[0] = ndim,  layout[1 : 1+ndim] = dims,  then ndim strides per operand, in order.
"""
import numpy as np

MAX_DIMS = 8
_arrays = {}


def element_strides(a):
    """Strides of a raw array in elements (NumPy and CuPy give bytes)."""
    return tuple(s // a.itemsize for s in a.strides)


def broadcast_strides(shape, a_shape, a_strides):
    """a's element strides for the output `shape`: 0 on the axes broadcasting adds or stretches."""
    extra = len(shape) - len(a_shape)
    return tuple(0 if i < extra or a_shape[i - extra] == 1 else a_strides[i - extra] for i in range(len(shape)))


def layout(shape, strides_list):
    """(dims, [strides per operand]) with unit axes dropped and mergeable neighbours merged."""
    keep = [i for i, n in enumerate(shape) if n != 1]
    dims = [shape[i] for i in keep]
    strides = [[s[i] for i in keep] for s in strides_list]
    k = len(dims) - 1
    while k > 0:  # merge axis k-1 into axis k when every operand steps through both as one
        if all(s[k - 1] == s[k] * dims[k] for s in strides):
            dims[k] *= dims[k - 1]
            del dims[k - 1]
            for s in strides:
                del s[k - 1]
        k -= 1
    if not dims:
        dims, strides = [1], [[0] for _ in strides_list]
    return tuple(dims), [tuple(s) for s in strides]


def layout_array(device, kernel, dims, strides_list):
    """The int32 device array describing (dims, strides) for the kernels, cached per layout."""
    if len(dims) > MAX_DIMS:
        raise ValueError(f"{kernel}: {len(dims)} dimensions after merging; the kernels take at most {MAX_DIMS}")
    key = (device, dims, tuple(strides_list))
    arr = _arrays.get(key)
    if arr is None:
        host = np.array((len(dims),) + tuple(dims) + sum((tuple(s) for s in strides_list), ()), dtype=np.int32)
        arr = _arrays[key] = device.asarray(host)
    return arr

