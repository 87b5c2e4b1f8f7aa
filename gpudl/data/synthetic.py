"""Small synthetic datasets from the lectures, as NumPy arrays (X float32, labels int64).

For a binary cross-entropy loss use `y.astype(np.float32)`; for cross-entropy use y as is.
"""
import numpy as np


def xor():
    """The four XOR points: y = x1 XOR x2. No line separates the classes; one hidden layer does."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return X, np.array([0, 1, 1, 0], dtype=np.int64)


def _counts(n, classes, what):
    if n < classes:
        raise ValueError(f"{what}: n={n} must be at least the number of classes {classes}")
    return [n // classes + (k < n % classes) for k in range(classes)]


def _shuffled(X, y, rng):
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def two_blobs(n=200, separable=True, seed=None):
    """'Red' (y=0) and 'green' (y=1) 2-D points around (-2, -2) and (2, 2).

    separable=True: uniform in discs of radius 2.5, so the line x1 + x2 = 0 separates them
    (each disc is 2*sqrt(2) - 2.5 > 0.3 away from it). separable=False: Gaussians with
    std 1.5 around (-1, -1) and (1, 1), which overlap.
    """
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for label, (m, sign) in enumerate(zip(_counts(n, 2, "two_blobs"), (-1, 1))):
        if separable:
            radius, angle = 2.5 * np.sqrt(rng.random(m)), rng.uniform(0, 2 * np.pi, m)
            parts.append(sign * 2.0 + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1))
        else:
            parts.append(sign * 1.0 + 1.5 * rng.standard_normal((m, 2)))
        labels.append(np.full(m, label))
    return _shuffled(np.concatenate(parts), np.concatenate(labels), rng)


def spirals(n=300, classes=2, noise=0.1, seed=None):
    """Interleaved spiral arms, one per class: for t in [0, 1],

        point = t * (cos a, sin a) + noise * N(0, I),   a = 4 pi t + 2 pi k / classes   (class k)
    """
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for k, m in enumerate(_counts(n, classes, "spirals")):
        t = np.linspace(0.05, 1, m)
        a = 4 * np.pi * t + 2 * np.pi * k / classes
        parts.append(t[:, None] * np.stack([np.cos(a), np.sin(a)], 1) + noise * rng.standard_normal((m, 2)))
        labels.append(np.full(m, k))
    return _shuffled(np.concatenate(parts), np.concatenate(labels), rng)


def flight_delays(n=1000, seed=None):
    """"Will my flight be delayed?": X = (temperature in F, wind speed in mph).

    Returns X (n, 2) float32, delayed (n,) int64 (0/1) and minutes (n,) float32.
    The rule that made them:

        temperature ~ N(50, 25) clipped to [-20, 105];  wind ~ Gamma(2, 7) clipped to [0, 60]
        minutes = max(0, 2 * max(wind - 15, 0) + 1.5 * max(32 - temperature, 0) + N(0, 10))
        delayed = minutes >= 15     (the usual definition of a delayed flight)

    So delays grow with wind above 15 mph and with frost below freezing.
    """
    rng = np.random.default_rng(seed)
    temperature = np.clip(rng.normal(50, 25, n), -20, 105)
    wind = np.clip(rng.gamma(2.0, 7.0, n), 0, 60)
    mean = 2.0 * np.maximum(wind - 15, 0) + 1.5 * np.maximum(32 - temperature, 0)
    minutes = np.maximum(0.0, mean + rng.normal(0, 10, n))
    X = np.stack([temperature, wind], 1).astype(np.float32)
    return X, (minutes >= 15).astype(np.int64), minutes.astype(np.float32)
