"""take / index_add / concat / pad vs per-element loops (not NumPy's fancy indexing, which the cpu table uses)."""
import itertools

import numpy as np
import pytest

import gpudl
from kernel_refs import host, impl, put, thread_orders

DTYPES = (np.float32, np.float64, np.int64)


def _values(rng, shape, dtype):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-1000, 1000, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=0, atol=0)


def _views(a):
    """a as itself and as non-contiguous views holding the same values (built from bigger arrays)."""
    yield "contiguous", a
    yield "sliced", np.repeat(a, 2, axis=0)[::2]
    yield "transposed", np.ascontiguousarray(a.T).T
    yield "reversed", np.ascontiguousarray(a[::-1])[::-1]


def _positions(index_arrays):
    """(s, leading index tuple) for every position s of the broadcast index arrays."""
    b = np.broadcast_arrays(*index_arrays)
    shape = b[0].shape
    for s in itertools.product(*map(range, shape)):
        yield s, tuple(int(i[s]) for i in b)


def take_ref(x, index_arrays):
    s_shape = np.broadcast_shapes(*(i.shape for i in index_arrays))
    y = np.empty(s_shape + x.shape[len(index_arrays):], x.dtype)
    for s, lead in _positions(index_arrays):
        y[s] = x[lead]
    return y


def index_add_ref(out, index_arrays, src):
    out = out.copy()
    s_shape = np.broadcast_shapes(*(i.shape for i in index_arrays))
    src = np.broadcast_to(src, s_shape + out.shape[len(index_arrays):])
    for s, lead in _positions(index_arrays):
        out[lead] = out[lead] + src[s]
    return out


def _ints(rng, low, high, shape):
    return rng.integers(low, high, size=shape, dtype=np.int64)


# (x shape, index arrays as functions of rng): one, several, broadcast, repeated and negative indices
TAKE_CASES = {
    "one_axis_repeats": ((3, 4, 5), lambda r: (np.array([0, 2, -1, 0, 0, -3]),)),
    "batch1": ((1, 7), lambda r: (np.array([0, -1, 0]),)),
    "rows_labels": ((257, 10), lambda r: (np.arange(257), _ints(r, -10, 10, 257))),
    "broadcast": ((6, 7, 3), lambda r: (_ints(r, -6, 6, (4, 1)), _ints(r, -7, 7, (1, 5)))),
    "three_axes": ((3, 4, 5), lambda r: (_ints(r, 0, 3, (2, 3)), _ints(r, -4, 4, (3,)), _ints(r, 0, 5, (2, 1)))),
    "empty_index": ((5, 3), lambda r: (np.zeros(0, np.int64),)),
    "scalar_index": ((5, 3), lambda r: (np.array(-2),)),
    "long": ((1000, 3), lambda r: (_ints(r, -1000, 1000, 1100),)),
    "vector": ((7,), lambda r: (_ints(r, -7, 7, (3, 4)),)),
}


@pytest.mark.parametrize("case", list(TAKE_CASES))
def test_take_matches_loop(device, case, rng):
    dev = gpudl.device(device)
    shape, make = TAKE_CASES[case]
    index_arrays = make(rng)
    for dtype in DTYPES:
        x = _values(rng, shape, dtype)
        expected = take_ref(x, index_arrays)
        for view, xv in _views(x) if x.ndim > 1 else [("contiguous", x)]:
            for order in thread_orders(dev):
                with order():
                    y = impl(dev).take(dev, put(dev, xv), tuple(put(dev, i) for i in index_arrays))
                msg = f"{case} {np.dtype(dtype)} {view}"
                assert y.dtype == dtype and y.shape == expected.shape, msg
                np.testing.assert_array_equal(host(y), expected, err_msg=msg)


def test_take_strided_and_int32_indices(device, rng):
    dev = gpudl.device(device)
    x = _values(rng, (9, 4, 5), np.float32)
    rows = _ints(rng, -9, 9, (8, 6))
    labels = _ints(rng, 0, 4, 8).astype(np.int32)
    indices = (rows.T[::2], labels[::-1])
    for order in thread_orders(dev):
        with order():
            y = impl(dev).take(dev, put(dev, x), tuple(put(dev, i) for i in indices))
        np.testing.assert_array_equal(host(y), take_ref(x, indices))


INDEX_ADD_CASES = {
    "repeats": ((3, 4, 5), lambda r: (np.array([0, 2, -1, 0, 0, -3, 2]),)),
    "batch1": ((1, 7), lambda r: (np.array([0, -1, 0]),)),
    "rows_labels": ((257, 10), lambda r: (_ints(r, 0, 257, 300), _ints(r, -10, 10, 300))),
    "broadcast": ((6, 7, 3), lambda r: (_ints(r, -6, 6, (4, 1)), _ints(r, 0, 2, (1, 5)))),
    "empty_index": ((5, 3), lambda r: (np.zeros(0, np.int64),)),
    "long": ((40, 3), lambda r: (_ints(r, -40, 40, 1100),)),
    "vector": ((7,), lambda r: (_ints(r, -7, 7, (3, 4)),)),
}


def _src_views(src):
    yield "contiguous", src
    if src.ndim > 1:
        yield "transposed", np.ascontiguousarray(src.T).T
    if src.size:
        yield "broadcast", np.broadcast_to(src[:1], src.shape)


@pytest.mark.parametrize("case", list(INDEX_ADD_CASES))
def test_index_add_matches_loop(device, case, rng):
    dev = gpudl.device(device)
    shape, make = INDEX_ADD_CASES[case]
    index_arrays = make(rng)
    s_shape = np.broadcast_shapes(*(i.shape for i in index_arrays))
    for dtype in DTYPES:
        out0 = _values(rng, shape, dtype)
        src = _values(rng, s_shape + shape[len(index_arrays):], dtype)
        for view, sv in _src_views(src):
            expected = index_add_ref(out0, index_arrays, sv)
            for order in thread_orders(dev):
                out = put(dev, out0.copy())
                with order():
                    result = impl(dev).index_add(dev, out, tuple(put(dev, i) for i in index_arrays), put(dev, sv))
                msg = f"{case} {np.dtype(dtype)} {view}"
                assert result is out, msg
                np.testing.assert_allclose(host(out), expected, **_tol(dtype), err_msg=msg)


def test_index_add_int32_and_strided_indices(device, rng):
    dev = gpudl.device(device)
    out0 = _values(rng, (8, 3), np.float64)
    idx = _ints(rng, -8, 8, (10, 3)).astype(np.int32)[:, 1]
    src = _values(rng, (10, 3), np.float64)
    for order in thread_orders(dev):
        out = put(dev, out0.copy())
        with order():
            impl(dev).index_add(dev, out, (put(dev, idx),), put(dev, src))
        np.testing.assert_allclose(host(out), index_add_ref(out0, (idx,), src), rtol=1e-12)


def test_index_add_is_reproducible(kernel_device, rng):
    """Many repeats of few rows, no atomics: both thread orders and reruns agree bit for bit."""
    dev = gpudl.device(kernel_device)
    idx = put(dev, _ints(rng, 0, 3, 500))
    src = put(dev, _values(rng, (500, 7), np.float32))
    results = []
    for order in thread_orders(dev) * 2:
        out = put(dev, np.zeros((3, 7), np.float32))
        with order():
            impl(dev).index_add(dev, out, (idx,), src)
        results.append(host(out))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_out_of_range_indices_stay_in_bounds(kernel_device):
    """Kernels write 0 (take) and skip (index_add) where an index is out of range."""
    dev = gpudl.device(kernel_device)
    x = np.arange(1, 13, dtype=np.float64).reshape(4, 3)
    idx = np.array([1, 4, -5, 100, -1])
    y = host(impl(dev).take(dev, put(dev, x), (put(dev, idx),)))
    np.testing.assert_array_equal(y, [x[1], [0, 0, 0], [0, 0, 0], [0, 0, 0], x[-1]])
    cols = np.array([0, 3, 2, 2, -4])
    y = host(impl(dev).take(dev, put(dev, x), (put(dev, idx), put(dev, cols))))
    np.testing.assert_array_equal(y, [x[1, 0], 0, 0, 0, 0])
    out = put(dev, np.zeros((4, 3)))
    impl(dev).index_add(dev, out, (put(dev, idx),), put(dev, np.ones((5, 3))))
    np.testing.assert_array_equal(host(out), [[0] * 3, [1] * 3, [0] * 3, [1] * 3])


def test_cpu_rejects_out_of_range_indices():
    dev = gpudl.device("cpu")
    with pytest.raises(IndexError):
        impl(dev).take(dev, np.zeros((4, 3)), (np.array([4]),))


def test_take_returns_a_new_array(device):
    dev = gpudl.device(device)
    x = put(dev, np.arange(6.0).reshape(2, 3))
    y = impl(dev).take(dev, x, (put(dev, np.array(1)),))
    y[0] = 42.0
    np.testing.assert_array_equal(host(x), np.arange(6.0).reshape(2, 3))


def test_index_errors(device):
    dev = gpudl.device(device)
    ops = impl(dev)
    x, idx = put(dev, np.zeros((4, 3), np.float32)), put(dev, np.array([0, 1]))
    with pytest.raises(TypeError, match="take.*int32"):
        ops.take(dev, put(dev, np.zeros((4, 3), np.int32)), (idx,))
    with pytest.raises(TypeError, match="take.*float64"):
        ops.take(dev, x, (put(dev, np.zeros(2)),))
    with pytest.raises(TypeError, match="take.*tuple"):
        ops.take(dev, x, idx)
    with pytest.raises(ValueError, match=r"take.*\(2,\).*\(3,\)"):
        ops.take(dev, x, (idx, put(dev, np.array([0, 1, 2]))))
    with pytest.raises(ValueError, match=r"take.*3 index arrays.*\(4, 3\)"):
        ops.take(dev, x, (idx, idx, idx))
    with pytest.raises(ValueError, match=r"index_add.*\(3, 3\).*\(2, 3\)"):
        ops.index_add(dev, x, (idx,), put(dev, np.zeros((3, 3), np.float32)))
    with pytest.raises(TypeError, match="index_add.*float64"):
        ops.index_add(dev, x, (idx,), put(dev, np.zeros((2, 3))))
    with pytest.raises(TypeError, match="index_add.*bool"):
        ops.index_add(dev, put(dev, np.zeros((4, 3), bool)), (idx,), put(dev, np.zeros((2, 3), bool)))
    with pytest.raises(ValueError, match="index_add.*contiguous"):
        ops.index_add(dev, put(dev, np.zeros((3, 4), np.float32)).T, (idx,), put(dev, np.zeros((2, 3), np.float32)))


# ---------------------------------------------------------------- concat and pad

CONCAT_CASES = [([(2, 3), (5, 3), (1, 3)], 0), ([(4, 1), (4, 7), (4, 0), (4, 257)], 1),
                ([(2, 3, 4), (2, 1, 4)], -2), ([(1, 2, 5), (1, 2, 3)], 2), ([(7,)], 0), ([(3,), (1000,)], 0)]


def _concat_ref(arrays, axis):
    axis %= arrays[0].ndim
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    y = np.empty(shape, arrays[0].dtype)
    begin = 0
    for a in arrays:
        for pos in itertools.product(*map(range, a.shape)):
            target = list(pos)
            target[axis] += begin
            y[tuple(target)] = a[pos]
        begin += a.shape[axis]
    return y


@pytest.mark.parametrize("shapes,axis", CONCAT_CASES, ids=str)
def test_concat_matches_loop(device, shapes, axis, rng):
    dev = gpudl.device(device)
    for dtype in DTYPES:
        arrays = [_values(rng, s, dtype) for s in shapes]
        expected = _concat_ref(arrays, axis)
        strided = [dict(_views(a))["transposed"] if a.ndim > 1 else a[::-1].copy()[::-1] for a in arrays]
        for inputs in (arrays, strided):
            for order in thread_orders(dev):
                with order():
                    y = impl(dev).concat(dev, [put(dev, a) for a in inputs], axis)
                assert y.dtype == dtype
                np.testing.assert_array_equal(host(y), expected, err_msg=f"{np.dtype(dtype)}")


PAD_CASES = [((3, 4), ((1, 2), (0, 3))), ((1, 2, 5, 5), ((0, 0), (0, 0), (1, 1), (2, 0))), ((7,), ((0, 0),)),
             ((257,), ((3, 0),)), ((2, 0, 3), ((1, 0), (2, 1), (0, 0)))]


def _pad_ref(x, widths, value):
    y = np.full(tuple(n + b + e for n, (b, e) in zip(x.shape, widths)), value, x.dtype)
    for pos in itertools.product(*map(range, x.shape)):
        y[tuple(p + b for p, (b, _) in zip(pos, widths))] = x[pos]
    return y


@pytest.mark.parametrize("shape,widths", PAD_CASES, ids=str)
def test_pad_matches_loop(device, shape, widths, rng):
    dev = gpudl.device(device)
    for dtype, value in zip(DTYPES, (-1.5, 0.25, 7)):
        x = _values(rng, shape, dtype)
        expected = _pad_ref(x, widths, value)
        for view, xv in _views(x) if x.ndim > 1 else [("contiguous", x), ("reversed", x[::-1].copy()[::-1])]:
            for order in thread_orders(dev):
                with order():
                    y = impl(dev).pad(dev, put(dev, xv), widths, value)
                assert y.dtype == dtype
                np.testing.assert_array_equal(host(y), expected, err_msg=f"{np.dtype(dtype)} {view}")


def test_concat_pad_errors(device):
    dev = gpudl.device(device)
    ops = impl(dev)
    a, b = put(dev, np.zeros((2, 3), np.float32)), put(dev, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"concat.*\(2, 3\).*\(2, 4\)"):
        ops.concat(dev, [a, b], 0)
    with pytest.raises(ValueError, match="concat.*axis 2"):
        ops.concat(dev, [a, a], 2)
    with pytest.raises(TypeError, match="concat.*float64"):
        ops.concat(dev, [a, put(dev, np.zeros((2, 3)))], 0)
    with pytest.raises(TypeError, match="pad.*int32"):
        ops.pad(dev, put(dev, np.zeros(3, np.int32)), ((1, 1),), 0)
    with pytest.raises(ValueError, match=r"pad.*\(2, 3\)"):
        ops.pad(dev, a, ((1, 1),), 0.0)
    with pytest.raises(ValueError, match="pad.*-1"):
        ops.pad(dev, a, ((1, 1), (0, -1)), 0.0)
