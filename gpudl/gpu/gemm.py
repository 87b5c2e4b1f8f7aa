"""Launch wrappers for kernels/gemm.cu: C = f(A B + b), batched, on strided views (math there).

Each operand is passed as it is (`Strided`): the kernel gets its element strides, so the
transposed views autograd multiplies (A B, A^T B, A B^T) are read in place, through the
kernel specialised for which of the operand's two strides is 1 (`_letter`).  The batch axes
broadcast (np.matmul rules) and each operand walks them with one stride (0 = broadcast);
an operand whose batch axes do not collapse to one stride is first copied to a contiguous
(batch..., rows, cols) array.  One launch per product.

Backends (`MATMUL_BACKENDS`): the eager cuda product may be cuBLAS (cupy.matmul, then the
bias_act_forward kernel as the epilogue) instead of gemm.cu where that was measured faster:
set GPUDL_MATMUL=cublas (`resolve_backend`, the one place deciding it).  cuBLAS then serves
every call except those whose epilogue bias_act_forward cannot do (float64, or out= given).
"""
import os

import numpy as np

from ..capture import forbid
from ..cpu.gemm import matmul_shapes
from ..cpu.geometry import act_code
from .activation import bias_act_forward
from .loader import Strided, blocks, check_device, empty, ints, launch, suffix
from .strides import broadcast_strides, element_strides, layout

__all__ = ["matmul"]

FAMILY = "gemm"
FLOATS = (np.float32, np.float64)
TILE = 64                  # kernels/gemm.cu: each block computes a TILE x TILE tile of C
BLOCK = (16, 16, 1)
MATMUL_BACKENDS = ("gpudl", "cublas")
# The kernel for each pair of operand layouts (letters: `_letter`).
KERNELS = {("n", "n"): "gemm_nn", ("n", "t"): "gemm_nt", ("n", "s"): "gemm_ns",
           ("t", "n"): "gemm_tn", ("t", "t"): "gemm_tt", ("t", "s"): "gemm_ts",
           ("s", "n"): "gemm_sn", ("s", "t"): "gemm_st", ("s", "s"): "gemm_ss"}


def resolve_backend(device):
    """'gpudl' or 'cublas' for matmuls on `device`: $GPUDL_MATMUL (default gpudl) on cuda, gpudl elsewhere."""
    name = os.environ.get("GPUDL_MATMUL", "").strip().lower() or "gpudl"
    if name not in MATMUL_BACKENDS:
        raise ValueError(f"matmul: GPUDL_MATMUL={name!r}; expected one of {', '.join(MATMUL_BACKENDS)}")
    return name if device.type == "cuda" else "gpudl"


def _letter(rows, cols, row_stride, col_stride):
    """A matrix view's layout: 'n' when its column stride is 1, 't' when its row stride is 1,
    's' otherwise (a stride along an axis of length 1 never matters)."""
    if col_stride == 1 or cols == 1:
        return "n"
    if row_stride == 1 or rows == 1:
        return "t"
    return "s"


def _operand(device, x, batch):
    """(x or a contiguous copy of x broadcast to `batch`, its batch stride, row stride, column stride)."""
    rows, cols = x.shape[-2:]
    strides = element_strides(x)
    dims, (walk,) = layout(batch, [broadcast_strides(batch, x.shape[:-2], strides[:-2])])
    if len(dims) > 1:  # the batch axes need more than one stride
        x = device.kernels.copy(device.xp.broadcast_to(x, batch + (rows, cols)))
        strides, walk = element_strides(x), (rows * cols,)
    return x, walk[0], strides[-2], strides[-1]


def _cublas_serves(device, x, bias, code, out):
    """Whether this call goes to cuBLAS: chosen by resolve_backend, and its epilogue (if any) is
    one bias_act_forward can do."""
    if resolve_backend(device) != "cublas":
        return False
    return (bias is None and code == 0) or (x.dtype == np.float32 and out is None)


def _cublas(device, a, b, bias, act, slope, out, epilogue):
    """cupy.matmul (cuBLAS), then f(C + b) by the bias_act_forward kernel when there is an epilogue."""
    forbid("matmul with GPUDL_MATMUL=cublas", "CuPy cannot capture the cuBLAS call into a CUDA graph; "
           "unset GPUDL_MATMUL (or set it to gpudl) for a captured step")
    c = device.xp.matmul(a, b, out=out)
    if not epilogue or c.size == 0:
        return c
    return bias_act_forward(device, c.reshape(-1, c.shape[-1]), bias, act, slope).reshape(c.shape)


def matmul(device, a, b, bias=None, act="identity", slope=0.01, out=None):
    """C = f(A B + b) over the last two axes of a (..., M, K), b (..., K, N); one kernel launch."""
    op = "matmul"
    code = act_code(op, act)
    for name, x in (("a", a), ("b", b), ("bias", bias), ("out", out)):
        if x is not None:
            check_device(device, op, name, x)
    batch, m, k, n = matmul_shapes(op, a, b, bias, out)
    if _cublas_serves(device, a, bias, code, out):
        return _cublas(device, a, b, bias, act, slope, out, bias is not None or code != 0)
    c = empty(device, batch + (m, n), a.dtype) if out is None else out
    if c.size == 0:
        return c
    shapes = f"a {a.shape} @ b {b.shape}, bias {None if bias is None else bias.shape}"
    a, a_z, a_m, a_k = _operand(device, a, batch)
    b, b_z, b_k, b_n = _operand(device, b, batch)
    kernel = suffix(KERNELS[_letter(m, k, a_m, a_k), _letter(k, n, b_k, b_n)], a.dtype, FLOATS)
    if bias is not None and not bias.flags.c_contiguous:
        bias = device.kernels.copy(bias)
    count = int(np.prod(batch, dtype=np.int64))
    launch(device, FAMILY, kernel, (blocks(n, TILE), blocks(m, TILE), blocks(count, 1)), BLOCK,
           (Strided(a), Strided(b), c if bias is None else bias, c)
           + ints(count, m, n, k, a_z, a_m, a_k, b_z, b_k, b_n, bias is not None, code) + (a.dtype.type(slope),),
           shapes)
    return c
