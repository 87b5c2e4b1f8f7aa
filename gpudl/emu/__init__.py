"""gpudl.emu — run unchanged CUDA kernels (.cu files) on the CPU.

The `emu` device exists so that the hand-written kernels in kernels/*.cu and their Python
launch code can be tested on machines without a GPU, and so that a student can debug a
kernel on a laptop (printf, gdb, AddressSanitizer). It needs only a host C++ compiler
(g++ or clang++, $CXX): a shim header turns the CUDA subset we use into C++, and a small
runtime runs every CUDA thread of a block as a cooperative fiber, switching at
__syncthreads() and the *_sync warp intrinsics; blocks run one after another. It is slow:
a few million threads per second for an elementwise kernel and well under a million for
kernels with many barriers, against billions on a GPU, so use small shapes. Each source is
compiled once (2-4 s) and cached on disk ($GPUDL_CACHE_DIR/emu, else ~/.cache/gpudl/emu).
$GPUDL_EMU_ORDER=reverse (or `thread_order('reverse')`) runs threads last to first, which
exposes missing barriers; unwritten shared memory reads as NaN; a divergent barrier or a
deadlock raises EmuError. $GPUDL_EMU_ASAN=1 builds with AddressSanitizer (start Python with
LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0) to report
out-of-bounds accesses with the .cu line and the block and thread. GPUDL_EMU_UCONTEXT=1
uses the portable ucontext switch instead of the x86-64 one.

    from gpudl.emu import load_module
    mod = load_module(open("kernels/pool.cu").read(), name="pool.cu")
    mod.get_function("max_pool_forward")(grid, block, (x, y, np.int32(n)), shared_mem=0)
"""
from .errors import EmuError, KernelNotFoundError
from .module import Kernel, Module, load_module
from .order import current_order, set_thread_order, thread_order

__all__ = ["EmuError", "Kernel", "KernelNotFoundError", "Module", "current_order", "load_module",
           "set_thread_order", "thread_order"]
