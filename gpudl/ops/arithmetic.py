"""+ - * / ** neg and @, each with its backward; broadcasting gradients are summed back
to the input's shape by `unbroadcast`."""
import numpy as np

from ..tensor import Function, Tensor


def unbroadcast(grad, shape, dtype):
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape`."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.astype(dtype, copy=False)


def as_pair(op, a, b):
    """Both operands as Tensors on one device; a Python scalar takes the tensor's float dtype."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: at least one operand must be a Tensor")
    ref = a if isinstance(a, Tensor) else b

    def wrap(v):
        if isinstance(v, Tensor):
            return v
        is_float = np.issubdtype(ref.dtype, np.floating)
        dtype = ref.dtype if is_float and np.ndim(v) == 0 and not hasattr(v, "dtype") else None
        return Tensor._wrap(ref.device.asarray(v, dtype=dtype), ref.device)

    a, b = wrap(a), wrap(b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    return a, b


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a.shape, a.dtype, b.shape, b.dtype)
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, da, sb, db = ctx.saved
        return unbroadcast(g, sa, da), unbroadcast(g, sb, db)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a.shape, a.dtype, b.shape, b.dtype)
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, da, sb, db = ctx.saved
        return unbroadcast(g, sa, da), unbroadcast(-g, sb, db)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved  # d(ab)/da = b, d(ab)/db = a
        ga = unbroadcast(g * b, a.shape, a.dtype) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, b.shape, b.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        ga = unbroadcast(g / b, a.shape, a.dtype) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape, b.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved  # d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a
        xp = ctx.xp
        ga = unbroadcast(g * b * a ** (b - 1), a.shape, a.dtype) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            log_a = xp.log(xp.where(a > 0, a, 1))
            gb = unbroadcast(g * out * log_a, b.shape, b.dtype)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class MatMul(Function):
    """C = A B over the last two axes, batch axes broadcast; 1-D operands as in NumPy."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = ctx.xp
        a2 = a[None, :] if a.ndim == 1 else a  # treat a vector as a 1-row / 1-column matrix
        b2 = b[:, None] if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if ctx.needs_input_grad[0]:  # dL/dA = dL/dC B^T
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape, a.dtype).reshape(a.shape)
        if ctx.needs_input_grad[1]:  # dL/dB = A^T dL/dC
            gb = xp.swapaxes(a2, -1, -2) @ g2
            gb = unbroadcast(gb, b2.shape, b.dtype).reshape(b.shape)
        return ga, gb


def add(a, b): return Add.apply(*as_pair("add", a, b))
def sub(a, b): return Sub.apply(*as_pair("sub", a, b))
def mul(a, b): return Mul.apply(*as_pair("mul", a, b))
def div(a, b): return Div.apply(*as_pair("div", a, b))
def pow(a, b): return Pow.apply(*as_pair("pow", a, b))
def neg(a): return Neg.apply(a)


def matmul(a, b):
    a, b = as_pair_matmul(a, b)
    return MatMul.apply(a, b)


def as_pair_matmul(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: both operands must be Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({inner_a} != {inner_b})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast") from None
    return a, b
