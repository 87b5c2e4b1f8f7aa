"""The kernel-lab tutorial: examples/custom_kernel.py runs with --quick and reaches the tutorial's
conclusions, the Python blocks of docs/kernels.md run as written, and the code the page shows is
the code the example runs."""
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PAGE = ROOT / "docs" / "kernels.md"


@pytest.fixture
def example():
    sys.path.insert(0, str(EXAMPLES))
    yield importlib.import_module("custom_kernel")
    sys.path.remove(str(EXAMPLES))


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


def test_example_runs_quick_on_emu(example, capsys):
    stats = example.main(["--quick", "--device", "emu"])
    out = capsys.readouterr().out
    assert "device: emu" in out and "y[:4] = [1.0, 3.0, 5.0, 7.0]" in out
    assert stats["transpose_naive"]["global_efficiency"] < 0.3  # the strided stores
    assert stats["transpose_shared"]["global_efficiency"] == stats["transpose_padded"]["global_efficiency"] == 1.0
    assert stats["transpose_shared"]["bank_conflict_ways"] == 32
    assert stats["transpose_padded"]["bank_conflict_ways"] == 1
    assert stats["sum_interleaved"]["bank_conflict_ways"] == 8 and stats["sum_sequential"]["bank_conflict_ways"] == 1
    assert "custom_kernel.cu:17      global store 32.0 sectors/request (ideal 4.0), efficiency 12.5 %" in out
    assert "gd.gradcheck (float64 kernels, central differences): passed" in out
    assert "5. measured on emu" in out


def test_the_pages_python_blocks_run(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the page loads examples/custom_kernel.cu from the repository root
    namespace = {}
    for code in _blocks("python"):
        exec(compile(code, str(PAGE), "exec"), namespace)
    out = capsys.readouterr().out
    assert "saxpy(float a, const float* x, float* y, int n)" in out and "8 6720" in out
    assert "kernel 'saxpy' parameter 'x' (const float*) needs float32 data" in out
    (report,) = _blocks("text")
    for line in report.splitlines():  # the report the page shows, abridged
        assert line.strip() == "..." or line in out, line


def test_the_page_shows_the_examples_code():
    kernels, script = (EXAMPLES / "custom_kernel.cu").read_text(), (EXAMPLES / "custom_kernel.py").read_text()
    cuda = _blocks("cuda")
    assert len(cuda) >= 6
    for block in cuda:
        assert block in kernels, block
    (function,) = [b for b in _blocks("python") if b.startswith("class Swish")]
    assert function in script
