"""Test kernels run on the emu device agree with NumPy, in both thread orders."""
import numpy as np
import pytest

RNG = np.random.default_rng(0)


def test_axpy_grid_not_a_multiple_of_the_block(basics, order):
    n = 1000
    x, y = RNG.standard_normal(n, dtype=np.float32), RNG.standard_normal(n, dtype=np.float32)
    expected = np.float32(2.5) * x + y
    basics.get_function("axpy")(((n + 127) // 128,), (128,), (x, y, np.float32(2.5), np.int32(n)))
    np.testing.assert_allclose(y, expected, rtol=1e-6)


@pytest.mark.parametrize("grid, block", [(5, 7), ((3, 2), (4, 5)), ((2, 3, 2), (4, 2, 3))])
def test_multidimensional_indices(basics, order, grid, block):
    g = (tuple(grid) if isinstance(grid, tuple) else (grid,)) + (1, 1)
    b = (tuple(block) if isinstance(block, tuple) else (block,)) + (1, 1)
    g, b = g[:3], b[:3]
    out = np.full((g[2], g[1], g[0], b[2], b[1], b[0], 12), -1, dtype=np.int32)
    basics.get_function("indices")(grid, block, (out,))
    bz, by, bx, tz, ty, tx = np.meshgrid(*(np.arange(s) for s in out.shape[:6]), indexing="ij")
    expected = np.stack([bx, by, bz, tx, ty, tz] + [np.full_like(bx, v) for v in (*g, *b)], axis=-1)
    np.testing.assert_array_equal(out, expected)


def test_shared_memory_tree_reduction(basics, order):
    n = 1000
    x = RNG.standard_normal(n, dtype=np.float32)
    out = np.zeros(4, np.float32)
    basics.get_function("block_sum")(4, 256, (x, out, np.int32(n)))
    np.testing.assert_allclose(out, np.add.reduceat(x.astype(np.float64), [0, 256, 512, 768]), rtol=1e-5, atol=1e-5)


def test_extern_shared_memory(basics, order):
    n, block = 300, 64
    x, y = RNG.standard_normal(n, dtype=np.float32), np.zeros(n, np.float32)
    grid = (n + block - 1) // block
    basics.get_function("block_reverse")(grid, block, (x, y, np.int32(n)), shared_mem=block * 4)
    padded = np.concatenate([x, np.zeros(grid * block - n, np.float32)])
    np.testing.assert_array_equal(y, padded.reshape(grid, block)[:, ::-1].ravel()[:n])


def test_extern_shared_of_another_type_and_syncthreads_count(basics, order):
    n, block = 200, 64
    x, out = RNG.standard_normal(n, dtype=np.float32), np.zeros(4, np.int32)
    basics.get_function("count_positive")(4, block, (x, out, np.int32(n)), shared_mem=block * 4)
    padded = np.concatenate([x, np.zeros(4 * block - n, np.float32)])
    np.testing.assert_array_equal(out, (padded.reshape(4, block) > 0).sum(axis=1))


def test_shuffle_down_warp_reduction(basics, order):
    n = 1000
    x, total = RNG.standard_normal(n, dtype=np.float32), np.zeros(1, np.float32)
    basics.get_function("shuffle_sum")(8, 128, (x, total, np.int32(n)))
    np.testing.assert_allclose(total[0], x.astype(np.float64).sum(), rtol=1e-4)


def test_ballot_xor_up_and_indexed_shuffles(basics, order):
    n = 96
    x = RNG.standard_normal(n, dtype=np.float32)
    ballots = np.zeros(n // 32, np.uint32)
    sums, scans, bcast = (np.zeros(n, np.float32) for _ in range(3))
    basics.get_function("warp_ops")(3, 32, (x, ballots, sums, scans, bcast))
    warps = x.reshape(-1, 32)
    bits = (warps > 0).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    np.testing.assert_array_equal(ballots, bits.sum(axis=1).astype(np.uint32))
    np.testing.assert_allclose(sums, np.repeat(warps.sum(axis=1), 32), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scans, np.cumsum(warps, axis=1).ravel(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bcast, np.repeat(x.reshape(-1, 16)[:, 3], 16))


def test_any_and_all_votes(basics, order):
    x = np.zeros((4, 32), np.int32)
    x[1, 7] = 1
    x[2] = 1
    x[3] = 1
    x[3, 31] = 0
    any_out, all_out = np.zeros(4, np.int32), np.zeros(4, np.int32)
    basics.get_function("votes")(1, 128, (x, any_out, all_out))
    np.testing.assert_array_equal(any_out != 0, [False, True, True, True])
    np.testing.assert_array_equal(all_out != 0, [False, False, True, False])


def test_shuffle_among_lanes_that_did_not_exit(basics, order):
    x, y = np.arange(64, dtype=np.float32), np.zeros(64, np.float32)
    basics.get_function("broadcast_after_exit")(1, 64, (x, y))
    lane = np.arange(64) % 32
    np.testing.assert_array_equal(y, np.where(lane < 8, x, x[np.arange(64) // 32 * 32 + 8]))


def test_atomic_add_histogram(basics, order):
    values = RNG.integers(-3, 20, size=5000).astype(np.int32)
    bins = np.zeros(16, np.uint32)
    basics.get_function("histogram")(4, 128, (values, bins, np.int32(values.size), np.int32(16)))
    np.testing.assert_array_equal(bins, np.bincount(np.clip(values, 0, 15), minlength=16))


def test_math_functions(basics):
    n = 50
    x = RNG.uniform(0.1, 3.0, n).astype(np.float32)
    y = np.zeros(4 * n, np.float32)
    basics.get_function("math_functions")(1, 64, (x, y, np.int32(n)))
    x64 = x.astype(np.float64)
    expected = np.stack([np.exp(x64), np.maximum(np.tanh(x64), np.minimum(x64, 0.5)),
                         1 / np.sqrt(x64 + 1) + x64 + np.sqrt(x64) + np.log(x64 + 1),
                         x64 / 3 * 2 + 1 + 2 + np.minimum(x64, 1)], axis=1)
    np.testing.assert_allclose(y.reshape(n, 4), expected, rtol=1e-5)
