"""Softmax, log-softmax, their backward passes, fused cross-entropy and nll vs float64 references
(Jacobians and per-class coefficients written out), on odd shapes, every axis, strided views, large
logits, label smoothing, class weights, ignore_index and bad labels; emu in both thread orders and cpu."""
import numpy as np
import pytest

import gpudl
from kernel_refs import host, impl, put, thread_orders

SHAPES = [(1, 1), (1, 10), (7, 257), (128, 10), (3, 1000), (2, 3, 5), (4, 70, 3)]
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)


def _run(dev, fn, *args):
    """[result under each thread order] of impl(dev).fn(dev, *args), as host arrays (tuples kept)."""
    out = []
    for order in thread_orders(dev):
        with order():
            r = getattr(impl(dev), fn)(dev, *args)
        out.append(tuple(host(a) for a in r) if isinstance(r, tuple) else host(r))
    return out


def _rows(a, axis):
    """a with `axis` moved last, as (rows, C) float64."""
    return np.moveaxis(np.asarray(a, np.float64), axis, -1).reshape(-1, a.shape[axis])


def _unrows(r, shape, axis):
    moved = np.moveaxis(np.empty(shape), axis, -1).shape
    return np.moveaxis(r.reshape(moved), -1, axis)


def softmax_ref(x, axis):
    r = _rows(x, axis)
    e = np.exp(r - r.max(axis=1, keepdims=True))
    return _unrows(e / e.sum(axis=1, keepdims=True), x.shape, axis)


def log_softmax_ref(x, axis):
    r = _rows(x, axis)
    return _unrows(r - r.max(axis=1, keepdims=True) - np.log(np.exp(r - r.max(axis=1, keepdims=True)).sum(
        axis=1, keepdims=True)), x.shape, axis)


def backward_ref(x, g, axis, log):
    """dx_c = sum_k g_k dy_k/dx_c with the Jacobian written out per row."""
    s, gr = _rows(softmax_ref(x, axis), axis), _rows(g, axis)
    eye = np.eye(s.shape[1])
    if log:
        jac = eye[None] - s[:, None, :]                                # d logsoftmax_k / dx_c
    else:
        jac = s[:, :, None] * eye[None] - s[:, :, None] * s[:, None, :]  # d softmax_k / dx_c
    return _unrows(np.einsum("nk,nkc->nc", gr, jac), x.shape, axis)


def _views(dev, a):
    """a on dev as itself and as a non-contiguous view with the same values (host copy alongside)."""
    yield put(dev, a), a
    padded = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), a.dtype)
    padded[..., 1::2] = a
    yield put(dev, padded)[..., 1::2], a
    flipped = put(dev, np.ascontiguousarray(np.swapaxes(a, 0, -1)[::-1]))
    yield flipped[::-1].swapaxes(0, -1), a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_softmax_forward_and_backward(device, shape, dtype, rng):
    dev = gpudl.device(device)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for axis in list(range(len(shape))) + [-1]:
        y_soft, y_log = softmax_ref(x, axis), log_softmax_ref(x, axis)
        for (xd, _), (gd, _) in zip(_views(dev, x), _views(dev, g)):
            for r in _run(dev, "softmax", xd, axis):
                assert r.dtype == dtype and r.shape == shape
                np.testing.assert_allclose(r, y_soft, **_tol(dtype))
            for r in _run(dev, "log_softmax", xd, axis):
                np.testing.assert_allclose(r, y_log, **_tol(dtype))
            ys, yl = (put(dev, y.astype(dtype)) for y in (y_soft, y_log))
            for r in _run(dev, "softmax_backward", ys, gd, axis):
                np.testing.assert_allclose(r, backward_ref(x, g, axis, False), **_tol(dtype))
            for r in _run(dev, "log_softmax_backward", yl, gd, axis):
                np.testing.assert_allclose(r, backward_ref(x, g, axis, True), **_tol(dtype))


def test_softmax_large_logits_are_stable(device):
    dev = gpudl.device(device)
    x = np.array([[1e4, 0.0, -1e4, 1e4 - 1], [-1e4, -1e4, -1e4, -1e4]], np.float32)
    for r in _run(dev, "softmax", put(dev, x), 1):
        np.testing.assert_allclose(r, softmax_ref(x, 1), rtol=1e-6, atol=1e-30)
    for r in _run(dev, "log_softmax", put(dev, x), 1):
        assert np.isfinite(r).all()
        np.testing.assert_allclose(r, log_softmax_ref(x.astype(np.float64), 1), rtol=1e-6, atol=1e-6)


def ce_ref(z, labels, eps, weight=None, ignore_index=-100):
    """(loss, w_n, logp, dz / g) in float64 with the per-class coefficients written out:
    loss_n = -sum_c a_c logp_c, a_c = (1 - eps) w_y [c = y] + eps / C w_c, dloss_n/dz_c = (sum_k a_k) p_c - a_c;
    ignored rows 0, rows of bad labels NaN."""
    n, c = z.shape
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    logp = log_softmax_ref(z, 1)
    loss, wn, dz = np.full(n, np.nan), np.full(n, np.nan), np.full((n, c), np.nan)
    for i, label in enumerate(labels):
        if label == ignore_index:
            loss[i], wn[i], dz[i] = 0, 0, 0
        elif 0 <= label < c:
            a = eps / c * w
            a[label] += (1 - eps) * w[label]
            loss[i], wn[i] = -(a * logp[i]).sum(), w[label]
            dz[i] = a.sum() * np.exp(logp[i]) - a
    return loss, wn, logp, dz


def nll_ref(x, labels, weight=None, ignore_index=-100):
    """(loss, w_n, dx / g): loss_n = -w_y x[n, y], dx[n, y] = -w_y; ignored rows 0, bad labels NaN."""
    n, c = x.shape
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    loss, wn, dx = np.full(n, np.nan), np.full(n, np.nan), np.full((n, c), np.nan)
    for i, label in enumerate(labels):
        if label == ignore_index:
            loss[i], wn[i], dx[i] = 0, 0, 0
        elif 0 <= label < c:
            loss[i], wn[i] = -w[label] * x[i, label], w[label]
            dx[i] = 0
            dx[i, label] = -w[label]
    return loss, wn, dx


def _ce_labels(rng, n, c, ignore_index):
    """Random labels with, when n > 4, the bad labels -1 and C and two ignore_index rows."""
    labels = rng.integers(0, c, n)
    if n > 4:
        labels[1], labels[2], labels[3], labels[4] = -1, c, ignore_index, ignore_index
    return labels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (7, 257), (128, 10), (3, 1000)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_cross_entropy(device, shape, dtype, weighted, ignore_index, rng):
    dev = gpudl.device(device)
    n, c = shape
    z = (3 * rng.standard_normal(shape)).astype(dtype)
    labels = _ce_labels(rng, n, c, ignore_index)
    g = rng.standard_normal(n).astype(dtype)
    weight = (rng.random(c) + 0.5).astype(dtype) if weighted else None
    wd = None if weight is None else put(dev, np.repeat(weight, 3))[::3]  # the weights as a strided view
    zt = put(dev, np.ascontiguousarray(z.T)).T  # a transposed view of the same logits
    for eps in (0.0, 0.1, 1.0):
        loss, wn, logp, dz = ce_ref(z, labels, eps, weight, ignore_index)
        dz = dz * g[:, None]
        for zd in (put(dev, z), zt):
            for per_row, got_logp in _run(dev, "cross_entropy_forward", zd, put(dev, labels), eps, wd, ignore_index):
                assert per_row.dtype == dtype and got_logp.dtype == dtype and per_row.shape == (2, n)
                np.testing.assert_allclose(per_row[0], loss, **_tol(dtype))
                np.testing.assert_allclose(per_row[1], wn, **_tol(dtype))
                np.testing.assert_allclose(got_logp, logp, **_tol(dtype))
            gsl = put(dev, np.repeat(g, 2))[::2]  # g as a strided view
            for got in _run(dev, "cross_entropy_backward", put(dev, logp.astype(dtype)), put(dev, labels), gsl, eps,
                            wd, ignore_index):
                assert got.dtype == dtype and got.shape == shape
                np.testing.assert_allclose(got, dz, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (9, 4), (130, 3)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_nll(device, shape, dtype, weighted, rng):
    dev = gpudl.device(device)
    n, c = shape
    x = rng.standard_normal(shape).astype(dtype)
    labels = _ce_labels(rng, n, c, 2)
    g = rng.standard_normal(n).astype(dtype)
    weight = (rng.random(c) + 0.5).astype(dtype) if weighted else None
    wd = None if weight is None else put(dev, weight)
    loss, wn, dx = nll_ref(x, labels, weight, 2)
    xt = put(dev, np.ascontiguousarray(x.T)).T
    for per_row in _run(dev, "nll_forward", xt, put(dev, labels), wd, 2):
        assert per_row.dtype == dtype and per_row.shape == (2, n)
        np.testing.assert_allclose(per_row[0], loss, **_tol(dtype))
        np.testing.assert_allclose(per_row[1], wn, **_tol(dtype))
    g_broadcast = dev.xp.broadcast_to(put(dev, g[:1]), (n,))  # the 'sum' reduction's gradient: one value, stride 0
    for gd_, gr in ((put(dev, g), g), (g_broadcast, np.full(n, g[0]))):
        for got in _run(dev, "nll_backward", put(dev, labels), gd_, c, wd, 2):
            assert got.dtype == dtype and got.shape == shape
            np.testing.assert_allclose(got, dx * gr[:, None], **_tol(dtype))


def test_cross_entropy_large_logits(device):
    dev = gpudl.device(device)
    z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], np.float32)
    labels = np.array([0, 2])
    for eps in (0.0, 0.1):
        loss, _, logp, _ = ce_ref(z, labels, eps)
        for per_row, got_logp in _run(dev, "cross_entropy_forward", put(dev, z), put(dev, labels), eps):
            assert np.isfinite(per_row).all()
            np.testing.assert_allclose(per_row[0], loss, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(got_logp, logp, rtol=1e-6)


def test_cross_entropy_weight_errors(device):
    dev = gpudl.device(device)
    k = impl(dev)
    x, labels = put(dev, np.zeros((2, 3), np.float32)), put(dev, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy_forward: weight shape \(2,\).*3 classes"):
        k.cross_entropy_forward(dev, x, labels, 0.0, put(dev, np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="cross_entropy_backward: weight must be float32.*float64"):
        k.cross_entropy_backward(dev, x, labels, put(dev, np.zeros(2, np.float32)), 0.0, put(dev, np.ones(3)))
    with pytest.raises(TypeError, match="nll_forward: ignore_index must be an int"):
        k.nll_forward(dev, x, labels, None, 1.5)
    with pytest.raises(ValueError, match="nll_backward: classes must be an int >= 1"):
        k.nll_backward(dev, labels, put(dev, np.zeros(2, np.float32)), 0)
    with pytest.raises(ValueError, match=r"nll_backward: g must be \(N,\)"):
        k.nll_backward(dev, labels, put(dev, np.zeros((2, 1), np.float32)), 3)


def test_softmax_errors(device):
    dev = gpudl.device(device)
    k = impl(dev)
    x = put(dev, np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="softmax.*int64"):
        k.softmax(dev, put(dev, np.zeros((2, 3), np.int64)), 1)
    with pytest.raises(TypeError, match="log_softmax_backward.*dtype"):
        k.log_softmax_backward(dev, x, put(dev, np.zeros((2, 3))), 1)
    with pytest.raises(ValueError, match=r"softmax_backward.*\(3, 2\).*\(2, 3\)"):
        k.softmax_backward(dev, x, put(dev, np.zeros((3, 2), np.float32)), 1)
    with pytest.raises(ValueError, match="log_softmax.*axis 2"):
        k.log_softmax(dev, x, 2)
    labels = put(dev, np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="cross_entropy_forward.*labels.*int32"):
        k.cross_entropy_forward(dev, x, put(dev, np.zeros(2, np.int32)), 0.0)
    with pytest.raises(ValueError, match=r"cross_entropy_forward.*labels.*\(3,\)"):
        k.cross_entropy_forward(dev, x, put(dev, np.zeros(3, np.int64)), 0.0)
    with pytest.raises(ValueError, match="cross_entropy_forward.*\\(N, C\\)"):
        k.cross_entropy_forward(dev, put(dev, np.zeros(3, np.float32)), labels, 0.0)
    with pytest.raises(ValueError, match="cross_entropy_forward.*smoothing"):
        k.cross_entropy_forward(dev, x, labels, 1.5)
    with pytest.raises(ValueError, match=r"cross_entropy_backward.*g.*\(3,\)"):
        k.cross_entropy_backward(dev, x, labels, put(dev, np.zeros(3, np.float32)), 0.0)
    with pytest.raises(TypeError, match="cross_entropy_backward.*float64"):
        k.cross_entropy_backward(dev, x, labels, put(dev, np.zeros(2)), 0.0)
