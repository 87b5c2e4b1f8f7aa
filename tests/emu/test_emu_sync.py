"""Thread order, shared-memory poisoning, divergent barriers and deadlocks."""
import numpy as np

from gpudl import emu


def test_missing_syncthreads_shows_in_reverse_order(basics):
    x = np.arange(1, 257, dtype=np.float32)
    expected = np.where(np.arange(256) % 128 == 0, 0, x - 1).astype(np.float32)
    results = {}
    for kernel in ("shift_synced", "shift_unsynced"):
        for order in ("forward", "reverse"):
            y = np.zeros_like(x)
            with emu.thread_order(order):
                basics.get_function(kernel)(2, 128, (x, y))
            results[kernel, order] = y
    np.testing.assert_array_equal(results["shift_synced", "forward"], expected)
    np.testing.assert_array_equal(results["shift_synced", "reverse"], expected)
    np.testing.assert_array_equal(results["shift_unsynced", "forward"], expected)
    # Reverse order reads neighbours' shared memory before they wrote it: 0xFF bytes, NaN.
    assert np.isnan(results["shift_unsynced", "reverse"][1:128]).all()


def test_order_from_environment(basics, monkeypatch):
    x, y = np.arange(1, 129, dtype=np.float32), np.zeros(128, np.float32)
    monkeypatch.setenv("GPUDL_EMU_ORDER", "reverse")
    assert emu.current_order() == "reverse"
    basics.get_function("shift_unsynced")(1, 128, (x, y))
    assert np.isnan(y[1:]).all()
    monkeypatch.setenv("GPUDL_EMU_ORDER", "sideways")
    try:
        emu.current_order()
    except ValueError as e:
        assert "GPUDL_EMU_ORDER" in str(e)
    else:
        raise AssertionError("an invalid GPUDL_EMU_ORDER was accepted")


_STUCK = """
import sys
import numpy as np
from gpudl import emu
mod = emu.load_module(open(sys.argv[1]).read(), name=sys.argv[1])
for kernel in ("divergent_barrier", "warp_deadlock"):
    try:
        mod.get_function(kernel)((1, 2), 32, (np.zeros(32, np.float32),))
    except emu.EmuError as e:
        print("EmuError:", e)
x, y = np.ones(10, np.float32), np.zeros(10, np.float32)
mod.get_function("axpy")(1, 32, (x, y, np.float32(3), np.int32(10)))
print("after:", y.tolist())
"""


def test_divergent_barrier_and_deadlock_raise_instead_of_hanging(basics, run_python, kernel_path):
    done = run_python(_STUCK, args=[kernel_path("basics.cu")], timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    divergent, deadlock, after = lines
    assert "EmuError: kernel 'divergent_barrier', blockIdx (0,0,0)" in divergent
    assert "divergent __syncthreads()" in divergent
    assert "16 thread(s) [(16,0,0)-(31,0,0)] wait at the barrier" in divergent
    assert "16 thread(s) [(0,0,0)-(15,0,0)] exited" in divergent
    assert "EmuError: kernel 'warp_deadlock', blockIdx (0,0,0): deadlock" in deadlock
    assert "[(0,0,0)-(15,0,0)] wait at __syncthreads()" in deadlock
    assert "[(16,0,0)-(31,0,0)] wait at __syncwarp" in deadlock
    assert after == "after: " + str([3.0] * 10)


_THROUGH_LAUNCH = """
import sys
import numpy as np
import gpudl as gd
from gpudl import emu
from gpudl.gpu import loader
basics = emu.load_module(open(sys.argv[1]).read(), name=sys.argv[1])
loader.module = lambda device, family, options=(): basics   # launch finds the test kernels
try:
    loader.launch(gd.device("emu"), "basics", "divergent_barrier", (1,), (32,), (np.zeros(32, np.float32),), "y (32,)")
except Exception as e:
    print(type(e).__module__, type(e).__name__, "|", e)
"""


def test_launch_passes_emu_errors_on_as_emu_error(run_python, kernel_path):
    """gpudl.gpu.loader.launch adds the launch to the message and keeps the EmuError type and details."""
    done = run_python(_THROUGH_LAUNCH, args=[kernel_path("basics.cu")], timeout=120)
    assert done.returncode == 0, done.stderr
    kind, _, message = done.stdout.strip().partition(" | ")
    assert kind == "gpudl.emu.errors EmuError"
    assert message.startswith("divergent_barrier: launch failed (grid (1,), block (32,); y (32,)): "
                              "kernel 'divergent_barrier', blockIdx (0,0,0)")
    assert "divergent __syncthreads()" in message and "16 thread(s) [(16,0,0)-(31,0,0)] wait at the barrier" in message
