"""Every function of gpudl.nn.functional passes gradcheck in float64 on cpu."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn.functional as F

R = np.random.default_rng(7)


def rand(*shape):
    return R.standard_normal(shape)


def labels(*values):
    return gd.tensor(np.array(values, dtype=np.int64))


CASES = {
    "linear": (lambda x, w, b: F.linear(x, w, b), [rand(3, 4), rand(5, 4), rand(5)]),
    "linear_batched_nobias": (lambda x, w: F.linear(x, w), [rand(2, 3, 4), rand(5, 4)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b), [rand(2, 3, 5, 6), rand(4, 3, 3, 2), rand(4)]),
    "conv2d_stride_pad": (lambda x, w: F.conv2d(x, w, stride=2, padding=1), [rand(1, 2, 7, 5), rand(3, 2, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [rand(2, 2, 4, 6)]),
    "max_pool2d_overlap_pad": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [rand(1, 2, 7, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, (2, 3), stride=(2, 1), padding=1), [rand(2, 1, 5, 6)]),
    "relu": (F.relu, [rand(3, 4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [rand(3, 4)]),
    "sigmoid": (F.sigmoid, [rand(7)]),
    "tanh": (F.tanh, [rand(2, 3)]),
    "gelu": (F.gelu, [rand(2, 5)]),
    "bias_act_dense": (lambda x, b: F.bias_act(x, b, "tanh"), [rand(3, 4), rand(4)]),
    "bias_act_nchw": (lambda x, b: F.bias_act(x, b, "gelu"), [rand(2, 3, 2, 2), rand(3)]),
    "step": (lambda x: F.step(x) * x, [np.array([-1.0, 0.5, 2.0])]),
    "softmax": (lambda x: F.softmax(x, axis=1), [rand(3, 4)]),
    "softmax_axis0": (lambda x: F.softmax(x, axis=0), [rand(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x), [rand(3, 4)]),
    "dropout_eval": (lambda x: F.dropout(x, 0.5, training=False), [rand(4)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [rand(4, 3), rand(3), rand(3)]),
    "batch_norm_2d": (lambda x: F.batch_norm(x, None, None, training=True), [rand(2, 3, 2, 2)]),
    "cross_entropy": (lambda z: F.cross_entropy(z, labels(0, 2, 1)), [rand(3, 4)]),
    "cross_entropy_smooth_sum": (lambda z: F.cross_entropy(z, labels(3, 0), reduction="sum", label_smoothing=0.1),
                                 [rand(2, 4)]),
    "cross_entropy_none": (lambda z: F.cross_entropy(z, labels(1, 1, 0), reduction="none"), [rand(3, 2)]),
    "nll_loss": (lambda z: F.nll_loss(F.log_softmax(z), labels(0, 0, 2)), [rand(3, 3)]),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), [rand(3, 2), rand(3, 2)]),
    "mse_loss_sum": (lambda a, b: F.mse_loss(a, b, reduction="sum"), [rand(4), rand(4)]),
    "bce": (lambda p: F.binary_cross_entropy(p, gd.tensor(np.array([0.0, 1.0, 1.0, 0.3]))),
            [np.array([0.2, 0.7, 0.4, 0.9])]),
    "bce_with_logits": (lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="none"),
                        [rand(5), np.array([0.0, 1.0, 1.0, 0.0, 0.5])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, inputs = CASES[name]
    assert gd.gradcheck(fn, inputs)


def test_dropout_training_matches_its_mask():
    gd.manual_seed(0)
    x = gd.tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, 0.3)
    kept = y.numpy() != 0
    assert np.allclose(y.numpy()[kept], 1 / 0.7)
    assert abs(kept.mean() - 0.7) < 0.02
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), y.numpy())  # d(x*m)/dx = m


def test_softmax_stable_for_huge_logits():
    z = gd.tensor(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.allclose(F.softmax(z).numpy(), [[1, 0, 0]])
    assert np.isfinite(F.log_softmax(z).numpy()).all()
    loss = F.cross_entropy(z, labels(2))
    assert np.isclose(loss.item(), 2000.0)


def test_bce_with_logits_stable_for_huge_logits():
    z = gd.tensor(np.array([500.0, -500.0]))
    y = gd.tensor(np.array([0.0, 1.0]))
    assert np.allclose(F.binary_cross_entropy_with_logits(z, y, reduction="none").numpy(), [500, 500])


def test_bce_clamps_logs():
    p = gd.tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = gd.tensor(np.array([1.0, 0.0]))
    loss = F.binary_cross_entropy(p, y, reduction="none")
    assert np.allclose(loss.numpy(), [100, 100])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()


def test_cross_entropy_matches_formula():
    z = rand(4, 5)
    y = np.array([0, 4, 2, 2])
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    q = np.full((4, 5), 0.2 / 5)
    q[np.arange(4), y] += 0.8
    got = F.cross_entropy(gd.tensor(z), gd.tensor(y), label_smoothing=0.2).item()
    assert np.isclose(got, -(q * logp).sum(1).mean())


def test_step_has_zero_gradient():
    x = gd.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    out = F.step(x)
    assert out.numpy().tolist() == [0, 1, 1]
    out.sum().backward()
    assert x.grad.numpy().tolist() == [0, 0, 0]


def test_batch_norm_running_stats_pytorch_rule():
    x = rand(6, 3)
    rm, rv = gd.zeros(3, dtype="float64"), gd.ones(3, dtype="float64")
    F.batch_norm(gd.tensor(x), rm, rv, training=True, momentum=0.1)
    assert np.allclose(rm.numpy(), 0.1 * x.mean(0))
    assert np.allclose(rv.numpy(), 0.9 + 0.1 * x.var(0, ddof=1))
    y = F.batch_norm(gd.tensor(x), rm, rv, training=False)
    assert np.allclose(y.numpy(), (x - rm.numpy()) / np.sqrt(rv.numpy() + 1e-5))


@pytest.mark.parametrize("call, err, match", [
    (lambda: F.cross_entropy(gd.zeros(3, 4), gd.zeros(3)), TypeError, "integer class indices.*float32"),
    (lambda: F.cross_entropy(gd.zeros(3, 4), labels(0, 1, 4)), ValueError, r"labels must lie in \[0, 4\)"),
    (lambda: F.cross_entropy(gd.zeros(3, 4), labels(0, 1)), ValueError, r"got \(3, 4\) and \(2,\)"),
    (lambda: F.mse_loss(gd.zeros(3), gd.zeros(4)), ValueError, r"mse_loss: input shape \(3,\) and target"),
    (lambda: F.cross_entropy(gd.zeros(1, 2), labels(0), reduction="avg"), ValueError, "reduction"),
    (lambda: F.dropout(gd.zeros(2), 1.5), ValueError, r"dropout: p must be in \[0, 1\], got 1.5"),
    (lambda: F.linear(gd.zeros(2, 5), gd.zeros(3, 4)), ValueError, r"linear: input has 5 features"),
    (lambda: F.conv2d(gd.zeros(2, 3, 5), gd.zeros(4, 3, 3, 3)), ValueError, "expected a 4-D input"),
    (lambda: F.conv2d(gd.zeros(1, 2, 5, 5), gd.zeros(4, 3, 3, 3)), ValueError, "input has 2 channels"),
    (lambda: F.conv2d(gd.zeros(1, 3, 2, 2), gd.zeros(4, 3, 5, 5), padding=1), ValueError, "larger than the padded"),
    (lambda: F.max_pool2d(gd.zeros(1, 1, 4, 4), 2, padding=2), ValueError, "at most half"),
    (lambda: F.conv2d(gd.zeros(1, 3, 5, 5), gd.zeros(4, 3, 3, 3), stride=0), ValueError, "stride"),
    (lambda: F.binary_cross_entropy(gd.tensor([1.5]), gd.tensor([1.0])), ValueError, r"\[0, 1\]"),
])
def test_bad_input_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()
