"""AddressSanitizer mode ($GPUDL_EMU_ASAN=1): kernels and runtime built with
-fsanitize=address, so an out-of-bounds global or shared-memory access stops the process
with a report naming the .cu line and the CUDA block and thread.

libasan must be the first library of the process, so Python itself has to start with it
preloaded (and with leak checking off, since the interpreter never frees everything).
"""
import os
import subprocess

FLAGS = ("-fsanitize=address", "-fsanitize-sections=gpudl_shared", "-g", "-O1", "-fno-omit-frame-pointer")


def enabled():
    return os.environ.get("GPUDL_EMU_ASAN", "").strip().lower() in ("1", "true", "yes", "on")


def _libasan_loaded():
    try:
        with open("/proc/self/maps") as maps:
            return "libasan" in maps.read()
    except OSError:
        return "libasan" in os.environ.get("LD_PRELOAD", "")


def command_line(cxx):
    """The shell prefix that starts Python with libasan preloaded."""
    return (f"LD_PRELOAD=$({cxx} -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 "
            "GPUDL_EMU_ASAN=1 python ...")


def check_preloaded(cxx):
    """RuntimeError with the command to use unless libasan is loaded and leak checks are off."""
    leaks_off = "detect_leaks=0" in os.environ.get("ASAN_OPTIONS", "")
    if not (_libasan_loaded() and leaks_off):
        raise RuntimeError("GPUDL_EMU_ASAN=1 needs AddressSanitizer preloaded into Python, with leak "
                           f"checking off; start Python as:\n  {command_line(cxx)}")


def libasan_path(cxx):
    """Path of the compiler's libasan.so, or None when it has none."""
    try:
        out = subprocess.run([cxx, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
    return out if os.path.isabs(out) and os.path.exists(out) else None
