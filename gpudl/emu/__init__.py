"""gpudl.emu — run unchanged CUDA kernels (.cu files) on the CPU.

The `emu` device exists so that the hand-written kernels in kernels/*.cu and their Python
launch code can be tested on machines without a GPU, and so that a student can debug a
kernel on a laptop (printf, gdb, AddressSanitizer). It needs only a host C++ compiler
(g++ or clang++, $CXX; Linux, x86-64 fastest): a shim header turns the CUDA subset we use
into C++, and a small runtime runs the threads of a block one after another, each as a
cooperative fiber that switches at __syncthreads() and the *_sync warp intrinsics; blocks
run one after another, on one core. It is slow next to a GPU: on a 2-core CI machine about
200 M threads/s for a barrier-free elementwise kernel, 1.6 M threads/s for a kernel with
16 barriers per thread, ~4 M threads/s with 5 shuffles per thread, ~20 us per launch, so
use small shapes. Each source is compiled once (about 1 s) and cached on disk
($GPUDL_CACHE_DIR/emu, else $XDG_CACHE_HOME/gpudl/emu, else ~/.cache/gpudl/emu).
Debugging aids: $GPUDL_EMU_ORDER=reverse (or `thread_order('reverse')`) runs threads and
blocks last to first, which exposes missing barriers; shared memory starts as 0xFF bytes,
so unwritten floats read as NaN; a divergent barrier or a deadlock raises EmuError naming
the block and threads; a crash names the kernel, block and thread. $GPUDL_EMU_ASAN=1
builds with AddressSanitizer (start Python with LD_PRELOAD=$(g++ -print-file-name=libasan.so)
ASAN_OPTIONS=detect_leaks=0) to report out-of-bounds global and shared accesses with the
.cu line and the block and thread. $GPUDL_EMU_UCONTEXT=1 selects the portable (10x slower)
ucontext switch instead of the x86-64 one. Inside `gpudl.kernels.profile()` launches run on a
separately cached profiling build that counts every global and shared memory access the way a
GPU's memory system would (sectors per warp request, bank conflicts; memprof.py). Not supported: inline asm, __CUDA_ARCH__
branches, fp16/bf16, textures, cooperative groups, dynamic parallelism; __shared__
variables inside templates are not poisoned.

    from gpudl.emu import load_module
    mod = load_module(open("kernels/pool.cu").read(), name="pool.cu")
    mod.get_function("max_pool_forward")(grid, block, (x, y, np.int32(n)), shared_mem=0)
"""
from .errors import EmuError, KernelNotFoundError
from .module import Kernel, Module, load_module
from .order import current_order, set_thread_order, thread_order
from .params import Strided

__all__ = ["EmuError", "Kernel", "KernelNotFoundError", "Module", "Strided", "current_order", "load_module",
           "set_thread_order", "thread_order"]
