"""The wheel ships every subpackage and the kernel sources."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "gpudl").rglob("__init__.py")}
    assert on_disk | {"gpudl.kernel_sources"} == set(config["packages"])
    assert config["package-dir"]["gpudl.kernel_sources"] == "kernels"
    assert list((ROOT / "kernels").glob("*.cu"))


@pytest.mark.parametrize("family", ["activation", "pool", "conv2d"])
def test_loader_finds_kernel_sources(family):
    from gpudl.gpu import loader
    assert loader.source_path(family).read_text() == (ROOT / "kernels" / f"{family}.cu").read_text()
