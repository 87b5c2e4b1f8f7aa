"""The Optimizer base class: parameter groups, per-parameter state, step, and state dicts.

An optimizer walks over parameters θ with gradients g_t = ∇J(θ_t) and applies an update
rule θ_{t+1} = θ_t − (something built from g_1..g_t), in place, on the parameters' device.

    params         an iterable of Tensors, or of dicts {'params': [...], 'lr': ..., ...}
                   (parameter groups; a group's keys override the optimizer's defaults)
    param_groups   list of dicts, each with 'params' and every hyperparameter
    state[p]       dict of p's state buffers (e.g. 'exp_avg'), keyed by the Tensor

Multi-tensor steps.  The base class keeps each group in flat buffers (gpudl/optim/flat.py,
made at the group's first step): all parameters in one buffer P (each Tensor's `.data` is
re-pointed at its slice, so arrays taken from `p.data` before are stale), all gradients in
one buffer G, each kind of state in one flat buffer (`state[p][name]` is p's view into it),
and the step count t and learning rate η in 1-element device buffers.  One `step()` of a
group is: copies of the gradients that are not in G yet, one `optim_tick` launch (t ← t + 1;
plain SGD needs none), and one update launch over each run of consecutive parameters that
have gradients (the subclass's table function, e.g. `device.kernels.adam_step`).  η is
rewritten on the device only when `group['lr']` changed.  No host syncs.  The cpu device runs
the same flat updates in NumPy.

A group's step count advances once per step() for the whole group (parameters without a
gradient are skipped, as in PyTorch, but do not get a count of their own: a parameter that
first gets a gradient at the group's step t is bias-corrected with that t).

Frozen parameters (requires_grad False) may be in a group, as in PyTorch (`Adam(model.parameters())`
after `model.features.requires_grad_(False)`); only a parameter list that is frozen entirely is
refused.  A frozen parameter is skipped even when it still holds an old gradient: it is never
updated (no weight decay either) and gets no state entry; its values sit unchanged in P (its state
slices are allocated with the group's but never touched).  Unfreezing it later works: from its
first step it is updated with fresh state and, like any late parameter, the group's t.  Subclasses
name their state buffers (`buffers`) and call their table function (`update`).

`state_dict()` is flat, with dotted names and only NumPy host arrays and Python scalars,
so it fits an `.npz` file. Parameters are numbered by position across all groups; `step`
is the group's device counter read back (a host sync):

    param_groups.0.lr = 0.001        param_groups.0.params = array([0, 1])
    param_groups.0.betas = array([0.9, 0.999])     state.1.exp_avg = array(...)
    state.1.step = 3
"""
import numpy as np

from .. import backend, checks
from ..capture import register
from ..nn.utils import zero_grad
from ..tensor import Tensor, no_grad
from .flat import FlatGroup, common_placement

_RULES = {  # hyperparameter -> the interval it must lie in (gpudl.checks.number's low / high)
    "lr": dict(low=0), "eps": dict(low=0), "momentum": dict(low=0), "weight_decay": dict(low=0),
    "dampening": dict(low=0, high=1), "lr_decay": dict(low=0), "initial_accumulator_value": dict(low=0),
    "alpha": dict(low=0, high=1), "rho": dict(low=0, high=1),
}


def _plain(value):
    """NumPy scalars / small arrays (as read back from .npz) -> Python scalars / tuples."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item() if np.ndim(value) == 0 else tuple(np.asarray(value).tolist())
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


class Optimizer:
    """Base class. Subclasses pass their defaults and implement `buffers` and `update`."""

    _scalar_state = ("step",)  # state entries that are Python numbers, not arrays
    counts_steps = True        # whether state dicts carry 'step' (SGD's do not)

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, got a single Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        self.defaults = {k: _plain(v) for k, v in defaults.items()}
        self.param_groups, self.state, self._flats = [], {}, {}
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)
        if not any(p.requires_grad for p in self._params()):
            raise ValueError(f"{name}: all {len(self._params())} parameters are frozen (none requires grad): nothing "
                             "to train; a parameter that does not require grad is never updated")
        register(self)  # gd.capture: write_lr before every replay

    def add_param_group(self, group):
        """Append a group: check its parameters, fill in defaults, validate hyperparameters."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys {sorted(group)}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
            if not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"{name}: parameter {i} (shape {p.shape}) has dtype {p.dtype}; optimizers take "
                                "floating-point tensors")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears in more than one place")
            seen.add(id(p))
        common_placement(params, f"{name}: parameter group {len(self.param_groups)}")
        group = {**self.defaults, **{k: _plain(v) for k, v in group.items() if k != "params"}, "params": params}
        self.check_hyperparameters(group)
        self.param_groups.append(group)

    def check_hyperparameters(self, group):
        """TypeError / ValueError naming the optimizer and the argument for a non-number or out-of-range value."""
        name = type(self).__name__
        for key, bounds in _RULES.items():
            if key in group:
                checks.number(name, key, group[key], **bounds)
        if "betas" in group:
            betas = group["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
            for i, b in enumerate(betas):
                checks.number(name, f"betas[{i}]", b, low=0, high=1, high_open=True)

    def _params(self):
        """Every parameter, numbered by position across groups (as in the state dict)."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (`.grad = None`, PyTorch's default), or zero it in place
        (set_to_none=False: the parameter is then still stepped, with a zero gradient, as in PyTorch)."""
        zero_grad(self._params(), set_to_none)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; `closure` re-evaluates the loss."""
        loss = closure() if closure is not None else None
        with no_grad():
            for gi, group in enumerate(self.param_groups):
                self._step_group(self._flat(gi), group)
        return loss

    def write_lr(self):
        """Write each group's lr to its device buffer where it changed since the last write."""
        for gi, flat in self._flats.items():
            with flat.device.activate():
                flat.set_lr(self.param_groups[gi]["lr"])

    def _flat(self, gi):
        """Group gi's flat buffers, made on first use."""
        if gi not in self._flats:
            group = self.param_groups[gi]
            self._flats[gi] = FlatGroup(group["params"], f"{type(self).__name__}: parameter group {gi}")
        return self._flats[gi]

    def _step_group(self, flat, group):
        """Gradients into G, then one tick and one update launch per run (none without gradients)."""
        with flat.device.activate():
            flat.sync_params()
            runs, stepped = flat.gather()
            if not runs:
                return
            state = {name: flat.buffer(name, initial) for name, initial in self.buffers(group).items()}
            flat.set_lr(group["lr"])
            if self.ticks(group):
                flat.tick()
            for start, count in runs:
                self.update(flat, state, group, start, count)
        for i in stepped:
            views = self.state.setdefault(flat.params[i], {})
            for name in flat.state:
                if name not in views:
                    views[name] = flat.view(name, i)

    def buffers(self, group):
        """{state buffer name: initial value} that `group`'s hyperparameters need (subclasses)."""
        raise NotImplementedError

    def ticks(self, group):
        """Whether a step of `group` advances its step counter (the update reads t)."""
        return True

    def update(self, flat, state, group, start, count):
        """Launch the update of flat.P[start:start + count] from flat.G (subclasses).

        `state` maps each name from `buffers(group)` to its flat buffer; flat.lr and flat.step
        are the device's η and t."""
        raise NotImplementedError

    # ---- saving and resuming -----------------------------------------------------------
    def state_dict(self):
        """Flat {dotted name: NumPy host array or Python scalar}, ready for `np.savez`."""
        params = self._params()
        position = {id(p): i for i, p in enumerate(params)}
        out, steps = {}, {}
        for gi, group in enumerate(self.param_groups):
            if gi in self._flats and self.counts_steps:
                steps.update(dict.fromkeys(map(id, group["params"]), self._flats[gi].read_step()))
            for key, value in group.items():
                if key == "params":
                    value = np.array([position[id(p)] for p in value], dtype=np.int64)
                elif isinstance(value, tuple):
                    value = np.array(value)
                out[f"param_groups.{gi}.{key}"] = value
        for i, p in enumerate(params):
            if p in self.state and self.counts_steps:
                out[f"state.{i}.step"] = steps[id(p)]
            for key, value in self.state.get(p, {}).items():
                out[f"state.{i}.{key}"] = np.array(backend.to_numpy(value))
        return out

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and buffers: written into the flat buffers, on the parameters' device.

        Raises ValueError listing every mismatch by name: unknown keys, a different number
        of groups or of parameters in a group, a buffer whose shape differs from its parameter's.
        """
        groups, states, problems = {}, {}, []
        for key, value in state_dict.items():
            head, _, rest = key.partition(".")
            index, _, name = rest.partition(".")
            if head not in ("param_groups", "state") or not index.isdigit() or not name:
                problems.append(f"{key}: unexpected key")
                continue
            (groups if head == "param_groups" else states).setdefault(int(index), {})[name] = value
        problems += self._mismatches(groups, states)
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state dict does not match this "
                             "optimizer:\n  " + "\n  ".join(problems))
        for gi, group in enumerate(self.param_groups):
            group.update({k: _plain(v) for k, v in groups[gi].items() if k != "params"})
            self.check_hyperparameters(group)
        self.state, first = {}, 0
        for gi, group in enumerate(self.param_groups):
            count = len(group["params"])
            self._restore(gi, group, {i - first: states[i] for i in range(first, first + count) if i in states})
            first += count

    def _mismatches(self, groups, states):
        """Names of everything in the parsed state dict that does not fit these parameters."""
        params, problems = self._params(), []
        if sorted(groups) != list(range(len(self.param_groups))):
            problems.append(f"param_groups: saved groups {sorted(groups)}, optimizer has {len(self.param_groups)}")
        for gi, group in enumerate(self.param_groups):
            saved = groups.get(gi, {})
            if "params" not in saved:
                problems.append(f"param_groups.{gi}.params: missing")
            elif np.size(saved["params"]) != len(group["params"]):
                problems.append(f"param_groups.{gi}.params: saved {np.size(saved['params'])} parameters, "
                                f"group has {len(group['params'])}")
        for i, saved in sorted(states.items()):
            if i >= len(params):
                problems.append(f"state.{i}: no parameter {i} (the optimizer has {len(params)})")
                continue
            for key, value in saved.items():
                if key not in self._scalar_state and tuple(np.shape(value)) != params[i].shape:
                    problems.append(f"state.{i}.{key}: shape {tuple(np.shape(value))} does not match "
                                    f"parameter {i} of shape {params[i].shape}")
        return problems

    def _restore(self, gi, group, saved):
        """Group gi's state from host values {index in group: {name: value}}: every state buffer
        back to its initial value, then the saved ones written into the views; t = the saved step."""
        flat = self._flat(gi)
        initials = self.buffers(group)
        with flat.device.activate():
            flat.sync_params()
            flat.reset(initials)
            steps = [int(_plain(v["step"])) for v in saved.values() if "step" in v]
            flat.write_step(max(steps) if steps else int(any(saved.values())))  # SGD: past its first step
            for i, values in saved.items():
                views = self.state[flat.params[i]] = {}
                for name, value in values.items():
                    if name not in self._scalar_state:
                        flat.buffer(name, initials.get(name, 0))
                        flat.load(name, i, value)
                        views[name] = flat.view(name, i)

    def __repr__(self):
        groups = "\n".join(f"  group {i}: " + ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
                           for i, g in enumerate(self.param_groups))
        return f"{type(self).__name__}(\n{groups}\n)"
