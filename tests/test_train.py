"""The training loop: learning, metrics, callbacks, NaN detection, checkpoints and exact resume."""
import json
import os
import signal

import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn
from gpudl import data, optim, train
from gpudl.data import synthetic
from gpudl.nn import functional as F


def blobs_loaders(seed=0, device="cpu"):
    x, y = synthetic.two_blobs(400, separable=True, seed=seed)
    ds = data.TensorDataset(x.astype(np.float32), y.astype(np.int64))
    tr, va = data.random_split(ds, [300, 100], seed=seed)
    return (data.DataLoader(tr, batch_size=32, shuffle=True, seed=seed, device=device),
            data.DataLoader(va, batch_size=100, device=device))


def small_model():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


def test_fit_learns_and_records_history(device):
    gd.manual_seed(0)
    tr, va = blobs_loaders(device=device)
    model = small_model().to(device)
    hist = train.fit(model, optim.Adam(model.parameters(), lr=0.01), F.cross_entropy, tr, va, epochs=5, progress=False)
    assert hist.epochs == 5 and hist["loss"][-1] < hist["loss"][0]
    assert hist["val_accuracy"][-1] > 0.95
    ev = train.evaluate(model, va, F.cross_entropy)
    assert ev["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    assert train.predict(model, va).shape == (100, 2)
    x = gd.tensor(np.ones((5, 2), np.float32), device=device)
    assert train.predict(model, x).shape == (5, 2)  # a bare tensor is one batch, not 5 rows


def test_nan_loss_stops_with_epoch_and_step():
    tr, _ = blobs_loaders()
    model = small_model()
    with pytest.raises(train.NonFiniteLossError, match=r"epoch 1, step 1"):
        train.fit(model, optim.SGD(model.parameters(), lr=0.1), lambda out, y: out.sum() * np.nan, tr,
                  epochs=1, progress=False)


def test_early_stopping_restores_best():
    tr, va = blobs_loaders()
    model = small_model()
    stopper = train.EarlyStopping(monitor="val_loss", patience=2)
    # lr 0 after the first epoch: no further improvement, so training stops after patience epochs
    opt = optim.SGD(model.parameters(), lr=0.5)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.0)
    hist = train.fit(model, opt, F.cross_entropy, tr, va, epochs=20, callbacks=[stopper], scheduler=sched,
                     progress=False)
    assert hist.epochs == 3 and stopper.stopped_epoch == 2


def _run(epochs, tmp_path=None, resume_from=None, stop_after=None):
    gd.manual_seed(42)
    tr, va = blobs_loaders(seed=1)
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    start, hist = 0, None
    if resume_from:
        start, hist = train.resume(resume_from, model, opt, tr)
    callbacks = [train.Checkpoint(tmp_path / "ck.npz")] if tmp_path else []
    hist = train.fit(model, opt, F.cross_entropy, tr, va, epochs=stop_after or epochs, callbacks=callbacks,
                     start_epoch=start, history=hist, progress=False)
    return model, hist


def test_resume_continues_exactly(tmp_path):
    straight, hist_a = _run(4)
    _run(4, tmp_path, stop_after=2)  # "interrupted" after epoch 2, checkpoint written each epoch
    resumed, hist_b = _run(4, resume_from=tmp_path / "ck.npz")
    for (n, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert np.array_equal(a.numpy(), b.numpy()), n
    assert hist_a.metrics == hist_b.metrics


def test_checkpoint_best_only(tmp_path):
    tr, va = blobs_loaders()
    model = small_model()
    ck = train.Checkpoint(tmp_path / "best.npz", best_only=True, monitor="val_accuracy")
    train.fit(model, optim.Adam(model.parameters(), lr=0.01), F.cross_entropy, tr, va, epochs=3, callbacks=[ck],
              progress=False)
    saved = gd.load(tmp_path / "best.npz")
    assert saved["epoch"] >= 1 and ck.best == max(json.loads(saved["history"])["val_accuracy"])


def _sigint_at(call, loss=F.cross_entropy):
    """A loss function that sends this process SIGINT (Ctrl-C) during its `call`-th call."""
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(out, y)
    return loss_fn, calls


def _augmented_run(device, tmp_path, epochs=3, interrupt_at=None, resume_from=None, seed=7):
    """An MLP with BatchNorm and Dropout on shuffled, augmented 8x8 images (loader seeds differ per run:
    resume must bring back the saved ones)."""
    gd.manual_seed(seed)
    rng = np.random.default_rng(0)
    ds = data.TensorDataset(rng.integers(0, 256, (90, 1, 8, 8)).astype(np.uint8), rng.integers(0, 3, 90))
    loader = data.DataLoader(ds, batch_size=16, shuffle=True, device=device, seed=seed, transform=data.transforms.Compose(
        [data.transforms.ToFloat(), data.transforms.RandomTranslate(1, seed=seed), data.transforms.RandomHorizontalFlip(seed=seed + 1)]))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(12, 3)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    start, hist = train.resume(resume_from, model, opt, loader, sched) if resume_from else (0, None)
    loss_fn, _ = _sigint_at(interrupt_at) if interrupt_at else (F.cross_entropy, None)
    hist = train.fit(model, opt, loss_fn, loader, epochs=epochs, scheduler=sched, start_epoch=start, history=hist,
                     callbacks=[train.Checkpoint(tmp_path / "ck.npz")], progress=False)
    return {k: v.numpy() for k, v in model.state_dict().items()}, hist


@pytest.mark.parametrize("interrupt_at", [9, 6, 1])  # mid-epoch 2; the last step of epoch 1; the first step
def test_sigint_then_resume_gives_bit_identical_weights(device, tmp_path, interrupt_at):
    """Ctrl-C at an arbitrary step, resume, and once more in the resumed epoch's last step."""
    straight, hist_a = _augmented_run(device, tmp_path / "a")
    (tmp_path / "b").mkdir()
    _, partial = _augmented_run(device, tmp_path / "b", interrupt_at=interrupt_at)
    ck = tmp_path / "b" / "ck.npz.interrupted.npz"
    saved = gd.load(ck)
    done = interrupt_at // 6  # 6 batches per epoch: an interrupt in the 6th step lets epoch 1 finish
    assert partial.epochs == done
    assert int(saved["epoch"]) == done and ("partial" in saved) == (interrupt_at % 6 != 0)
    last = 6 - interrupt_at % 6  # the resumed epoch's last step
    _, again = _augmented_run(device, tmp_path / "b", resume_from=ck, seed=98, interrupt_at=last)
    assert again.epochs == done + 1 and int(gd.load(ck)["epoch"]) == done + 1 and "partial" not in gd.load(ck)
    resumed, hist_b = _augmented_run(device, tmp_path / "b", resume_from=ck, seed=99)
    for key, value in straight.items():
        assert np.array_equal(resumed[key], value), key
    assert hist_b.metrics == hist_a.metrics


def test_sigint_without_a_checkpoint_raises_after_the_step():
    tr, _ = blobs_loaders()
    model = small_model()
    loss_fn, calls = _sigint_at(3)
    with pytest.raises(KeyboardInterrupt):
        train.fit(model, optim.SGD(model.parameters(), lr=0.1), loss_fn, tr, epochs=2, progress=False)
    assert len(calls) == 3  # the step in flight finished; no further step started


def test_reduce_on_plateau_needs_validation_data():
    tr, _ = blobs_loaders()
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="ReduceLROnPlateau steps on the validation loss"):
        train.fit(model, opt, F.cross_entropy, tr, scheduler=optim.lr_scheduler.ReduceLROnPlateau(opt), progress=False)


def test_fit_reads_the_device_only_at_the_end_of_each_epoch(kernel_device):
    gd.manual_seed(1)
    tr, _ = blobs_loaders(device=kernel_device)
    assert tr.resident
    model = small_model().to(kernel_device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    train.fit(model, opt, F.cross_entropy, tr, epochs=1, progress=False)  # warm: kernel layouts are cached
    with gd.profiler.profile() as prof:
        hist = train.fit(model, opt, F.cross_entropy, tr, epochs=3, start_epoch=1, progress=False)
    assert prof.syncs == 2 and prof.uploads == 0  # one read of the sums per epoch; no batch copied
    assert prof.by_kernel()["accumulate_metrics_f32_i64"] == 2 * len(tr)
    assert 0 <= hist["accuracy"][-1] <= 1 and hist["loss"][-1] < hist["loss"][0]


def test_fit_logs_are_the_means_over_the_epoch():
    """History's loss / accuracy against the per-batch values computed in NumPy after the fact."""
    gd.manual_seed(2)
    x, y = synthetic.two_blobs(70, seed=4)
    loader = data.DataLoader(data.TensorDataset(x.astype(np.float32), y.astype(np.int64)), batch_size=16)
    model = nn.Sequential(nn.Linear(2, 3))
    seen = []

    def loss_fn(out, labels):
        seen.append((out.numpy(), labels.numpy()))
        return F.cross_entropy(out, labels)

    def mean_logit(out, labels):  # a device metric: stays a Tensor
        return out.mean()

    def first_label_share(out, labels):  # a host metric: a Python number
        return float((labels.numpy() == 0).mean())

    hist = train.fit(model, optim.SGD(model.parameters(), lr=0.0), loss_fn, loader, progress=False,
                     metrics=("accuracy", mean_logit, first_label_share))
    losses, correct, logits, zeros = [], 0, 0.0, 0
    for out, labels in seen:
        shifted = out - out.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        losses.append(-logp[np.arange(len(labels)), labels].mean() * len(labels))
        correct += int((out.argmax(axis=1) == labels).sum())
        logits += out.mean() * len(labels)
        zeros += int((labels == 0).sum())
    assert hist["loss"][0] == pytest.approx(sum(losses) / 70, rel=1e-5)
    assert hist["accuracy"][0] == pytest.approx(correct / 70)
    assert hist["mean_logit"][0] == pytest.approx(logits / 70, rel=1e-5)
    assert hist["first_label_share"][0] == pytest.approx(zeros / 70)
    ev = train.evaluate(model, loader, metrics=(mean_logit,))
    assert set(ev) == {"mean_logit"} and ev["mean_logit"] == pytest.approx(logits / 70, rel=1e-5)


def test_metric_arguments_are_checked():
    tr, _ = blobs_loaders()
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown metric 'top5'"):
        train.fit(model, opt, F.cross_entropy, tr, metrics=("top5",), progress=False)
    with pytest.raises(TypeError, match="a metric is a name"):
        train.fit(model, opt, F.cross_entropy, tr, metrics=(3,), progress=False)
    def accuracy(out, labels):
        return 0.0

    with pytest.raises(ValueError, match="two metrics are called 'accuracy'"):
        train.evaluate(model, tr, metrics=("accuracy", accuracy))


def test_nan_found_later_still_names_its_step(kernel_device):
    tr, _ = blobs_loaders(device=kernel_device)
    model = small_model().to(kernel_device)
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss = F.cross_entropy(out, y)
        return loss * np.nan if len(calls) == 4 else loss

    with pytest.raises(train.NonFiniteLossError, match=r"epoch 1, step 4 \(found when the device was next read"):
        train.fit(model, optim.SGD(model.parameters(), lr=0.1), loss_fn, tr, epochs=1, progress=False)
    assert len(calls) == len(tr)  # the epoch ran on: nothing was read back per step
