"""The cpu device's intra-op threads (gpudl/cpu/parallel.py): the pool itself, and every op that is cut
into pieces giving what one thread gives, on odd shapes cut into uneven pieces: bit for bit, except
that BLAS may round the last bits of a product with fewer columns differently (the convolutions)."""
import os
import signal
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import gpudl as gd
from gpudl import cpu
from gpudl.cpu import conv2d, parallel

DEV = gd.device("cpu")


@pytest.fixture
def threads():
    """set(k): k threads per op, every op worth cutting (MIN_WORK 1, SPLIT_INTENSITY 0); restored afterwards."""
    saved = parallel.get_num_threads(), parallel.MIN_WORK, conv2d.SPLIT_INTENSITY
    parallel.MIN_WORK, conv2d.SPLIT_INTENSITY = 1, 0
    yield parallel.set_num_threads
    parallel.set_num_threads(saved[0])
    parallel.MIN_WORK, conv2d.SPLIT_INTENSITY = saved[1], saved[2]


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


# --- the pool ---------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [0, 1, 5, 7, 128])
@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_piece_bounds_cover_the_range_in_order_and_near_equal(count, parts):
    bounds = [parallel.piece_bounds(count, parts, i) for i in range(parts)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_pieces_follow_threads_work_and_the_least_size(threads):
    threads(3)
    parallel.MIN_WORK = 100
    assert parallel.pieces(10, 10_000) == 3
    assert parallel.pieces(2, 10_000) == 2          # never more pieces than items
    assert parallel.pieces(10, 250) == 2             # work for two hand-offs only
    assert parallel.pieces(10, 50) == 1              # too little work to hand off
    assert parallel.pieces(10, 10_000, least=4) == 2  # pieces of at least 4 items
    threads(1)
    assert parallel.pieces(10, 10_000) == 1


def test_run_returns_results_in_order_with_piece_i_on_thread_i(threads):
    threads(3)

    def task(i):
        return lambda: (i, threading.current_thread().name)

    first = parallel.run([task(i) for i in range(3)])
    again = parallel.run([task(i) for i in range(3)])
    assert [i for i, _ in first] == [0, 1, 2]
    assert first == again                            # the same thread for the same piece every time
    assert first[0][1] == threading.current_thread().name
    assert len({name for _, name in first}) == 3


def test_blas_runs_at_one_thread_inside_and_is_restored_after():
    before = blas_threads()
    inside = parallel.run([blas_threads, blas_threads])
    assert inside == [[1] * len(before)] * 2
    assert blas_threads() == before


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_in_any_piece_reaches_the_caller_and_the_pool_still_works(threads, failing):
    threads(2)

    def task(i):
        def run():
            if i == failing:
                raise ArithmeticError(f"piece {i}")
            return i
        return run

    with pytest.raises(ArithmeticError, match=f"piece {failing}"):
        parallel.run([task(0), task(1)])
    assert parallel.run([lambda: "a", lambda: "b"]) == ["a", "b"]


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no signal.setitimer on this platform")
def test_an_interrupted_op_leaves_no_late_result_for_the_next_one(threads):
    threads(2)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # Ctrl-C while the caller waits for piece 1
        with pytest.raises(KeyboardInterrupt):
            parallel.run([lambda: "first", lambda: time.sleep(0.3) or "late"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert parallel.run([lambda: "a", lambda: "b"]) == ["a", "b"]  # not the late "late"
    time.sleep(0.4)
    assert parallel.run([lambda: "c", lambda: "d"]) == ["c", "d"]


def test_an_op_inside_a_piece_runs_serially(threads):
    threads(2)
    inner = parallel.run([lambda: parallel.pieces(100, 10 ** 9), lambda: parallel.pieces(100, 10 ** 9)])
    assert inner == [1, 1]
    assert parallel.pieces(100, 10 ** 9) == 2


def test_ops_from_several_program_threads_get_their_own_results(threads):
    threads(2)
    rng = np.random.default_rng(3)
    inputs = [rand(rng, 9, 4, 10, 10) for _ in range(4)]
    w = rand(rng, 5, 4, 3, 3)
    expected = [cpu.conv2d_forward(DEV, x, w, None, 1, 1) for x in inputs]
    got = [None] * len(inputs)

    def work(i):
        for _ in range(100):
            y = cpu.conv2d_forward(DEV, inputs[i], w, None, 1, 1)
            if got[i] is None or not np.allclose(y, expected[i], rtol=1e-5, atol=1e-5):
                got[i] = y  # keep a wrong answer once there is one

    callers = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    before = blas_threads()
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    scale = max(np.abs(e).max() for e in expected) * 8 * np.finfo(np.float32).eps
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=0, atol=scale)
    assert blas_threads() == before  # whoever held the pool restored BLAS


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_a_forked_child_starts_its_own_workers(threads):
    threads(2)
    x, w = rand(np.random.default_rng(4), 6, 3, 9, 9), rand(np.random.default_rng(5), 4, 3, 3, 3)
    expected = cpu.conv2d_forward(DEV, x, w, None, 1, 1)  # the parent's workers exist now
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 when its cut op gives the parent's answer
        try:
            same = np.allclose(cpu.conv2d_forward(DEV, x, w, None, 1, 1), expected, rtol=1e-5, atol=1e-5)
        finally:
            os._exit(0 if same else 1)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the parent's workers")
    assert os.waitstatus_to_exitcode(done[1]) == 0


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_set_num_threads_rejects_bad_counts(bad, error):
    with pytest.raises(error, match="set_num_threads"):
        gd.set_num_threads(bad)


def test_the_public_names_are_the_pool_s():
    assert gd.set_num_threads is parallel.set_num_threads and gd.get_num_threads() == parallel.get_num_threads()


# --- every cut op equals its one-thread self ----------------------------------------------------

def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _conv_case(stride, padding, dilation, dtype):
    def case(rng):
        x, w, b = rand(rng, 5, 3, 9, 8, dtype=dtype), rand(rng, 4, 3, 3, 2, dtype=dtype), rand(rng, 4, dtype=dtype)
        y = cpu.conv2d_forward(DEV, x, w, b, stride, padding, dilation)
        gy = rand(rng, *y.shape, dtype=dtype)
        return [y,
                cpu.conv2d_backward_weight(DEV, gy, x, w.shape, stride, padding, dilation),   # the kept columns
                cpu.conv2d_backward_weight(DEV, gy, x.copy(), w.shape, stride, padding, dilation),  # recomputed
                cpu.conv2d_backward_data(DEV, gy, w, x.shape, stride, padding, dilation)]
    return case


def _tall_conv(rng):  # 5x5: the two-pass im2col
    x, w = rand(rng, 3, 2, 11, 10), rand(rng, 3, 2, 5, 5)
    y = cpu.conv2d_forward(DEV, x, w, None, 1, 2)
    gy = rand(rng, *y.shape)
    return [y, cpu.conv2d_backward_weight(DEV, gy, x, w.shape, 1, 2),
            cpu.conv2d_backward_data(DEV, gy, w, x.shape, 1, 2)]


def _matmul(rng):
    a, b, bias = rand(rng, 7, 5), rand(rng, 5, 6), rand(rng, 6)
    batched_a, batched_b = rand(rng, 3, 7, 5), rand(rng, 2, 1, 5, 4)
    out = np.empty((7, 6), np.float32)
    return [cpu.matmul(DEV, a, b), cpu.matmul(DEV, a, b, bias, "relu"), cpu.matmul(DEV, a, b, bias, "leaky_relu", 0.2),
            cpu.matmul(DEV, batched_a, batched_b), cpu.matmul(DEV, a, b, bias, "gelu_tanh", out=out), out]


def _batch_norm(training, momentum, ndim):
    def case(rng):
        shape = {2: (6, 5), 3: (4, 5, 3), 4: (3, 5, 4, 3)}[ndim]
        x, w, b = rand(rng, *shape), rand(rng, 5), rand(rng, 5)
        rm, rv, counter = rand(rng, 5), np.abs(rand(rng, 5)) + 0.5, np.array(3, np.int64)
        y, mean, invstd = cpu.batch_norm_forward(DEV, x, w, b, rm, rv, training, momentum, 1e-5, counter)
        g = rand(rng, *shape)
        return [y, mean, invstd, rm, rv, counter, *cpu.batch_norm_backward(DEV, g, x, w, mean, invstd, training),
                *cpu.batch_norm_backward(DEV, g, x, None, mean, invstd, training)]
    return case


def _max_pool(kernel, stride, padding, ceil_mode):
    def case(rng):
        x = rand(rng, 5, 3, 9, 7)
        x[1, 2, 3, 3] = np.nan
        y, argmax = cpu.max_pool2d_forward(DEV, x, kernel, stride, padding, ceil_mode)
        gy = rand(rng, *y.shape)
        return [y, argmax, cpu.max_pool2d_backward(DEV, gy, argmax, x.shape, kernel, stride, padding, ceil_mode)]
    return case


def _bias_act(act, shape, with_bias):
    def case(rng):
        x, g = rand(rng, *shape), rand(rng, *shape)
        bias = rand(rng, shape[1] if len(shape) > 1 else shape[0]) if with_bias else None
        return [cpu.bias_act_forward(DEV, x, bias, act, 0.1), *cpu.bias_act_backward(DEV, g, x, bias, act, 0.1)]
    return case


def _random(rng):
    state = np.array([123, 45], np.uint64)
    counters = rng.integers(0, 2 ** 32, (9, 4), dtype=np.uint64).astype(np.uint32)
    return [cpu.random.philox4x32(DEV, counters, (7, 11)), *cpu.dropout_forward(DEV, rand(rng, 5, 7, 3), 0.3, state),
            cpu.rng_uniform(DEV, state, (5, 3)), cpu.rng_normal(DEV, state, 13), state]


def _optimizer(name):
    def case(rng):
        n, start, count = 23, 3, 17
        p, g = rand(rng, n), rand(rng, n)
        lr, step = np.array([0.01], np.float32), np.array([0], np.int32)
        results = []
        for _ in range(3):
            cpu.optim_tick(DEV, step)
            if name == "adam":
                m, v, vmax = np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)
                cpu.adam_step(DEV, p, g, m, v, vmax, lr, step, 0.9, 0.999, 1e-8, 0.01, True, False, start, count)
                results += [m, v, vmax]
            else:
                buf = np.zeros(n, np.float32)
                cpu.sgd_step(DEV, p, g, buf, lr, step, 0.9, 0.0, 0.01, True, start=start, count=count)
                results.append(buf)
            results.append(p.copy())
        return results
    return case


PRODUCTS = {  # BLAS products cut along their columns: equal to rounding
    "conv stride 1 pad 1": _conv_case(1, 1, 1, np.float32),
    "conv stride 2 pad (1, 2) dilation 2 float64": _conv_case(2, ((1, 0), (2, 1)), 2, np.float64),
    "conv 5x5 stride 1": _tall_conv,
}
CASES = {
    "matmul (cut along the rows of A)": _matmul,
    "batch norm train": _batch_norm(True, 0.1, 4),
    "batch norm cumulative (N, C, L)": _batch_norm(True, None, 3),
    "batch norm eval (N, C)": _batch_norm(False, 0.1, 2),
    "max pool 2x2": _max_pool(2, 2, 0, False),
    "max pool 3x3 stride 1 pad 1 (overlapping)": _max_pool(3, 1, 1, False),
    "max pool 3x2 stride 2 ceil": _max_pool((3, 2), 2, (1, 0), True),
    "relu NCHW with bias": _bias_act("relu", (3, 5, 4, 3), True),
    "gelu (N, F) with bias": _bias_act("gelu_tanh", (7, 5), True),
    "leaky_relu 1-D with bias": _bias_act("leaky_relu", (6,), True),
    "sigmoid without bias": _bias_act("sigmoid", (3, 4, 5), False),
    "tanh of a 0-d array": _bias_act("tanh", (), False),
    "identity without bias": _bias_act("identity", (4, 3), False),
    "philox, dropout, uniform, normal": _random,
    "adam": _optimizer("adam"),
    "sgd": _optimizer("sgd"),
}


def serial_and_cut(threads, case, k):
    threads(1)
    serial = case(np.random.default_rng(5))
    threads(k)
    cut = case(np.random.default_rng(5))
    assert len(cut) == len(serial)
    return zip(serial, cut)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("k", [2, 3])
def test_cut_op_equals_one_thread_bit_for_bit(threads, case, k):
    for a, b in serial_and_cut(threads, case, k):
        np.testing.assert_array_equal(b, a, strict=True)


@pytest.mark.parametrize("case", PRODUCTS.values(), ids=PRODUCTS.keys())
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("intensity", [0, 10 ** 6], ids=["dW cut by images", "dW whole"])
@pytest.mark.parametrize("nhwc", [1, 10 ** 6], ids=["dY NHWC", "dY rows"])
def test_cut_convolution_equals_one_thread_to_rounding(threads, monkeypatch, case, k, intensity, nhwc):
    conv2d.SPLIT_INTENSITY = intensity
    monkeypatch.setattr(conv2d, "NHWC_FILTERS", nhwc)
    for a, b in serial_and_cut(threads, case, k):
        assert a.dtype == b.dtype and a.shape == b.shape
        scale = np.abs(a).max() * 8 * np.finfo(a.dtype).eps  # a few units in the last place of the largest
        np.testing.assert_allclose(b, a, rtol=0, atol=scale)
