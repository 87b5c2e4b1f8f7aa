"""Learning-rate schedules: change each group's `lr` once per epoch (PyTorch semantics).

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        train_one_epoch(); scheduler.step()          # ReduceLROnPlateau: scheduler.step(val_loss)

Building a scheduler records each group's starting rate η₀ as `initial_lr`, sets epoch e = 0 and
lr = η₀; a group that already has `initial_lr` (an optimizer restored by `load_state_dict`, or one
that had a scheduler before) keeps it as η₀ and keeps its current lr, as in PyTorch.
Each `step()` advances e by one and sets lr = η_e. The schedules below use the closed form
η_e = f(η₀, e); PyTorch computes the same values recursively from the current lr (they agree
unless something else changes lr in between).
"""
import math


class LRScheduler:
    """Base class: subclasses give `lr_at(base_lr, epoch)`. `state_dict` holds plain scalars."""

    def __init__(self, optimizer):
        self.optimizer, groups = optimizer, optimizer.param_groups
        fresh = ["initial_lr" not in group for group in groups]
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in groups]
        self.last_epoch = 0
        for group, base_lr, is_fresh in zip(groups, self.base_lrs, fresh):
            if is_fresh:  # a group that already had initial_lr (a loaded optimizer) keeps its lr
                group["lr"] = self.lr_at(base_lr, 0)
        self._last_lr = [group["lr"] for group in groups]

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def step(self):
        """Advance one epoch and set every group's lr."""
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base_lr, self.last_epoch)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lr of each group as set by the last step."""
        return list(self._last_lr)

    def state_dict(self):
        """Flat {name: Python scalar}; lists become name.0, name.1, ..."""
        out = {}
        for key, value in vars(self).items():
            if key == "optimizer":
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
            elif key in own and key != "optimizer" and not isinstance(own[key], list):
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
