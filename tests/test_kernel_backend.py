"""A whole training step on a kernel device runs only gpudl kernels, in few launches, with no host sync,
and matches the cpu step.

The guard: on `emu` every array the device makes is a `KernelOnly` array, whose NumPy ufuncs and
array functions raise (views are allowed).  Kernels read and write it through pointers, so a step
passes only if every compute op went through the device's kernel table.
"""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn.functional as F
from gpudl import backend, models, optim, profiler

VIEWS = {"broadcast_to", "expand_dims", "squeeze", "reshape", "transpose", "swapaxes", "moveaxis", "shape", "ndim"}
LAUNCH_BUDGET = {"mlp": 30, "lenet": 60, "cnn": 90}
# conv biases right before a BatchNorm: the normalisation removes them, so their gradient is 0 up to
# rounding and Adam moves them by up to lr per step on noise; the BatchNorm's running mean carries that bias
NOISE_ONLY = {"cnn": ("0.bias", "4.bias", "1.running_mean", "5.running_mean")}


class KernelOnly(np.ndarray):
    """An emu array that refuses NumPy compute: only kernels may touch its values."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise AssertionError(f"numpy.{ufunc.__name__}.{method} computed on a kernel-device array")

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ not in VIEWS:
            raise AssertionError(f"numpy.{func.__name__} computed on a kernel-device array")
        return super().__array_function__(func, tuple(np.ndarray if t is KernelOnly else t for t in types),
                                          args, kwargs)


class _GuardedNumpy:
    """numpy, except that `empty` makes KernelOnly arrays."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(shape, dtype=float):
        return np.empty(shape, dtype=dtype).view(KernelOnly)


@pytest.fixture
def kernel_only(monkeypatch):
    """Make every emu array a KernelOnly array for the test's duration."""
    guarded = _GuardedNumpy()
    xp, asarray = backend.Device.xp, backend.Device.asarray
    monkeypatch.setattr(backend.Device, "xp", property(lambda d: guarded if d.type == "emu" else xp.fget(d)))
    monkeypatch.setattr(backend.Device, "asarray", lambda d, data, dtype=None: (
        np.array(backend.to_numpy(data), dtype=dtype).view(KernelOnly) if d.type == "emu" else asarray(d, data, dtype)))


def _batch(n, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, 1, 28, 28)).astype(np.float32), r.integers(0, 10, n).astype(np.int64)


def _model(name, device, seed=0):
    gd.manual_seed(seed)
    model = models.MODELS[name]()
    reference = {k: v.numpy() for k, v in model.state_dict().items()}
    model = model.to(device)
    model.load_state_dict(reference)
    return model


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def test_guard_catches_numpy_compute(kernel_only):
    x = gd.tensor(np.ones(3, np.float32), device="emu")
    with pytest.raises(AssertionError, match="numpy.add"):
        x.data + x.data
    assert isinstance(x.data, KernelOnly)


@pytest.mark.parametrize("name", ["mlp", "lenet", "cnn"])
def test_step_runs_only_kernels_and_matches_cpu(name, kernel_only):
    """5 Adam steps on emu (every array KernelOnly) equal 5 steps on cpu to 1e-5 relative.

    Relative in norm, per tensor: Adam divides by sqrt(v), so an element whose gradient is ~0 turns
    float32 rounding differences (tiled GEMM vs BLAS summation order) into visible ones."""
    steps, batch = 5, 8
    runs = {}
    for dev in ("cpu", "emu"):
        model = _model(name, dev)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        gd.manual_seed(1)  # the dropout masks: the same counter-based stream on both devices
        losses = []
        for i in range(steps):
            x, y = _batch(batch, seed=i)
            losses.append(_step(model, opt, gd.tensor(x, device=dev), gd.tensor(y, device=dev)).item())
        runs[dev] = losses, {k: v.numpy() for k, v in model.state_dict().items()}
    np.testing.assert_allclose(runs["emu"][0], runs["cpu"][0], rtol=1e-5)
    for key, value in runs["cpu"][1].items():
        if key in NOISE_ONLY.get(name, ()):  # true gradient 0: Adam steps of at most lr on rounding noise
            assert np.abs(runs["emu"][1][key] - value).max() <= 1e-3 * steps, key
            continue
        error = np.linalg.norm(runs["emu"][1][key] - value) / max(np.linalg.norm(value), 1e-30)
        assert error < 1e-5, f"{key}: relative error {error:.2e}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "lenet", "cnn"])
def test_batch128_step_launch_budget(name):
    """One batch-128 Adam step on emu: within the launch budget and with no host synchronisation."""
    model = _model(name, "emu")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(128)
    x, y = gd.tensor(x, device="emu"), gd.tensor(y, device="emu")
    _step(model, opt, x, y)  # warm-up: compiles, allocates optimizer state
    with profiler.profile() as prof:
        _step(model, opt, x, y)
    print(f"\n{name}: {prof.launches} launches, {prof.syncs} syncs\n{prof.table()}")
    assert prof.syncs == 0, prof.sync_events
    assert prof.launches <= LAUNCH_BUDGET[name], prof.by_kernel()


def test_profiler_counts_syncs_and_launches():
    x = gd.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device="emu")
    with profiler.profile() as prof:
        y = (x * 2 + 1).sum()
        value = y.item()
        x.numpy()
    assert value == pytest.approx(36.0)
    assert prof.syncs == 2 and [w for w, _ in prof.sync_events] == ["item", "numpy"]
    assert prof.launches == 3 and sum(prof.by_kernel().values()) == 3
    assert "host syncs: 2" in prof.table()
    assert any(name.startswith("Mul.forward") for name in prof.function_seconds)


def test_profiler_on_cpu_counts_no_launches():
    x = gd.tensor([1.0, 2.0])
    with profiler.profile() as prof:
        (x * 3).sum().item()
    assert prof.launches == 0 and prof.syncs == 0


def test_profiles_do_not_nest():
    with profiler.profile():
        with pytest.raises(RuntimeError, match="already"):
            with profiler.profile():
                pass
