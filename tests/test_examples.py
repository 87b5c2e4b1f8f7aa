"""Every example runs end to end."""
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_autograd_tour_learns_xor(capsys):
    runpy.run_path(str(EXAMPLES / "autograd_tour.py"), run_name="__main__")
    assert "accuracy: 1.0" in capsys.readouterr().out


def test_cli_info(capsys):
    from gpudl.cli import main
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "default device" in out and "gpudl" in out
