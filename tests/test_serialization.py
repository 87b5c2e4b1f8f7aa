import os

import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn


def test_roundtrip_nested(tmp_path):
    path = tmp_path / "ck.npz"
    obj = {"model": {"fc.weight": gd.ones(2, 3)}, "epoch": 4, "lr": 0.01, "name": "lenet", "arr": np.arange(3)}
    gd.save(obj, path)
    back = gd.load(path)
    assert back["epoch"] == 4 and back["lr"] == 0.01 and back["name"] == "lenet"
    assert np.array_equal(back["model"]["fc.weight"], np.ones((2, 3), dtype=np.float32))
    assert back["arr"].tolist() == [0, 1, 2]


def test_no_pickle_objects(tmp_path):
    with pytest.raises(TypeError, match="without pickle|plain array"):
        gd.save({"bad": {1, 2}}, tmp_path / "x.npz")
    np.savez(tmp_path / "p.npz", obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        gd.load(tmp_path / "p.npz")


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    gd.save({"w": np.ones(3)}, path)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        gd.save({"w": np.zeros(3)}, path)
    assert gd.load(path)["w"].tolist() == [1, 1, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # no temp file left behind


def test_model_trained_elsewhere_loads_on_cpu(tmp_path, device):
    gd.manual_seed(0)
    m = nn.Linear(3, 2).to(device)
    gd.save(m.state_dict(), tmp_path / "m.npz")
    fresh = nn.Linear(3, 2)
    fresh.load_state_dict(gd.load(tmp_path / "m.npz"))
    assert fresh.weight.device == gd.device("cpu")
    assert np.array_equal(fresh.weight.numpy(), m.weight.numpy())
    assert os.path.getsize(tmp_path / "m.npz") > 0


@pytest.mark.parametrize("content, why", [
    (b"", "the file is empty"),
    (b"\x93NUMPY random bytes that are not a zip archive", "not a zip archive"),
    (None, "truncated or damaged"),  # a real checkpoint cut in half
])
def test_load_names_the_file_and_the_problem(tmp_path, content, why):
    path = tmp_path / "bad.npz"
    if content is None:
        gd.save({"w": np.arange(1000.0)}, tmp_path / "good.npz")
        content = (tmp_path / "good.npz").read_bytes()[:700]
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a gpudl checkpoint") as info:
        gd.load(path)
    message = str(info.value)
    assert str(path) in message and why in message and "allow_pickle" not in message
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        gd.load(tmp_path / "missing.npz")


def test_pickled_entries_are_refused_without_advice_to_unpickle(tmp_path):
    np.savez(tmp_path / "p.npz", obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="holds Python objects") as info:
        gd.load(tmp_path / "p.npz")
    assert "allow_pickle" not in str(info.value)


def test_saved_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        gd.save({"w": np.ones(2)}, tmp_path / "ck.npz")
    finally:
        os.umask(mask)
    assert (tmp_path / "ck.npz").stat().st_mode & 0o777 == 0o644


def test_a_failed_save_names_the_target(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=f"save: cannot write {blocker / 'ck.npz'}"):
        gd.save({"w": np.ones(2)}, blocker / "ck.npz")


KILLED_SAVE = """
import os, signal, sys
import numpy as np
import gpudl as gd

def half_then_killed(f, **arrays):
    f.write(b"PK" + b"x" * 1_000_000)  # part of the archive, then the process dies (kill -9)
    os.kill(os.getpid(), signal.SIGKILL)

np.savez = half_then_killed
gd.save({"w": np.zeros(3)}, sys.argv[1])
"""


def test_sigkill_during_save_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "ck.npz"
    gd.save({"w": np.ones(3)}, path)
    child = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], timeout=120)
    assert child.returncode == -9
    assert gd.load(path)["w"].tolist() == [1, 1, 1]  # the old file is intact
    strays = [p for p in tmp_path.iterdir() if p.name != "ck.npz"]
    assert len(strays) == 1 and strays[0].name.startswith(".ck.npz.tmp-")
    gd.save({"w": np.full(3, 2.0)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"] and gd.load(path)["w"].tolist() == [2, 2, 2]
