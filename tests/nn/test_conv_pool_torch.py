"""Conv2d (padding 'same' / 'valid' / asymmetric, dilation), pooling (ceil_mode, AdaptiveAvgPool2d) and
BatchNorm (1-D on (N, C, L), num_batches_tracked, state_dicts) against PyTorch, forward and backward:
float64 on cpu, float32 through the kernels on emu; and gradcheck of every new path in float64 on cpu."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F

torch = pytest.importorskip("torch")

# device -> (dtype, tolerances against float64 PyTorch): the kernels take float32
KERNELS = ("float32", dict(rtol=1e-4, atol=2e-5))
PRECISION = {"cpu": ("float64", dict(rtol=1e-10, atol=1e-12)), "emu": KERNELS, "cuda": KERNELS}


def _run(module_or_fn, x, device, g):
    """(y, dL/dx) of gpudl for upstream gradient g, in the device's dtype."""
    dtype = PRECISION[device][0]
    xt = gd.tensor(x, dtype=dtype, device=device, requires_grad=True)
    y = module_or_fn(xt)
    y.backward(gd.tensor(g, dtype=dtype, device=device))
    return y.numpy(), xt.grad.numpy()


def _torch_run(module_or_fn, x, g):
    xt = torch.tensor(x, requires_grad=True)
    y = module_or_fn(xt)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy()


def _upstream(rng, shape):
    return rng.standard_normal(tuple(shape))


def _gpudl_copy(torch_module, make, device):
    """gpudl's module built by make(), loaded with the PyTorch module's state_dict."""
    module = make(dtype=PRECISION[device][0]).to(device)
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    return module


# ---------------------------------------------------------------- Conv2d

# (in, out, kernel_size, keyword arguments of both nn.Conv2d), input (N, C, H, W)
CONVS = [
    (3, 4, 3, dict(padding="same"), (2, 3, 9, 8)),
    (2, 3, 4, dict(padding="same"), (1, 2, 7, 10)),
    (2, 5, (2, 3), dict(padding="same", dilation=(2, 1)), (2, 2, 8, 7)),
    (3, 2, (4, 2), dict(padding="same", dilation=(1, 3)), (1, 3, 9, 11)),
    (2, 3, 3, dict(padding="valid", stride=2, dilation=2), (2, 2, 11, 10)),
    (3, 4, (3, 2), dict(padding=(1, 2), stride=(2, 1), dilation=(2, 3)), (1, 3, 10, 9)),
    (1, 70, 3, dict(padding=1, stride=3, dilation=1), (2, 1, 13, 12)),
    (4, 3, 2, dict(padding=0, dilation=(3, 2), bias=False), (1, 4, 8, 9)),
]
CONV_IDS = [f"{k}_{'_'.join(f'{a}{v}' for a, v in kw.items())}" for _, _, k, kw, _ in CONVS]


@pytest.mark.parametrize("case", CONVS, ids=CONV_IDS)
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_conv2d_matches_torch(device, case, rng):
    cin, cout, k, kwargs, shape = case
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(cin, cout, k, **kwargs).double()
    layer = _gpudl_copy(ref, lambda dtype: nn.Conv2d(cin, cout, k, **kwargs, dtype=dtype), device)
    x = rng.standard_normal(shape)
    y_ref, gx_ref = _torch_run(ref, x, g := _upstream(rng, ref(torch.tensor(x)).shape))
    y, gx = _run(layer, x, device, g)
    tol = PRECISION[device][1]
    np.testing.assert_allclose(y, y_ref, **tol)
    np.testing.assert_allclose(gx, gx_ref, **tol)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), getattr(ref, name).grad.numpy(), **tol, err_msg=name)
    if kwargs.get("padding") == "same":
        assert y.shape[2:] == shape[2:]


def test_conv2d_same_with_stride_is_rejected_like_torch():
    with pytest.raises(ValueError):
        torch.nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: padding='same' needs stride 1"):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(3, 2, 3, 3), stride=(1, 2), padding="same")
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1 .*, got stride \(1, 2\)"):
        F.conv2d(gd.zeros(1, 2, 5, 5), gd.zeros(3, 2, 3, 3), stride=(1, 2), padding="same")


@pytest.mark.parametrize("call, match", [
    (lambda: nn.Conv2d(2, 3, 3, padding="full"), "Conv2d: padding must be 'same', 'valid'"),
    (lambda: F.conv2d(gd.zeros(1, 2, 5, 5), gd.zeros(3, 2, 3, 3), dilation=0), r"dilation \(0, 0\) must be >= 1"),
    (lambda: F.conv2d(gd.zeros(1, 2, 5, 5), gd.zeros(3, 2, 3, 3), dilation=3), r"spans \(7, 7\).*larger than"),
])
def test_conv2d_rejects_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_conv2d_rejects_a_float_stride_as_a_type_error():
    with pytest.raises(TypeError, match="conv2d: stride must be an int, got 1.5"):
        F.conv2d(gd.zeros(1, 2, 5, 5), gd.zeros(3, 2, 3, 3), stride=1.5)


def test_conv2d_repr_shows_dilation_and_padding_string():
    assert repr(nn.Conv2d(2, 3, 3, padding="same", dilation=2)) == \
        "Conv2d(2, 3, kernel_size=(3, 3), stride=1, padding='same', dilation=2)"
    assert repr(nn.Conv2d(1, 6, 5, padding=2)) == "Conv2d(1, 6, kernel_size=(5, 5), stride=1, padding=2)"


# ---------------------------------------------------------------- pooling

# (keyword arguments of both max_pool2d / avg_pool2d), input (N, C, H, W)
POOLS = [
    (dict(kernel_size=2, ceil_mode=True), (2, 3, 9, 8)),
    (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (1, 2, 8, 10)),
    (dict(kernel_size=2, stride=2, padding=1, ceil_mode=True), (2, 1, 5, 6)),    # the last window is dropped
    (dict(kernel_size=(3, 2), stride=(3, 3), padding=(1, 1), ceil_mode=True), (1, 3, 11, 12)),
    (dict(kernel_size=4, stride=4, padding=2, ceil_mode=True), (1, 1, 33, 17)),
    (dict(kernel_size=3, stride=1, padding=1, ceil_mode=True), (1, 2, 5, 4)),
    (dict(kernel_size=3, stride=2, ceil_mode=False), (2, 2, 7, 8)),
]
POOL_IDS = ["_".join(f"{a}{v}" for a, v in kw.items()) for kw, _ in POOLS]


@pytest.mark.parametrize("case", POOLS, ids=POOL_IDS)
def test_max_pool2d_matches_torch(device, case, rng):
    kwargs, shape = case
    x = rng.standard_normal(shape)
    ref = torch.nn.MaxPool2d(**kwargs)
    y_ref, gx_ref = _torch_run(ref, x, g := _upstream(rng, ref(torch.tensor(x)).shape))
    y, gx = _run(nn.MaxPool2d(**kwargs), x, device, g)
    np.testing.assert_allclose(y, y_ref, **PRECISION[device][1])
    np.testing.assert_allclose(gx, gx_ref, **PRECISION[device][1])


@pytest.mark.parametrize("count_include_pad", [True, False], ids=["include_pad", "exclude_pad"])
@pytest.mark.parametrize("case", POOLS, ids=POOL_IDS)
def test_avg_pool2d_matches_torch(device, case, count_include_pad, rng):
    kwargs, shape = case
    x = rng.standard_normal(shape)
    ref = torch.nn.AvgPool2d(**kwargs, count_include_pad=count_include_pad)
    y_ref, gx_ref = _torch_run(ref, x, g := _upstream(rng, ref(torch.tensor(x)).shape))
    y, gx = _run(nn.AvgPool2d(**kwargs, count_include_pad=count_include_pad), x, device, g)
    np.testing.assert_allclose(y, y_ref, **PRECISION[device][1])
    np.testing.assert_allclose(gx, gx_ref, **PRECISION[device][1])


def test_avg_pool2d_positional_arguments_follow_torch(rng):
    """avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad), as in PyTorch."""
    x = rng.standard_normal((1, 2, 7, 7))
    want = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, 1, True, False).numpy()
    np.testing.assert_allclose(F.avg_pool2d(gd.tensor(x), 3, 2, 1, True, False).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(nn.AvgPool2d(3, 2, 1, True, False)(gd.tensor(x)).numpy(), want, rtol=1e-12)


ADAPTIVE = [(1, (2, 3, 7, 9)), (3, (1, 2, 9, 9)), ((4, None), (2, 1, 10, 6)), ((None, 3), (1, 2, 5, 8)),
            ((5, 7), (1, 3, 13, 17)), ((8, 11), (2, 1, 5, 7)), ((6, 8), (1, 1, 6, 8))]


@pytest.mark.parametrize("output_size, shape", ADAPTIVE, ids=[f"out{o}_{s[2]}x{s[3]}" for o, s in ADAPTIVE])
def test_adaptive_avg_pool2d_matches_torch(device, output_size, shape, rng):
    x = rng.standard_normal(shape)
    ref = torch.nn.AdaptiveAvgPool2d(output_size)
    y_ref, gx_ref = _torch_run(ref, x, g := _upstream(rng, ref(torch.tensor(x)).shape))
    y, gx = _run(nn.AdaptiveAvgPool2d(output_size), x, device, g)
    assert y.shape == y_ref.shape
    np.testing.assert_allclose(y, y_ref, **PRECISION[device][1])
    np.testing.assert_allclose(gx, gx_ref, **PRECISION[device][1])


def test_pool_reprs():
    assert repr(nn.MaxPool2d(2, ceil_mode=True)) == "MaxPool2d(kernel_size=2, stride=None, padding=0, ceil_mode=True)"
    assert repr(nn.AvgPool2d(3, 2)) == \
        "AvgPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=False, count_include_pad=True)"
    assert repr(nn.AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"


# ---------------------------------------------------------------- BatchNorm

BATCHNORMS = [(torch.nn.BatchNorm1d, nn.BatchNorm1d, (6, 3)), (torch.nn.BatchNorm1d, nn.BatchNorm1d, (4, 3, 7)),
              (torch.nn.BatchNorm2d, nn.BatchNorm2d, (2, 3, 4, 5))]


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum", "cumulative"])
@pytest.mark.parametrize("ref_cls, cls, shape", BATCHNORMS, ids=[f"{c.__name__}_{len(s)}d" for _, c, s in BATCHNORMS])
def test_batchnorm_matches_torch(device, ref_cls, cls, shape, momentum, rng):
    """Three training steps (outputs, gradients, running statistics, the count), then evaluation."""
    ref = ref_cls(3, momentum=momentum).double()
    bn = cls(3, momentum=momentum, dtype=PRECISION[device][0], device=device)
    tol = PRECISION[device][1]
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        g = _upstream(rng, shape)
        ref.zero_grad()
        y_ref, gx_ref = _torch_run(ref, x, g)
        bn.zero_grad()
        y, gx = _run(bn, x, device, g)
        np.testing.assert_allclose(y, y_ref, **tol)
        np.testing.assert_allclose(gx, gx_ref, **tol)
        for name in ("weight", "bias"):
            np.testing.assert_allclose(getattr(bn, name).grad.numpy(), getattr(ref, name).grad.numpy(), **tol)
    state, want = bn.state_dict(), ref.state_dict()
    assert sorted(state) == sorted(want)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(state[name].numpy(), want[name].numpy(), **tol, err_msg=name)
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"].item() == 3
    ref.eval(), bn.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(bn(gd.tensor(x, dtype=PRECISION[device][0], device=device)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), **tol)
    assert bn.num_batches_tracked.item() == 3  # evaluation does not count


def test_batchnorm_state_dict_round_trips_with_torch(rng):
    ref = torch.nn.BatchNorm2d(4, momentum=None)
    for _ in range(5):
        ref(torch.tensor(rng.standard_normal((3, 4, 2, 2)), dtype=torch.float32))
    bn = nn.BatchNorm2d(4, momentum=None)
    bn.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    assert bn.num_batches_tracked.item() == 5
    x = rng.standard_normal((3, 4, 2, 2))
    bn(gd.tensor(x, dtype="float32"))
    ref(torch.tensor(x, dtype=torch.float32))  # the 6th batch, with momentum 1/6 on both sides
    back = torch.nn.BatchNorm2d(4, momentum=None)
    back.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in bn.state_dict().items()})
    assert back.num_batches_tracked.dtype == torch.int64 and back.num_batches_tracked.item() == 6
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(back, name).numpy(), getattr(ref, name).numpy(), rtol=1e-5, atol=1e-6)


def test_batchnorm1d_rejects_other_ranks():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2-D or 3-D input with 3 channels, got shape"):
        nn.BatchNorm1d(3)(gd.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"batch_norm: expected \(N, C\), \(N, C, L\) or \(N, C, H, W\)"):
        F.batch_norm(gd.zeros(2, 3, 2, 2, 2), None, None)


# ---------------------------------------------------------------- gradcheck (float64, cpu)

R = np.random.default_rng(11)
GRADCHECKS = {
    "conv2d_same_even": (lambda x, w, b: F.conv2d(x, w, b, padding="same"), [R.standard_normal((1, 2, 5, 4)),
                                                                             R.standard_normal((3, 2, 2, 3)),
                                                                             R.standard_normal(3)]),
    "conv2d_same_dilated": (lambda x, w: F.conv2d(x, w, padding="same", dilation=(2, 3)),
                            [R.standard_normal((2, 1, 6, 7)), R.standard_normal((2, 1, 3, 2))]),
    "conv2d_strided_dilated_asymmetric": (lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=((1, 0), (2, 1)),
                                                                dilation=2),
                                          [R.standard_normal((1, 2, 7, 6)), R.standard_normal((2, 2, 2, 3))]),
    "max_pool2d_ceil": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
                        [R.standard_normal((1, 2, 6, 8))]),
    "avg_pool2d_ceil": (lambda x: F.avg_pool2d(x, (2, 3), stride=2, padding=1, ceil_mode=True),
                        [R.standard_normal((2, 1, 5, 6))]),
    "avg_pool2d_ceil_exclude_pad": (lambda x: F.avg_pool2d(x, 3, stride=2, ceil_mode=True, count_include_pad=False),
                                    [R.standard_normal((1, 2, 6, 8))]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [R.standard_normal((2, 1, 7, 5))]),
    "batch_norm_ncl": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                       [R.standard_normal((3, 2, 4)), R.standard_normal(2), R.standard_normal(2)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck(name):
    fn, inputs = GRADCHECKS[name]
    assert gd.gradcheck(fn, inputs)
