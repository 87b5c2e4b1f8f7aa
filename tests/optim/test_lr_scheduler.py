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
