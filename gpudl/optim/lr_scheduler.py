"""Learning-rate schedules: change each group's `lr` once per epoch (PyTorch semantics).

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        train_one_epoch(); scheduler.step()          # ReduceLROnPlateau: scheduler.step(val_loss)

Building a scheduler records each group's starting rate η₀ as `initial_lr`, sets epoch e = 0 and
lr = η₀; a group that already has `initial_lr` (an optimizer restored by `load_state_dict`, or one
that had a scheduler before) keeps it as η₀ and keeps its current lr, as in PyTorch.
Each `step()` advances e by one and sets lr = η_e. The schedules below use the closed form
η_e = f(η₀, e); PyTorch computes the same values recursively from the current lr (they agree
unless something else changes lr in between).  OneCycleLR (and often LinearLR) step once per
batch rather than per epoch; e counts the step() calls either way.
"""
import bisect
import math
import numbers


class LRScheduler:
    """Base class: subclasses give `lr_at(base_lr, epoch)` (or `lrs_at(epoch)`, every group's lr).
    `state_dict` holds plain scalars: every attribute but those named in `_unsaved`."""

    _unsaved = ("optimizer",)

    def __init__(self, optimizer, initial_lrs=None):
        """`initial_lrs`: each group's η₀ when the schedule defines it (OneCycleLR), else the group's lr."""
        self.optimizer, groups = optimizer, optimizer.param_groups
        fresh = ["initial_lr" not in group for group in groups]
        for group, lr in zip(groups, initial_lrs or ()):
            group["initial_lr"] = lr
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in groups]
        self.last_epoch = 0
        for group, lr, is_fresh in zip(groups, self.lrs_at(0), fresh):
            if is_fresh:  # a group that already had initial_lr (a loaded optimizer) keeps its lr
                group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def lrs_at(self, epoch):
        """Every group's lr at `epoch`."""
        return [self.lr_at(base_lr, epoch) for base_lr in self.base_lrs]

    def step(self):
        """Advance one epoch and set every group's lr."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.lrs_at(self.last_epoch)):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lr of each group as set by the last step."""
        return list(self._last_lr)

    def state_dict(self):
        """Flat {name: Python scalar}; lists become name.0, name.1, ..."""
        out = {}
        for key, value in vars(self).items():
            if key in self._unsaved:
                continue
            if isinstance(value, list):
                out.update({f"{key}.{i}": v for i, v in enumerate(value)})
            else:
                out[key] = value
        return out

    def load_state_dict(self, state_dict):
        """Inverse of `state_dict`; ValueError naming every key this scheduler does not have."""
        own, lists, unknown = vars(self), {}, []
        for key, value in state_dict.items():
            value = value.item() if hasattr(value, "item") else value
            name, _, index = key.rpartition(".")
            if index.isdigit() and isinstance(own.get(name), list):
                lists.setdefault(name, {})[int(index)] = value
            elif key in own and key not in self._unsaved and not isinstance(own[key], list):
                own[key] = value
            else:
                unknown.append(key)
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys {unknown}")
        for name, items in lists.items():
            own[name] = [items[i] for i in sorted(items)]


class StepLR(LRScheduler):
    """Decay by γ every `step_size` epochs:  η_e = η₀ · γ^⌊e / step_size⌋."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: invalid step_size {step_size!r}: must be a positive integer")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


def _positive_int(op, name, value):
    """value as an int; ValueError naming op unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{op}: invalid {name} {value!r}: must be a positive integer")
    return int(value)


def _per_group(op, name, value, groups):
    """One value per parameter group: a list / tuple as given (ValueError unless one per group), else repeated."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * len(groups)
    if len(values) != len(groups):
        raise ValueError(f"{op}: got {len(values)} {name} values for {len(groups)} parameter groups")
    return values


class MultiStepLR(LRScheduler):
    """Decay by γ at each milestone:  η_e = η₀ · γ^(number of milestones ≤ e)  (a milestone given
    twice counts twice, as in PyTorch)."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        milestones = list(milestones)
        if any(isinstance(m, bool) or not isinstance(m, numbers.Integral) for m in milestones):
            raise ValueError(f"MultiStepLR: invalid milestones {milestones!r}: must be integers")
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class LambdaLR(LRScheduler):
    """η_e = η₀ · λ(e), with one function λ for all groups or a list of one per group.

    As in PyTorch the functions are not in state_dict (a lambda cannot be saved): build the
    scheduler with the same functions, then load_state_dict restores the epoch."""

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda):
        self.lr_lambdas = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer.param_groups)
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be a function of the epoch, got {type(f).__name__}")
        super().__init__(optimizer)

    def lrs_at(self, epoch):
        return [base_lr * f(epoch) for base_lr, f in zip(self.base_lrs, self.lr_lambdas)]


class LinearLR(LRScheduler):
    """A linear ramp of the factor from start_factor to end_factor over total_iters steps, then constant:

        η_e = η₀ · (s + (t − s) · min(e, total_iters) / total_iters)      (s, t the two factors)

    The usual warm-up: LinearLR(opt, start_factor=0.1, total_iters=k), stepped once per batch."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: invalid start_factor {start_factor!r}: must be in (0, 1]")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: invalid end_factor {end_factor!r}: must be in [0, 1]")
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        progress = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch for total_steps steps
    (or epochs · steps_per_epoch):

        η₀ = max_lr / div_factor,   η_min = η₀ / final_div_factor,   p = pct_start · total_steps
        two phases:    η₀ → max_lr over steps [0, p − 1],  then max_lr → η_min until step total_steps − 1
        three_phase:   η₀ → max_lr over [0, p − 1],  max_lr → η₀ until 2p − 2,  η₀ → η_min until total_steps − 1

    each phase annealed by half a cosine ('cos') or a straight line ('linear').  max_lr may be a
    list, one per group; the group's 'initial_lr' becomes η₀.  Stepping past total_steps raises
    ValueError, as in PyTorch.  Only the learning rate cycles: PyTorch's cycle_momentum (its default
    True) is not offered, since momentum and betas reach the update kernels as arguments, which a
    captured step (gd.capture) would freeze.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = (_positive_int("OneCycleLR", "epochs", epochs)
                           * _positive_int("OneCycleLR", "steps_per_epoch", steps_per_epoch))
        self.total_steps = _positive_int("OneCycleLR", "total_steps", total_steps)
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: invalid pct_start {pct_start!r}: must be in [0, 1]")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: invalid anneal_strategy {anneal_strategy!r}: must be 'cos' or 'linear'")
        self.max_lrs = _per_group("OneCycleLR", "max_lr", max_lr, optimizer.param_groups)
        self.pct_start, self.anneal_strategy, self.three_phase = pct_start, anneal_strategy, three_phase
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        super().__init__(optimizer, initial_lrs=[m / div_factor for m in self.max_lrs])

    def lrs_at(self, epoch):
        if epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {epoch} times; total_steps is {self.total_steps}")
        return [self._lr(base_lr, max_lr, epoch) for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]

    def _phases(self, initial, peak):
        """[(last step of the phase, lr at its start, lr at its end)], as PyTorch lays them out."""
        rise, last = float(self.pct_start * self.total_steps) - 1, self.total_steps - 1
        floor = initial / self.final_div_factor
        if self.three_phase:
            return [(rise, initial, peak), (2 * rise, peak, initial), (last, initial, floor)]
        return [(rise, initial, peak), (last, peak, floor)]

    def _lr(self, initial, peak, step):
        """The lr at `step`: the first phase whose last step is not before it (else the final phase)."""
        phases = self._phases(initial, peak)
        i = next((i for i, (end, _, _) in enumerate(phases[:-1]) if step <= end), len(phases) - 1)
        start, (end, lr_from, lr_to) = (phases[i - 1][0] if i else 0), phases[i]
        return self._anneal(lr_from, lr_to, (step - start) / (end - start) if end != start else 0.0)

    def _anneal(self, lr_from, lr_to, pct):
        if self.anneal_strategy == "cos":
            return lr_to + (lr_from - lr_to) / 2 * (math.cos(math.pi * pct) + 1)
        return (lr_to - lr_from) * pct + lr_from


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another: the first until epoch milestones[0], the next one from
    there (restarting at its own epoch 0), and so on, as PyTorch's SequentialLR:

        i = number of milestones ≤ e,   η_e = schedulers[i] at its epoch e − milestones[i − 1]

    Build the schedulers on the same optimizer first; the lr stays what the first one set (or what a
    loaded optimizer had).  state_dict holds each scheduler's state as 'schedulers.<i>.<key>'."""

    _unsaved = ("optimizer", "schedulers")

    def __init__(self, optimizer, schedulers, milestones):
        self.schedulers, self.milestones = list(schedulers), list(milestones)
        for i, scheduler in enumerate(self.schedulers):
            if not isinstance(scheduler, LRScheduler) or isinstance(scheduler, ReduceLROnPlateau):
                raise TypeError(f"SequentialLR: scheduler {i} is a {type(scheduler).__name__}; expected an epoch-"
                                "based LRScheduler (not ReduceLROnPlateau)")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} belongs to another optimizer")
        if not self.schedulers or len(self.milestones) != len(self.schedulers) - 1:
            raise ValueError(f"SequentialLR: expected one milestone fewer than schedulers, got "
                             f"{len(self.schedulers)} schedulers and {len(self.milestones)} milestones")
        if any(isinstance(m, bool) or not isinstance(m, numbers.Integral) for m in self.milestones) or \
                self.milestones != sorted(self.milestones):
            raise ValueError(f"SequentialLR: invalid milestones {self.milestones!r}: must be increasing integers")
        self.optimizer, self.last_epoch = optimizer, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _active(self, epoch):
        """(the scheduler in charge at `epoch`, its own epoch there)."""
        i = bisect.bisect_right(self.milestones, epoch)
        return self.schedulers[i], epoch - (self.milestones[i - 1] if i else 0)

    def step(self):
        """Advance one epoch: the scheduler in charge moves to its own epoch and sets the lrs."""
        self.last_epoch += 1
        scheduler, own_epoch = self._active(self.last_epoch)
        scheduler.last_epoch = own_epoch - 1
        scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        out = super().state_dict()
        for i, scheduler in enumerate(self.schedulers):
            out.update({f"schedulers.{i}.{key}": value for key, value in scheduler.state_dict().items()})
        return out

    def load_state_dict(self, state_dict):
        own, parts = {}, [{} for _ in self.schedulers]
        for key, value in state_dict.items():
            head, _, rest = key.partition(".")
            index, _, name = rest.partition(".")
            if head == "schedulers" and index.isdigit() and int(index) < len(parts) and name:
                parts[int(index)][name] = value
            else:
                own[key] = value
        super().load_state_dict(own)
        for scheduler, part in zip(self.schedulers, parts):
            scheduler.load_state_dict(part)


class ExponentialLR(LRScheduler):
    """Decay by γ every epoch:  η_e = η₀ · γ^e."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from η₀ down to η_min over T_max epochs (SGDR without restarts):

        η_e = η_min + (η₀ − η_min) · (1 + cos(π e / T_max)) / 2

    Past T_max the cosine continues (rising again), as in PyTorch.
    """

    def __init__(self, optimizer, T_max, eta_min=0):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: invalid T_max {T_max!r}: must be > 0")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau(LRScheduler):
    """Multiply lr by `factor` when a metric has stopped improving; `step(metric)` once per epoch.

    Improvement over the best value so far (mode 'min'; 'max' mirrors it):
        threshold_mode 'rel':  metric < best · (1 − threshold)
        threshold_mode 'abs':  metric < best − threshold
    After more than `patience` epochs in a row without improvement:
        lr ← max(lr · factor, min_lr)   (skipped if it would change lr by no more than eps),
    then `cooldown` epochs during which bad epochs are not counted.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: invalid factor {factor!r}: must be < 1.0")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: invalid mode {mode!r}: must be 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: invalid threshold_mode {threshold_mode!r}: must be 'rel' or 'abs'")
        groups = optimizer.param_groups
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * len(groups)
        if len(min_lrs) != len(groups):
            raise ValueError(f"ReduceLROnPlateau: got {len(min_lrs)} min_lr values for {len(groups)} groups")
        self.optimizer, self.min_lrs = optimizer, min_lrs
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.eps = threshold_mode, cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in groups]

    def is_better(self, metric):
        """Has `metric` improved on the best value by more than the threshold?"""
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return metric < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return metric > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metric):
        """Record this epoch's metric; reduce the lr if the plateau has lasted long enough."""
        metric = float(metric)
        self.last_epoch += 1
        if self.is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
