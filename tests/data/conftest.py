"""Data tests never touch the network, the user's cache or the system data folder.

Every test gets: $GPUDL_CACHE_DIR in a temp folder, no $GPUDL_DATA, a Fashion-MNIST system
folder that does not exist, and a `urlopen` that fails as an offline machine does.
The `fake` fixture holds tiny MNIST-style .gz files (bytes), their arrays and MD5s.
"""
import types
import urllib.error
import urllib.request

import pytest

from data_helpers import make_split_files, md5s
from gpudl.data import datasets, fetch

REAL_SYSTEM_DIR = datasets.SOURCES["fashion-mnist"].system_dir


def _offline(*args, **kwargs):
    raise urllib.error.URLError("network disabled in tests")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUDL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GPUDL_DATA", raising=False)
    fm = datasets.SOURCES["fashion-mnist"]
    monkeypatch.setitem(datasets.SOURCES, "fashion-mnist", fm._replace(system_dir=str(tmp_path / "no-system")))
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    monkeypatch.setattr(fetch, "_verified", set())


@pytest.fixture
def fake():
    """Fake dataset files: .files {name: gz bytes}, .arrays {split: (images, labels)}, .md5 {name: md5}."""
    files, arrays = make_split_files()
    return types.SimpleNamespace(files=files, arrays=arrays, md5=md5s(files))
