"""NumPy implementations of every op the kernel devices run (the 'cpu' device's table).

The same flat function table as gpudl.gpu (needle-style): each function takes the device
first and works on raw arrays, in float32 or float64; `device.kernels.<name>` binds the
device.  Results agree with the CUDA kernels (the max-pool argmax convention, the Philox
random streams, the order of reductions where it matters), so either device's backward
accepts the other's forward.  One module per op family; the table is their union.
"""
from importlib import import_module

from .heap import KEPT  # noqa: F401  (keeps freed memory for reuse: see heap.py)

FAMILIES = ("activation", "pool", "conv2d", "elementwise", "reduce", "gemm", "softmax", "batchnorm", "random",
            "optim", "index", "data", "metrics")



def collect(namespace, package):
    """Put every family module's `__all__` functions of `package` into `namespace`; return their names."""
    names = []
    for family in FAMILIES:
        module = import_module(f".{family}", package)
        for name in module.__all__:
            namespace[name] = getattr(module, name)
            names.append(name)
    return names


__all__ = collect(globals(), __name__)
