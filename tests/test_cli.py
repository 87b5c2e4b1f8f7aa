"""The gpudl command line: validation split, --resume, eval, and help that shows defaults."""
import json

import pytest

from gpudl import load
from gpudl.cli import main, parser
from gpudl.data import datasets

needs_data = pytest.mark.skipif(datasets.where("fashion-mnist") is None,
                                reason="Fashion-MNIST not found (apt-get install dataset-fashion-mnist)")
QUICK = ["--model", "mlp", "--limit", "1000", "--device", "cpu", "--batch-size", "100"]


def _history(folder):
    return json.loads((folder / "history.json").read_text())


@needs_data
def test_validation_split_resume_and_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "validation accuracy" in printed and "test accuracy" in printed
    run = json.loads((out / "run.json").read_text())
    assert run["args"]["model"] == "mlp" and 0.3 < run["test_accuracy"] <= 1
    assert len(_history(out)["val_loss"]) == 1
    # --resume keeps the run's own arguments (mlp, limit, batch size) and goes on to --epochs
    assert main(["train", "--resume", str(out), "--epochs", "3", "--device", "cpu"]) == 0
    assert "resuming" in capsys.readouterr().out
    history = _history(out)
    assert len(history["loss"]) == 3 and len(history["val_accuracy"]) == 3
    assert json.loads((out / "run.json").read_text())["args"]["epochs"] == 3
    assert main(["eval", str(out / "checkpoint.npz"), "--device", "cpu"]) == 0
    assert "mlp on the fashion-mnist test set: loss" in capsys.readouterr().out


@needs_data
def test_resume_equals_an_uninterrupted_run(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    main(["train", *QUICK, "--epochs", "2", "--out", str(straight)])
    main(["train", *QUICK, "--epochs", "1", "--out", str(split)])
    main(["train", "--resume", str(split), "--epochs", "2"])
    a, b = load(straight / "checkpoint.npz"), load(split / "checkpoint.npz")
    for key, value in a["model"].items():
        assert (b["model"][key] == value).all(), key
    assert _history(straight)["loss"] == pytest.approx(_history(split)["loss"], rel=1e-12)


@needs_data
def test_bad_arguments_say_what_is_wrong(tmp_path):
    with pytest.raises(SystemExit, match="--val-split 1000 must be >= 0 and below the 1000 training images"):
        main(["train", *QUICK, "--val-split", "1000", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="no run.json"):
        main(["train", "--resume", str(tmp_path / "nothing")])
    with pytest.raises(SystemExit, match="no run.json"):
        main(["eval", str(tmp_path / "nothing" / "checkpoint.npz")])


def test_help_shows_each_default():
    train = " ".join(parser().train_parser.format_help().split())  # argparse wraps lines
    for text in ("(default: 4)", "(default: 128)", "(default: 0.001)", "(default: adam)", "(default: 3)",
                 "default: 5000"):
        assert text in train, text


@pytest.mark.parametrize("argv, code, message", [
    (["--epochs", "-1"], 2, "argument --epochs: must be >= 1, got -1"),
    (["--epochs", "2.5"], 2, "argument --epochs: expected an integer >= 1, got '2.5'"),
    (["--lr", "-1"], 2, "argument --lr: must be > 0, got -1"),
    (["--lr", "nan"], 2, "argument --lr: must be > 0, got nan"),
    (["--batch-size", "0"], 2, "argument --batch-size: must be >= 1, got 0"),
    (["--val-split", "-5"], 2, "argument --val-split: must be >= 0, got -5"),
    (["--model", "resnet"], 2, "argument --model: invalid choice: 'resnet'"),
    (["--device", "tpu"], 1, "--device tpu: "),
    (["--out", "/proc/gpudl-cannot-write-here"], 1, "--out /proc/gpudl-cannot-write-here: cannot create or write it"),
    (["--distributed", "--capture"], 1, "--capture cannot record the gradient all-reduce of --distributed"),
])
def test_user_errors_are_one_line_before_any_data_is_read(monkeypatch, capsys, tmp_path, argv, code, message):
    import gpudl.cli as cli

    def no_data(*args, **kwargs):
        raise AssertionError("the data were loaded before the arguments were checked")

    monkeypatch.setattr(cli, "load_split", no_data)
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path / "run"), *argv])
    printed = capsys.readouterr().err + (info.value.code if isinstance(info.value.code, str) else "")
    status = info.value.code if isinstance(info.value.code, int) else 1
    assert status == code and message in printed, printed
    assert "Traceback" not in printed and printed.strip().count("\n") == 0
