"""The loss modules and functions against PyTorch 2.13 (values and gradients: float64 on cpu, float32 on
emu), every reduction, class weights, ignore_index, label smoothing and pos_weight; gradcheck in float64
on cpu and emu; bad arguments."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl import profiler
from torch_oracle import assert_matches_torch

R = np.random.default_rng(11)
N, C = 9, 5
LOGITS = 2 * R.standard_normal((N, C))
LABELS = np.array([0, 4, 2, -100, 2, 1, 3, 3, 0])  # -100 is the default ignore_index
LABELS_IGNORE_3 = np.array([0, 4, 2, 3, 2, 1, 3, 3, 0])
CLASS_WEIGHT = R.random(C) + 0.5
X = R.standard_normal((4, 3))
Y = R.standard_normal((4, 3))
Y_NEAR = X + 0.8 * R.standard_normal((4, 3))  # |x - y| on both sides of delta / beta
P = 0.05 + 0.9 * R.random((4, 3))
T = R.random((4, 3))
W = R.random((4, 3)) + 0.2
POS_WEIGHT = 3 * R.random(3)
REDUCTIONS = ("mean", "sum", "none")


def _ce(reduction, weight, ignore_index, smoothing, labels):
    def build(F, nn, t):
        kw = dict(weight=None if weight is None else t(weight), ignore_index=ignore_index, reduction=reduction,
                  label_smoothing=smoothing)
        return F.cross_entropy(t(LOGITS, True), t(labels), **kw)
    return build


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("ignore", ["default", "class3"])
def test_cross_entropy_matches_torch(device, reduction, weighted, smoothing, ignore):
    labels, ignore_index = (LABELS, -100) if ignore == "default" else (LABELS_IGNORE_3, 3)
    assert_matches_torch(device, _ce(reduction, CLASS_WEIGHT if weighted else None, ignore_index, smoothing, labels))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_nll_loss_matches_torch(device, reduction, weighted, ignore_index):
    def build(F, nn, t):
        x = F.log_softmax(t(LOGITS, True), 1)
        w = t(CLASS_WEIGHT) if weighted else None
        return F.nll_loss(x, t(LABELS_IGNORE_3), weight=w, ignore_index=ignore_index, reduction=reduction)
    assert_matches_torch(device, build)


def test_nll_loss_of_any_input_matches_torch(device):
    """nll_loss only picks -w_y x_y: the input need not be log-probabilities."""
    assert_matches_torch(device, lambda F, nn, t: F.nll_loss(t(LOGITS, True), t(LABELS), reduction="sum"))


ELEMENTWISE = {
    "mse": lambda F, r: lambda t: F.mse_loss(t(X, True), t(Y, True), reduction=r),
    "l1": lambda F, r: lambda t: F.l1_loss(t(X, True), t(Y, True), reduction=r),
    "huber": lambda F, r: lambda t: F.huber_loss(t(X, True), t(Y_NEAR, True), reduction=r),
    "huber_delta": lambda F, r: lambda t: F.huber_loss(t(X, True), t(Y_NEAR, True), reduction=r, delta=0.4),
    "smooth_l1": lambda F, r: lambda t: F.smooth_l1_loss(t(X, True), t(Y_NEAR, True), reduction=r),
    "smooth_l1_beta": lambda F, r: lambda t: F.smooth_l1_loss(t(X, True), t(Y_NEAR, True), reduction=r, beta=0.3),
    "smooth_l1_beta0": lambda F, r: lambda t: F.smooth_l1_loss(t(X, True), t(Y_NEAR, True), reduction=r, beta=0.0),
    "bce": lambda F, r: lambda t: F.binary_cross_entropy(t(P, True), t(T), reduction=r),
    "bce_weight": lambda F, r: lambda t: F.binary_cross_entropy(t(P, True), t(T), weight=t(W), reduction=r),
    "bce_weight_row": lambda F, r: lambda t: F.binary_cross_entropy(t(P, True), t(T), weight=t(W[0]), reduction=r),
    "bce_logits": lambda F, r: lambda t: F.binary_cross_entropy_with_logits(t(3 * X, True), t(T, True), reduction=r),
    "bce_logits_weight": lambda F, r: lambda t: F.binary_cross_entropy_with_logits(
        t(3 * X, True), t(T, True), weight=t(W), reduction=r),
    "bce_logits_pos_weight": lambda F, r: lambda t: F.binary_cross_entropy_with_logits(
        t(3 * X, True), t(T, True), reduction=r, pos_weight=t(POS_WEIGHT)),
    "bce_logits_both": lambda F, r: lambda t: F.binary_cross_entropy_with_logits(
        t(3 * X, True), t(T, True), weight=t(W[:, :1]), reduction=r, pos_weight=t(POS_WEIGHT)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_losses_match_torch(device, name, reduction):
    assert_matches_torch(device, lambda F, nn, t: ELEMENTWISE[name](F, reduction)(t))


MODULES = {  # the same arguments, positional where PyTorch's order allows
    "CrossEntropyLoss": lambda nn, t: nn.CrossEntropyLoss(t(CLASS_WEIGHT), label_smoothing=0.1)(
        t(LOGITS, True), t(LABELS)),
    "CrossEntropyLoss_ignore": lambda nn, t: nn.CrossEntropyLoss(ignore_index=3, reduction="sum")(
        t(LOGITS, True), t(LABELS_IGNORE_3)),
    "NLLLoss": lambda nn, t: nn.NLLLoss(t(CLASS_WEIGHT), reduction="none")(t(LOGITS, True), t(LABELS)),
    "MSELoss": lambda nn, t: nn.MSELoss()(t(X, True), t(Y, True)),
    "L1Loss": lambda nn, t: nn.L1Loss(reduction="sum")(t(X, True), t(Y, True)),
    "HuberLoss": lambda nn, t: nn.HuberLoss("none", 0.5)(t(X, True), t(Y_NEAR, True)),
    "SmoothL1Loss": lambda nn, t: nn.SmoothL1Loss(beta=0.5)(t(X, True), t(Y_NEAR, True)),
    "BCELoss": lambda nn, t: nn.BCELoss(t(W))(t(P, True), t(T)),
    "BCEWithLogitsLoss": lambda nn, t: nn.BCEWithLogitsLoss(t(W), pos_weight=t(POS_WEIGHT))(t(X, True), t(T, True)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_match_torch(device, name):
    assert_matches_torch(device, lambda F, nn, t: MODULES[name](nn, t))


def _labels(values, device):
    return gd.tensor(np.array(values, dtype=np.int64), device=device)


GRADCHECK = {
    "ce_weight_ignore_smooth": lambda d: (lambda z: F.cross_entropy(
        z, _labels(LABELS[:4], d), weight=gd.tensor(CLASS_WEIGHT, device=d), label_smoothing=0.2), [LOGITS[:4]]),
    "ce_ignore_class_sum": lambda d: (lambda z: F.cross_entropy(
        z, _labels(LABELS_IGNORE_3[:4], d), ignore_index=3, reduction="sum"), [LOGITS[:4]]),
    "nll_weight_none": lambda d: (lambda x: F.nll_loss(
        x, _labels(LABELS[:4], d), weight=gd.tensor(CLASS_WEIGHT, device=d), reduction="none"), [LOGITS[:4]]),
    "nll_mean": lambda d: (lambda x: F.nll_loss(F.log_softmax(x), _labels(LABELS[:4], d)), [LOGITS[:4]]),
    "l1": lambda d: (lambda a, b: F.l1_loss(a, b, reduction="none"), [X, Y]),
    "huber": lambda d: (lambda a, b: F.huber_loss(a, b, delta=0.5), [X, Y_NEAR]),
    "smooth_l1": lambda d: (lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.7), [X, Y_NEAR]),
    "bce_weight": lambda d: (lambda p: F.binary_cross_entropy(
        p, gd.tensor(T, device=d), weight=gd.tensor(W, device=d)), [P]),
    "bce_logits_weights": lambda d: (lambda z, y: F.binary_cross_entropy_with_logits(
        z, y, weight=gd.tensor(W, device=d), reduction="none", pos_weight=gd.tensor(POS_WEIGHT, device=d)), [X, T]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_float64(name, device):
    """float64 through the kernels on emu too (softmax, elementwise and reduce take float64)."""
    if device == "cuda":
        pytest.skip("gradcheck runs on cpu and emu")
    fn, arrays = GRADCHECK[name](device)
    assert gd.gradcheck(fn, [gd.tensor(a, device=device) for a in arrays])


def test_weighted_mean_is_pytorchs_rule():
    """'mean' = sum_n w_{y_n} l_n / sum_n w_{y_n} over the samples not ignored (not the plain mean)."""
    z, y = gd.tensor(LOGITS), gd.tensor(LABELS)
    w = gd.tensor(CLASS_WEIGHT)
    per_sample = F.cross_entropy(z, y, weight=w, reduction="none").numpy()
    kept = LABELS != -100
    assert per_sample[~kept].tolist() == [0.0]
    expected = per_sample.sum() / CLASS_WEIGHT[LABELS[kept]].sum()
    assert np.isclose(F.cross_entropy(z, y, weight=w).item(), expected, rtol=1e-14)
    assert np.isclose(F.cross_entropy(z, y).item(), F.cross_entropy(z, y, reduction="sum").item() / kept.sum())


def test_all_samples_ignored_gives_nan_like_torch(device):
    torch = pytest.importorskip("torch")
    labels = np.full(3, -100)
    got = F.cross_entropy(gd.tensor(LOGITS[:3], device=device), gd.tensor(labels, device=device)).item()
    want = torch.nn.functional.cross_entropy(torch.tensor(LOGITS[:3]), torch.tensor(labels)).item()
    assert np.isnan(got) and np.isnan(want)
    assert F.nll_loss(gd.tensor(LOGITS[:3], device=device), gd.tensor(labels, device=device), reduction="sum").item() == 0


def test_bad_label_is_nan_in_the_kernel_and_an_error_on_cpu(kernel_device):
    """On kernel devices a label outside [0, C) that is not ignore_index makes that sample NaN (no host sync)."""
    z = gd.tensor(LOGITS[:3].astype(np.float32), device=kernel_device, requires_grad=True)
    labels = gd.tensor(np.array([1, C, -100]), device=kernel_device)
    with profiler.profile() as prof:
        for loss_fn in (F.cross_entropy, F.nll_loss):
            per_sample = loss_fn(z, labels, reduction="none")
    assert prof.syncs == 0
    for loss_fn in (F.cross_entropy, F.nll_loss):
        per_sample = loss_fn(z, labels, reduction="none").numpy()
        assert np.isfinite(per_sample[0]) and np.isnan(per_sample[1]) and per_sample[2] == 0
        assert np.isnan(loss_fn(z, labels).item())
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\) or equal ignore_index=-100, got range \[1, 5\]"):
        F.cross_entropy(gd.tensor(LOGITS[:3]), gd.tensor(np.array([1, C, -100])))


def test_cross_entropy_stays_on_the_device(kernel_device):
    """Forward, the seed gradient and backward: kernels only, no host sync.  'mean' is one reduction of
    [l_n; w_n] and a division each way; weights with smoothing add one sum (W) to the backward."""
    z = gd.tensor(LOGITS.astype(np.float32), device=kernel_device, requires_grad=True)
    y = gd.tensor(LABELS, device=kernel_device)
    w = gd.tensor(CLASS_WEIGHT.astype(np.float32), device=kernel_device)
    for kwargs, launches in (({}, 6), (dict(weight=w, label_smoothing=0.1), 7)):
        F.cross_entropy(z, y, **kwargs).backward()  # warm-up: compiles, caches layouts
        z.grad = None
        with profiler.profile() as prof:
            F.cross_entropy(z, y, **kwargs).backward()
        assert prof.syncs == 0 and prof.launches == launches, prof.by_kernel()


def test_module_weights_are_buffers(device):
    loss = nn.CrossEntropyLoss(weight=gd.tensor(CLASS_WEIGHT.astype(np.float32)))
    assert list(loss.state_dict()) == ["weight"]
    loss.to(device)
    assert loss.weight.device == gd.device(device)
    assert np.isfinite(loss(gd.tensor(LOGITS.astype(np.float32), device=device), gd.tensor(LABELS, device=device)).item())
    assert nn.BCEWithLogitsLoss(pos_weight=gd.ones(3)).state_dict().keys() == {"pos_weight"}
    assert nn.CrossEntropyLoss().weight is None and nn.BCELoss().state_dict() == {}
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


@pytest.mark.parametrize("call, err, match", [
    (lambda: nn.MSELoss(reduction="avg"), ValueError, "MSELoss: reduction must be one of"),
    (lambda: nn.CrossEntropyLoss(reduction="elementwise_mean"), ValueError, "CrossEntropyLoss: reduction"),
    (lambda: F.l1_loss(gd.zeros(2), gd.zeros(2), reduction=None), ValueError, "l1_loss: reduction"),
    (lambda: F.huber_loss(gd.zeros(2), gd.zeros(2), reduction="total"), ValueError, "huber_loss: reduction"),
    (lambda: F.nll_loss(gd.zeros(2, 3), gd.tensor([0, 1]), reduction="max"), ValueError, "nll_loss: reduction"),
    (lambda: F.cross_entropy(gd.zeros(2, 3), gd.tensor([0, 1]), weight=gd.ones(2)), ValueError,
     r"cross_entropy: weight must have shape \(3,\), got \(2,\)"),
    (lambda: F.cross_entropy(gd.zeros(2, 3), gd.tensor([0, 1]), weight=gd.ones(3, dtype="float64")), TypeError,
     "cross_entropy: weight must have the input's dtype float32, got float64"),
    (lambda: F.cross_entropy(gd.zeros(2, 3), gd.tensor([0, 1]), weight=[1.0, 1.0, 1.0]), TypeError,
     "weight must be a Tensor or None"),
    (lambda: F.cross_entropy(gd.zeros(2, 3), gd.tensor([0, 1]), ignore_index=1.0), TypeError,
     "cross_entropy: ignore_index must be an int"),
    (lambda: nn.NLLLoss(ignore_index=None), TypeError, "NLLLoss: ignore_index must be an int"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError, r"label_smoothing must be in \[0, 1\]"),
    (lambda: F.nll_loss(gd.zeros(2, 3), gd.tensor([0, 7])), ValueError, r"nll_loss: labels must lie in \[0, 3\)"),
    (lambda: F.nll_loss(gd.zeros(2, 3, 4), gd.tensor([0, 1])), ValueError, r"expected input \(N, C\)"),
    (lambda: nn.HuberLoss(delta=0), ValueError, "HuberLoss: delta must be > 0, got 0"),
    (lambda: F.huber_loss(gd.zeros(2), gd.zeros(2), delta=-1.0), ValueError, "huber_loss: delta must be > 0"),
    (lambda: nn.SmoothL1Loss(beta=-0.5), ValueError, "SmoothL1Loss: beta must be >= 0, got -0.5"),
    (lambda: F.smooth_l1_loss(gd.zeros(2), gd.zeros(3)), ValueError, r"input shape \(2,\) and target shape \(3,\)"),
    (lambda: F.huber_loss(gd.zeros(2), gd.zeros(2, dtype="float64")), TypeError, "share a dtype"),
    (lambda: F.l1_loss(gd.zeros(2), np.zeros(2)), TypeError, "l1_loss: input and target must be Tensors"),
    (lambda: F.binary_cross_entropy(gd.zeros(2, 3), gd.zeros(2, 3), weight=gd.ones(4)), ValueError,
     r"weight of shape \(4,\) does not broadcast to input shape \(2, 3\)"),
    (lambda: F.binary_cross_entropy_with_logits(gd.zeros(2, 3), gd.zeros(2, 3), pos_weight=gd.ones(2, 3, 1)),
     ValueError, "pos_weight of shape"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=np.ones(3)), TypeError, "BCEWithLogitsLoss: pos_weight must be a Tensor"),
    (lambda: F.binary_cross_entropy_with_logits(gd.zeros(2), gd.zeros(2), weight=gd.ones(2, device="emu")),
     RuntimeError, "input is on cpu but weight is on emu"),
])
def test_bad_arguments(call, err, match):
    with pytest.raises(err, match=match):
        call()
