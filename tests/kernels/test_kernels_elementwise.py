"""Elementwise family vs NumPy: broadcasting, strided views, scalars, dtypes, out=, errors, launch paths."""
import numpy as np
import pytest

import gpudl
from gpudl import profiler
from kernel_refs import host, impl, put, thread_orders

ARITH = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "pow": np.power,
         "maximum": np.maximum, "minimum": np.minimum}
COMPARE = {"less": np.less, "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal,
           "equal": np.equal, "not_equal": np.not_equal}
BINARY = {**ARITH, **COMPARE}
UNARY = {"neg": np.negative, "exp": np.exp, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "abs": np.absolute,
         "sign": np.sign, "tanh": np.tanh}
FLOAT_ONLY = {"pow", "exp", "log", "log1p", "sqrt", "tanh"}
PAIRS = [((), ()), ((1,), (1,)), ((7,), (7,)), ((257,), (257,)), ((1000,), (1000,)), ((3, 1), (1, 5)),
         ((2, 3, 4), (4,)), ((3, 6, 5, 7), (1, 6, 1, 1)), ((), (7,)), ((1, 5), (3, 1, 1))]
DTYPES = (np.float32, np.float64, np.int64)
DTYPES_ALL = (np.float32, np.float64, np.int32, np.int64, np.bool_)


def ids(pair):
    return "+".join("x".join(map(str, s)) or "0d" for s in pair)


def tol(dtype):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-5, atol=1e-6)
    return dict(rtol=1e-12, atol=1e-14) if np.dtype(dtype) == np.float64 else dict(rtol=0, atol=0)


def check(got, expected, dtype=None):
    """got has expected's dtype, shape and values (NaNs in the same places)."""
    expected = np.asarray(expected)
    got = host(got)
    assert isinstance(got, np.ndarray)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, **tol(dtype or expected.dtype))


def operands(rng, op, shape, dtype):
    """Data fit for op: integer-valued (so comparisons meet ties), positive bases for pow,
    nonzero divisors."""
    v = np.asarray(rng.integers(-6, 7, size=shape), dtype=np.float64)
    if op in ("pow", "log", "sqrt"):
        v = np.abs(v) + 1
    if op == "log1p":
        v = np.abs(v)
    if np.dtype(dtype).kind == "f":
        v = v + rng.uniform(0.1, 0.4, size=shape) * (rng.random(shape) < 0.7)
    return np.asarray(v, dtype=dtype)


def divisor(rng, shape, dtype):
    v = rng.integers(1, 7, size=shape) * rng.choice([-1, 1], size=shape)
    return np.asarray(v, dtype=dtype)


def run(dev, fn, *args, **kwargs):
    """fn's result under each thread order (emu) or once (cpu, cuda), as host arrays."""
    results = []
    for order in thread_orders(dev):
        with order():
            results.append(host(fn(dev, *args, **kwargs)))
    return results


def allowed(op, dtype):
    return op not in FLOAT_ONLY or np.dtype(dtype).kind == "f"


# ---------------------------------------------------------------- binary ops


@pytest.mark.parametrize("shapes", PAIRS, ids=ids)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_matches_numpy(device, op, shapes, rng):
    dev = gpudl.device(device)
    for dtype in DTYPES:
        if not allowed(op, dtype):
            continue
        a = operands(rng, op, shapes[0], dtype)
        b = divisor(rng, shapes[1], dtype) if op == "div" else operands(rng, op, shapes[1], dtype)
        if op == "pow":
            b = rng.uniform(-2, 3, size=shapes[1]).astype(dtype)
        expected = BINARY[op](a, b, out=...)
        for got in run(dev, getattr(impl(dev), op), put(dev, a), put(dev, b)):
            check(got, expected, dtype)


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_on_strided_views(device, op, rng):
    """Transposed, step-sliced and reversed views, alone and against broadcast rows."""
    dev = gpudl.device(device)
    for dtype in (np.float32, np.int64):
        if not allowed(op, dtype):
            continue
        base_a = operands(rng, op, (9, 14), dtype)
        base_b = divisor(rng, (14, 9), dtype) if op in ("div", "pow") else operands(rng, op, (14, 9), dtype)
        da, db = put(dev, base_a), put(dev, base_b)
        cases = [(da.T, db), (da[::2, ::2], db[:10:2, :7]), (da[:, ::-1], db.T[:, ::-1]),
                 (da.T[:, 1:8], db[0, :7]), (da[3], db[::-1, 0].reshape(14, 1))]
        for x, y in cases:
            expected = BINARY[op](host(x), host(y), out=...)
            for got in run(dev, getattr(impl(dev), op), x, y):
                check(got, expected, dtype)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # (-1.5) ** 0.3 is NaN on every device
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_python_scalars_on_either_side(device, op, rng):
    """Weak Python scalars: float32 stays float32; int arrays with a float scalar go float64."""
    dev = gpudl.device(device)
    fn = getattr(impl(dev), op)
    for dtype, scalar in ((np.float32, 2.5), (np.float64, -1.5), (np.int64, 3), (np.int32, 2), (np.int64, 2.5),
                          (np.float32, True)):
        if not allowed(op, np.result_type(np.dtype(dtype), scalar)):
            continue
        x = operands(rng, "pow" if op == "pow" else op, (5, 6), dtype)
        for take in (lambda v: v, lambda v: v.T, lambda v: v[:, ::-2]):
            view, view_d = take(x), take(put(dev, x))
            cases = [(view_d, scalar, BINARY[op](view, scalar, out=...))]
            if op not in ("div", "pow") or np.all(view != 0):
                cases.append((scalar, view_d, BINARY[op](scalar, view, out=...)))
            for left, right, expected in cases:
                for got in run(dev, fn, left, right):
                    check(got, expected)


def test_binary_with_a_0d_array_and_a_scalar(device):
    dev = gpudl.device(device)
    got = impl(dev).mul(dev, put(dev, np.float32(3.0)), 2)
    check(got, np.array(6.0, np.float32))


def test_mixed_dtypes_follow_numpy_promotion(device, rng):
    dev = gpudl.device(device)
    table = impl(dev)
    cases = [(np.float32, np.float64), (np.int32, np.int64), (np.int32, np.float32), (np.int64, np.float32),
             (np.bool_, np.int64), (np.bool_, np.float32)]
    for da, db in cases:
        a = operands(rng, "add", (4, 5), da) if da != np.bool_ else rng.random((4, 5)) < 0.5
        b = divisor(rng, (5,), db)
        for op in ("add", "mul", "div", "maximum", "less", "equal"):
            expected = BINARY[op](a, b, out=...)
            for got in run(dev, getattr(table, op), put(dev, a), put(dev, b)):
                check(got, expected)
    ints = np.arange(-3, 4, dtype=np.int64)
    for got in run(dev, table.div, put(dev, ints), put(dev, np.full(7, 2, np.int64))):
        check(got, ints / 2)


def test_bool_equality(device, rng):
    dev = gpudl.device(device)
    a, b = rng.random((3, 4)) < 0.5, rng.random((4,)) < 0.5
    for op in ("equal", "not_equal"):
        for got in run(dev, getattr(impl(dev), op), put(dev, a), put(dev, b)):
            check(got, COMPARE[op](a, b))
        for got in run(dev, getattr(impl(dev), op), put(dev, a), True):
            check(got, COMPARE[op](a, True))


def test_integer_arithmetic_wraps_like_c(device):
    dev = gpudl.device(device)
    t = impl(dev)
    for dtype in (np.int32, np.int64):
        info = np.iinfo(dtype)
        a = np.array([info.max, info.min, info.max // 3 + 7, -5], dtype)
        b = np.array([1, -1, 5, info.min], dtype)
        with np.errstate(over="ignore"):
            for op in ("add", "sub", "mul"):
                for got in run(dev, getattr(t, op), put(dev, a), put(dev, b)):
                    check(got, BINARY[op](a, b))
            for op in ("neg", "abs"):
                for got in run(dev, getattr(t, op), put(dev, a)):
                    check(got, UNARY[op](a))


def test_nan_semantics(device):
    dev = gpudl.device(device)
    t = impl(dev)
    nan = np.float32(np.nan)
    a = np.array([nan, 1, nan, -2, 0, 3], np.float32)
    b = np.array([1, nan, nan, -2, -0.0, np.inf], np.float32)
    for op in ("maximum", "minimum", "less", "greater_equal", "equal", "not_equal"):
        for got in run(dev, getattr(t, op), put(dev, a), put(dev, b)):
            check(got, BINARY[op](a, b))
    x = np.array([nan, -0.0, 0.0, -3, 2], np.float32)
    for op in ("sign", "abs", "neg"):
        expected = UNARY[op](x)
        for got in run(dev, getattr(t, op), put(dev, x)):
            check(got, expected)
            np.testing.assert_array_equal(np.signbit(got[1:]), np.signbit(expected[1:]))   # signed zeros too


# ---------------------------------------------------------------- float4 path and launch counts


def kernels_launched(dev, fn, *args):
    with profiler.profile() as prof:
        result = fn(dev, *args)
    return prof.by_kernel(), host(result)


def test_float4_path_for_aligned_float32_and_plain_path_otherwise(kernel_device, rng):
    dev = gpudl.device(kernel_device)
    t = impl(dev)
    base = rng.standard_normal(1001).astype(np.float32)
    other = rng.standard_normal(1001).astype(np.float32)
    x, y = put(dev, base), put(dev, other)
    aligned, unaligned = (x[:1000], y[:1000]), (x[1:], y[1:])   # x[1:] starts 4 bytes in
    for op in ("add", "mul", "div", "maximum"):
        launched, got = kernels_launched(dev, getattr(t, op), *aligned)
        assert launched == {"binary_vec4": 1}, launched
        check(got, ARITH[op](base[:1000], other[:1000]))
        launched, got = kernels_launched(dev, getattr(t, op), *unaligned)
        assert launched == {"binary_f32": 1}, launched
        check(got, ARITH[op](base[1:], other[1:]))
        for left, right in ((aligned[0], 1.5), (1.5, aligned[0])):
            launched, got = kernels_launched(dev, getattr(t, op), left, right)
            assert launched == {"binary_vec4": 1}, launched
            check(got, ARITH[op](*(v if isinstance(v, float) else host(v) for v in (left, right))))
    launched, _ = kernels_launched(dev, t.add, x[:7], y[:7])   # n % 4 != 0
    assert launched == {"binary_f32": 1}


def test_one_launch_per_call_and_one_cast_per_mixed_operand(kernel_device, rng):
    dev = gpudl.device(kernel_device)
    t = impl(dev)
    a = put(dev, rng.standard_normal((3, 6, 5, 7)).astype(np.float64))
    b = put(dev, rng.standard_normal((1, 6, 1, 1)).astype(np.float64))
    assert kernels_launched(dev, t.add, a, b)[0] == {"binary_f64": 1}
    assert kernels_launched(dev, t.less, a.transpose(0, 2, 1, 3), 0.5)[0] == {"compare_f64": 1}
    assert kernels_launched(dev, t.exp, a[:, ::2])[0] == {"unary_f64": 1}
    assert kernels_launched(dev, t.add, a, put(dev, np.ones(7, np.float32)))[0] == {"cast_f64": 1, "binary_f64": 1}


def test_contiguous_calls_upload_no_layout(kernel_device, rng):
    from gpudl.gpu import strides
    dev = gpudl.device(kernel_device)
    t = impl(dev)
    a, b = (put(dev, rng.standard_normal((5, 13))) for _ in range(2))
    t.add(dev, a, b)   # the flat layout exists from here on
    before = dict(strides._arrays)
    for fn in (t.add, t.less, t.where):
        fn(dev, *((put(dev, np.ones((5, 13), bool)), a, b) if fn is t.where else (a, b)))
    t.exp(dev, a), t.copy(dev, a), t.cast(dev, a, np.float32), t.fill(dev, a, 1.0), t.add(dev, a, 2.0)
    assert strides._arrays == before
    t.add(dev, a.T, b.T)
    n = len(strides._arrays)
    t.add(dev, a.T, b.T)   # the same strided layout again: cached, no second upload
    assert len(strides._arrays) == n


# ---------------------------------------------------------------- out=


def test_out_may_alias_an_input(device, rng):
    dev = gpudl.device(device)
    t = impl(dev)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    b = rng.standard_normal((6,)).astype(np.float32)
    for order in thread_orders(dev):
        da, db = put(dev, a.copy()), put(dev, b)
        with order():
            got = t.add(dev, da, db, out=da)
            assert got is da
            t.mul(dev, da, 0.5, out=da)
            t.exp(dev, da, out=da)
            t.where(dev, put(dev, a > 0), da, 0.0, out=da)
        expected = np.exp((a + b) * np.float32(0.5))
        check(da, np.where(a > 0, expected, np.float32(0)))


def test_out_may_be_a_strided_view(device, rng):
    dev = gpudl.device(device)
    t = impl(dev)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    for order in thread_orders(dev):
        big = put(dev, np.zeros((5, 3, 2)))
        view = big[:, :, 1].T          # (3, 5), strides (2, 6) elements
        with order():
            t.sub(dev, put(dev, a), put(dev, b), out=view)
        expected = np.zeros((5, 3, 2))
        expected[:, :, 1] = (a - b).T
        check(big, expected)


def test_out_must_have_the_result_shape_and_dtype(device):
    dev = gpudl.device(device)
    t = impl(dev)
    a = put(dev, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="add.*float64"):
        t.add(dev, a, a, out=put(dev, np.ones((2, 3))))
    with pytest.raises(TypeError, match="less.*bool"):
        t.less(dev, a, a, out=put(dev, np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"add.*\(3, 2\).*\(2, 3\)"):
        t.add(dev, a, 1.0, out=put(dev, np.ones((3, 2), np.float32)))
    with pytest.raises(ValueError, match="exp"):
        t.exp(dev, a, out=put(dev, np.ones((6,), np.float32)))
    with pytest.raises(TypeError, match="copy"):
        t.copy(dev, a, out=put(dev, np.ones((2, 3), np.int64)))


# ---------------------------------------------------------------- unary ops and clip


@pytest.mark.parametrize("shape", [(), (1,), (7,), (257,), (1000,), (3, 6, 5, 7)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_matches_numpy(device, op, shape, rng):
    dev = gpudl.device(device)
    for dtype in (np.float32, np.float64, np.int32, np.int64):
        if not allowed(op, dtype):
            continue
        x = operands(rng, op, shape, dtype)
        if op in ("exp", "tanh") and np.dtype(dtype).kind == "f":
            x = rng.uniform(-5, 5, size=shape).astype(dtype)
        for got in run(dev, getattr(impl(dev), op), put(dev, x)):
            check(got, UNARY[op](x, out=...), dtype)


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_on_strided_views_and_into_out(device, op, rng):
    dev = gpudl.device(device)
    x = np.abs(rng.standard_normal((8, 11))) + 0.1
    xd = put(dev, x)
    for view, ref in ((xd.T, x.T), (xd[::2, ::-3], x[::2, ::-3]), (xd[:, 3], x[:, 3])):
        for got in run(dev, getattr(impl(dev), op), view):
            check(got, UNARY[op](ref))
    out = put(dev, np.zeros((11, 16)))
    for _ in run(dev, getattr(impl(dev), op), xd.T, out=out[:, ::2]):
        expected = np.zeros((11, 16))
        expected[:, ::2] = UNARY[op](x.T)
        check(out, expected)


@pytest.mark.parametrize("bounds", [(-0.5, 0.75), (None, 0.2), (-0.2, None), (None, None), (1, 0)],
                         ids=lambda b: str(b))
def test_clip(device, bounds, rng):
    dev = gpudl.device(device)
    lo, hi = bounds
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((6, 9)).astype(dtype)
        x[0, 0] = np.nan
        for view, ref in ((put(dev, x), x), (put(dev, x).T[::2], x.T[::2])):
            for got in run(dev, impl(dev).clip, view, lo, hi):
                check(got, np.clip(ref, lo, hi), dtype)
    ints = np.arange(-6, 7, dtype=np.int64)
    for got in run(dev, impl(dev).clip, put(dev, ints), -2, 3):
        check(got, np.clip(ints, -2, 3))
    for got in run(dev, impl(dev).clip, put(dev, ints.astype(np.int32)), -2.5, 3.5):   # weak float -> float64
        check(got, np.clip(ints.astype(np.int32), -2.5, 3.5))


# ---------------------------------------------------------------- where


WHERE_SHAPES = [((7,), (7,), (7,)), ((3, 1), (1, 5), ()), ((2, 3, 4), (4,), (3, 1)), ((), (5,), (1,)),
                ((3, 6, 5, 7), (1, 6, 1, 1), (3, 6, 5, 7)), ((1000,), (1000,), (1000,))]


@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=ids)
def test_where_broadcasts_all_three(device, shapes, rng):
    dev = gpudl.device(device)
    cond = rng.random(shapes[0]) < 0.5
    for dtype in DTYPES_ALL:
        a = operands(rng, "add", shapes[1], dtype) if dtype != np.bool_ else rng.random(shapes[1]) < 0.5
        b = operands(rng, "add", shapes[2], dtype) if dtype != np.bool_ else rng.random(shapes[2]) < 0.5
        for got in run(dev, impl(dev).where, put(dev, cond), put(dev, a), put(dev, b)):
            check(got, np.where(cond, a, b))


def test_where_with_scalars_views_and_mixed_dtypes(device, rng):
    dev = gpudl.device(device)
    t = impl(dev)
    cond = rng.random((6, 8)) < 0.5
    x = rng.standard_normal((8, 6)).astype(np.float32)
    cd, xd = put(dev, cond), put(dev, x)
    cases = [(cd, xd.T, 0.0), (cd, -1.5, xd.T), (cd, 1.0, 0.0), (cd.T[::2], xd[::2], xd[::-2]),
             (cd, xd.T, put(dev, np.ones(8))), (cd[:, ::-1], 3, xd.T)]
    for c, a, b in cases:
        expected = np.where(host(c), *(v if isinstance(v, (int, float)) else host(v) for v in (a, b)))
        for got in run(dev, t.where, c, a, b):
            check(got, expected)


# ---------------------------------------------------------------- fill, full, copy, cast


def test_fill_and_full(device):
    dev = gpudl.device(device)
    t = impl(dev)
    for dtype in DTYPES_ALL:
        value = np.dtype(dtype).type(3)
        for shape in ((), (1,), (257,), (3, 6, 5, 7)):
            for got in run(dev, t.full, shape, 3, dtype):
                check(got, np.full(shape, value))
        for order in thread_orders(dev):
            base = put(dev, np.zeros((6, 9), dtype))
            view = base[1::2, ::-3]
            with order():
                assert t.fill(dev, view, 3) is view
            expected = np.zeros((6, 9), dtype)
            expected[1::2, ::-3] = value
            check(base, expected)
    check(t.full(dev, 4, -1.5, np.float32), np.full(4, -1.5, np.float32))
    check(t.full(dev, (2,), 7, None), np.full((2,), 7))


def strided_views(base):
    """(name, view) pairs of awkward views of a (6, 8) array."""
    return [("transposed", base.T), ("sliced", base[::2, 1::3]), ("reversed", base[:, ::-1]),
            ("row", base[2]), ("column", base[:, 5]), ("0d", base[1, 2, ...]), ("empty", base[:0])]


def test_copy_of_strided_and_broadcast_views(device, rng):
    dev = gpudl.device(device)
    for dtype in DTYPES_ALL:
        x = operands(rng, "add", (6, 8), dtype) if dtype != np.bool_ else rng.random((6, 8)) < 0.5
        xd = put(dev, x)
        views = strided_views(xd) + [("broadcast", dev.xp.broadcast_to(xd[3], (4, 8))),
                                     ("broadcast column", dev.xp.broadcast_to(xd[:, 2:3], (6, 5))),
                                     ("contiguous", xd)]
        for name, view in views:
            for got in run(dev, impl(dev).copy, view):
                check(got, host(view))
                assert got.flags.c_contiguous, name
        fresh = impl(dev).copy(dev, xd)
        assert fresh is not xd and not np.shares_memory(host(fresh), x)


def test_copy_into_a_strided_out(device, rng):
    """As concat and pad use it: the source lands in a slice of a bigger array."""
    dev = gpudl.device(device)
    x = rng.standard_normal((4, 5))
    for order in thread_orders(dev):
        big = put(dev, np.zeros((6, 12)))
        with order():
            got = impl(dev).copy(dev, put(dev, x).T[::-1], out=big[1:6, 3:11:2])
            impl(dev).copy(dev, put(dev, x[0]), out=big[0, ::-1][:5])
        expected = np.zeros((6, 12))
        expected[1:6, 3:11:2] = x.T[::-1]
        expected[0, ::-1][:5] = x[0]
        check(big, expected)
        assert got.shape == (5, 4)


def test_cast_between_every_dtype_pair(device, rng):
    dev = gpudl.device(device)
    values = np.concatenate([rng.uniform(-100, 100, 40), [0.0, -0.0, 0.5, -0.5, 1.0, 2.75, -3.25, -7.9]])
    for src in DTYPES_ALL:
        x = values.astype(src).reshape(6, 8)
        xd = put(dev, x)
        for dst in DTYPES_ALL:
            for name, view in strided_views(xd):
                for got in run(dev, impl(dev).cast, view, dst):
                    check(got, host(view).astype(dst))
                    assert got.flags.c_contiguous, name


def test_cast_wraps_and_rounds_like_numpy(device):
    dev = gpudl.device(device)
    big = np.array([2 ** 40 + 5, -(2 ** 33) - 1, 2 ** 31], np.int64)
    for got in run(dev, impl(dev).cast, put(dev, big), np.int32):
        check(got, big.astype(np.int32))
    fine = np.array([1 + 2 ** -30, 1e-50, 3.4e38, np.nan, np.inf])
    for got in run(dev, impl(dev).cast, put(dev, fine), np.float32):
        check(got, fine.astype(np.float32))
    for got in run(dev, impl(dev).cast, put(dev, fine), np.bool_):
        check(got, fine.astype(np.bool_))


# ---------------------------------------------------------------- errors


def test_errors_name_the_op(device):
    dev = gpudl.device(device)
    t = impl(dev)
    a, b = put(dev, np.ones((3, 4), np.float32)), put(dev, np.ones((5,), np.float32))
    for op in ("add", "maximum", "less"):
        with pytest.raises(ValueError, match=rf"{op}.*\(3, 4\).*\(5,\)"):
            getattr(t, op)(dev, a, b)
    with pytest.raises(ValueError, match=r"where.*\(3, 4\)"):
        t.where(dev, put(dev, np.ones((3, 4), bool)), a, b)
    ints = put(dev, np.ones(3, np.int64))
    with pytest.raises(TypeError, match="pow.*int64"):
        t.pow(dev, ints, ints)
    with pytest.raises(TypeError, match="pow.*int64"):
        t.pow(dev, ints, 2)
    for op in ("exp", "log", "log1p", "sqrt", "tanh"):
        with pytest.raises(TypeError, match=f"{op}.*int64"):
            getattr(t, op)(dev, ints)
    flags = put(dev, np.ones(3, bool))
    for op in ("add", "less", "neg"):
        with pytest.raises(TypeError, match=f"{op}.*bool"):
            getattr(t, op)(dev, *((flags,) if op == "neg" else (flags, flags)))
    with pytest.raises(TypeError, match="where.*cond.*float32"):
        t.where(dev, a, a, a)


def test_kernel_dtype_errors(kernel_device):
    dev = gpudl.device(kernel_device)
    t = impl(dev)
    halves = put(dev, np.ones(3, np.float16))
    with pytest.raises(TypeError, match="cast.*float16"):
        t.cast(dev, put(dev, np.ones(3)), np.float16)
    for fn in (t.copy, t.exp):
        with pytest.raises(TypeError, match="float16"):
            fn(dev, halves)
    with pytest.raises(TypeError, match="fill.*float16"):
        t.fill(dev, halves, 0)
    with pytest.raises(RuntimeError, match="add.*a is a"):
        t.add(dev, [1.0, 2.0], 1.0)
