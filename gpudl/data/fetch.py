"""Finding a dataset's files, checking their MD5s, and downloading them (atomically).

Lookup order, for a dataset called `name`:

    1. root=                    root/<name>/ or root/ itself
    2. $GPUDL_DATA              $GPUDL_DATA/<name>/ or $GPUDL_DATA/ itself
    3. the cache                $GPUDL_CACHE_DIR/<name>/, default ~/.cache/gpudl/<name>/
    4. a system package         e.g. /usr/share/datasets/fashion-mnist/ (dataset-fashion-mnist)
    5. download                 into root/<name>/ when root= is given, else the cache

A file is accepted when the MD5 of its bytes, or of its gunzipped content, is one of the
accepted digests (the second form accepts repackaged .gz files whose gzip header differs,
such as Debian's). Verification is remembered per (path, size, mtime) for the process.
"""
import collections
import hashlib
import http.client
import os
import urllib.error
import urllib.request

from tqdm import tqdm

from . import idx

Source = collections.namedtuple("Source", "name title splits urls md5 system_dir apt_package")
Source.__doc__ = """What a dataset is made of: splits maps 'train'/'test' to file names; md5 maps a file
name to its accepted digests; urls are mirrors tried in order."""

_verified = set()  # (path, size, mtime_ns, accepted digests) of files that passed
_CHUNK = 1 << 20


class _Unreachable(Exception):
    """No mirror could be reached (the message lists each URL and why)."""


def cache_dir():
    """$GPUDL_CACHE_DIR, else ~/.cache/gpudl."""
    return os.environ.get("GPUDL_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "gpudl")


def search_dirs(source, root=None):
    """Folders to look in, in order."""
    dirs = []
    for base in (root, os.environ.get("GPUDL_DATA")):
        if base:
            base = os.path.expanduser(os.fspath(base))
            dirs += [os.path.join(base, source.name), base]
    dirs.append(os.path.join(cache_dir(), source.name))
    if source.system_dir:
        dirs.append(source.system_dir)
    return dirs


def download_dir(source, root=None):
    base = os.path.expanduser(os.fspath(root)) if root else cache_dir()
    return os.path.join(base, source.name)


def find(source, files, root=None):
    """The first folder holding all of `files`, or None."""
    for folder in search_dirs(source, root):
        if all(os.path.isfile(os.path.join(folder, f)) for f in files):
            return folder
    return None


def _md5(data):
    return hashlib.md5(data).hexdigest()


def verified(path, raw, accepted):
    """The IDX bytes of the file when md5(raw) or md5(gunzip(raw)) is in `accepted`, else None.

    A success is remembered per (path, size, mtime) for the rest of the process.
    """
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, tuple(accepted))
    if key in _verified or _md5(raw) in accepted:
        _verified.add(key)
        return idx.decompress(raw, path)
    if raw[:2] != idx.GZIP_MAGIC:
        return None
    try:
        data = idx.decompress(raw, path)
    except ValueError:
        return None
    if _md5(data) not in accepted:
        return None
    _verified.add(key)
    return data


def corrupt_message(path, accepted):
    return (f"{path}: the file is corrupt or incomplete (its MD5 is none of the expected {', '.join(accepted)}). "
            "Delete it and download it again (download=True), or get a fresh copy from where it came from.")


def download(url, dest, accepted, progress=True):
    """Fetch url into dest: stream to a temp file beside it, check the MD5, os.replace.

    A checksum mismatch deletes the temp file and tries once more, then raises ValueError.
    Network failures propagate (OSError / http.client.HTTPException).
    """
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    got = None
    for _ in range(2):
        tmp = f"{dest}.{os.getpid()}.part"
        try:
            digest = hashlib.md5()
            request = urllib.request.Request(url, headers={"User-Agent": "gpudl"})
            with urllib.request.urlopen(request, timeout=60) as response, open(tmp, "wb") as out:
                total = response.headers.get("Content-Length")
                with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                          desc=os.path.basename(dest), disable=not progress, leave=False) as bar:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
            got = digest.hexdigest()
            if got in accepted:
                os.replace(tmp, dest)
                return dest
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise ValueError(f"download of {url}: MD5 {got} is none of the expected {', '.join(accepted)} "
                     "(tried twice); nothing was saved")


def fetch(source, files, dest_dir, progress=True):
    """Download the missing or corrupt `files` into dest_dir, trying each mirror in turn."""
    for f in files:
        path = os.path.join(dest_dir, f)
        if os.path.isfile(path) and verified(path, _read(path), source.md5[f]) is not None:
            continue
        errors = []
        for base in source.urls:
            try:
                download(base + f, path, source.md5[f], progress)
                break
            except (OSError, http.client.HTTPException) as e:
                errors.append(f"{base + f}: {_reason(e)}")
        else:
            raise _Unreachable("; ".join(errors))


def _reason(e):
    return str(e.reason) if isinstance(e, urllib.error.URLError) else f"{type(e).__name__}: {e}"


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def not_found(source, files, root, why):
    """The RuntimeError listing every way to make the files available."""
    looked = "\n".join(f"    {d}" for d in search_dirs(source, root))
    options = [
        "pass root='/path/to/folder' (holding the files, or a '{0}' folder with them)".format(source.name),
        f"set $GPUDL_DATA to such a folder (e.g. $GPUDL_DATA/{source.name}/)",
        f"put the files in {os.path.join(cache_dir(), source.name)}/ (~/.cache/gpudl/{source.name}, "
        "or $GPUDL_CACHE_DIR)",
    ]
    if source.apt_package:
        options.append(f"apt-get install {source.apt_package}   (Debian/Ubuntu: files in {source.system_dir}/)")
    options.append(f"allow download (download=True, with network access to {source.urls[0]})")
    return RuntimeError(f"{source.title}: cannot find {', '.join(files)}.\nLooked in:\n{looked}\n"
                        f"Download: {why}.\nTo fix, do one of:\n" + "\n".join(f"  - {o}" for o in options))


def load_files(source, files, root=None, download=True, verify=True, checksums=None, progress=True):
    """Find (or download) `files`, check them, and return (folder, [one IDX array per file]).

    checksums: {file name: md5 or [md5, ...]} overriding the published table (for tests and
    private copies). A corrupt file is re-downloaded when downloads are allowed and it lies
    where gpudl downloads to (the cache, or root/<name>); anywhere else it is an error.
    """
    extra = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in (checksums or {}).items()}
    source = source._replace(md5={**source.md5, **extra})
    folder = find(source, files, root)
    dest = download_dir(source, root)
    if folder is None:
        if not download:
            raise not_found(source, files, root, "not allowed (download=False)")
        try:
            fetch(source, files, dest, progress)
        except _Unreachable as e:
            raise not_found(source, files, root, f"failed ({e})") from None
        folder = dest
    ours = {os.path.abspath(d) for d in (dest, os.path.join(cache_dir(), source.name))}
    arrays = []
    for f in files:
        path, accepted = os.path.join(folder, f), source.md5[f]
        raw = _read(path)
        data = verified(path, raw, accepted) if verify else idx.decompress(raw, path)
        if data is None and download and os.path.abspath(folder) in ours:
            try:
                fetch(source, [f], folder, progress)
            except _Unreachable as e:
                raise ValueError(f"{corrupt_message(path, accepted)} Re-downloading failed: {e}") from None
            raw = _read(path)
            data = verified(path, raw, accepted)
        if data is None:
            raise ValueError(corrupt_message(path, accepted))
        arrays.append(idx.parse(data, path))
    return folder, arrays
