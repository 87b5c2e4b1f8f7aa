"""Compare autograd's gradients with central differences, in float64.

    dL/dx_i  ~=  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

`fn` maps the input tensors to one output tensor y; L = sum(y * r) for a fixed random r,
so every element of y is checked, not only their sum.
"""
import numpy as np

from .creation import tensor
from .tensor import Tensor


def _as_float64_leaf(x):
    """A float64 leaf that requires grad, for floating inputs; anything else unchanged."""
    data = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if not np.issubdtype(data.dtype, np.floating):
        return x
    return tensor(data, dtype=np.float64, device=getattr(x, "device", None), requires_grad=True)


class GradcheckError(AssertionError):
    """Raised when an analytical gradient disagrees with the numerical one."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=True):
    """True if the gradients of `fn` at `inputs` match central differences.

    inputs: tensors or arrays; floating ones are cast to float64 and checked; others are passed as is.
    On failure raises GradcheckError naming the input, the element and both values.
    """
    xs = [_as_float64_leaf(x) for x in inputs]
    checked = [i for i, x in enumerate(xs) if getattr(x, "requires_grad", False)]
    out = fn(*xs)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    weights_t = tensor(weights, device=out.device)
    (out * weights_t).sum().backward()

    def loss():
        return float((fn(*xs).numpy() * weights).sum())

    for i in checked:
        x = xs[i]
        analytic = x.grad.numpy() if x.grad is not None else np.zeros(x.shape)
        host = x.numpy()
        for idx in np.ndindex(*x.shape):
            orig = host[idx]
            host[idx] = orig + eps
            x.data = x.device.asarray(host)
            plus = loss()
            host[idx] = orig - eps
            x.data = x.device.asarray(host)
            minus = loss()
            host[idx] = orig
            x.data = x.device.asarray(host)
            numeric = (plus - minus) / (2 * eps)
            if not np.isclose(analytic[idx], numeric, atol=atol, rtol=rtol):
                if not raise_exception:
                    return False
                raise GradcheckError(f"gradcheck: input {i} (shape {x.shape}), element {idx}: "
                                     f"autograd gives {analytic[idx]:.8g}, central differences give {numeric:.8g}")
    return True
