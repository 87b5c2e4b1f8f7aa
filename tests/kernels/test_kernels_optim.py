"""Multi-tensor optimizer kernels (optim_tick, *_step) vs an independent NumPy reference and the cpu table.

Each case runs 5 steps (tick, then update) on one flat buffer, over the whole buffer or over a
run [start, start + count) in its middle; elements outside the run must not move.
"""
import numpy as np
import pytest

import gpudl
from kernel_refs import host, impl, put, thread_orders

STEPS = 5
SIZES = (1, 7, 257, 3000)
LR = 0.01


# ---------------------------------------------------------------- references (float64, one step, new arrays)

def ref_sgd(th, g, s, t, momentum, dampening, weight_decay, nesterov):
    g = g + weight_decay * th
    if momentum:
        s["v"] = g if t == 1 else momentum * s["v"] + (1 - dampening) * g
        g = g + momentum * s["v"] if nesterov else s["v"]
    return th - LR * g


def ref_adagrad(th, g, s, t, lr_decay, weight_decay, eps, initial=0.0):
    g = g + weight_decay * th
    s["sum"] = s.get("sum", initial) + g * g
    return th - LR / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


def ref_rmsprop(th, g, s, t, alpha, eps, weight_decay, momentum, centered):
    g = g + weight_decay * th
    s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g * g
    v = s["v"]
    if centered:
        s["mean"] = alpha * s.get("mean", 0) + (1 - alpha) * g
        v = v - s["mean"] ** 2
    d = g / (np.sqrt(v) + eps)
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0) + d
        d = s["b"]
    return th - LR * d


def ref_adadelta(th, g, s, t, rho, eps, weight_decay):
    g = g + weight_decay * th
    s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
    return th - LR * delta


def ref_adam(th, g, s, t, beta1, beta2, eps, weight_decay, amsgrad, decoupled):
    if decoupled:
        th = th * (1 - LR * weight_decay)
    else:
        g = g + weight_decay * th
    s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0) + (1 - beta2) * g * g
    v = s["v"]
    if amsgrad:
        v = s["vmax"] = np.maximum(s.get("vmax", 0), v)
    return th - LR * (s["m"] / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


# (kernel, reference, hyperparameters, state buffer names in kernel order (None: not needed), reads step)
CASES = [
    ("sgd_step", ref_sgd, dict(momentum=0, dampening=0, weight_decay=0, nesterov=False), [None], True),
    ("sgd_step", ref_sgd, dict(momentum=0.9, dampening=0.3, weight_decay=0.1, nesterov=False), ["v"], True),
    ("sgd_step", ref_sgd, dict(momentum=0.8, dampening=0, weight_decay=0.05, nesterov=True), ["v"], True),
    ("adagrad_step", ref_adagrad, dict(lr_decay=0.05, weight_decay=0.1, eps=1e-6), ["sum"], True),
    ("rmsprop_step", ref_rmsprop, dict(alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False),
     ["v", None, None], False),
    ("rmsprop_step", ref_rmsprop, dict(alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5, centered=True),
     ["v", "mean", "b"], False),
    ("adadelta_step", ref_adadelta, dict(rho=0.8, eps=1e-4, weight_decay=0.1), ["v", "u"], False),
    ("adam_step", ref_adam, dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, amsgrad=False, decoupled=False),
     ["m", "v", None], True),
    ("adam_step", ref_adam, dict(beta1=0.8, beta2=0.5, eps=1e-8, weight_decay=0.1, amsgrad=True, decoupled=False),
     ["m", "v", "vmax"], True),
    ("adam_step", ref_adam, dict(beta1=0.8, beta2=0.5, eps=1e-3, weight_decay=0.3, amsgrad=True, decoupled=True),
     ["m", "v", "vmax"], True),
]
IDS = [f"{k}-" + "-".join(f"{n}={v}" for n, v in hp.items() if v) for k, _, hp, _, _ in CASES]


def _run_kernel(dev, kernel, hp, names, reads_step, theta, grads, dtype, start, count):
    """STEPS ticks + updates of `kernel` on dev; (p, {name: state buffer}) on the host."""
    table = impl(dev)
    p = put(dev, theta.copy(), dtype)  # put may return theta itself
    buffers = [None if n is None else put(dev, np.zeros(theta.size), dtype) for n in names]
    lr, step = put(dev, [LR], dtype), put(dev, [0], np.int32)
    for g in grads:
        table.optim_tick(dev, step)
        counters = (lr, step) if reads_step else (lr,)
        out = getattr(table, kernel)(dev, p, put(dev, g, dtype), *buffers, *counters, **hp, start=start, count=count)
        assert out is p
    assert int(host(step)[0]) == len(grads)
    return host(p), {n: host(b) for n, b in zip(names, buffers) if n is not None}


def _reference(ref, hp, theta, grads, start, count):
    """The reference over the run; the rest of theta unchanged."""
    th, state = theta.copy(), {}
    run = slice(start, start + count)
    for t, g in enumerate(grads, 1):
        th[run] = ref(th[run], g[run], state, t, **hp)
    return th, state


def _runs(n):
    """Whole buffer, and a run strictly inside it when there is room."""
    return [(0, n)] + ([(3, n - 5)] if n > 8 else [])


TOLERANCES = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}
AGREE = {np.float64: dict(rtol=1e-13, atol=1e-15), np.float32: dict(rtol=1e-5, atol=1e-7)}  # emu vs cpu


@pytest.mark.parametrize("kernel,ref,hp,names,reads_step", CASES, ids=IDS)
def test_steps_match_reference_and_cpu(device, kernel, ref, hp, names, reads_step, rng):
    dev, cpu = gpudl.device(device), gpudl.device("cpu")
    for n in SIZES:
        theta, grads = rng.standard_normal(n), [rng.standard_normal(n) for _ in range(STEPS)]
        for start, count in _runs(n):
            for dtype in (np.float64, np.float32):
                theta_d = theta.astype(dtype).astype(np.float64)  # the reference starts from the rounded inputs
                want, _ = _reference(ref, hp, theta_d, [g.astype(dtype).astype(np.float64) for g in grads],
                                     start, count)
                cpu_p, cpu_state = _run_kernel(cpu, kernel, hp, names, reads_step, theta, grads, dtype, start, count)
                for order in thread_orders(dev):
                    with order():
                        got, state = _run_kernel(dev, kernel, hp, names, reads_step, theta, grads, dtype, start, count)
                    msg = f"n={n} run=({start}, {count}) dtype={np.dtype(dtype)}"
                    assert got.dtype == dtype, msg
                    np.testing.assert_allclose(got, want, **TOLERANCES[dtype], err_msg=msg)
                    np.testing.assert_array_equal(got[:start], theta_d[:start], err_msg=msg)
                    np.testing.assert_array_equal(got[start + count:], theta_d[start + count:], err_msg=msg)
                    np.testing.assert_allclose(got, cpu_p, **AGREE[dtype], err_msg=msg)
                    for name, buf in state.items():
                        np.testing.assert_allclose(buf, cpu_state[name], **AGREE[dtype], err_msg=f"{name} {msg}")


def test_reference_cases_exercise_amsgrad(rng):
    """The amsgrad cases reach v_t < v^max (else they would not test the maximum)."""
    theta, grads = rng.standard_normal(50), [rng.standard_normal(50) for _ in range(STEPS)]
    hp = CASES[8][2]
    with_max, _ = _reference(ref_adam, hp, theta, grads, 0, 50)
    without, _ = _reference(ref_adam, {**hp, "amsgrad": False}, theta, grads, 0, 50)
    assert not np.allclose(with_max, without, rtol=1e-6)


def test_tick_and_lr_are_read_from_device_memory(device):
    """A new lr written into the buffer and the counter's t change the update without new arguments."""
    dev = gpudl.device(device)
    table = impl(dev)
    p, g = put(dev, np.ones(7)), put(dev, np.full(7, 2.0))
    exp_avg, exp_avg_sq = put(dev, np.zeros(7)), put(dev, np.zeros(7))
    lr, step = put(dev, [0.5]), put(dev, [0], np.int32)
    table.optim_tick(dev, step)
    table.adam_step(dev, p, g, exp_avg, exp_avg_sq, None, lr, step, 0.9, 0.999, 0.0, 0.0, False, False, 0, 7)
    np.testing.assert_allclose(host(p), 0.5)  # m̂ / √v̂ = 1 at t = 1
    lr[...] = 0.25  # the host writes the buffer (the optimizer uses the fill kernel)
    table.optim_tick(dev, step)
    table.adam_step(dev, p, g, exp_avg, exp_avg_sq, None, lr, step, 0.9, 0.999, 0.0, 0.0, False, False, 0, 7)
    np.testing.assert_allclose(host(p), 0.25, rtol=1e-12)  # a constant gradient keeps m̂ / √v̂ = 1 at t = 2
    assert int(host(step)[0]) == 2


def test_sgd_first_step_sets_the_velocity(device):
    """v_1 = g_1 when the counter reads 1, v_t = μ v + (1 − τ) g afterwards."""
    dev = gpudl.device(device)
    table = impl(dev)
    p, g, v = put(dev, np.zeros(3)), put(dev, np.ones(3)), put(dev, np.full(3, 100.0))
    lr, step = put(dev, [1.0]), put(dev, [1], np.int32)
    table.sgd_step(dev, p, g, v, lr, step, 0.5, 0.5, 0.0, False, 0, 3)
    np.testing.assert_array_equal(host(v), 1.0)
    table.optim_tick(dev, step)
    table.sgd_step(dev, p, g, v, lr, step, 0.5, 0.5, 0.0, False, 0, 3)
    np.testing.assert_array_equal(host(v), 1.0)  # 0.5 · 1 + 0.5 · 1
    np.testing.assert_array_equal(host(p), -2.0)


def _adam_args(dev, dtype=np.float32, n=5, **over):
    a = dict(p=put(dev, np.zeros(n), dtype), g=put(dev, np.zeros(n), dtype), exp_avg=put(dev, np.zeros(n), dtype),
             exp_avg_sq=put(dev, np.zeros(n), dtype), max_exp_avg_sq=None, lr=put(dev, [0.1], dtype),
             step=put(dev, [1], np.int32), beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled=False, start=0, count=n)
    return {**a, **over}


def test_errors(device):
    dev = gpudl.device(device)
    adam = impl(dev).adam_step
    with pytest.raises(TypeError, match="adam_step.*int32"):
        adam(dev, **_adam_args(dev, np.int32))
    with pytest.raises(TypeError, match="adam_step: exp_avg has dtype float64"):
        adam(dev, **_adam_args(dev, exp_avg=put(dev, np.zeros(5))))
    with pytest.raises(TypeError, match="adam_step: step must be a .1,. int32 counter"):
        adam(dev, **_adam_args(dev, step=put(dev, [1], np.int64)))
    with pytest.raises(ValueError, match=r"adam_step: exp_avg_sq of shape \(4,\)"):
        adam(dev, **_adam_args(dev, exp_avg_sq=put(dev, np.zeros(4), np.float32)))
    with pytest.raises(ValueError, match=r"adam_step: g of shape \(5, 1\)"):
        adam(dev, **_adam_args(dev, g=put(dev, np.zeros((5, 1)), np.float32)))
    with pytest.raises(ValueError, match=r"adam_step: exp_avg of shape \(5,\) must be a contiguous"):
        adam(dev, **_adam_args(dev, exp_avg=put(dev, np.zeros(10), np.float32)[::2]))
    with pytest.raises(ValueError, match=r"adam_step: run \[3, 8\) is outside p of shape \(5,\)"):
        adam(dev, **_adam_args(dev, start=3, count=5))
    with pytest.raises(ValueError, match="adam_step: max_exp_avg_sq is needed"):
        adam(dev, **_adam_args(dev, amsgrad=True))
    with pytest.raises(ValueError, match=r"adam_step: lr must have shape \(1,\)"):
        adam(dev, **_adam_args(dev, lr=put(dev, [0.1, 0.2], np.float32)))
    table = impl(dev)
    with pytest.raises(ValueError, match="sgd_step: momentum_buf is needed"):
        a = _adam_args(dev)
        table.sgd_step(dev, a["p"], a["g"], None, a["lr"], a["step"], 0.9, 0, 0, False, 0, 5)
    with pytest.raises(ValueError, match="rmsprop_step: grad_avg is needed"):
        a = _adam_args(dev)
        table.rmsprop_step(dev, a["p"], a["g"], a["exp_avg"], None, None, a["lr"], 0.9, 1e-8, 0, 0, True, 0, 5)
    with pytest.raises(TypeError, match="optim_tick: step must be"):
        table.optim_tick(dev, put(dev, [0.0], np.float32))


def test_kernels_refuse_host_arrays_off_emu(kernel_device):
    dev = gpudl.device(kernel_device)
    if dev.type != "cuda":
        pytest.skip("emu arrays are NumPy arrays")
    with pytest.raises(RuntimeError, match="adam_step: exp_avg is a numpy.ndarray"):
        impl(dev).adam_step(dev, **_adam_args(dev, exp_avg=np.zeros(5, np.float32)))
