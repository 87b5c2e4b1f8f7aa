"""The lecture examples run in --quick mode and reach the conclusions their lectures draw.

Image examples read small IDX files written here (MNIST is not packaged, and the tests must not
depend on the system's Fashion-MNIST): class k is a bright bar at position k on noise —
horizontal bars for "mnist", vertical ones for "fashion-mnist" — so accuracy above chance means
something was learned. One test also uses the real Fashion-MNIST when it is installed.
"""
import importlib
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import gpudl as gd
from gpudl.data import datasets, idx

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OPTIMIZERS = {"SGD", "Momentum", "NAG", "Adagrad", "Adadelta", "RMSprop", "Adam"}


@pytest.fixture(scope="module")
def example():
    """Import an example module by name (examples/ goes on sys.path, as when run as a script)."""
    sys.path.insert(0, str(EXAMPLES))
    yield importlib.import_module
    sys.path.remove(str(EXAMPLES))


def _fake_split(rng, n, horizontal):
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 100, (n, 28, 28)).astype(np.uint8)
    for image, k in zip(images, labels):
        bar = (slice(4 + 2 * k, 6 + 2 * k), slice(4, 24))
        image[bar if horizontal else bar[::-1]] = 255
    return images, labels


@pytest.fixture(scope="module")
def data_args(tmp_path_factory):
    """--data-root holding fake mnist/ and fashion-mnist/ IDX files (768 train, 256 test each)."""
    root = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for name, horizontal in (("mnist", True), ("fashion-mnist", False)):
        os.makedirs(root / name)
        for split, n in (("train", 768), ("t10k", 256)):
            images, labels = _fake_split(rng, n, horizontal)
            idx.write_idx(root / name / f"{split}-images-idx3-ubyte.gz", images)
            idx.write_idx(root / name / f"{split}-labels-idx1-ubyte.gz", labels)
    return ["--data-root", str(root), "--no-verify"]


def _run(example, name, tmp_path, *extra, device="cpu"):
    return example(name).main(["--quick", "--out", str(tmp_path), "--device", device, *extra])


def test_perceptron_learns_and_or_but_not_xor(example, tmp_path, device):
    acc = _run(example, "perceptron", tmp_path, device=device)
    assert acc["AND"] == 1.0 and acc["OR"] == 1.0
    assert acc["XOR"] < 1.0


def test_mlp_solves_xor(example, tmp_path, device):
    result = _run(example, "mlp_xor", tmp_path, device=device)
    assert result["accuracy"] == 1.0
    p = np.array(result["probabilities"])
    assert np.all(p[[1, 2]] > 0.9) and np.all(p[[0, 3]] < 0.1)


def test_flight_delays_beats_the_baselines(example, tmp_path, device):
    r = _run(example, "flight_delays", tmp_path, device=device)
    assert r["accuracy"] > r["majority"] + 0.05
    assert r["rmse"] < 0.7 * r["baseline_rmse"]
    # the rule behind the data: 2 * (35 - 15) + 1.5 * (32 - 20) = 58 minutes on average
    assert abs(r["cold_windy_minutes"] - 58) < 20
    assert r["cold_windy_probability"] > 0.8 and r["mild_calm_probability"] < 0.5


def test_fashion_mnist_cnn_trains_and_checkpoints(example, tmp_path, data_args):
    r = _run(example, "fashion_mnist_cnn", tmp_path, *data_args)
    assert r["epochs"] == 1 and r["test_accuracy"] > 0.5  # chance is 0.1
    # the checkpoint holds the model that was evaluated: reload it and score the test set again
    from gpudl import models
    model = models.cnn()
    model.load_state_dict(gd.load(r["checkpoint"])["model"])
    model.eval()
    test = datasets.FashionMNIST(root=data_args[1], train=False, verify=False)
    x = (test.data.astype(np.float32) / 255 - 0.2860) / 0.3530
    with gd.no_grad():
        predicted = model(gd.tensor(x[:, None])).numpy().argmax(1)
    assert np.mean(predicted == test.targets) == pytest.approx(r["test_accuracy"])


@pytest.mark.skipif(datasets.where("fashion-mnist") is None, reason="Fashion-MNIST is not installed")
def test_fashion_mnist_cnn_on_the_real_data(example, tmp_path):
    assert _run(example, "fashion_mnist_cnn", tmp_path)["test_accuracy"] > 0.3  # 1 epoch on 512 images


def test_mnist_lenet5(example, tmp_path, data_args):
    r = _run(example, "mnist_lenet5", tmp_path, *data_args)
    assert r["epochs"] == 1 and r["test_accuracy"] > 0.3


def test_optimizer_comparison_runs_all_seven_from_the_same_start(example, tmp_path):
    r = _run(example, "optimizer_comparison", tmp_path)
    assert set(r["final_loss"]) == OPTIMIZERS
    assert all(math.isfinite(v) for v in r["final_loss"].values())
    first = np.array(list(r["first_loss"].values()))
    np.testing.assert_allclose(first, first[0], rtol=1e-6)  # same weights, same first batch
    assert min(r["final_loss"].values()) < math.log(3) - 0.03  # below the loss of a uniform guess


def test_regularization_reports_every_variant(example, tmp_path, data_args):
    r = _run(example, "regularization", tmp_path, *data_args)
    assert set(r) == {"none", "dropout", "l2", "early_stopping"}
    for v in r.values():
        assert 0 <= v["val_accuracy"] <= 1 and 0 <= v["train_accuracy"] <= 1 and math.isfinite(v["val_loss"])
        assert 1 <= v["epochs"] <= 8
    assert r["none"]["train_accuracy"] > 0.5


def test_filter_visualization_maps_are_relu_of_the_filters(example, tmp_path, data_args):
    r = _run(example, "filter_visualization", tmp_path, *data_args)
    w, b, image, maps = r["filters"], r["bias"], r["image"], r["feature_maps"]
    assert w.shape == (8, 1, 5, 5) and maps.shape == (8, 28, 28)
    assert not np.allclose(w, r["initial_filters"])  # training moved them
    padded = np.pad(image, 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5))  # (28, 28, 5, 5)
    expected = np.maximum(np.einsum("ijuv,kuv->kij", windows, w[:, 0]) + b[:, None, None], 0)
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-5)


def test_transfer_learning_freezes_the_features(example, tmp_path, data_args):
    r = _run(example, "transfer_learning", tmp_path, *data_args)
    assert r["mnist_accuracy"] > 0.3
    assert 0 <= r["transfer_accuracy"] <= 1 and 0 <= r["scratch_accuracy"] <= 1
    assert r["features_unchanged"]
    assert r["transfer_weights"] < r["scratch_weights"]


def test_optimizers_refuse_frozen_parameters(example):
    features = example("transfer_learning").features()
    for p in features.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="does not require grad"):
        gd.optim.Adam(features.parameters())


def test_without_matplotlib_a_note_is_printed(example, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    _run(example, "perceptron", tmp_path)
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.png"))


def test_pngs_are_written_with_matplotlib(example, tmp_path):
    pytest.importorskip("matplotlib")
    for name in ("perceptron", "mlp_xor", "optimizer_comparison"):
        _run(example, name, tmp_path)
    assert {p.name for p in tmp_path.glob("*.png")} == {"perceptron.png", "mlp_xor.png",
                                                       "optimizer_comparison.png"}
