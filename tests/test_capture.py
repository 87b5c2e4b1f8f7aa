"""gd.capture on emu: a captured training step trains exactly like the eager loop, the device-side
state (step count, lr, dropout's Philox offset, BatchNorm statistics) advances on replay, and what a
graph cannot replay raises CaptureError naming the op and the rule."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn.functional as F
from gpudl import models, nn, optim
from gpudl.gpu import gemm

STEPS, BATCH = 10, 4
SMALL = {"mlp": lambda: models.mlp(hidden=(32, 16)), "lenet": models.lenet5, "cnn": lambda: models.cnn(width=4)}
# conv biases right before a BatchNorm: true gradient 0, Adam moves them on rounding noise (as in
# tests/test_kernel_backend.py); the BatchNorm running mean carries that bias
NOISE_ONLY = {"cnn": ("0.bias", "4.bias", "1.running_mean", "5.running_mean")}


def _batch(i, n=BATCH):
    r = np.random.default_rng(i)
    x, y = r.standard_normal((n, 1, 28, 28)).astype(np.float32), r.integers(0, 10, n)
    return gd.tensor(x, device="emu"), gd.tensor(y, device="emu")


def _setup(name):
    """(model on emu, Adam, StepLR) with initial weights from seed 0; dropout's stream from seed 1."""
    gd.manual_seed(0)
    model = SMALL[name]()
    reference = {k: v.numpy() for k, v in model.state_dict().items()}
    model = model.to("emu")
    model.load_state_dict(reference)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    gd.manual_seed(1)
    return model, opt, scheduler


def _step_fn(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _train(name, captured, sizes=(BATCH,) * STEPS, shapes="error"):
    """Train on changing batches, scheduler.step() between calls; the final state and per-call records."""
    model, opt, scheduler = _setup(name)
    step = _step_fn(model, opt)
    step = gd.capture(step, shapes=shapes) if captured else step
    losses, steps, lrs, running = [], [], [], []
    for i, n in enumerate(sizes):
        losses.append(step(*_batch(i, n)).item())
        flat = opt._flats[0]
        steps.append(flat.read_step())
        lrs.append((opt.param_groups[0]["lr"], float(gd.Tensor._wrap(flat.lr, flat.device))))
        running.append({k: v.numpy() for k, v in model.state_dict().items() if "running_var" in k})
        scheduler.step()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    return losses, state, steps, lrs, running


def _assert_same_state(name, got, want):
    for key, value in want.items():
        if key in NOISE_ONLY.get(name, ()):
            assert np.abs(got[key] - value).max() <= 1e-3 * STEPS, key
            continue
        error = np.linalg.norm(got[key] - value) / max(np.linalg.norm(value), 1e-30)
        assert error < 1e-5, f"{key}: relative error {error:.2e}"


@pytest.mark.parametrize("name", ["mlp", "lenet", "cnn"])
def test_captured_steps_train_like_eager_steps(name):
    """10 captured calls (warm-up, capture, 8 replays) == 10 eager Adam steps under StepLR; the step
    count, the lr on the device and the BatchNorm statistics advance on every replay."""
    eager_losses, eager_state, _, _, _ = _train(name, captured=False)
    losses, state, steps, lrs, running = _train(name, captured=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    _assert_same_state(name, state, eager_state)
    assert steps == list(range(1, STEPS + 1))
    for lr, on_device in lrs:
        assert on_device == pytest.approx(lr, rel=1e-6)
    assert lrs[-1][0] < lrs[0][0]  # StepLR did lower it during the replays
    for before, after in zip(running, running[1:]):
        for key in before:
            assert not np.array_equal(before[key], after[key]), key


def test_dropout_masks_differ_between_replays():
    drop = nn.Dropout(0.5)
    step = gd.capture(lambda x: drop(x))
    x = gd.ones(64, device="emu")
    masks = [step(x).numpy() != 0 for _ in range(4)]
    for a, b in zip(masks, masks[1:]):
        assert not np.array_equal(a, b)


def test_outputs_are_overwritten_by_the_next_replay():
    lin = nn.Linear(3, 2).to("emu")
    step = gd.capture(lambda x: lin(x))
    for i in range(2):
        step(gd.full((1, 3), float(i), device="emu"))
    out = step(gd.full((1, 3), 2.0, device="emu"))
    kept = out.numpy()
    again = step(gd.full((1, 3), 3.0, device="emu"))
    assert again is out
    assert not np.array_equal(out.numpy(), kept)


def _linear_step(violation):
    lin = nn.Linear(4, 3).to("emu")

    def step(x):
        y = lin(x).sum()
        violation(y)
        return y
    return gd.capture(step)


SYNC = "host synchronisation"
VIOLATIONS = {
    "item": (lambda y: y.item(), f"item of a tensor of shape \\(\\).*{SYNC}"),
    "numpy": (lambda y: y.numpy(), f"numpy of a tensor.*{SYNC}"),
    "float": (lambda y: float(y), f"float of a tensor.*{SYNC}"),
    "print": (lambda y: print(y), f"repr of a tensor.*{SYNC}"),
    "to_cpu": (lambda y: y.to("cpu"), f"to of a tensor.*{SYNC}"),
    "host_data": (lambda y: gd.tensor([1.0, 2.0], device="emu"), "host-to-device copy of ndarray data to emu"),
}


@pytest.mark.parametrize("rule", sorted(VIOLATIONS))
def test_what_a_replay_cannot_repeat_raises_inside_the_capture(rule):
    violation, message = VIOLATIONS[rule]
    step = _linear_step(violation)
    x = gd.ones(2, 4, device="emu")
    step(x)  # the warm-up runs eagerly: allowed there
    with pytest.raises(gd.CaptureError, match=message):
        step(x)


def test_cublas_matmul_raises_inside_the_capture(monkeypatch):
    """cuda only in practice: the backend resolver is patched so emu takes the cuBLAS path."""
    monkeypatch.setattr(gemm, "resolve_backend", lambda device: "cublas")
    step = _linear_step(lambda y: None)
    x = gd.ones(2, 4, device="emu")
    step(x)
    with pytest.raises(gd.CaptureError, match="matmul with GPUDL_MATMUL=cublas.*cannot capture"):
        step(x)


def test_a_changing_scalar_argument_would_be_frozen():
    counter = [0]

    def step(x):
        counter[0] += 1
        return x * float(counter[0])
    step = gd.capture(step)
    x = gd.ones(3, device="emu")
    step(x)
    with pytest.raises(gd.CaptureError, match=r"kernel binary_f32 argument #\d+ changed between steps \(1.0 vs 2.0\): "
                                              "it would be frozen in a CUDA graph"):
        step(x)


def test_a_changed_input_shape_raises_naming_both():
    step = gd.capture(lambda x: x * 2.0)
    step(gd.ones(4, 3, device="emu"))
    step(gd.ones(4, 3, device="emu"))
    with pytest.raises(gd.CaptureError, match=r"\(3, 3\) float32.*\(4, 3\) float32.*shapes='recapture'"):
        step(gd.ones(3, 3, device="emu"))


def test_recapture_handles_a_partial_last_batch():
    """Epochs of 4, 4, 3 samples: one graph per batch size, training like the eager loop."""
    sizes = (4, 4, 3) * 3
    eager_losses, eager_state, _, _, _ = _train("mlp", captured=False, sizes=sizes)
    losses, state, steps, _, _ = _train("mlp", captured=True, sizes=sizes, shapes="recapture")
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    _assert_same_state("mlp", state, eager_state)
    assert steps == list(range(1, len(sizes) + 1))


def test_cpu_cannot_capture():
    with pytest.raises(RuntimeError, match="capture needs a kernel device: cuda or emu"):
        gd.capture(lambda x: x * 2.0)(gd.ones(3, device="cpu"))


def _fashion_subset(n, device):
    from gpudl import cli, data
    if data.datasets.where("fashion-mnist") is None:
        pytest.skip("Fashion-MNIST not found (apt-get install dataset-fashion-mnist)")
    return data.DataLoader(cli.load_split("fashion-mnist", True, limit=n), batch_size=128, shuffle=True,
                           device=device, seed=5, transform=cli.transform_for("fashion-mnist"))


@pytest.mark.slow
def test_fit_with_capture_trains_like_eager(tmp_path):
    """fit(capture=True) on emu: LeNet-5 on 2,000 Fashion-MNIST images (a partial last batch included)
    reaches the weights of fit(capture=False); resuming from a checkpoint with capture on matches too."""
    import gpudl.nn.functional as F
    from gpudl import models, optim, train

    def run(capture, epochs=2, stop_after=None, resume_from=None, ck=None):
        gd.manual_seed(3)
        model = models.lenet5().to("emu")
        opt = optim.Adam(model.parameters(), lr=1e-3)
        loader = _fashion_subset(2000, "emu")
        start, hist = (train.resume(resume_from, model, opt, loader) if resume_from else (0, None))
        callbacks = [train.Checkpoint(ck)] if ck else []
        train.fit(model, opt, F.cross_entropy, loader, epochs=stop_after or epochs, callbacks=callbacks,
                  start_epoch=start, history=hist, progress=False, capture=capture)
        return {k: v.numpy() for k, v in model.state_dict().items()}

    eager, captured = run(False), run(True)
    run(True, stop_after=1, ck=tmp_path / "ck.npz")
    resumed = run(True, resume_from=tmp_path / "ck.npz")
    for key, value in eager.items():
        for other in (captured, resumed):
            error = np.linalg.norm(other[key] - value) / max(np.linalg.norm(value), 1e-30)
            assert error < 1e-5, f"{key}: relative error {error:.2e}"
