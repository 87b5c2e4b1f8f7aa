"""Learning-rate schedules against their closed forms, and ReduceLROnPlateau traced by hand."""
import io
import math

import numpy as np
import pytest

import gpudl as gd
from gpudl.optim import SGD, lr_scheduler

EPOCHS = 25


def sgd(*lrs):
    """An SGD with one single-parameter group per learning rate."""
    return SGD([{"params": [gd.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs])


def lr_sequence(scheduler, epochs=EPOCHS):
    """[lrs at epoch 0, lrs at epoch 1, ...]: the starting rate, then one entry per step()."""
    seen = [scheduler.get_last_lr()]
    for _ in range(epochs - 1):
        scheduler.step()
        seen.append(scheduler.get_last_lr())
    return seen


SCHEDULES = {
    "StepLR": (lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
               lambda lr0, e: lr0 * 0.5 ** (e // 3)),
    "ExponentialLR": (lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.9),
                      lambda lr0, e: lr0 * 0.9 ** e),
    "CosineAnnealingLR": (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
                          lambda lr0, e: 0.001 + (lr0 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2),
    "MultiStepLR": (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[9, 2, 5, 5], gamma=0.5),
                    lambda lr0, e: lr0 * 0.5 ** sum(m <= e for m in (2, 5, 5, 9))),
    "LambdaLR": (lambda opt: lr_scheduler.LambdaLR(opt, lambda e: 1 / (1 + e)), lambda lr0, e: lr0 / (1 + e)),
    "LinearLR": (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=8),
                 lambda lr0, e: lr0 * (0.2 + 0.8 * min(e, 8) / 8)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_closed_form(name):
    build, formula = SCHEDULES[name]
    opt = sgd(0.1, 0.03)
    seen = lr_sequence(build(opt))
    want = [[formula(0.1, e), formula(0.03, e)] for e in range(EPOCHS)]
    np.testing.assert_allclose(seen, want, rtol=1e-12, atol=0)
    assert [g["lr"] for g in opt.param_groups] == seen[-1]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.03]


def test_cosine_reaches_eta_min_at_T_max():
    sched = lr_scheduler.CosineAnnealingLR(sgd(0.2), T_max=4)
    assert lr_sequence(sched, 5)[-1] == [pytest.approx(0.0, abs=1e-15)]


def test_optimizer_uses_the_scheduled_lr():
    """Loss Σp has gradient 1, so each SGD step moves p by exactly −lr."""
    p = gd.zeros(2, dtype="float64", requires_grad=True)
    opt = SGD([p], lr=1.0)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        p.sum().backward()
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.numpy(), -(1 + 0.5 + 0.25))


def plateau_lrs(metrics, lr=1.0, **kwargs):
    opt = sgd(lr)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.get_last_lr()[0])
    return out


FLAT = [10, 9, 9, 9, 9, 9, 9, 9, 9]


def test_plateau_patience():
    """Two bad epochs are tolerated; the third (epoch 5) cuts lr, then counting restarts."""
    assert plateau_lrs(FLAT, factor=0.5, patience=2, threshold=0) == [1, 1, 1, 1, .5, .5, .5, .25, .25]


def test_plateau_cooldown():
    """With cooldown=1 the epoch after a cut does not count as bad: the next cut comes one later."""
    assert plateau_lrs(FLAT, factor=0.5, patience=2, threshold=0, cooldown=1) == [1, 1, 1, 1, .5, .5, .5, .5, .25]


def test_plateau_relative_threshold():
    """min/rel: improving means metric < best·(1 − 0.1); 9.5 after 10 is not enough, 8.9 is."""
    assert plateau_lrs([10, 9.5, 8.9, 8.5, 8.5], factor=0.1, patience=1, threshold=0.1) == [1, 1, 1, 1, 0.1]


def test_plateau_max_abs_and_min_lr():
    """max/abs: improving means metric > best + 0.5; lr never goes below min_lr."""
    got = plateau_lrs([1.0, 1.4, 2.0, 2.0, 2.0], mode="max", threshold_mode="abs", threshold=0.5,
                      patience=0, factor=0.5, min_lr=0.3)
    assert got == [1, 0.5, 0.5, 0.3, 0.3]


def test_plateau_per_group_min_lr():
    opt = sgd(1.0, 0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=[0.05, 0.0])
    for m in [1, 1, 1]:
        sched.step(m)
    assert sched.get_last_lr() == [0.05, pytest.approx(0.001)]


def _through_npz(state_dict):
    buffer = io.BytesIO()
    np.savez(buffer, **state_dict)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as f:
        return dict(f)


def test_state_dict_round_trip():
    sched = lr_scheduler.StepLR(sgd(0.1, 0.2), step_size=2, gamma=0.5)
    lr_sequence(sched, 4)
    saved = sched.state_dict()
    assert all(isinstance(v, (int, float)) for v in saved.values()), saved
    resumed = lr_scheduler.StepLR(sgd(0.1, 0.2), step_size=7, gamma=0.9)
    resumed.load_state_dict(_through_npz(saved))
    assert lr_sequence(resumed, 4) == lr_sequence(sched, 4)


def test_plateau_state_dict_round_trip():
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3]
    sched = lr_scheduler.ReduceLROnPlateau(sgd(1.0), patience=1, cooldown=2)
    for m in metrics[:5]:
        sched.step(m)
    resumed = lr_scheduler.ReduceLROnPlateau(sgd(1.0), patience=1, cooldown=2)
    resumed.load_state_dict(_through_npz(sched.state_dict()))
    resumed.optimizer.param_groups[0]["lr"] = sched.optimizer.param_groups[0]["lr"]  # the optimizer's own state
    for m in metrics[5:]:
        sched.step(m)
        resumed.step(m)
        assert resumed.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr() == [pytest.approx(0.01)]  # cuts at epochs 4 and 8; 9, 10 are cooldown


def test_load_state_dict_rejects_unknown_keys():
    sched = lr_scheduler.ExponentialLR(sgd(0.1), gamma=0.5)
    with pytest.raises(ValueError, match="unexpected keys.*'momentum'"):
        sched.load_state_dict({**sched.state_dict(), "momentum": 0.9})


@pytest.mark.parametrize("build,match", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "StepLR: invalid step_size"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "CosineAnnealingLR: invalid T_max"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "ReduceLROnPlateau: invalid factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "ReduceLROnPlateau: invalid mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), "ReduceLROnPlateau: invalid threshold_mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0, 0]), "ReduceLROnPlateau: got 2 min_lr"),
])
def test_invalid_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build(sgd(0.1))


@pytest.mark.parametrize("name", SCHEDULES)
def test_scheduler_built_after_load_state_dict_keeps_the_loaded_lr(name):
    """As in PyTorch: groups that already have initial_lr keep it as η₀ and keep their lr."""
    build, formula = SCHEDULES[name]
    trained = sgd(0.1, 0.03)
    sched = build(trained)
    for _ in range(4):
        sched.step()
    saved = trained.state_dict()
    resumed = sgd(0.5, 0.5)
    resumed.load_state_dict(_through_npz(saved))
    again = build(resumed)
    lrs = [formula(0.1, 4), formula(0.03, 4)]
    assert [g["lr"] for g in resumed.param_groups] == pytest.approx(lrs, rel=1e-12)
    assert again.get_last_lr() == pytest.approx(lrs, rel=1e-12)
    assert again.base_lrs == [0.1, 0.03]
    again.load_state_dict(_through_npz(sched.state_dict()))
    again.step()
    assert again.get_last_lr() == pytest.approx([formula(0.1, 5), formula(0.03, 5)], rel=1e-12)


def test_a_fresh_optimizer_starts_at_its_lr():
    opt = sgd(0.2)
    lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["initial_lr"] == 0.2


# ---- against torch.optim.lr_scheduler, step by step ---------------------------------------------
def _one_cycle(**kwargs):
    return lambda m, opt: m.OneCycleLR(opt, **kwargs, **({} if m is lr_scheduler else {"cycle_momentum": False}))


TORCH_CASES = {
    "StepLR": lambda m, opt: m.StepLR(opt, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, opt: m.MultiStepLR(opt, milestones=[3, 7, 7, 12], gamma=0.3),
    "LambdaLR": lambda m, opt: m.LambdaLR(opt, lambda e: 0.95 ** e),
    "LambdaLR_per_group": lambda m, opt: m.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 1 + 0.1 * e]),
    "LinearLR_defaults": lambda m, opt: m.LinearLR(opt),
    "LinearLR_decay": lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=11),
    "OneCycleLR": _one_cycle(max_lr=0.5, total_steps=EPOCHS),
    "OneCycleLR_per_group": _one_cycle(max_lr=[1.0, 0.2], epochs=4, steps_per_epoch=6, pct_start=0.4,
                                       div_factor=10, final_div_factor=100),
    "OneCycleLR_linear_three_phase": _one_cycle(max_lr=0.8, total_steps=30, anneal_strategy="linear",
                                                three_phase=True),
    "SequentialLR_warmup_cosine": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(opt, T_max=15)], milestones=[5]),
    "SequentialLR_three": lambda m, opt: m.SequentialLR(
        opt, [m.ExponentialLR(opt, gamma=0.8), m.MultiStepLR(opt, milestones=[2, 4]), m.LambdaLR(opt, lambda e: e + 1)],
        milestones=[6, 14]),
}


def _torch_lrs(build, epochs, lrs):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs])
    sched = build(torch.optim.lr_scheduler, opt)
    seen = [sched.get_last_lr()]
    for _ in range(epochs - 1):
        opt.step()  # the order PyTorch expects (it warns otherwise)
        sched.step()
        seen.append(sched.get_last_lr())
    return seen


@pytest.mark.parametrize("name", TORCH_CASES)
def test_matches_pytorch(name):
    build = TORCH_CASES[name]
    opt = sgd(0.1, 0.03)
    ours = lr_sequence(build(lr_scheduler, opt), EPOCHS)
    np.testing.assert_allclose(ours, _torch_lrs(build, EPOCHS, (0.1, 0.03)), rtol=1e-12, atol=1e-15)
    assert [g["lr"] for g in opt.param_groups] == ours[-1]


@pytest.mark.parametrize("name", TORCH_CASES)
def test_new_schedules_resume_from_their_state_dict(name):
    """k steps, state_dict through .npz, a scheduler built anew on a fresh optimizer: the same continuation."""
    build = TORCH_CASES[name]
    sched = build(lr_scheduler, sgd(0.1, 0.03))
    lr_sequence(sched, 8)
    saved = sched.state_dict()
    assert all(isinstance(v, (int, float, str, bool)) for v in saved.values()), saved
    resumed = build(lr_scheduler, sgd(0.1, 0.03))
    resumed.load_state_dict(_through_npz(saved))
    assert lr_sequence(resumed, 10) == lr_sequence(sched, 10)


def test_one_cycle_uses_its_own_initial_lr_and_stops_at_total_steps():
    opt = sgd(0.1)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=2.0, total_steps=10, div_factor=20)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and sched.get_last_lr() == [pytest.approx(0.1)]
    seen = lr_sequence(sched, 11)
    assert max(seen)[0] == pytest.approx(2.0) and seen[-2][0] == pytest.approx(0.1 / 1e4)
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times; total_steps is 10"):
        sched.step()


def test_lambda_lr_does_not_save_its_functions():
    sched = lr_scheduler.LambdaLR(sgd(0.1), lambda e: 0.5 ** e)
    lr_sequence(sched, 3)
    saved = sched.state_dict()
    assert not any("lambda" in key for key in saved) and saved["last_epoch"] == 2
    other = lr_scheduler.LambdaLR(sgd(0.1), lambda e: 0.5 ** e)
    other.load_state_dict(saved)
    other.step()
    assert other.get_last_lr() == [pytest.approx(0.1 * 0.5 ** 3)]


def test_sequential_state_dict_holds_each_scheduler():
    opt = sgd(0.1)
    sched = lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt, total_iters=2),
                                            lr_scheduler.StepLR(opt, step_size=2)], milestones=[3])
    lr_sequence(sched, 6)
    saved = sched.state_dict()
    assert saved["last_epoch"] == 5 and saved["milestones.0"] == 3
    assert saved["schedulers.0.total_iters"] == 2 and saved["schedulers.1.step_size"] == 2
    assert saved["schedulers.1.last_epoch"] == 2  # the StepLR's own epoch: 5 - milestone 3
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: unexpected keys \['bogus'\]"):
        sched.load_state_dict({**saved, "schedulers.1.bogus": 1})


@pytest.mark.parametrize("name", ["OneCycleLR_per_group", "SequentialLR_warmup_cosine"])
def test_built_after_optimizer_load_state_dict_keeps_the_loaded_lr(name):
    build = TORCH_CASES[name]
    trained = sgd(0.1, 0.03)
    sched = build(lr_scheduler, trained)
    lr_sequence(sched, 7)
    resumed = sgd(0.5, 0.5)
    resumed.load_state_dict(_through_npz(trained.state_dict()))
    again = build(lr_scheduler, resumed)
    assert again.get_last_lr() == sched.get_last_lr() == [g["lr"] for g in resumed.param_groups]
    again.load_state_dict(_through_npz(sched.state_dict()))
    again.step()
    sched.step()
    assert again.get_last_lr() == pytest.approx(sched.get_last_lr(), rel=1e-12)


def test_one_cycle_drives_the_optimizer(device):
    """Loss Σp has gradient 1, so each SGD step moves p by exactly −lr: the device sees every new lr."""
    p = gd.zeros(2, dtype="float64", device=device, requires_grad=True)
    opt = SGD([p], lr=1.0)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=6, anneal_strategy="linear")
    used = []
    for _ in range(6):
        used.append(sched.get_last_lr()[0])
        opt.zero_grad()
        p.sum().backward()
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.numpy(), -sum(used))


@pytest.mark.parametrize("build,error,match", [
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[1.5]), ValueError, "MultiStepLR: invalid milestones"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "LambdaLR: lr_lambda must be a function"),
    (lambda o: lr_scheduler.LambdaLR(o, [abs, abs]), ValueError, "LambdaLR: got 2 lr_lambda values for 1"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, "LinearLR: invalid start_factor 0"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, "LinearLR: invalid end_factor 1.5"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError, "LinearLR: invalid total_iters 0"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError, "OneCycleLR: give total_steps, or epochs"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=0), ValueError,
     "OneCycleLR: invalid steps_per_epoch 0"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=-3), ValueError, "OneCycleLR: invalid total_steps -3"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, pct_start=1.2), ValueError, "OneCycleLR: invalid pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"), ValueError,
     "OneCycleLR: invalid anneal_strategy 'exp'"),
    (lambda o: lr_scheduler.OneCycleLR(o, [1.0, 2.0], 10), ValueError, "OneCycleLR: got 2 max_lr values for 1"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], milestones=[3]), ValueError,
     "SequentialLR: expected one milestone fewer than schedulers, got 1 schedulers and 1 milestones"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(sgd(0.1), 2), lr_scheduler.StepLR(o, 2)], [3]),
     ValueError, "SequentialLR: scheduler 0 belongs to another optimizer"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o), lr_scheduler.StepLR(o, 2)], [3]),
     TypeError, "SequentialLR: scheduler 0 is a ReduceLROnPlateau"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)] * 3, [5, 2]), ValueError,
     "SequentialLR: invalid milestones"),
])
def test_new_schedulers_reject_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build(sgd(0.1))
