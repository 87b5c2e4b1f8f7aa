"""Matrix products (GEMM) with a fused bias + activation epilogue, in NumPy (BLAS).

    C = f(A B + b),   C[..., m, n] = f( sum_k A[..., m, k] B[..., k, n] + b[n] )

over the last two axes of a (..., M, K) and b (..., K, N); the batch axes broadcast as in
np.matmul (both operands at least 2-D: callers reshape vectors).  b (N,) is added to every
row and f is one of gpudl.cpu.geometry.ACTIVATIONS (leaky_relu takes `slope`).
"""
import math

import numpy as np

from . import parallel
from .activation import activate_into
from .geometry import ACTIVATIONS, act_code

__all__ = ["matmul"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
SMALL = 1 << 18  # multiply-adds below which OpenBLAS keeps a product on one thread: no hand-off needed


def _check_dtypes(op, **arrays):
    """TypeError unless every given array has one dtype, float32 or float64."""
    named = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {v.dtype for v in named.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in FLOATS:
        listing = ", ".join(f"{k} {v.dtype}" for k, v in named.items())
        raise TypeError(f"{op}: expected float32 or float64 arrays of one dtype, got {listing}")


def matmul_shapes(op, a, b, bias, out):
    """(batch shape, M, K, N) of C = A B after checking every argument (TypeError for dtypes,
    ValueError for shapes: inner dimensions, batch broadcasting, bias (N,), out's shape and layout)."""
    _check_dtypes(op, a=a, b=b, bias=bias, out=out)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"{op}: operands must be at least 2-D, got a {a.shape} and b {b.shape}")
    (m, k), (k_b, n) = a.shape[-2:], b.shape[-2:]
    if k != k_b:
        raise ValueError(f"{op}: inner dimensions differ: a {a.shape} @ b {b.shape} ({k} != {k_b})")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: batch shapes of a {a.shape} and b {b.shape} cannot be broadcast") from None
    if bias is not None and bias.shape != (n,):
        raise ValueError(f"{op}: bias of shape {bias.shape} does not match a {a.shape} @ b {b.shape}; "
                         f"expected ({n},)")
    if out is not None and (out.shape != batch + (m, n) or not out.flags.c_contiguous):
        raise ValueError(f"{op}: out must be a C-contiguous array of shape {batch + (m, n)}, got shape "
                         f"{out.shape}{'' if out.flags.c_contiguous else ' (not C-contiguous)'}")
    return batch, m, k, n


def matmul(device, a, b, bias=None, act="identity", slope=0.01, out=None):
    """C = f(A B + b) over the last two axes: np.matmul, then the bias and activation in place
    (activation.activate_into), by pieces of the rows of A on the cpu threads (row i of C needs row
    i of A alone)."""
    name = ACTIVATIONS[act_code("matmul", act)]
    batch, m, k, n = matmul_shapes("matmul", a, b, bias, out)
    c = np.empty(batch + (m, n), dtype=a.dtype) if out is None else out

    def rows(lo, hi):
        part = np.matmul(a[..., lo:hi, :], b, out=c[..., lo:hi, :])
        if bias is not None:
            part += bias
        activate_into(part, part, name, slope)

    products = math.prod(batch + (m, k, n))
    if products < SMALL:
        rows(0, m)
    else:
        parallel.over(m, products // 16, rows, products=True)  # 16 multiply-adds ~ one element pass
    return c
