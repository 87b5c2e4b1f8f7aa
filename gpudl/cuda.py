"""Is a CUDA GPU usable here, and if not, exactly why.

    gd.cuda.is_available()     -> bool
    gd.cuda.device_count()     -> int (0 when unavailable)
    gd.cuda.why_unavailable()  -> str | None (None when available)

The probe runs once and is cached; `import gpudl` never fails because of CuPy.
"""
import functools


@functools.lru_cache(maxsize=None)
def _probe():
    """Return (cupy module or None, device count, reason or None)."""
    try:
        import cupy
    except ImportError as e:
        return None, 0, (f"CuPy is not installed ({e}); install gpudl[cuda12] or gpudl[cuda13]")
    except Exception as e:  # a broken CuPy install must not break `import gpudl`
        return None, 0, f"CuPy failed to import: {type(e).__name__}: {e}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        text = str(e)
        if "InsufficientDriver" in text or "NoDevice" not in text and "driver" in text.lower():
            reason = f"no usable NVIDIA driver: CuPy is installed but the CUDA driver is missing or too old ({text})"
        else:
            reason = f"no CUDA device found ({text})"
        return None, 0, reason
    if count == 0:
        return None, 0, "no CUDA device found: the driver reports 0 GPUs"
    return cupy, count, None


def is_available():
    return _probe()[2] is None


def device_count():
    return _probe()[1]


def why_unavailable():
    return _probe()[2]


def cupy_module():
    """The cupy module, or RuntimeError carrying the reason it cannot be used."""
    cupy, _, reason = _probe()
    if reason is not None:
        raise RuntimeError(f"CUDA is not available: {reason}")
    return cupy
