"""Launch wrappers for kernels/activation.cu (fused bias + activation; math in that file).

x is viewed as (outer, C, inner) with the bias on axis 1: (N, F) -> (N, F, 1),
(N, C, H, W) -> (N, C, H*W).  The bias gradient is `channel_sum` over outer and inner,
in one launch, or two when a channel has more than SUM_PER_PART elements (the first launch
writes per-slice partial sums, the second adds them): no atomics, so it is reproducible.
`slope` and `threshold` are the activation's parameters (gpudl.cpu.activation lists them).
"""
import numpy as np

from ..cpu.geometry import act_code, check_bias
from .loader import THREADS, blocks, empty, float32_inputs, ints, launch

__all__ = ["bias_act_forward", "bias_act_backward"]

FAMILY = "activation"
SUM_PER_PART = 2048   # elements each channel_sum block adds in the first pass
MAX_PARTS = 1024


def _layout(shape):
    """(outer, channels, inner) of an array whose axis 1 carries the bias."""
    if len(shape) < 2:
        return 1, (shape[0] if shape else 1), 1
    return shape[0], shape[1], int(np.prod(shape[2:], dtype=np.int64))


def _prepare(op, x, bias, act):
    code = act_code(op, act)
    if bias is not None:
        check_bias(op, x.shape, bias.shape)
    return code


def bias_act_forward(device, x, bias, act, slope=0.01, threshold=20.0):
    """y = f(x + b) on the device (float32)."""
    op = "bias_act_forward"
    code = _prepare(op, x, bias, act)
    x, bias = float32_inputs(device, op, x=x, bias=bias)
    outer, channels, inner = _layout(x.shape)
    y = empty(device, x.shape)
    launch(device, FAMILY, op, (blocks(x.size),), (THREADS,),
           (x, x if bias is None else bias, y) + ints(x.size, channels, inner, bias is not None, code)
           + (np.float32(slope), np.float32(threshold)),
           f"x {x.shape}, bias {None if bias is None else bias.shape}")
    return y


def channel_sum(device, g, outer, channels, inner):
    """Sum of g (outer, channels, inner) over outer and inner -> (channels,), deterministic."""
    out = empty(device, (channels,))
    parts = int(min(max((outer * inner) // SUM_PER_PART, 1), MAX_PARTS))
    shapes = f"g {g.shape} as ({outer}, {channels}, {inner})"
    if parts == 1:
        launch(device, FAMILY, "channel_sum", (channels, 1), (THREADS,), (g, out) + ints(outer, channels, inner), shapes)
        return out
    partial = empty(device, (channels, parts))
    launch(device, FAMILY, "channel_sum", (channels, parts), (THREADS,), (g, partial) + ints(outer, channels, inner),
           shapes)
    launch(device, FAMILY, "channel_sum", (channels, 1), (THREADS,), (partial, out) + ints(1, channels, parts), shapes)
    return out


def bias_act_backward(device, grad_y, x, bias, act, slope=0.01, threshold=20.0):
    """(dL/dx, dL/db or None) on the device (float32)."""
    op = "bias_act_backward"
    code = _prepare(op, x, bias, act)
    if grad_y.shape != x.shape:
        raise ValueError(f"{op}: grad_y shape {grad_y.shape} differs from x shape {x.shape}")
    grad_y, x, bias = float32_inputs(device, op, grad_y=grad_y, x=x, bias=bias)
    outer, channels, inner = _layout(x.shape)
    grad_x = empty(device, x.shape)
    launch(device, FAMILY, op, (blocks(x.size),), (THREADS,),
           (grad_y, x, x if bias is None else bias, grad_x)
           + ints(x.size, channels, inner, bias is not None, code) + (np.float32(slope), np.float32(threshold)),
           f"grad_y {grad_y.shape}, x {x.shape}, bias {None if bias is None else bias.shape}")
    if bias is None:
        return grad_x, None
    return grad_x, channel_sum(device, grad_x, outer, channels, inner)
