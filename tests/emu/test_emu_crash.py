"""Without ASan, a crash inside a kernel still names the kernel, block and thread first."""
import pytest

_RUN = """
import sys
import numpy as np
from gpudl import emu
mod = emu.load_module(open(sys.argv[1]).read(), name=sys.argv[1])
y = np.ones(64, np.float32)
if sys.argv[2] == "wild":
    mod.get_function("wild_write")(3, 32, (y,))
else:
    mod.get_function("stack_overflow")(1, 4, (y, np.int32(64)))
print("no crash")
"""


@pytest.mark.parametrize("kind, message", [
    ("wild", "gpudl.emu: segmentation fault in kernel 'wild_write', blockIdx (0,0,0), threadIdx (0,0,0): "
             "an out-of-bounds access?"),
    ("stack", "gpudl.emu: segmentation fault in kernel 'stack_overflow', blockIdx (0,0,0), "
              "threadIdx (0,0,0): fiber stack overflow"),
])
def test_segfault_names_the_thread(run_python, kernel_path, kind, message):
    done = run_python(_RUN, args=[kernel_path("oob.cu"), kind], env={"GPUDL_EMU_ASAN": "0"})
    assert done.returncode != 0 and "no crash" not in done.stdout
    assert message in done.stderr
