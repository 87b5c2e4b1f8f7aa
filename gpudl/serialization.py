"""gd.save / gd.load: state dicts as .npz files — host arrays under dotted names, no pickle.

Nested dicts (e.g. {"model": ..., "optimizer": ..., "epoch": 3}) are flattened with '/'
between levels; tensors become NumPy arrays, Python scalars and strings 0-d arrays. The
file is written to a temporary name beside the target (`.<name>.tmp-<pid>-<random>`) and
then renamed, so a crash never leaves half a file; a temporary file left by a process that
was killed while saving is removed by the next save to that path. Saved files get the usual
permissions (0666 minus the umask). `load` reads only such archives: anything else (empty,
truncated, not a zip, containing pickled objects) raises ValueError naming the file.
"""
import os
import tempfile
import zipfile

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


def _temp_prefix(path):
    return f".{os.path.basename(path)}.tmp-"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale_temps(path):
    """Delete temporary files of earlier saves to `path` whose process no longer runs."""
    folder, prefix = os.path.dirname(os.path.abspath(path)), _temp_prefix(path)
    for name in os.listdir(folder):
        if name.startswith(prefix):
            pid = name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                try:
                    os.unlink(os.path.join(folder, name))
                except FileNotFoundError:  # removed meanwhile
                    pass


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(obj, path):
    """Write a (nested) dict of tensors, arrays, numbers and strings to `path` (.npz), atomically."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. model.state_dict()), got {type(obj).__name__}")
    arrays = _flatten(obj, "", {})
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        _remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{_temp_prefix(path)}{os.getpid()}-", suffix=".npz")
    except OSError as e:
        raise type(e)(e.errno, f"save: cannot write {path}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):
            raise type(e)(e.errno, f"save: cannot write {path}: {e.strerror}") from e
        raise


_ZIP_MAGIC = b"PK\x03\x04"


def _not_a_checkpoint(path, why):
    return ValueError(f"load: {path} is not a gpudl checkpoint (an .npz written by gd.save): {why}")


def load(path):
    """Read a file written by `save` back into nested dicts of NumPy arrays and Python scalars."""
    path = os.fspath(path)
    with open(path, "rb") as f:  # FileNotFoundError / PermissionError name the path
        head = f.read(4)
    if head != _ZIP_MAGIC:
        raise _not_a_checkpoint(path, "the file is empty" if not head else "it is not a zip archive")
    out = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                value = data[name]
                *parents, leaf = name.split("/")
                node = out
                for p in parents:
                    node = node.setdefault(p, {})
                node[leaf] = value.item() if value.ndim == 0 else value
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise _not_a_checkpoint(path, f"it is truncated or damaged ({type(e).__name__}: {e})") from None
    except ValueError as e:
        why = ("it holds Python objects (pickled data), which gpudl never loads" if "pickle" in str(e)
               else f"an entry cannot be read ({e})")
        raise _not_a_checkpoint(path, why) from None
    return out
