"""The flat-buffer machinery: one tick + one update launch per group step, lr and t in device memory,
views into the flat buffers, skipped parameters, replaced `.data`, state loaded into the views."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.optim as optim
from gpudl import profiler
from gpudl.optim.lr_scheduler import StepLR

SHAPES = [(3, 2), (7,), (1,), (4, 5), (2, 3, 2), (11,), (1, 1), (6,), (5, 3), (257,)]


def _params(device, dtype=np.float32, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [gd.tensor(rng.standard_normal(s).astype(dtype), device=device, requires_grad=True) for s in shapes]


def _set_grads(params, seed, skip=()):
    """Fresh gradient tensors (as backward would leave them); None for the indices in `skip`."""
    rng = np.random.default_rng(seed)
    for i, p in enumerate(params):
        g = rng.standard_normal(p.shape).astype(p.dtype)
        p.grad = None if i in skip else gd.tensor(g, device=p.device)


def _host(a):
    return gd.backend.to_numpy(a)


def test_adam_step_is_two_launches_once_grads_are_in_g():
    params = _params("emu")
    opt = optim.Adam(params, lr=0.01)
    _set_grads(params, 1)
    opt.step()  # grads copied into G, each p.grad re-pointed at its slice
    with profiler.profile() as prof:
        opt.step()
    assert prof.launches == 2
    assert prof.by_kernel() == {"optim_tick": 1, "adam_step_f32": 1}
    _set_grads(params, 2)  # new gradient arrays: one copy launch each, still one tick and one update
    with profiler.profile() as prof:
        opt.step()
    assert prof.launches == len(params) + 2
    assert prof.by_kernel()["optim_tick"] == 1 and prof.by_kernel()["adam_step_f32"] == 1
    assert prof.syncs == 0


def test_plain_sgd_needs_no_tick():
    params = _params("emu", shapes=[(4,), (3,)])
    opt = optim.SGD(params, lr=0.1)
    _set_grads(params, 1)
    opt.step()
    with profiler.profile() as prof:
        opt.step()
    assert prof.by_kernel() == {"sgd_step_f32": 1}


def test_scheduled_lr_reaches_the_kernel(device):
    """StepLR halves η: the lr buffer is rewritten once (one fill launch on emu) and the update uses it.

    The first step also fills the new step counter; the third writes nothing (η unchanged)."""
    (w,) = params = _params(device, np.float64, shapes=[(5,)])
    opt = optim.SGD(params, lr=0.4)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    grad = np.linspace(0.5, 2, 5)
    moves = []
    for _ in range(3):
        before = w.numpy()
        w.grad = gd.tensor(grad, device=device)
        with profiler.profile() as prof:
            opt.step()
        moves.append((before - w.numpy()) / grad)
        fills = sum(n for name, n in prof.by_kernel().items() if name.startswith("fill"))
        assert device == "cpu" or fills == [2, 1, 0][len(moves) - 1]
        if len(moves) < 2:
            scheduler.step()
    np.testing.assert_allclose(np.array(moves), [[0.4] * 5, [0.2] * 5, [0.2] * 5], rtol=1e-12)


def test_step_counter_and_lr_are_device_arrays(device):
    params = _params(device, shapes=[(3,), (2,)])
    opt = optim.Adam(params, lr=0.05)
    xp = np if device in ("cpu", "emu") else gd.device(device).xp
    for t in range(1, 4):
        _set_grads(params, t)
        opt.step()
        flat = opt._flats[0]
        assert isinstance(flat.step, xp.ndarray) and flat.step.dtype == np.int32 and flat.step.shape == (1,)
        assert isinstance(flat.lr, xp.ndarray) and flat.lr.dtype == np.float32
        assert int(_host(flat.step)[0]) == t and float(_host(flat.lr)[0]) == np.float32(0.05)
    assert opt.state_dict()["state.1.step"] == 3


def test_parameters_share_the_flat_buffers(device):
    params = _params(device, shapes=[(2, 3), (4,)])
    opt = optim.RMSprop(params, centered=True, momentum=0.5)
    _set_grads(params, 1)
    opt.step()
    flat = opt._flats[0]
    assert params[0].data.base is flat.P and params[1].data.base is flat.P
    assert all(p.grad.data.base is flat.G for p in params)
    for p in params:
        assert set(opt.state[p]) == {"square_avg", "grad_avg", "momentum_buffer"}
        assert all(v.shape == p.shape and v.base is flat.state[k] for k, v in opt.state[p].items())


def _numpy_sgd(thetas, grads_per_step, lr, momentum):
    """Momentum SGD in NumPy with one velocity per parameter (v_1 = g_1 at its first gradient)."""
    thetas, vs = [t.astype(np.float64) for t in thetas], [None] * len(thetas)
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            if g is None:
                continue
            vs[i] = g if vs[i] is None else momentum * vs[i] + g
            thetas[i] = thetas[i] - lr * vs[i]
    return thetas


def test_parameters_without_grad_split_the_run(device):
    """Parameter 2 of 4 has no gradient: two update launches (emu), it stays put, the others match NumPy."""
    params = _params(device, np.float64, shapes=[(3,), (2, 2), (5,), (1,)])
    initial = [p.numpy() for p in params]
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    history = []
    for step in range(3):
        _set_grads(params, step, skip=(2,))
        history.append([None if p.grad is None else p.grad.numpy() for p in params])
        with profiler.profile() as prof:
            opt.step()
        if device == "emu":
            assert prof.by_kernel()["sgd_step_f64"] == 2
    want = _numpy_sgd(initial, history, 0.1, 0.9)
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.numpy(), w, rtol=1e-12)
    np.testing.assert_array_equal(params[2].numpy(), initial[2])
    assert params[2] not in opt.state


def test_replaced_data_is_copied_back_in(device):
    """Module.load_state_dict replaces p.data: the next step copies it into P and updates it there."""
    (w,) = params = _params(device, np.float64, shapes=[(4,)])
    opt = optim.SGD(params, lr=0.5)
    _set_grads(params, 1)
    opt.step()
    w.data = gd.device(device).asarray(np.zeros(4))
    w.grad = gd.tensor(np.ones(4), device=device)
    opt.step()
    np.testing.assert_array_equal(w.numpy(), -0.5)
    assert w.data.base is opt._flats[0].P


def test_group_must_share_device_and_dtype():
    a = gd.zeros(2, dtype="float64", requires_grad=True)
    b = gd.zeros(3, dtype="float32", requires_grad=True)
    with pytest.raises(ValueError, match="Adam: parameter group 1: all parameters of a group must share device "
                                         "and dtype; parameter 0 is float64 on cpu, parameter 1 is float32 on cpu"):
        optim.Adam([{"params": [gd.zeros(1, dtype="float64", requires_grad=True)]}, {"params": [a, b]}])


def test_load_state_dict_writes_into_the_views(device):
    params = _params(device, np.float64, shapes=[(3,), (2,)])
    opt = optim.Adam(params, amsgrad=True)
    for t in range(3):
        _set_grads(params, t)
        opt.step()
    saved = opt.state_dict()
    _set_grads(params, 9)
    opt.step()
    opt.load_state_dict(saved)
    assert set(opt.state[params[0]]) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    for i, p in enumerate(params):
        for k, v in opt.state[p].items():
            assert v.base is opt._flats[0].state[k]  # a view of the flat buffer, not a new array
            np.testing.assert_array_equal(_host(v), saved[f"state.{i}.{k}"])
    assert int(_host(opt._flats[0].step)[0]) == 3
