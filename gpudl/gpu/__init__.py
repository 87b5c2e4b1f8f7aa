"""Launch wrappers for kernels/*.cu on the 'cuda' and 'emu' devices (their function table).

The same flat function table as gpudl.cpu (needle-style); each takes the device first and
works on raw arrays of that device (CuPy on cuda, NumPy on emu).  A wrong dtype raises
TypeError naming the kernel and dtype; wrong shapes raise ValueError naming the kernel and
shapes.  Kernels compile once per device (gpudl.gpu.loader).  One module per kernel
family (kernels/<family>.cu); the table is their union.
"""
from ..cpu import collect

__all__ = collect(globals(), __name__)
