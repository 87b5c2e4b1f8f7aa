"""Launch wrapper for kernels/metrics.cu: one step's loss, correct count and finiteness added
to a float64 sums array in device memory (math there and in gpudl/cpu/metrics.py)."""
from ..cpu.metrics import check_metrics, classes_of, samples_of
from .loader import check_device, ints, launch, SUFFIX

__all__ = ["accumulate_metrics"]

FAMILY = "metrics"
THREADS = 256  # METRICS_THREADS in kernels/metrics.cu: the block's tree sum needs exactly this many


def accumulate_metrics(device, loss, out, labels, count, sums):
    """Add one step's loss * n, correct predictions (when `count`), n and 1 to sums; note a non-finite loss."""
    op = "accumulate_metrics"
    for name, a in (("loss", loss), ("out", out), ("labels", labels), ("sums", sums)):
        check_device(device, op, name, a)
        if not a.flags.c_contiguous:
            raise ValueError(f"{op}: {name} {tuple(a.shape)} must be C-contiguous")
    check_metrics(op, loss, out, labels, sums)
    classes = classes_of(op, out, labels, count)
    n = samples_of(labels)
    launch(device, FAMILY, f"{op}_{SUFFIX[out.dtype]}_{SUFFIX[labels.dtype]}", (1,), (THREADS,),
           (loss, out, labels) + ints(n, classes) + (sums,), f"outputs {tuple(out.shape)}, labels {tuple(labels.shape)}")
    return sums
