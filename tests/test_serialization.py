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
