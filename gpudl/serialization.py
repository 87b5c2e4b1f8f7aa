"""gd.save / gd.load: state dicts as .npz files — host arrays under dotted names, no pickle.

Nested dicts (e.g. {"model": ..., "optimizer": ..., "epoch": 3}) are flattened with '/'
between levels; tensors become NumPy arrays, Python scalars and strings 0-d arrays. The
file is written to a temporary name and then renamed, so a crash never leaves half a file.
"""
import os
import tempfile

import numpy as np

from .backend import to_numpy
from .tensor import Tensor


def _flatten(obj, prefix, out):
    for key, value in obj.items():
        if "/" in str(key):
            raise ValueError(f"save: key {key!r} must not contain '/'")
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + "/", out)
        elif isinstance(value, Tensor):
            out[name] = value.numpy()
        elif value is None or isinstance(value, (list, tuple)) and any(isinstance(v, (dict, Tensor)) for v in value):
            raise TypeError(f"save: cannot store {name!r} of type {type(value).__name__} without pickle")
        else:
            out[name] = np.asarray(to_numpy(value))
            if out[name].dtype == object:
                raise TypeError(f"save: {name!r} is not a plain array, number or string")
    return out


def save(obj, path):
    """Write a (nested) dict of tensors, arrays, numbers and strings to `path` (.npz), atomically."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. model.state_dict()), got {type(obj).__name__}")
    arrays = _flatten(obj, "", {})
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read a file written by `save` back into nested dicts of NumPy arrays and Python scalars."""
    out = {}
    with np.load(os.fspath(path), allow_pickle=False) as data:
        for name in data.files:
            value = data[name]
            *parents, leaf = name.split("/")
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value.item() if value.ndim == 0 else value
    return out
