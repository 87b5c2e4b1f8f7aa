"""Batch transforms against per-sample reference loops in plain NumPy."""
import numpy as np
import pytest

import gpudl as gd
from gpudl.data import transforms as T


def _on(device, x):
    """A batch Tensor on `device` (so cuda / emu run the transforms' kernels)."""
    return gd.tensor(x, device=device)


def _host(a):
    return a.numpy()


def _images(shape=(16, 2, 7, 9), seed=0):
    return np.random.default_rng(seed).integers(1, 256, shape).astype(np.uint8)


def _shift(img, dy, dx):
    """Reference: out[..., i, j] = img[..., i - dy, j - dx], zero outside (a loop over pixels)."""
    out = np.zeros_like(img)
    H, W = img.shape[-2:]
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[..., i, j] = img[..., i - dy, j - dx]
    return out


def _pad(img, p):
    H, W = img.shape[-2:]
    out = np.zeros(img.shape[:-2] + (H + 2 * p, W + 2 * p), img.dtype)
    out[..., p:p + H, p:p + W] = img
    return out


def test_to_float(device):
    x = _images()
    out = T.ToFloat()(_on(device, x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(_host(out), x / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(_host(T.ToFloat(scale=1)(_on(device, x))), x.astype(np.float32))


def test_normalize_scalar_and_per_channel(device):
    x = _images().astype(np.float32) / 255
    out = _host(T.Normalize(0.25, 0.5)(_on(device, x)))
    np.testing.assert_allclose(out, (x - 0.25) / 0.5, rtol=1e-5, atol=1e-6)
    mean, std = [0.1, 0.7], [0.2, 0.3]
    out = _host(T.Normalize(mean, std)(_on(device, x)))
    ref = np.empty_like(x)
    for n in range(len(x)):
        for c in range(2):
            ref[n, c] = (x[n, c] - mean[c]) / std[c]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


def test_normalize_errors():
    with pytest.raises(TypeError, match="ToFloat"):
        T.Normalize(0.5, 0.5)(_images())
    with pytest.raises(ValueError, match="std must be > 0"):
        T.Normalize(0.5, 0.0)
    with pytest.raises(ValueError, match="3 channel"):
        T.Normalize([0, 0, 0], [1, 1, 1])(np.zeros((2, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="equally long"):
        T.Normalize([0, 0, 0], [1, 1])


def _matching_offsets(big, crop):
    """All (top, left) where `crop` equals a window of `big` (a reference search loop)."""
    h, w = crop.shape[-2:]
    H, W = big.shape[-2:]
    return [(t, l) for t in range(H - h + 1) for l in range(W - w + 1)
            if np.array_equal(big[..., t:t + h, l:l + w], crop)]


def test_random_crop_is_a_window_per_sample(device):
    x = _images((40, 2, 7, 9))
    out = _host(T.RandomCrop((5, 6), padding=2, seed=0)(_on(device, x)))
    assert out.shape == (40, 2, 5, 6) and out.dtype == np.uint8
    offsets = []
    for n in range(len(x)):
        found = _matching_offsets(_pad(x[n], 2), out[n])
        assert len(found) == 1, n  # the same window in every channel
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # offsets differ between samples
    tops, lefts = zip(*offsets)
    assert min(tops) == 0 and max(tops) == 11 - 5 and min(lefts) == 0 and max(lefts) == 13 - 6


def test_random_crop_three_dims_and_errors():
    x = _images((6, 8, 8))
    out = T.RandomCrop(8)(x)
    np.testing.assert_array_equal(out, x)  # nothing to choose
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(9)(x)
    with pytest.raises(ValueError, match=r"\(N, \.\.\., H, W\)"):
        T.RandomCrop(2)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="non-negative int"):
        T.RandomCrop(-1)


def test_random_translate_is_a_zero_filled_shift(device):
    x = _images((60, 1, 6, 5))
    out = _host(T.RandomTranslate(2, seed=3)(_on(device, x)))
    assert out.shape == x.shape
    shifts = []
    for n in range(len(x)):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(_shift(x[n], dy, dx), out[n])]
        assert len(found) == 1, n
        shifts.append(found[0])
    assert len(set(shifts)) > 12
    assert {dy for dy, _ in shifts} == set(range(-2, 3)) and {dx for _, dx in shifts} == set(range(-2, 3))


def test_random_translate_per_axis_limits():
    x = _images((30, 5, 5))
    out = T.RandomTranslate((0, 1), seed=1)(x)
    for n in range(len(x)):
        assert any(np.array_equal(_shift(x[n], 0, dx), out[n]) for dx in (-1, 0, 1))


def test_random_horizontal_flip(device):
    x = _images((200, 3, 4, 5))
    out = _host(T.RandomHorizontalFlip(seed=0)(_on(device, x)))
    flipped = [not np.array_equal(out[n], x[n]) for n in range(len(x))]
    for n in range(len(x)):
        ref = x[n][..., ::-1] if flipped[n] else x[n]
        np.testing.assert_array_equal(out[n], ref)
    assert 60 < sum(flipped) < 140
    np.testing.assert_array_equal(_host(T.RandomHorizontalFlip(p=0)(_on(device, x))), x)
    np.testing.assert_array_equal(_host(T.RandomHorizontalFlip(p=1)(_on(device, x))), x[..., ::-1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        T.RandomHorizontalFlip(p=2)


def test_seeded_and_resumable():
    x = _images((20, 7, 7))
    a, b = T.RandomCrop(5, seed=9), T.RandomCrop(5, seed=9)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    state = a.state_dict()
    second = a(x)
    assert not np.array_equal(first, second)  # a fresh draw each call
    c = T.RandomCrop(5, seed=0)
    c.load_state_dict(state)
    np.testing.assert_array_equal(c(x), second)
    gd.manual_seed(4)
    d = T.RandomTranslate(1)(x)
    gd.manual_seed(4)
    np.testing.assert_array_equal(T.RandomTranslate(1)(x), d)


def test_compose_applies_in_order_and_keeps_tensors(device):
    x = _images((4, 1, 3, 3))
    pipeline = T.Compose([T.ToFloat(), T.Normalize(0.5, 0.25), T.RandomHorizontalFlip(p=1)])
    out = pipeline(gd.tensor(x, device=device))
    assert isinstance(out, gd.Tensor) and out.device == gd.device(device)
    np.testing.assert_allclose(out.numpy(), ((x / 255.0 - 0.5) / 0.25)[..., ::-1], rtol=1e-5, atol=1e-6)
    state = pipeline.state_dict()
    assert state["transforms"][:2] == [{}, {}] and state["transforms"][2]["calls"] == 1
    with pytest.raises(ValueError, match="2 states for 3 transforms"):
        pipeline.load_state_dict({"transforms": [{}, {}]})
