"""The Optimizer base: groups, zero_grad, skipped parameters, dtypes, state dicts, argument checks."""
import re
import io

import numpy as np
import pytest

import gpudl as gd
import gpudl.optim as optim

# one configuration per optimizer that creates every kind of state buffer it has
FULL = [
    ("SGD", dict(lr=0.02, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict(rho=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
]
NAMES = [name for name, _ in FULL]


def test_param_groups_override_defaults(problem, device):
    w, b = problem.params(device)
    opt = optim.SGD([{"params": [w], "lr": 0.1}, {"params": b}], lr=0.01, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0.5]
    opt.param_groups[1]["momentum"] = 0  # groups are plain dicts: plain SGD from here on
    opt.param_groups[0]["momentum"] = 0
    got = problem.run(opt, [w, b], 2)
    want = [a.copy() for a in problem.initial]
    for _ in range(2):
        gw, gb = problem.numpy_grads(*want)
        want = [want[0] - 0.1 * gw, want[1] - 0.01 * gb]
    for g, x in zip(got, want):
        np.testing.assert_allclose(g, x, rtol=1e-12, atol=1e-12)


def test_zero_grad_sets_none(problem, device):
    params = problem.params(device)
    opt = optim.Adam(params)
    problem.backward(params)
    assert all(p.grad is not None for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_returns_closure_loss(problem):
    params = problem.params("cpu")
    opt = optim.SGD(params, lr=0.01)
    loss = opt.step(lambda: problem.backward(params))
    assert loss.item() == pytest.approx(((problem.x @ problem.initial[0] + problem.initial[1] - problem.t) ** 2).sum())
    assert not np.array_equal(params[0].numpy(), problem.initial[0])


@pytest.mark.parametrize("name,kwargs", FULL, ids=NAMES)
def test_params_without_grad_are_skipped(problem, device, name, kwargs):
    w, b = params = problem.params(device)
    opt = getattr(optim, name)(params, **kwargs)
    problem.backward(params)
    b.grad = None
    opt.step()
    np.testing.assert_array_equal(b.numpy(), problem.initial[1])
    assert not np.array_equal(w.numpy(), problem.initial[0])
    assert list(opt.state) == [w]


@pytest.mark.parametrize("name,kwargs", FULL, ids=NAMES)
def test_float32_stays_float32_in_place(problem, device, name, kwargs):
    params = problem.params(device, np.float32)
    opt = getattr(optim, name)(params, **kwargs)
    problem.run(opt, params, 1)  # the first step re-points each p.data at the group's flat buffer
    arrays = [p.data for p in params]
    got = problem.run(opt, params, 2)
    assert all(p.data is a for p, a in zip(params, arrays))  # updated in place from then on
    assert all(g.dtype == np.float32 for g in got)
    params64 = problem.params(device)
    opt64 = getattr(optim, name)(params64, **kwargs)
    for g, want in zip(got, problem.run(opt64, params64, 3)):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-4)


def _through_npz(state_dict):
    """What gd.save / gd.load would give back: an .npz written and read without pickle."""
    buffer = io.BytesIO()
    np.savez(buffer, **state_dict)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as f:
        return dict(f)


@pytest.mark.parametrize("name,kwargs", FULL, ids=NAMES)
def test_state_dict_round_trip_resumes_exactly(problem, device, name, kwargs):
    cls = getattr(optim, name)
    params = problem.params(device)
    want = problem.run(cls(params, **kwargs), params, 5)

    params = problem.params(device)
    opt = cls(params, **kwargs)
    at_3 = problem.run(opt, params, 3)
    saved = opt.state_dict()
    assert all(isinstance(v, (np.ndarray, bool, int, float)) for v in saved.values()), saved
    assert saved["param_groups.0.lr"] == kwargs.get("lr", opt.defaults["lr"])
    np.testing.assert_array_equal(saved["param_groups.0.params"], [0, 1])
    problem.run(opt, params, 1)  # the saved dict is a snapshot, not a view of live buffers

    resumed = [gd.tensor(a, device=device, requires_grad=True) for a in at_3]
    fresh = cls(resumed)  # default hyperparameters: the state dict must restore them
    fresh.load_state_dict(_through_npz(saved))
    assert {k: v for k, v in fresh.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    for got, w in zip(problem.run(fresh, resumed, 2), want):
        np.testing.assert_array_equal(got, w)


def test_state_dict_keys_follow_pytorch_numbering(problem):
    w, b = problem.params("cpu")
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}], betas=(0.8, 0.9))
    problem.run(opt, [w, b], 1)
    sd = opt.state_dict()
    np.testing.assert_array_equal(sd["param_groups.1.params"], [1])
    np.testing.assert_array_equal(sd["param_groups.0.betas"], [0.8, 0.9])
    assert sd["param_groups.1.lr"] == 0.5 and sd["state.1.step"] == 1
    assert sd["state.0.exp_avg"].shape == (3, 2) and sd["state.1.exp_avg_sq"].shape == (2,)


def _mismatch(saved, params, groups=None):
    opt = optim.Adam(groups or params)
    with pytest.raises(ValueError, match="Adam.load_state_dict") as info:
        opt.load_state_dict(saved)
    assert opt.state == {}  # nothing half-loaded
    return str(info.value)


def test_load_state_dict_mismatch_lists_every_name(problem):
    params = problem.params("cpu")
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    problem.run(opt, params, 1)
    saved = opt.state_dict()
    z = lambda *s: gd.zeros(*s, dtype="float64", requires_grad=True)  # noqa: E731

    msg = _mismatch(saved, [z(2, 3), z(2)])
    for name in ("state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq"):
        assert name in msg
    assert "state.1" not in msg and "state.0.step" not in msg

    msg = _mismatch(saved, [z(3, 2)])
    assert "param_groups.0.params: saved 2 parameters, group has 1" in msg and "state.1: no parameter 1" in msg

    a, b = z(3, 2), z(2)
    msg = _mismatch(saved, None, groups=[{"params": [a]}, {"params": [b]}])
    assert "param_groups: saved groups [0], optimizer has 2" in msg and "param_groups.1.params: missing" in msg

    msg = _mismatch({**saved, "model.weight": np.zeros(2)}, [z(3, 2), z(2)])
    assert "model.weight: unexpected key" in msg


INVALID = [
    ("SGD", dict(lr=-0.1), "lr"),
    ("SGD", dict(momentum=-0.5), "momentum"),
    ("SGD", dict(weight_decay=-1e-4), "weight_decay"),
    ("SGD", dict(nesterov=True), "nesterov"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "nesterov"),
    ("Adagrad", dict(lr_decay=-1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-0.1), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1e-10), "eps"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(rho=-0.1), "rho"),
    ("Adadelta", dict(lr=-1.0), "lr"),
    ("RMSprop", dict(alpha=-0.9), "alpha"),
    ("RMSprop", dict(momentum=-0.9), "momentum"),
    ("RMSprop", dict(eps=-1e-8), "eps"),
    ("Adam", dict(betas=(1.0, 0.999)), "betas"),
    ("Adam", dict(betas=(0.9, -0.1)), "betas"),
    ("Adam", dict(eps=-1e-8), "eps"),
    ("AdamW", dict(weight_decay=-0.01), "weight_decay"),
    ("AdamW", dict(lr=-1e-3), "lr"),
]


@pytest.mark.parametrize("name,kwargs,arg", INVALID, ids=[f"{n}-{a}-{k}" for n, k, a in INVALID])
def test_invalid_hyperparameters(name, kwargs, arg):
    with pytest.raises(ValueError, match=rf"^{name}: (invalid )?{re.escape(arg)}(\[\d\])?( must lie in|=)"):
        getattr(optim, name)([gd.zeros(2, requires_grad=True)], **kwargs)


def test_invalid_value_in_a_group():
    with pytest.raises(ValueError, match="^SGD: lr must lie in"):
        optim.SGD([{"params": [gd.zeros(2, requires_grad=True)], "lr": -1}], lr=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameter_lists(name):
    cls = getattr(optim, name)
    with pytest.raises(ValueError, match=f"{name}: got an empty parameter list"):
        cls([])
    with pytest.raises(ValueError, match=f"{name}: all 2 parameters are frozen"):
        cls([gd.zeros(2), gd.zeros(3)])
    with pytest.raises(TypeError, match=f"{name}: parameter 0 .* dtype int64"):
        cls([gd.zeros(2, dtype="int64"), gd.zeros(3, requires_grad=True)])
    p = gd.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="more than one place"):
        cls([p, p])
    with pytest.raises(TypeError, match="single Tensor"):
        cls(p)
