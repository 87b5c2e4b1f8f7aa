"""NumPy implementations of the kernel-backed ops (the 'cpu' device's fast path).

The same flat function table as gpudl.gpu (needle-style): each takes the device first and
works on raw arrays, in float32 or float64.  Results agree with the CUDA kernels, including
the max-pool argmax convention (flat index into each H*W input plane), so either backward
accepts either forward's output.
"""
from .activation import bias_act_backward, bias_act_forward
from .conv2d import conv2d_backward_data, conv2d_backward_weight, conv2d_forward
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward

__all__ = [
    "bias_act_forward", "bias_act_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
]
