"""Pick the implementation table for a device: NumPy (`gpudl.cpu`) or kernels (`gpudl.gpu`).

Both expose the same flat function names (bias_act_forward, conv2d_forward, ...), so the
Functions in this package never branch on the device themselves.
"""


def impl(device):
    if device.uses_kernels:
        from .. import gpu
        return gpu
    from .. import cpu
    return cpu
