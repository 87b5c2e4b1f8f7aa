"""The README's first-hour path: the autograd tour, `gpudl info` and a quick `gpudl train`."""
import json
import runpy
from pathlib import Path

import pytest

from gpudl.cli import main
from gpudl.data import datasets

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("argv", [[], ["--quick", "--device", "emu"]])
def test_autograd_tour_learns_xor(capsys, argv):
    runpy.run_path(str(EXAMPLES / "autograd_tour.py"))["main"](argv)
    assert "accuracy: 1.0" in capsys.readouterr().out


def test_every_example_takes_quick():
    scripts = [p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")]
    assert len(scripts) >= 10
    for path in scripts:
        text = path.read_text()
        assert "--quick" in text or "_common.parser" in text, path.name


def test_cli_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "device:" in out and "gpudl" in out and "fashion-mnist:" in out


@pytest.mark.skipif(datasets.where("fashion-mnist") is None, reason="Fashion-MNIST not found (apt-get install dataset-fashion-mnist)")
@pytest.mark.parametrize("model", ["mlp", "lenet"])
def test_cli_train_quick(tmp_path, capsys, model):
    assert main(["train", "--model", model, "--epochs", "1", "--limit", "1024", "--device", "cpu",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "device: cpu" in out and "test accuracy:" in out
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["test_accuracy"] > 0.4  # 1024 images, one epoch: well above chance (0.1)
    assert (tmp_path / "checkpoint.npz").exists() and (tmp_path / "history.json").exists()
