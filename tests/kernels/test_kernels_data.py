"""kernels/data.cu (epoch order, row gather, crop, flip, to_float) against scalar references, on
every device; the kernel devices must give exactly the cpu twin's results."""
import numpy as np
import pytest

import gpudl
from gpudl.cpu.data import feistel_keys
from kernel_refs import host, impl, put, thread_orders
from reference import philox_ref, split64, order_ref

SIZES = [1, 2, 3, 5, 16, 17, 257, 1000]
IMAGE_SHAPES = [(1, 1, 5, 7), (3, 2, 6, 5), (9, 1, 4, 4), (2, 3, 2, 7, 5)]


def _choice(words, k):
    """floor(w k / 2^32): a word mapped onto 0 .. k-1."""
    return (words * k) >> 32


def crop_ref(x, size, padding, seed, call):
    """Per-sample window of the zero-padded image, pixel by pixel."""
    (h, w), (ph, pw) = size, padding
    H, W = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (h, w), x.dtype)
    for n in range(x.shape[0]):
        words = philox_ref((*split64(call), n, 0), split64(seed))
        top, left = _choice(words[0], H + 2 * ph - h + 1), _choice(words[1], W + 2 * pw - w + 1)
        for i in range(h):
            for j in range(w):
                r, c = top + i - ph, left + j - pw
                if 0 <= r < H and 0 <= c < W:
                    out[n, ..., i, j] = x[n, ..., r, c]
    return out


def flip_ref(x, p, seed, call):
    out = x.copy()
    for n in range(x.shape[0]):
        u = (philox_ref((*split64(call), n, 0), split64(seed))[0] >> 8) * 2.0 ** -24
        if u < p:
            out[n] = x[n, ..., ::-1]
    return out


def _images(shape, dtype=np.uint8, seed=0):
    return np.random.default_rng(seed).integers(0, 200, shape).astype(dtype)


@pytest.mark.parametrize("n", SIZES)
def test_permutation_is_the_documented_bijection(device, n):
    dev = gpudl.device(device)
    seed, epoch = 2 ** 62 + 12345, 3
    expected = order_ref(seed, epoch, n)
    for order in thread_orders(dev):
        with order():
            full = host(impl(dev).permutation(dev, n, feistel_keys(seed, epoch)))
        np.testing.assert_array_equal(full, expected)
    assert full.dtype == np.int64 and sorted(full) == list(range(n))
    start, count = n // 3, n - n // 3 - n // 4
    part = impl(dev).permutation(dev, n, feistel_keys(seed, epoch), start, count)
    np.testing.assert_array_equal(host(part), expected[start:start + count])
    np.testing.assert_array_equal(host(impl(dev).permutation(dev, n, None, start, count)),
                                  np.arange(start, start + count))


def test_permutation_depends_on_seed_and_epoch_and_looks_uniform():
    cpu = gpudl.device("cpu")
    orders = {tuple(cpu.kernels.permutation(50, feistel_keys(s, e))) for s in range(3) for e in range(3)}
    assert len(orders) == 9
    # where element 0 lands, over 2000 epochs: roughly uniform over 10 places
    places = [int(np.flatnonzero(cpu.kernels.permutation(10, feistel_keys(1, e)) == 0)[0]) for e in range(2000)]
    counts = np.bincount(places, minlength=10)
    assert counts.min() > 140 and counts.max() < 260, counts


def test_permutation_rejects_positions_outside(device):
    dev = gpudl.device(device)
    with pytest.raises(ValueError, match=r"not inside \[0, 10\)"):
        dev.kernels.permutation(10, None, 8, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.int64, np.bool_])
def test_gather_rows_any_dtype(device, dtype):
    dev = gpudl.device(device)
    src = _images((11, 3, 5), dtype)
    rows = np.array([10, 0, 3, 3, 7], np.int64)
    out = dev.kernels.gather_rows(put(dev, src), put(dev, rows))
    assert host(out).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(host(out), np.stack([src[r] for r in rows]))
    with pytest.raises(ValueError, match="1-D int64 rows"):
        dev.kernels.gather_rows(put(dev, src), put(dev, rows.astype(np.int32)))


@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("size, padding", [((3, 4), (0, 0)), ((4, 4), (1, 2)), (None, (2, 1))])
def test_random_crop_matches_reference(device, shape, size, padding):
    dev = gpudl.device(device)
    size = shape[-2:] if size is None else size
    x = _images(shape)
    expected = crop_ref(x, size, padding, seed=2 ** 40 + 7, call=5)
    for order in thread_orders(dev):
        with order():
            out = impl(dev).random_crop(dev, put(dev, x), size, padding, 2 ** 40 + 7, 5)
        np.testing.assert_array_equal(host(out), expected)


@pytest.mark.parametrize("shape", IMAGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_random_hflip_matches_reference(device, shape, dtype):
    dev = gpudl.device(device)
    x = _images(shape, dtype)
    for p in (0.0, 0.5, 1.0):
        out = host(dev.kernels.random_hflip(put(dev, x), p, 11, 2 ** 33 + 1))
        np.testing.assert_array_equal(out, flip_ref(x, p, 11, 2 ** 33 + 1))


def test_augmentation_errors(device):
    dev = gpudl.device(device)
    x = put(dev, _images((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="larger than the padded image"):
        dev.kernels.random_crop(x, (7, 4), (1, 1), 0, 0)
    with pytest.raises(ValueError, match=r"\(N, \.\.\., H, W\)"):
        dev.kernels.random_hflip(put(dev, _images((4, 4))), 0.5, 0, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dev.kernels.random_hflip(x, 1.5, 0, 0)


@pytest.mark.parametrize("source", [np.uint8, np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_float(device, source, dtype):
    dev = gpudl.device(device)
    x = _images((3, 7, 5), source)
    out = host(dev.kernels.to_float(put(dev, x), 1 / 255, dtype))
    assert out.dtype == np.dtype(dtype)
    expected = np.array([float(v) for v in x.reshape(-1)]).reshape(x.shape) / 255
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
    with pytest.raises(TypeError, match="to float32 or float64"):
        dev.kernels.to_float(put(dev, x), 1.0, np.int32)


def test_kernel_devices_give_the_cpu_results_bit_for_bit(kernel_device):
    dev, cpu = gpudl.device(kernel_device), gpudl.device("cpu")
    x = _images((13, 2, 9, 8), np.float32)
    for name, args in [("random_crop", ((6, 5), (2, 2), 77, 4)), ("random_hflip", (0.3, 77, 4)),
                       ("to_float", (0.1, np.float32))]:
        ours = host(getattr(dev.kernels, name)(put(dev, x), *args))
        np.testing.assert_array_equal(ours, getattr(cpu.kernels, name)(x, *args), err_msg=name)
