"""Reductions (sum with scale / out=, max, min, var, argmax) vs float64 NumPy references on odd
shapes, strided and broadcast views, the two-pass split; emu in both thread orders and cpu."""
import itertools
import warnings

import numpy as np
import pytest

import gpudl
from kernel_refs import host, impl, put, thread_orders

FLOAT_TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
REFS = {"sum": np.sum, "max": np.max, "min": np.min, "var": np.var}


def _run(dev, fn, x, *args, **kw):
    """[result under each thread order] of impl(dev).fn(dev, x, ...), as host arrays."""
    results = []
    for order in thread_orders(dev):
        with order():
            results.append(host(getattr(impl(dev), fn)(dev, x, *args, **kw)))
    return results


def _expect(results, expected, dtype, size_ref):
    """Each result has the expected shape and dtype and is close (float) or equal (int)."""
    expected = np.asarray(expected)
    for r in results:
        assert r.shape == expected.shape and r.dtype == dtype, (r.shape, expected.shape, r.dtype, dtype)
        if np.dtype(dtype).kind == "f":
            tol = FLOAT_TOL[np.dtype(dtype)]
            np.testing.assert_allclose(r, expected, rtol=tol * 10, atol=tol * (size_ref + 1))
        else:
            np.testing.assert_array_equal(r, expected)


def _reference(fn, x64, axes, keepdims):
    return REFS[fn](x64, axis=axes, keepdims=keepdims)


def _check(dev, fn, host_x, axes, keepdims=False, view=None):
    """fn over axes of x (or of view(x) built on the device) against float64 NumPy."""
    xd = put(dev, host_x)
    xv, hv = (xd, host_x) if view is None else (view(dev, xd), view(gpudl.device("cpu"), host_x))
    expected = _reference(fn, hv.astype(np.float64), axes, keepdims)
    size_ref = float(np.abs(hv).sum(axis=axes).max()) if hv.size else 0.0
    _expect(_run(dev, fn, xv, axes, keepdims=keepdims), expected, host_x.dtype, size_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", ["sum", "max", "min", "var"])
def test_every_axes_combination(device, fn, dtype, rng):
    dev = gpudl.device(device)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    for k in range(4):
        for axes in itertools.combinations(range(3), k):
            for keepdims in (False, True):
                _check(dev, fn, x, axes, keepdims)


CASES = [((1,), (0,)), ((), ()), ((1000, 3), (0,)), ((3, 100000), (1,)), ((1, 5000), (1,)), ((1, 5000), (0, 1)),
         ((257, 7), (1,)), ((7, 257), (0,)), ((40, 300), (0,)), ((2, 3, 1, 7), (1, 2)), ((33, 1), (0,))]


@pytest.mark.parametrize("fn", ["sum", "max", "min", "var"])
@pytest.mark.parametrize("shape,axes", CASES, ids=lambda c: str(c).replace(" ", ""))
def test_shapes(device, fn, shape, axes, rng):
    """Scalars, unit axes, short rows, column mode and the two-pass split ((3, 100000), (1, 5000))."""
    _check(gpudl.device(device), fn, rng.standard_normal(shape).astype(np.float32), axes)


VIEWS = {
    "transposed": ((4, 6, 5), lambda dev, a: a.transpose(2, 0, 1), [(0,), (1, 2), (0, 2), (0, 1, 2)]),
    "reversed slice": ((9, 11, 4), lambda dev, a: a[::-2, 1:, ::3], [(0,), (1,), (0, 2), (2,)]),
    "broadcast": ((3, 1, 5), lambda dev, a: dev.xp.broadcast_to(a, (2, 3, 700, 5)), [(0, 2), (2,), (0, 1, 2, 3)]),
    "column of a matrix": ((300, 40), lambda dev, a: a[:, 7], [(0,)]),
}


@pytest.mark.parametrize("fn", ["sum", "max", "var"])
@pytest.mark.parametrize("name", VIEWS)
def test_strided_and_broadcast_views(device, fn, name, rng):
    shape, view, axes_list = VIEWS[name]
    x = rng.standard_normal(shape).astype(np.float32)
    for axes in axes_list:
        _check(gpudl.device(device), fn, x, axes, keepdims=bool(len(axes) % 2), view=view)


@pytest.mark.parametrize("shape,axes", [((7, 9), (0,)), ((3, 100000), (1,)), ((5, 6), ()), ((4, 3), (0, 1))])
def test_sum_scale_and_out(device, shape, axes, rng):
    """sum(scale=1/n) is the mean; out= is written in place and returned, keepdims shape included."""
    dev = gpudl.device(device)
    x = rng.standard_normal(shape)
    n = int(np.prod([shape[a] for a in axes]))
    for dtype in (np.float32, np.float64):
        xd = put(dev, x, dtype)
        for keepdims in (False, True):
            expected = x.astype(dtype).astype(np.float64).mean(axis=axes, keepdims=keepdims)
            _expect(_run(dev, "sum", xd, axes, keepdims=keepdims, scale=1 / n), expected, dtype, 1.0)
            out = dev.asarray(np.full(expected.shape, 7, dtype))
            for order in thread_orders(dev):
                with order():
                    assert impl(dev).sum(dev, xd, axes, keepdims=keepdims, scale=-2.0, out=out) is out
                _expect([host(out)], -2 * n * expected, dtype, 2.0 * n)


def test_bool_and_integer_sums_are_exact(device, rng):
    dev = gpudl.device(device)
    mask = rng.random((37, 1000)) > 0.3
    _expect(_run(dev, "sum", put(dev, mask), (1,)), mask.sum(axis=1), np.int64, 0)
    _expect(_run(dev, "sum", put(dev, mask), (0, 1)), mask.sum(), np.int64, 0)
    _expect(_run(dev, "sum", put(dev, mask), (0, 1), scale=1 / mask.size), mask.mean(), np.float64, 1.0)
    big = rng.integers(-2 ** 52, 2 ** 52, size=(3, 5000), dtype=np.int64)  # float64 would round these sums
    exact = np.array([sum(int(v) for v in row) for row in big], dtype=np.int64)
    _expect(_run(dev, "sum", put(dev, big), (1,)), exact, np.int64, 0)
    _expect(_run(dev, "sum", put(dev, big.T), (0,)), exact, np.int64, 0)
    for r in _run(dev, "sum", put(dev, big), (1,), scale=0.5):  # the exact int64 total, then scaled to float64
        assert r.dtype == np.float64
        np.testing.assert_array_equal(r, exact.astype(np.float64) * 0.5)
    small = np.full((3, 70000), 2 ** 30, np.int32)  # the int32 total overflows; the int64 one does not
    _expect(_run(dev, "sum", put(dev, small), (1,)), np.full(3, 70000 * 2 ** 30), np.int64, 0)
    _expect(_run(dev, "max", put(dev, big), (0,)), big.max(axis=0), np.int64, 0)
    _expect(_run(dev, "min", put(dev, big), (1,)), big.min(axis=1), np.int64, 0)


def test_empty_reductions(device):
    dev = gpudl.device(device)
    x = put(dev, np.zeros((3, 0, 4), np.float32))
    _expect(_run(dev, "sum", x, (1,)), np.zeros((3, 4)), np.float32, 0)
    _expect(_run(dev, "sum", x, (0, 2)), np.zeros(0), np.float32, 0)
    with pytest.raises(ValueError, match="max.*empty"):
        impl(dev).max(dev, x, (1,))
    with pytest.raises(ValueError, match="argmax.*empty"):
        impl(dev).argmax(dev, x)


@pytest.mark.parametrize("fn", ["max", "min"])
def test_nan_propagates(device, fn, rng):
    dev = gpudl.device(device)
    for shape, where, axes in [((5, 7), (2, 3), (1,)), ((3, 100000), (1, 76543), (1,)), ((40, 300), (17, 5), (0,))]:
        x = rng.standard_normal(shape).astype(np.float32)
        x[where] = np.nan
        expected = REFS[fn](x, axis=axes)
        assert np.isnan(expected).sum() == 1
        _expect(_run(dev, fn, put(dev, x), axes), expected, np.float32, 1.0)


def test_argmax(device, rng):
    dev = gpudl.device(device)
    ties = rng.integers(0, 3, size=(6, 515)).astype(np.float32)  # many ties: the first one wins
    for x in (ties, ties.astype(np.int64), rng.standard_normal((1, 1)), rng.standard_normal(()),
              rng.standard_normal((300, 41))):
        xd = put(dev, x)
        _expect(_run(dev, "argmax", xd), np.argmax(x), np.int64, 0)
        for axis in range(-x.ndim, x.ndim):
            _expect(_run(dev, "argmax", xd, axis), np.argmax(x, axis=axis), np.int64, 0)
    view = put(dev, ties)[::-1].T  # transposed, reversed
    _expect(_run(dev, "argmax", view, 1), np.argmax(ties[::-1].T, axis=1), np.int64, 0)
    _expect(_run(dev, "argmax", view), np.argmax(ties[::-1].T), np.int64, 0)
    nans = ties.copy()
    nans[2, [9, 4, 300]] = np.nan
    _expect(_run(dev, "argmax", put(dev, nans), 1), np.argmax(nans, axis=1), np.int64, 0)
    assert np.argmax(nans, axis=1)[2] == 4
    inf = np.full((2, 9), -np.inf)
    _expect(_run(dev, "argmax", put(dev, inf), 1), np.zeros(2), np.int64, 0)


def test_two_pass_sum_is_reproducible(kernel_device, rng):
    """Bit-identical across repeats and thread orders: fixed trees, no atomics."""
    dev = gpudl.device(kernel_device)
    x = put(dev, rng.standard_normal((3, 100000)).astype(np.float32))
    for fn in ("sum", "max", "var"):
        results = _run(dev, fn, x, (1,)) + _run(dev, fn, x, (1,))
        for r in results[1:]:
            np.testing.assert_array_equal(r, results[0])


def test_errors(device):
    dev = gpudl.device(device)
    f32 = put(dev, np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="sum.*float16"):
        impl(dev).sum(dev, put(dev, np.zeros(3, np.float16)), (0,))
    with pytest.raises(TypeError, match="max.*bool"):
        impl(dev).max(dev, put(dev, np.zeros(3, bool)), (0,))
    with pytest.raises(TypeError, match="var.*int64"):
        impl(dev).var(dev, put(dev, np.zeros(3, np.int64)), (0,))
    with pytest.raises(TypeError, match="argmax.*bool"):
        impl(dev).argmax(dev, put(dev, np.zeros(3, bool)))
    for axes in [(1, 0), (2,), (-1,), (0, 0)]:
        with pytest.raises(ValueError, match="sum.*axes"):
            impl(dev).sum(dev, f32, axes)
    with pytest.raises(ValueError, match="argmax.*axis 2"):
        impl(dev).argmax(dev, f32, 2)
    with pytest.raises(ValueError, match=r"sum.*\(3,\).*\(2,\)"):
        impl(dev).sum(dev, f32, (1,), out=put(dev, np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="sum.*float64.*float32"):
        impl(dev).sum(dev, f32, (1,), out=put(dev, np.zeros(2, np.float64)))
    with pytest.raises(ValueError, match="sum.*contiguous"):
        impl(dev).sum(dev, f32, (0,), out=put(dev, np.zeros((3, 2), np.float32))[:, 0])


def test_var_ddof(device, rng):
    dev = gpudl.device(device)
    for shape, axes, ddof in [((7, 257), (1,), 1), ((40, 300), (0,), 2), ((5, 1), (1,), 1), ((3, 4), (0, 1), 0.5)]:
        x = rng.standard_normal(shape)
        with warnings.catch_warnings():  # NumPy warns about ddof >= n; the result is NaN there
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.var(x, axis=axes, ddof=ddof)
        _expect(_run(dev, "var", put(dev, x), axes, ddof=ddof), expected, np.float64, 1.0)
