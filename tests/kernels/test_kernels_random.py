"""Philox-4x32-10 streams: known answers, cpu == emu bit for bit, the state's advance, statistics."""
import math

import numpy as np
import pytest

import gpudl
from kernel_refs import host, impl, put, thread_orders
from reference import MASK32, philox_ref

KAT = [  # Random123's kat_vectors for philox4x32_10: (counter, key, result)
    ((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
]
SHAPES = [(1,), (7,), (257,), (3, 5, 7), (1031,), (2, 1, 9)]
def block_ref(seed, counter):
    counter %= 2 ** 64
    return philox_ref((counter & MASK32, counter >> 32, 0, 0), (seed & MASK32, seed >> 32))


def uniform_ref(seed, offset, n):
    return np.array([(block_ref(seed, offset + i // 4)[i % 4] >> 8) * 2.0 ** -24 for i in range(n)])


def normal_ref(seed, offset, n):
    out = []
    for i in range(n):
        w = block_ref(seed, offset + i // 2)
        u1, u2 = ((w[0] >> 8) + 1) * 2.0 ** -24, (w[1] >> 8) * 2.0 ** -24
        r = math.sqrt(-2 * math.log(u1))
        out.append(r * (math.cos if i % 2 == 0 else math.sin)(2 * math.pi * u2))
    return np.array(out)


def module(dev):
    """gpudl.cpu.random or gpudl.gpu.random (philox4x32 is a module helper, not a table function)."""
    if dev.type == "cpu":
        from gpudl.cpu import random
    else:
        from gpudl.gpu import random
    return random


def state(dev, seed, offset=0):
    return put(dev, np.array([seed, offset], np.uint64))


def draw(name, dev, seed, offset, shape, *args):
    """(output on host, state after) of one table call from a fresh state."""
    s = state(dev, seed, offset)
    out = getattr(impl(dev), name)(dev, *args, s) if args else getattr(impl(dev), name)(dev, s, shape)
    return out, host(s)


def test_philox_known_answers(device):
    dev = gpudl.device(device)
    for counter, key, expected in KAT:
        assert philox_ref(counter, key) == list(expected)
        for order in thread_orders(dev):
            with order():
                out = module(dev).philox4x32(dev, put(dev, np.array([counter], np.uint32)), key)
            assert host(out).tolist() == [list(expected)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_uniform_matches_reference_and_cpu(kernel_device, shape):
    dev, cpu = gpudl.device(kernel_device), gpudl.device("cpu")
    seed, offset = 0x1234_5678_9ABC_DEF0, 2 ** 32 - 3  # high seed bits; the counter carries into c_hi
    n = int(np.prod(shape))
    expected, cpu_state = draw("rng_uniform", cpu, seed, offset, shape)
    assert expected.shape == shape and expected.dtype == np.float32
    np.testing.assert_array_equal(expected.reshape(-1), uniform_ref(seed, offset, n))
    assert cpu_state.tolist() == [seed, offset + -(-n // 4)]
    for order in thread_orders(dev):
        with order():
            out, after = draw("rng_uniform", dev, seed, offset, shape)
        assert out.dtype == np.float32 and out.shape == shape
        np.testing.assert_array_equal(host(out), expected)
        np.testing.assert_array_equal(after, cpu_state)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_normal_matches_reference_and_cpu(kernel_device, shape):
    dev, cpu = gpudl.device(kernel_device), gpudl.device("cpu")
    seed, offset = 7, 2 ** 64 - 2  # the counter wraps around 2^64
    n = int(np.prod(shape))
    expected, cpu_state = draw("rng_normal", cpu, seed, offset, shape)
    assert expected.shape == shape and expected.dtype == np.float32
    np.testing.assert_allclose(expected.reshape(-1), normal_ref(seed, offset, n), rtol=1e-5, atol=2e-6)
    assert cpu_state.tolist() == [seed, (offset + -(-n // 2)) % 2 ** 64]
    for order in thread_orders(dev):
        with order():
            out, after = draw("rng_normal", dev, seed, offset, shape)
        np.testing.assert_allclose(host(out), expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(after, cpu_state)


@pytest.mark.parametrize("name, per_counter", [("rng_uniform", 4), ("rng_normal", 2)])
def test_state_advances_and_seed_repeats(device, name, per_counter):
    dev = gpudl.device(device)
    fn = getattr(impl(dev), name)
    s = state(dev, 99)
    first, second = host(fn(dev, s, (3, 11))), host(fn(dev, s, 33))
    assert host(s).tolist() == [99, 2 * -(-33 // per_counter)]
    assert not np.array_equal(first.reshape(-1), second)  # consecutive draws use fresh counters
    np.testing.assert_array_equal(host(fn(dev, state(dev, 99), (3, 11))), first)  # same seed, same numbers
    assert not np.array_equal(host(fn(dev, state(dev, 100), (3, 11))), first)  # another seed, others


def test_kernels_read_the_offset_from_device_memory(kernel_device):
    """Writing the state array between draws (as a CUDA graph replay would see it) moves the stream."""
    dev, cpu = gpudl.device(kernel_device), gpudl.device("cpu")
    s = state(dev, 5)
    impl(dev).rng_uniform(dev, s, 10)
    s[1] = 40  # device-side write (CuPy or NumPy)
    out = host(impl(dev).rng_uniform(dev, s, 10))
    np.testing.assert_array_equal(out, draw("rng_uniform", cpu, 5, 40, (10,))[0])


def test_empty_draw(device):
    dev = gpudl.device(device)
    s = state(dev, 3, 8)
    assert host(impl(dev).rng_uniform(dev, s, (0, 4))).shape == (0, 4)
    assert host(s).tolist() == [3, 8]


def test_statistics(device):
    dev = gpudl.device(device)
    n = 100_000
    u = host(impl(dev).rng_uniform(dev, state(dev, 2024), n)).astype(np.float64)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / n)  # var of (u - 1/2)^2 is 1/80 - 1/144
    z = host(impl(dev).rng_normal(dev, state(dev, 2024), n)).astype(np.float64)
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / math.sqrt(n / 2)  # cos / sin pairs uncorrelated


VIEWS = {  # base shape, view: contiguous, transposed, sliced (negative steps too), a 4-D permutation
    "contiguous": ((9, 30), lambda a: a),
    "transposed": ((9, 31), lambda a: a.T),
    "sliced": ((9, 31), lambda a: a[::2, ::-3]),
    "4d": ((2, 3, 5, 7), lambda a: a.transpose(0, 2, 1, 3)),
}


@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_dropout_matches_cpu_bit_for_bit(kernel_device, p, rng):
    dev, cpu = gpudl.device(kernel_device), gpudl.device("cpu")
    for name, (shape, view) in VIEWS.items():
        for dtype in (np.float32, np.float64):
            base = rng.standard_normal(shape).astype(dtype)
            x = view(base)
            (y_ref, mask_ref), cpu_state = draw("dropout_forward", cpu, 11, 6, None, x, p)
            keep = uniform_ref(11, 6, x.size).reshape(x.shape) >= np.float32(p)
            np.testing.assert_array_equal(mask_ref, np.where(keep, dtype(1 / (1 - p)), 0))
            np.testing.assert_allclose(y_ref, x * keep / (1 - p), rtol=1e-6 if dtype == np.float32 else 1e-15)
            assert mask_ref.dtype == dtype and y_ref.dtype == dtype and y_ref.shape == x.shape
            assert cpu_state.tolist() == [11, 6 + -(-x.size // 4)]
            xd = view(put(dev, base))  # a strided view on the device
            for order in thread_orders(dev):
                with order():
                    (y, mask), after = draw("dropout_forward", dev, 11, 6, None, xd, p)
                msg = f"{name} {np.dtype(dtype)}"
                np.testing.assert_array_equal(host(mask), mask_ref, err_msg=msg)
                np.testing.assert_array_equal(host(y), y_ref, err_msg=msg)
                np.testing.assert_array_equal(after, cpu_state, err_msg=msg)


def test_dropout_mask_is_the_uniform_stream(device):
    dev = gpudl.device(device)
    x = put(dev, np.ones((50, 41), np.float32))
    y, mask = impl(dev).dropout_forward(dev, x, 0.25, state(dev, 77, 3))
    u = host(impl(dev).rng_uniform(dev, state(dev, 77, 3), (50, 41)))
    np.testing.assert_array_equal(host(mask), np.where(u >= 0.25, np.float32(1 / 0.75), 0))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keep_fraction(device, p):
    dev = gpudl.device(device)
    n = 100_000
    s = state(dev, 31337)
    y, mask = impl(dev).dropout_forward(dev, put(dev, np.full(n, 2.0, np.float32)), p, s)
    keep = host(mask) != 0
    assert abs(keep.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(host(y)[keep], 2 / (1 - p), rtol=1e-6)
    assert (host(y)[~keep] == 0).all()
    second = host(impl(dev).dropout_forward(dev, put(dev, np.ones(n, np.float32)), p, s)[1])
    assert not np.array_equal(second != 0, keep)  # the state advanced: a new mask


def test_dropout_p_one_drops_everything(device):
    """p = 1: every mask element 0 (no 1 / (1 - p) division), y = x * 0, and the state advances as usual."""
    dev = gpudl.device(device)
    for dtype in (np.float32, np.float64):
        x = np.array([[1.5, -2.0, -0.5, np.nan, 0.0, 3.0, 7.0]], dtype)
        (y, mask), after = draw("dropout_forward", dev, 5, 2, None, put(dev, x), 1.0)
        y, mask = host(y), host(mask)
        assert mask.dtype == dtype and not mask.any()
        np.testing.assert_array_equal(y, x * 0)  # NaN stays NaN, as in PyTorch's x * 0
        assert after.tolist() == [5, 2 + 2]


def test_random_errors(device):
    dev = gpudl.device(device)
    ops = impl(dev)
    x = put(dev, np.ones((4, 4), np.float32))
    with pytest.raises(TypeError, match="rng_uniform.*uint64"):
        ops.rng_uniform(dev, put(dev, np.zeros(2, np.int64)), 4)
    with pytest.raises(ValueError, match=r"rng_normal.*\(2,\).*\(3,\)"):
        ops.rng_normal(dev, put(dev, np.zeros(3, np.uint64)), 4)
    with pytest.raises(ValueError, match=r"dropout_forward.*\[0, 1\].*1\.5"):
        ops.dropout_forward(dev, x, 1.5, state(dev, 1))
    with pytest.raises(ValueError, match="dropout_forward"):
        ops.dropout_forward(dev, x, -0.1, state(dev, 1))
    with pytest.raises(TypeError, match="dropout_forward.*int32"):
        ops.dropout_forward(dev, put(dev, np.ones(4, np.int32)), 0.5, state(dev, 1))
    with pytest.raises(ValueError, match=r"philox_words.*\(m, 4\).*\(2, 3\)"):
        module(dev).philox4x32(dev, put(dev, np.zeros((2, 3), np.uint32)), (0, 0))
