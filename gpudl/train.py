"""The training loop: fit / evaluate / predict, callbacks and exact resumption.

One epoch of mini-batch training, in the lectures' terms:

    for each batch (X, y):   J = loss(model(X), y);   grads = dJ/dW (backprop);   W <- optimizer(W, grads)

`fit` shows a progress bar (loss, metrics, images/s), stops with a message naming the epoch
and step when the loss becomes NaN/Inf, and returns a History of per-epoch metrics.

Ctrl-C (SIGINT) takes effect between steps: the step in flight finishes, then, with a
Checkpoint callback, everything needed to continue is saved (mid-epoch too: the loader's
position, the epoch's running sums) and `resume` + `fit` continue to bit-identical weights
and history; without one, KeyboardInterrupt is raised at that point. A second Ctrl-C aborts
at once, saving nothing.

The loop never waits for the device per step: each step adds its loss, correct count and
finiteness to sums in device memory (one `accumulate_metrics` launch, kernels/metrics.cu), and the
host reads them only to refresh the progress bar (at most every REFRESH_S seconds) and at the end
of the epoch.  A NaN/Inf loss is found at those reads; the sums record its step, so the message
still names it, but the steps after it have run by then.
"""
import json
import math
import os
import signal
import threading
import time

import numpy as np
from tqdm.auto import tqdm

from . import creation, distributed
from .capture import capture as gd_capture
from .cpu.metrics import samples_of
from .optim.lr_scheduler import ReduceLROnPlateau
from .serialization import load, save
from .tensor import Tensor, no_grad


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite."""


class History:
    """Per-epoch metrics: history['loss'], history['val_accuracy'], ... (lists)."""

    def __init__(self, metrics=None, partial=None):
        self.metrics = {k: list(v) for k, v in (metrics or {}).items()}
        self.partial = partial  # the running sums of an epoch interrupted part-way (see Meter.state)

    def append(self, logs):
        for k, v in logs.items():
            self.metrics.setdefault(k, []).append(float(v))

    def __getitem__(self, key):
        return self.metrics[key]

    def __contains__(self, key):
        return key in self.metrics

    @property
    def epochs(self):
        return max((len(v) for v in self.metrics.values()), default=0)

    def to_json(self, path):
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.metrics, f, indent=1)
        os.replace(tmp, path)


METRICS = ("accuracy",)  # built-in metrics besides the loss (counted by kernels/metrics.cu)
REFRESH_S = 0.5          # the progress bar reads the device at most this often
_FIELDS = 5              # sums[:5]: loss * n, correct, samples, steps, first non-finite step
_STEPS = 3


def metric_names(metrics, what="fit"):
    """{name: None for a built-in | the callable} of `metrics`, checking each (a callable's name is
    its __name__: metric(outputs, labels) -> the batch mean, a Tensor on the batch's device or a number)."""
    names = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"{what}: unknown metric {m!r}; built in: {sorted(METRICS)}, or pass a callable")
            name, fn = m, None
        elif callable(m):
            name, fn = getattr(m, "__name__", type(m).__name__), m
        else:
            raise TypeError(f"{what}: a metric is a name ({sorted(METRICS)}) or a callable, got {m!r}")
        if name in names or name == "loss":
            raise ValueError(f"{what}: two metrics are called {name!r}; give the callables distinct names")
        names[name] = fn
    return names


class Meter:
    """An epoch's loss * n, correct predictions, samples, steps and first non-finite step, then
    value * n of each callable metric, summed in device memory (`add`: one launch per step, plus
    two per callable metric) and read by the host only in `read`."""

    def __init__(self, device, metrics, group=None):
        self.device, self.metrics, self.group = device, metric_names(metrics), group  # group: sum over its ranks
        self.count = "accuracy" in self.metrics
        self.custom = [(name, fn) for name, fn in self.metrics.items() if fn is not None]
        with device.activate():
            self.sums = device.kernels.full((_FIELDS + len(self.custom),), 0.0, np.float64)
        self.host_sums = [0.0] * len(self.custom)  # callable metrics that return host numbers
        self._zero = {}  # the loss of evaluate without a loss_fn: a zero per dtype

    def reset(self, state=None):
        """Zero the sums, or set them to `state` (from `state()`, to continue an interrupted epoch; with a
        group the state holds every rank's sums: rank 0 takes them, the others only the step count)."""
        if state is not None and self.group is not None and self.group.rank != 0:
            state = np.where(np.arange(len(state)) == _STEPS, state, 0.0)
        with self.device.activate():
            if state is None:
                self.device.kernels.fill(self.sums, 0.0)
            else:
                self.device.kernels.copy(self.device.asarray(state[:self.sums.size]), out=self.sums)
        self.host_sums = [0.0] * len(self.custom) if state is None else list(state[self.sums.size:])

    def state(self, combined=True):
        """The sums as one host float64 array (device sums, then the host ones): one sync; with a group
        and `combined`, summed over the ranks (the steps, which every rank counts alike, are kept, and the
        first non-finite step is the earliest of any rank's)."""
        sums = np.concatenate([Tensor._wrap(self.sums, self.device).numpy(), np.asarray(self.host_sums, np.float64)])
        if self.group is not None and combined:
            steps, bad = sums[_STEPS], np.array([sums[_STEPS + 1] or np.inf])
            self.group.all_reduce(sums, "sum")
            self.group.all_reduce(bad, "min")
            sums[_STEPS], sums[_STEPS + 1] = steps, 0 if np.isinf(bad[0]) else bad[0]
        return sums

    def add(self, loss, outputs, labels):
        """Add one batch (loss None: count the metrics only)."""
        kernels = self.device.kernels
        if loss is None:
            loss = self._zero.get(outputs.dtype)
            if loss is None:
                loss = self._zero[outputs.dtype] = kernels.full((), 0.0, outputs.dtype)
        else:
            loss = loss.data
        kernels.accumulate_metrics(loss, outputs.data, labels.data, self.count, self.sums[:_FIELDS])
        n = samples_of(labels)
        for i, (_, fn) in enumerate(self.custom):
            value = fn(outputs, labels)
            if isinstance(value, Tensor):
                total = self.sums[_FIELDS + i:_FIELDS + i + 1]
                kernels.add(total, kernels.mul(value.data, n), out=total)
            else:
                self.host_sums[i] += float(value) * n

    def read(self, combined=True):
        """(logs {'loss', metric names}: means so far, index of the first non-finite step or None): one sync
        (and, with a group and `combined`, two collectives: every rank must call it at the same point)."""
        sums = self.state(combined)
        loss_sum, correct, samples, _, bad = sums[:_FIELDS]
        per = 1 / max(samples, 1)
        logs = {"loss": loss_sum * per}
        if self.count:
            logs["accuracy"] = correct * per
        for i, (name, _) in enumerate(self.custom):
            logs[name] = (sums[_FIELDS + i] + sums[self.sums.size + i]) * per
        return logs, (int(bad) - 1 if bad else None)


class Callback:
    """Hooks called by `fit`; set `trainer.stop = True` to end training after this epoch."""

    def on_train_begin(self, trainer): pass
    def on_epoch_end(self, trainer, epoch, logs): pass
    def on_train_end(self, trainer): pass


def _improved(value, best, mode, min_delta):
    return best is None or (value < best - min_delta if mode == "min" else value > best + min_delta)


def _mode_for(monitor, mode):
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved for `patience` epochs; optionally restore the best weights."""

    def __init__(self, monitor="val_loss", patience=5, mode="auto", min_delta=0.0, restore_best=True):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode, self.restore_best = _mode_for(monitor, mode), restore_best
        self.best, self.best_state, self.wait, self.stopped_epoch = None, None, 0, None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: metric '{self.monitor}' not in this epoch's logs {sorted(logs)}")
        if _improved(logs[self.monitor], self.best, self.mode, self.min_delta):
            self.best, self.wait = logs[self.monitor], 0
            if self.restore_best:
                self.best_state = {k: v.numpy() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch, trainer.stop = epoch, True

    def on_train_end(self, trainer):
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


class Checkpoint(Callback):
    """Save model + optimizer + epoch + RNG state to `path` every `every` epochs (or only on improvement)."""

    def __init__(self, path, every=1, best_only=False, monitor="val_loss", mode="auto"):
        self.path, self.every, self.best_only = os.fspath(path), every, best_only
        self.monitor, self.mode, self.best = monitor, _mode_for(monitor, mode), None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.best_only:
            if not _improved(logs.get(self.monitor, math.nan), self.best, self.mode, 0.0):
                return
            self.best = logs[self.monitor]
        elif (epoch + 1) % self.every:
            return
        trainer.save_checkpoint(self.path, epoch + 1)


class Trainer:
    """The state `fit` works on; callbacks receive it."""

    def __init__(self, model, optimizer, loss_fn, train_loader, scheduler=None, history=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader, self.scheduler = train_loader, scheduler
        self.history, self.stop = history or History(), False
        self.meter = None  # made on the first batch's device
        self.group = group_of(train_loader)  # the ranks sharing the batches (gpudl.distributed), or None
        self.main = self.group is None or self.group.rank == 0  # the rank that prints and writes
        self.interrupted = False  # set by the SIGINT handler; acted on between steps

    def read(self, epoch, combined=True):
        """The epoch's logs so far (this rank's alone unless `combined`), or NonFiniteLossError naming the
        epoch and step of the first NaN/Inf loss."""
        logs, bad = self.meter.read(combined)
        if bad is not None:
            raise NonFiniteLossError(f"fit: loss became NaN or Inf at epoch {epoch + 1}, step {bad + 1} (found when "
                                     "the device was next read, so later steps have run too); try a smaller learning "
                                     "rate or check the inputs for NaN/Inf")
        return logs

    def save_checkpoint(self, path, epoch, partial=None):
        """Everything needed to continue exactly: weights, optimizer, epoch, RNGs, history (and the
        running sums of `epoch` when it stopped part-way)."""
        rng = json.dumps(creation.get_rng_state())
        if self.group is not None:  # each rank's generators (their draws differ), as a JSON list in rank order
            rng = self.group.gather_text(rng)
            rng = rng and "[" + ",".join(rng) + "]"
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "epoch": epoch,
                 "history": json.dumps(self.history.metrics), "rng": rng}
        if partial is not None:
            state["partial"] = partial
        if hasattr(self.train_loader, "state_dict"):
            state["loader"] = json.dumps(self.train_loader.state_dict())
        if self.scheduler is not None:
            state["scheduler"] = json.dumps(self.scheduler.state_dict())
        if self.main:  # the ranks hold the same weights: rank 0 writes
            save(state, path)


def resume(path, model, optimizer, train_loader=None, scheduler=None):
    """Load a checkpoint written by `Checkpoint`; returns (start_epoch, History) for `fit`.  A data-parallel
    run's checkpoint holds each rank's generators: rank r takes entry r (entry r mod their number when the
    world size changed)."""
    state = load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    rng = json.loads(state["rng"])
    creation.set_rng_state(rng[distributed.get_rank() % len(rng)] if isinstance(rng, list) else rng)
    if train_loader is not None and "loader" in state:
        train_loader.load_state_dict(json.loads(state["loader"]))
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(json.loads(state["scheduler"]))
    return int(state["epoch"]), History(json.loads(state["history"]), state.get("partial"))


class _Interrupts:
    """While fit runs (in the main thread): the first SIGINT only sets trainer.interrupted, which fit
    checks between steps; a second one raises KeyboardInterrupt at once."""

    def __init__(self, trainer):
        self.trainer, self.previous = trainer, None

    def _handler(self, signum, frame):
        if self.trainer.interrupted:
            raise KeyboardInterrupt
        self.trainer.interrupted = True
        if self.trainer.main:
            print("\ninterrupt: stopping after this step (Ctrl-C again to abort at once, saving nothing)", flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def group_of(data):
    """The process group whose ranks share the batches of `data` (a DataLoader with shard=(rank, world > 1)),
    or None; their metrics are summed over the ranks."""
    shard = getattr(data, "shard", None)
    if shard is None or shard[1] == 1:
        return None
    group = distributed.get_group()
    if tuple(shard) != (group.rank, group.size):
        raise ValueError(f"a DataLoader with shard={tuple(shard)} on rank {group.rank} of {group.size}: "
                         "use shard=(get_rank(), get_world_size())")
    return group


def _batches(data):
    """Accept a loader (yielding (x, y)), a single (x, y) pair or a single input Tensor."""
    return [data] if isinstance(data, (tuple, Tensor)) else data


def evaluate(model, data, loss_fn=None, metrics=("accuracy",)):
    """Mean loss and metrics over `data` in eval mode, without building a graph (one read at the end)."""
    metric_names(metrics, "evaluate")
    was_training = model.training
    model.eval()
    meter = None
    try:
        with no_grad():
            for x, y in _batches(data):
                out = model(x)
                meter = meter or Meter(out.device, metrics, group_of(data))
                meter.add(None if loss_fn is None else loss_fn(out, y), out, y)
    finally:
        model.train(was_training)
    if meter is None:
        return {}
    logs, _ = meter.read()
    return logs if loss_fn is not None else {k: v for k, v in logs.items() if k != "loss"}


def predict(model, data):
    """Model outputs for every batch of `data` (inputs only, or (x, y) pairs), as one NumPy array."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outs = [model(batch[0] if isinstance(batch, (tuple, list)) else batch).numpy() for batch in _batches(data)]
    finally:
        model.train(was_training)
    return np.concatenate(outs)


def _train_step(trainer):
    """One training step; its loss and metrics go to the trainer's Meter on the device."""
    model, opt = trainer.model, trainer.optimizer

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = trainer.loss_fn(out, y)
        loss.backward()
        opt.step()
        trainer.meter.add(loss, out, y)
        return loss
    return step


def _train_epoch(trainer, step_fn, epoch, epochs, metrics, progress):
    """The epoch's logs, or None when an interrupt stopped it part-way (after a complete step)."""
    trainer.model.train()
    count, steps, start, shown = 0, 0, time.perf_counter(), 0.0
    loader = trainer.train_loader
    total = len(loader) if hasattr(loader, "__len__") else None
    bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=True, unit="batch",
               dynamic_ncols=True)

    def show(logs):  # img/s of all ranks (this rank's count times their number)
        rate = count * (trainer.group.size if trainer.group else 1) / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix({**{k: f"{v:.4f}" for k, v in logs.items()}, "img/s": f"{rate:,.0f}"})

    for x, y in loader:
        if trainer.meter is None:
            trainer.meter = Meter(x.device, metrics, trainer.group)
        if count == 0:
            trainer.meter.reset(trainer.history.partial)
            trainer.history.partial = None
        step_fn(x, y)
        count, steps = count + len(x), steps + 1
        bar.update()
        if trainer.group is not None:  # every rank stops after the same step
            trainer.interrupted = trainer.group.any(trainer.interrupted)
        if trainer.interrupted and _part_way(loader, steps, total):  # at the epoch's last step: finish the epoch
            bar.close()
            return None
        if progress and time.perf_counter() - shown >= REFRESH_S:  # the only reads of the device mid-epoch
            shown = time.perf_counter()
            show(trainer.read(epoch, combined=False))
    logs = trainer.read(epoch) if count else {}
    if progress and count:
        show(logs)
    bar.close()
    return logs


def _part_way(loader, steps, total):
    """Whether batches of this epoch remain (a DataLoader knows, also after a mid-epoch resume)."""
    if hasattr(loader, "state_dict"):
        return loader.state_dict()["batch"] != 0
    return steps != total


def _interrupted(trainer, callbacks, epoch, part_way):
    """Save a checkpoint where fit stopped (with a Checkpoint callback) or raise KeyboardInterrupt."""
    saver = next((cb for cb in callbacks if isinstance(cb, Checkpoint)), None)
    if saver is None:
        raise KeyboardInterrupt
    path = saver.path + ".interrupted.npz"
    if part_way:
        trainer.save_checkpoint(path, epoch, partial=trainer.meter.state())
        where = f"during epoch {epoch + 1}"
    else:
        trainer.save_checkpoint(path, epoch + 1)
        where = f"after epoch {epoch + 1}"
    if trainer.main:
        print(f"interrupted {where}: saved {path}; train.resume(...) and fit continue from the next step")


def _use_capture(capture_arg, model, group):
    """fit's capture= choice: True / False, or 'auto' (on for cuda parameters, off across ranks)."""
    if capture_arg == "auto":
        return group is None and any(p.device.type == "cuda" for p in model.parameters())
    if capture_arg not in (True, False):
        raise ValueError(f"fit: capture must be True, False or 'auto', got {capture_arg!r}")
    if capture_arg and group is not None:
        raise ValueError("fit: capture=True cannot record the gradient all-reduce of data-parallel training "
                         "(a sharded DataLoader); use capture=False")
    return capture_arg


def fit(model, optimizer, loss_fn, train_loader, val_data=None, epochs=1, callbacks=(), metrics=("accuracy",),
        scheduler=None, start_epoch=0, history=None, progress=True, capture=False):
    """Train for `epochs` epochs (from `start_epoch`, e.g. after `resume`); returns the History.

    metrics: names of built-in metrics ('accuracy') and callables metric(outputs, labels) returning the
    batch's mean (a Tensor keeps it on the device; a number is a host sync) -- logged under __name__.
    capture=True records the training step once per batch shape and replays it (gd.capture: one CUDA
    graph per step on cuda, recorded launches on emu; not on cpu); 'auto' turns it on for cuda.

    Data-parallel (a DistributedDataParallel model and a DataLoader with shard=(rank, world)): every
    rank calls fit; the logs are summed over the ranks, only rank 0 shows progress and writes
    checkpoints, and a Ctrl-C stops every rank after the same step."""
    metric_names(metrics)
    if isinstance(scheduler, ReduceLROnPlateau) and val_data is None:
        raise ValueError("fit: ReduceLROnPlateau steps on the validation loss ('val_loss'): pass val_data, "
                         "or step the scheduler yourself")
    trainer = Trainer(model, optimizer, loss_fn, train_loader, scheduler, history)
    progress = progress and trainer.main
    step_fn = _train_step(trainer)
    if _use_capture(capture, model, trainer.group):
        step_fn = gd_capture(step_fn, shapes="recapture")
    for cb in callbacks:
        cb.on_train_begin(trainer)
    with _Interrupts(trainer):
        for epoch in range(start_epoch, epochs):
            logs = _train_epoch(trainer, step_fn, epoch, epochs, metrics, progress)
            if logs is None:
                _interrupted(trainer, callbacks, epoch, part_way=True)
                return trainer.history
            if val_data is not None:
                logs.update({f"val_{k}": v for k, v in evaluate(model, val_data, loss_fn, metrics).items()})
            logs["lr"] = optimizer.param_groups[0]["lr"]
            trainer.history.append(logs)
            if scheduler is not None:
                scheduler.step(logs["val_loss"]) if isinstance(scheduler, ReduceLROnPlateau) else scheduler.step()
            for cb in callbacks:
                cb.on_epoch_end(trainer, epoch, logs)
            if trainer.interrupted:
                _interrupted(trainer, callbacks, epoch, part_way=False)
                return trainer.history
            if trainer.stop:
                break
    for cb in callbacks:
        cb.on_train_end(trainer)
    return trainer.history
