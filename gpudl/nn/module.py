"""Module: a tree of layers that owns Parameters (trained) and buffers (running statistics)."""
import numpy as np

from .. import backend
from ..tensor import Tensor
from .utils import zero_grad as zero_grads


class Parameter(Tensor):
    """A tensor a Module trains: always a float leaf that requires grad."""

    def __init__(self, data, requires_grad=True):
        t = data if isinstance(data, Tensor) else Tensor(data)
        super().__init__(t.data, device=t.device, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter(" + super().__repr__() + ")"


class Module:
    """Base class: assign Parameters, buffers and sub-Modules as attributes; define forward().

    A Tensor assigned to the name of a registered buffer stays a buffer (in state_dict)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        stays_buffer = name in self._buffers and isinstance(value, Tensor) and not isinstance(value, Parameter)
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif stays_buffer:  # a Tensor assigned to a buffer's name replaces the buffer
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor):
        """A tensor saved in the state_dict but not trained (e.g. BatchNorm's running mean)."""
        object.__setattr__(self, name, tensor)
        self._buffers[name] = tensor

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        if _summary_rows is not None:
            _summary_rows.append((self, out))
        return out

    # ---- walking the tree -------------------------------------------------------------
    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self):
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), b

    # ---- modes, devices, gradients -------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer to `device` and/or cast the floating-point ones to `dtype`,
        in place (gradients are dropped).

        Model dtypes on kernel devices: the layer kernels there (conv2d, pooling, activations, batch
        norm) compute in float32, so a float64 parameter or buffer on cuda / emu is refused here
        (TypeError naming it) rather than at the first layer op: `.float()` first, or train float64
        models on 'cpu'."""
        dev = None if device is None else backend.device(device)
        dtype = None if dtype is None else np.dtype(dtype)
        entries = [("parameter", name, t) for name, t in self.named_parameters()] + \
                  [("buffer", name, t) for name, t in self.named_buffers()]
        for kind, name, t in entries:
            target, cast = dev or t.device, _cast_dtype(t, dtype)
            if target.uses_kernels and cast == np.float64:
                raise TypeError(f"{type(self).__name__}.to: {kind} '{name}' is float64, but on {target} the layer "
                                "kernels (conv2d, pooling, activations, batch norm) compute in float32; convert the "
                                "model with .float() first (or keep float64 models on 'cpu')")
        for _, _, t in entries:
            target, cast = dev or t.device, _cast_dtype(t, dtype)
            t.data, t.device, t.grad = target.asarray(t.data), target, None
            if cast != t.dtype:
                with target.activate():
                    t.data = target.kernels.cast(t.data, cast)
        return self

    def float(self):
        """Cast every floating-point parameter and buffer to float32, in place."""
        return self.to(dtype=np.float32)

    def double(self):
        """Cast every floating-point parameter and buffer to float64, in place (cpu only: see `to`)."""
        return self.to(dtype=np.float64)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter: a frozen one gets no gradient, and optimizers skip it."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (PyTorch's default), or zero it in place (set_to_none=False)."""
        zero_grads(self.parameters(), set_to_none)

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: tensor} for every parameter and buffer (detached, not copied)."""
        entries = list(self.named_parameters()) + list(self.named_buffers())
        return {name: t.detach() for name, t in entries}

    def _state_defaults(self):
        """{name: value} for this module's own entries that a state_dict may lack (an older checkpoint's)."""
        return {}

    def load_state_dict(self, state, strict=True):
        """Copy `state` (tensors or arrays) into this module's tensors, on their own device.

        Reports every missing, unexpected and mis-shaped entry at once (ValueError).  An entry
        that a module's `_state_defaults()` names may be missing: it takes that value (e.g. a
        BatchNorm's num_batches_tracked, 0)."""
        own = dict(list(self.named_parameters()) + list(self.named_buffers()))
        defaults = {f"{prefix}.{k}" if prefix else k: v for prefix, m in self.named_modules()
                    for k, v in m._state_defaults().items()}
        state = {**defaults, **state}
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        shapes = {k: v.shape if isinstance(v, Tensor) else np.shape(v) for k, v in state.items()}
        mismatched = [f"{k}: expected {own[k].shape}, got {tuple(shapes[k])}"
                      for k in own if k in state and tuple(shapes[k]) != own[k].shape]
        problems = ([f"missing: {', '.join(missing)}"] if missing and strict else []) + \
                   ([f"unexpected: {', '.join(unexpected)}"] if unexpected and strict else []) + \
                   ([f"shape mismatch: {'; '.join(mismatched)}"] if mismatched else [])
        if problems:
            raise ValueError(f"load_state_dict ({type(self).__name__}): " + " | ".join(problems))
        for k, t in own.items():
            if k in state:
                value = state[k].data if isinstance(state[k], Tensor) else state[k]
                t.data = t.device.asarray(backend.to_numpy(value), dtype=t.dtype).copy()
        return self

    # ---- printing ------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def summary(self, input_shape, device=None, dtype="float32"):
        """Print each layer's output shape and parameter count (like Keras) and return the text."""
        from ..creation import zeros
        from ..tensor import no_grad
        global _summary_rows
        names = {id(m): name for name, m in self.named_modules()}
        _summary_rows = []
        was_training = self.training
        try:
            self.eval()
            with no_grad():
                self(zeros(*input_shape, dtype=dtype, device=device or _first_device(self)))
            rows = [(names.get(id(m), "?"), m, out) for m, out in _summary_rows if not m._modules]
        finally:
            _summary_rows = None
            self.train(was_training)
        lines = [f"{'layer':<28}{'output shape':<22}{'params':>10}", "-" * 60]
        for name, m, out in rows:
            count = sum(p.size for p in m._parameters.values())
            lines.append(f"{name + ' (' + type(m).__name__ + ')':<28}{str(out.shape):<22}{count:>10,}")
        total = sum(p.size for p in self.parameters())
        trainable = sum(p.size for p in self.parameters() if p.requires_grad)
        lines += ["-" * 60, f"total params: {total:,}   trainable: {trainable:,}"]
        text = "\n".join(lines)
        print(text)
        return text


_summary_rows = None


def _first_device(module):
    return next((p.device for p in module.parameters()), backend.get_default_device())


def _cast_dtype(t, dtype):
    """The dtype `to(dtype=...)` gives tensor t: `dtype` for floating-point tensors, else t's own."""
    return t.dtype if dtype is None or not np.issubdtype(t.dtype, np.floating) else dtype


def _module(owner, module):
    """module, or TypeError naming the container `owner`."""
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: expected a Module, got {type(module).__name__}")
    return module


class ModuleList(Module):
    """Sub-Modules in a list, registered as '0', '1', ...: assigned as `self.layers`, their parameters are
    'layers.0.weight', ... in state_dict(), as in PyTorch.  Indexing (negative too), slicing (a new
    ModuleList of the same modules), len, iteration, append / extend / insert / +=, and del (the later
    modules move down one place and are renumbered).  It has no forward: iterate over it in yours."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, i):
        """The registered name of position i; IndexError / TypeError for a bad index."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"ModuleList: indices must be integers or slices, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"ModuleList: index {i} is out of range for {len(self)} modules")
        return str(int(i) % len(self))

    def _renumber(self, modules):
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(modules))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(list(self)[i])
        return self._modules[self._key(i)]

    def __setitem__(self, i, module):
        self._modules[self._key(i)] = _module("ModuleList", module)

    def __delitem__(self, i):
        modules = list(self)
        del modules[i if isinstance(i, slice) else int(self._key(i))]
        self._renumber(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def append(self, module):
        self._modules[str(len(self))] = _module("ModuleList", module)
        return self

    def extend(self, modules):
        try:
            modules = iter(modules)
        except TypeError:
            raise TypeError(f"ModuleList.extend: expected an iterable of Modules, got {type(modules).__name__}") from None
        for module in modules:
            self.append(module)
        return self

    def __iadd__(self, modules):
        return self.extend(modules)

    def insert(self, index, module):
        """Put `module` before position `index` (list.insert's rule)."""
        modules = list(self)
        modules.insert(index, _module("ModuleList", module))
        self._renumber(modules)


class ModuleDict(Module):
    """Sub-Modules by name, in insertion order: assigned as `self.heads`, their parameters are
    'heads.<name>.weight', ... in state_dict().  [name], [name] = module, del, len, `in`, iteration over
    the names, keys / values / items, update (a mapping or (name, module) pairs), pop and clear, as in
    PyTorch.  A name is a non-empty string without '.' (the separator of state_dict keys)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        if not isinstance(name, str):
            raise TypeError(f"ModuleDict: names must be strings, got {type(name).__name__}")
        if not name or "." in name:
            raise ValueError(f"ModuleDict: invalid name {name!r}: must be non-empty and contain no '.'")
        self._modules[name] = _module("ModuleDict", module)

    def __delitem__(self, name):
        del self._modules[name]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, name):
        return name in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        """Add or replace entries from a mapping (ModuleDict, dict) or an iterable of (name, module) pairs."""
        for name, module in (modules.items() if hasattr(modules, "items") else modules):
            self[name] = module

    def pop(self, name):
        module = self[name]
        del self[name]
        return module

    def clear(self):
        self._modules.clear()
