"""The lectures' toy datasets: shapes, dtypes, seeds, and the properties each one promises."""
import numpy as np
import pytest

from gpudl.data import synthetic


def test_xor():
    X, y = synthetic.xor()
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, [int(a) ^ int(b) for a, b in X])
    assert sorted(map(tuple, X.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def _check(X, y, n, classes):
    assert X.shape == (n, 2) and X.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y, minlength=classes)
    assert counts.sum() == n and counts.max() - counts.min() <= 1


def test_two_blobs_separable_and_overlapping():
    X, y = synthetic.two_blobs(301, separable=True, seed=0)
    _check(X, y, 301, 2)
    side = X.sum(1)  # the line x1 + x2 = 0
    assert side[y == 0].max() < 0 < side[y == 1].min()
    X, y = synthetic.two_blobs(400, separable=False, seed=0)
    _check(X, y, 400, 2)
    side = X.sum(1)
    assert (side[y == 0] > 0).any() and (side[y == 1] < 0).any()
    # overlapping: even the best threshold on the projection misclassifies some points
    best = max(np.mean((side > t) == y) for t in np.sort(side))
    assert best < 1


@pytest.mark.parametrize("fn", [synthetic.two_blobs, synthetic.spirals, synthetic.flight_delays])
def test_seeded(fn):
    for a, b in zip(fn(50, seed=1), fn(50, seed=1)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(fn(50, seed=1)[0], fn(50, seed=2)[0])


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_spirals(classes):
    X, y = synthetic.spirals(101, classes=classes, noise=0.0, seed=0)
    _check(X, y, 101, classes)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() <= 1 + 1e-6
    angle = np.arctan2(X[:, 1], X[:, 0])
    for k in range(classes):  # noise-free: each arm follows a = 4 pi r + 2 pi k / classes
        diff = np.angle(np.exp(1j * (angle[y == k] - 4 * np.pi * r[y == k] - 2 * np.pi * k / classes)))
        np.testing.assert_allclose(diff, 0, atol=1e-4)
    with pytest.raises(ValueError, match="at least the number of classes"):
        synthetic.spirals(2, classes=3)


def test_flight_delays():
    X, delayed, minutes = synthetic.flight_delays(5000, seed=0)
    assert X.shape == (5000, 2) and X.dtype == np.float32
    assert delayed.dtype == np.int64 and minutes.dtype == np.float32 and minutes.min() >= 0
    temperature, wind = X[:, 0], X[:, 1]
    assert -20 <= temperature.min() and temperature.max() <= 105 and 0 <= wind.min() and wind.max() <= 60
    np.testing.assert_array_equal(delayed, minutes >= 15)
    assert 0.1 < delayed.mean() < 0.6  # both classes well represented
    calm_mild = (wind < 10) & (temperature > 40)
    assert minutes[wind > 30].mean() > minutes[calm_mild].mean() + 15
    assert minutes[(temperature < 10) & (wind < 10)].mean() > minutes[calm_mild].mean() + 15
