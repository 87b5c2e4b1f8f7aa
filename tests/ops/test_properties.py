"""Property-based checks: broadcasting and reductions over random shapes match NumPy."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import gpudl as gd

FAST = settings(max_examples=40, deadline=None)
floats = st.floats(-10, 10, allow_nan=False, width=64)


def reduce_to(g, shape):
    """Sum g down to `shape` (the reverse of broadcasting), written independently of gpudl."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), st.data())
def test_broadcast_binary_grads_sum_back(shapes, data):
    sa, sb = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float64, sa, elements=floats))
    b = data.draw(hnp.arrays(np.float64, sb, elements=floats))
    ta = gd.tensor(a, requires_grad=True)
    tb = gd.tensor(b, requires_grad=True)
    out = ta * tb + ta
    assert np.allclose(out.numpy(), a * b + a)
    out.sum().backward()
    full = np.broadcast_shapes(sa, sb)
    # d/da sum(a*b + a) = (b + 1) summed over the copies broadcasting made of a
    expect_a = reduce_to(np.broadcast_to(b, full) + 1, sa)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    assert np.allclose(ta.grad.numpy(), expect_a)
    assert np.allclose(tb.grad.numpy(), reduce_to(np.broadcast_to(a, full), sb))


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), st.data(), st.booleans())
def test_reductions_match_numpy(shape, data, keepdims):
    a = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    axis = data.draw(st.none() | st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple))
    t = gd.tensor(a, requires_grad=True)
    for name in ("sum", "mean", "max", "min", "var"):
        got = getattr(t, name)(axis=axis, keepdims=keepdims).numpy()
        assert np.allclose(got, getattr(np, name)(a, axis=axis, keepdims=keepdims)), name
    t.mean(axis=axis, keepdims=keepdims).sum().backward()
    n = a.size if axis is None else int(np.prod([shape[i] for i in axis]))
    assert np.allclose(t.grad.numpy(), np.full(shape, 1.0 / n))
