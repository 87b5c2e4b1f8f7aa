"""kernels/metrics.cu: fit's per-step sums against a loop written from the documented rule."""
import math

import numpy as np
import pytest

import gpudl
from kernel_refs import host, impl, put, thread_orders


def sums_ref(steps, count):
    """[loss * n, correct, samples, steps, first non-finite step (1-based, 0: none)] over the steps."""
    out = [0.0, 0.0, 0.0, 0.0, 0.0]
    for loss, scores, labels in steps:
        n = len(labels)
        for i in range(n):
            row = scores[i] if scores.ndim == 2 else [scores[i]]
            if len(row) > 1:
                pred = max(range(len(row)), key=lambda j: (row[j], -j))  # the first maximum
            else:
                pred = 1 if row[0] > 0 else 0
            out[1] += float(count and pred == labels[i])
        out[0] += float(loss) * n
        out[2] += n
        out[3] += 1
        if not math.isfinite(float(loss)) and out[4] == 0:
            out[4] = out[3]
    return out


def _steps(n, classes, dtype, label_dtype):
    rng = np.random.default_rng(n + classes)
    shape = (n, classes) if classes > 1 else (n,)
    scores = rng.integers(-3, 4, shape).astype(dtype)  # small integers: ties happen
    labels = rng.integers(0, max(classes, 2), n).astype(label_dtype)
    return [(dtype(0.75), scores, labels), (dtype(np.inf), scores[::-1].copy(), labels),
            (dtype(np.nan), scores, labels), (dtype(2.5), scores, labels[::-1].copy())]


@pytest.mark.parametrize("n, classes", [(1, 10), (7, 1), (256, 3), (300, 10), (513, 2)])
@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.float32])
def test_accumulate_metrics_matches_reference(device, n, classes, label_dtype):
    dev = gpudl.device(device)
    for dtype in ((np.float32, np.float64) if dev.type == "cpu" else (np.float32,)):
        steps = _steps(n, classes, dtype, label_dtype)
        for order in thread_orders(dev):
            sums = put(dev, np.zeros(5))
            with order():
                for loss, scores, labels in steps:
                    impl(dev).accumulate_metrics(dev, put(dev, np.array(loss)), put(dev, scores), put(dev, labels),
                                                 True, sums)
            got = host(sums)
            expected = sums_ref(steps, True)
            assert got[1:].tolist() == expected[1:] and got[4] == 2
            assert math.isnan(got[0]) and math.isnan(expected[0])


def test_accumulate_metrics_without_counting_and_errors(device):
    dev = gpudl.device(device)
    sums = put(dev, np.zeros(5))
    scores, labels = put(dev, np.ones((4, 3), np.float32)), put(dev, np.zeros(4, np.int64))
    dev.kernels.accumulate_metrics(put(dev, np.array(np.float32(2.0))), scores, labels, False, sums)
    assert host(sums).tolist() == [8.0, 0.0, 4.0, 1.0, 0.0]
    logits = put(dev, np.array([[0.5], [-1.0], [2.0], [-0.1]], np.float32))  # one logit, (N, 1) targets
    dev.kernels.accumulate_metrics(put(dev, np.array(np.float32(1.0))), logits,
                                   put(dev, np.array([[1.0], [1.0], [1.0], [0.0]], np.float32)), True, sums)
    assert host(sums).tolist() == [12.0, 3.0, 8.0, 2.0, 0.0]
    with pytest.raises(ValueError, match="accuracy needs outputs"):
        dev.kernels.accumulate_metrics(put(dev, np.array(np.float32(1))), scores, put(dev, np.zeros(3, np.int64)),
                                       True, sums)
    with pytest.raises(TypeError, match="one-element loss"):
        dev.kernels.accumulate_metrics(put(dev, np.ones(2, np.float32)), scores, labels, True, sums)
    with pytest.raises(ValueError, match="sums must be float64"):
        dev.kernels.accumulate_metrics(put(dev, np.array(np.float32(1))), scores, labels, True,
                                       put(dev, np.zeros(4)))
