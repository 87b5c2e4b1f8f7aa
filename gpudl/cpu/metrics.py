"""fit's per-step bookkeeping in NumPy (math in kernels/metrics.cu): sums is float64
[loss * n, correct, samples, steps, first non-finite step (0: none)], updated in place."""
import math

import numpy as np

__all__ = ["accumulate_metrics"]

FIELDS = ("loss_sum", "correct", "samples", "steps", "first_nonfinite")
VALUES = (np.dtype(np.float32), np.dtype(np.float64))
LABELS = (np.dtype(np.int64), np.dtype(np.int32)) + VALUES


def samples_of(labels):
    """N: the labels' first dimension (1 for a scalar)."""
    return labels.shape[0] if labels.ndim else 1


def classes_of(op, out, labels, count):
    """Columns argmax'ed per sample (1: one logit per sample; 0: not counting), checking the shapes:
    outputs (N, C) or (N,) / (N, 1), labels with N elements."""
    if not count:
        return 0
    n = samples_of(labels)
    if labels.size != n or out.ndim < 1 or out.shape[0] != n or out.size % max(n, 1):
        raise ValueError(f"{op}: accuracy needs outputs (N, classes) or (N,) and N labels, got outputs "
                         f"{tuple(out.shape)} and labels {tuple(labels.shape)}")
    return out.size // max(n, 1)


def check_metrics(op, loss, out, labels, sums):
    """TypeError / ValueError unless the arrays are what the kernel reads."""
    if loss.size != 1 or loss.dtype != out.dtype or out.dtype not in VALUES or labels.dtype not in LABELS:
        raise TypeError(f"{op}: expects a one-element loss and outputs of one float dtype and int or float labels, "
                        f"got loss {loss.dtype} {tuple(loss.shape)}, outputs {out.dtype}, labels {labels.dtype}")
    if sums.dtype != np.float64 or tuple(sums.shape) != (len(FIELDS),):
        raise ValueError(f"{op}: sums must be float64 of shape ({len(FIELDS)},), got {sums.dtype} {tuple(sums.shape)}")


def accumulate_metrics(device, loss, out, labels, count, sums):
    """Add one step's loss * n, correct predictions (when `count`), n and 1 to sums; note a non-finite loss."""
    op = "accumulate_metrics"
    check_metrics(op, loss, out, labels, sums)
    classes = classes_of(op, out, labels, count)
    n = samples_of(labels)
    if classes:
        scores = out.reshape(n, classes)
        pred = scores.argmax(axis=1) if classes > 1 else (scores[:, 0] > 0)
        sums[1] += float(np.count_nonzero(pred.astype(np.float64) == labels.reshape(n).astype(np.float64)))
    value = float(loss.reshape(-1)[0])
    sums[0] += value * n
    sums[2] += n
    sums[3] += 1.0
    if not math.isfinite(value) and sums[4] == 0.0:
        sums[4] = sums[3]
    return sums
