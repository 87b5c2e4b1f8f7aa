"""Module: a tree of layers that owns Parameters (trained) and buffers (running statistics)."""
import numpy as np

from .. import backend
from ..tensor import Tensor


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

    def to(self, device):
        """Move every parameter and buffer to `device` in place (gradients are dropped)."""
        dev = backend.device(device)
        for _, t in list(self.named_parameters()) + list(self.named_buffers()):
            t.data, t.device, t.grad = dev.asarray(t.data), dev, None
        return self

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: tensor} for every parameter and buffer (detached, not copied)."""
        entries = list(self.named_parameters()) + list(self.named_buffers())
        return {name: t.detach() for name, t in entries}

    def load_state_dict(self, state, strict=True):
        """Copy `state` (tensors or arrays) into this module's tensors, on their own device.

        Reports every missing, unexpected and mis-shaped entry at once (ValueError)."""
        own = dict(list(self.named_parameters()) + list(self.named_buffers()))
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
