"""Launch wrappers for kernels/*.cu on the 'cuda' and 'emu' devices.

The same flat function table as gpudl.cpu (needle-style); each takes the device first and
works on raw float32 arrays of that device (CuPy on cuda, NumPy on emu).  Anything else
raises TypeError naming the kernel and dtype; wrong shapes raise ValueError naming the
kernel and shapes.  Kernels compile once per device (gpudl.gpu.loader).
"""
from .activation import bias_act_backward, bias_act_forward
from .conv2d import conv2d_backward_data, conv2d_backward_weight, conv2d_forward
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward

__all__ = [
    "bias_act_forward", "bias_act_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
]
