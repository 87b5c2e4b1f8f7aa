"""MNIST / Fashion-MNIST: lookup order, checksums, the not-found message, mocked downloads."""
import gzip
import hashlib
import io
import os
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import REAL_SYSTEM_DIR
from data_helpers import idx_bytes, make_split_files, md5s, write_files
from gpudl.data import DataLoader, datasets

TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


def _check(ds, arrays):
    images, labels = arrays
    assert ds.data.dtype == np.uint8 and ds.data.shape == images.shape
    assert ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.targets, labels)


@pytest.mark.parametrize("cls", [datasets.FashionMNIST, datasets.MNIST])
@pytest.mark.parametrize("train", [True, False])
def test_loads_from_explicit_root(tmp_path, fake, cls, train):
    root = write_files(tmp_path / "mine", fake.files)
    ds = cls(root=root, train=train, download=False, checksums=fake.md5)
    _check(ds, fake.arrays["train" if train else "test"])
    assert ds.root == root and len(ds) == len(fake.arrays["train" if train else "test"][1])
    assert len(ds.classes) == 10
    image, label = ds[3]
    np.testing.assert_array_equal(image, ds.data[3])
    assert label == ds.targets[3]


def test_root_may_hold_a_folder_named_after_the_dataset(tmp_path, fake):
    folder = write_files(tmp_path / "data" / "fashion-mnist", fake.files)
    ds = datasets.FashionMNIST(root=tmp_path / "data", download=False, checksums=fake.md5)
    assert ds.root == folder


def test_published_checksums_reject_other_files(tmp_path, fake):
    root = write_files(tmp_path / "mine", fake.files)
    with pytest.raises(ValueError) as info:
        datasets.FashionMNIST(root=root, download=True)  # verify=True against the published MD5s
    message = str(info.value)
    assert os.path.join(root, TRAIN[0]) in message and "8d4fb7e6c68d591d4c3dfef9ec88bf0d" in message
    assert "corrupt" in message and "Delete it" in message
    assert sorted(os.listdir(root)) == sorted(fake.files)  # a user's file is never deleted
    _check(datasets.FashionMNIST(root=root, download=False, verify=False), fake.arrays["train"])


def test_content_checksum_accepts_a_regzipped_file(tmp_path, fake):
    """Debian's .gz files differ from the published ones only in the gzip header."""
    images, labels = fake.arrays["train"]
    regzipped = {TRAIN[0]: gzip.compress(idx_bytes(images), mtime=123456),
                 TRAIN[1]: gzip.compress(idx_bytes(labels), mtime=654321)}
    root = write_files(tmp_path / "deb", regzipped)
    content = {TRAIN[0]: hashlib.md5(idx_bytes(images)).hexdigest(),
               TRAIN[1]: hashlib.md5(idx_bytes(labels)).hexdigest()}
    _check(datasets.FashionMNIST(root=root, download=False, checksums=content), fake.arrays["train"])


def test_malformed_content_is_reported(tmp_path):
    images = np.zeros((4, 28, 28), np.uint8)
    files = {TRAIN[0]: gzip.compress(idx_bytes(images)), TRAIN[1]: gzip.compress(idx_bytes(np.zeros(3, np.uint8)))}
    root = write_files(tmp_path / "bad", files)
    with pytest.raises(ValueError, match=r"\(4, 28, 28\).*\(3,\)"):
        datasets.MNIST(root=root, download=False, verify=False)
    files[TRAIN[1]] = gzip.compress(idx_bytes(np.full(4, 10, np.uint8)))
    write_files(root, files)
    with pytest.raises(ValueError, match="labels outside 0..9"):
        datasets.MNIST(root=root, download=False, verify=False)


def test_lookup_order(tmp_path, monkeypatch):
    """Different fake data in root, $GPUDL_DATA, the cache and the system folder."""
    places = {where: make_split_files(n=4 + k, seed=10 * k)
              for k, where in enumerate(("root", "env", "cache", "system"))}
    checksums = {}
    for files, _ in places.values():
        for name, digest in md5s(files).items():
            checksums.setdefault(name, []).append(digest)
    system = tmp_path / "system" / "fashion-mnist"
    source = datasets.SOURCES["fashion-mnist"]
    monkeypatch.setitem(datasets.SOURCES, "fashion-mnist", source._replace(system_dir=str(system)))
    folders = {"root": tmp_path / "root", "env": tmp_path / "env" / "fashion-mnist",
               "cache": tmp_path / "cache" / "fashion-mnist", "system": system}
    for where, folder in folders.items():
        write_files(folder, places[where][0])
    monkeypatch.setenv("GPUDL_DATA", str(tmp_path / "env"))
    load = lambda **kw: datasets.FashionMNIST(download=False, checksums=checksums, **kw)  # noqa: E731
    _check(load(root=tmp_path / "root"), places["root"][1]["train"])
    for where in ("env", "cache", "system"):
        ds = load()
        assert ds.root == str(folders[where])
        _check(ds, places[where][1]["train"])
        for name in places[where][0]:
            os.remove(folders[where] / name)
        assert datasets.where("fashion-mnist") != str(folders[where])


def test_where(tmp_path, monkeypatch, fake):
    assert datasets.where("FashionMNIST") is None
    folder = write_files(tmp_path / "env" / "mnist", fake.files)
    monkeypatch.setenv("GPUDL_DATA", str(tmp_path / "env"))
    assert datasets.where("mnist") == folder
    assert datasets.where("fashion-mnist") is None
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.where("cifar")


def test_not_found_lists_every_option(tmp_path):
    with pytest.raises(RuntimeError) as info:
        datasets.FashionMNIST(download=False)
    message = str(info.value)
    for option in ("root=", "$GPUDL_DATA", "~/.cache/gpudl/fashion-mnist", str(tmp_path / "cache"),
                   "apt-get install dataset-fashion-mnist", "download=True", "download=False", TRAIN[0]):
        assert option in message, option
    with pytest.raises(RuntimeError) as info:
        datasets.MNIST(download=False)
    assert "apt-get" not in str(info.value) and "~/.cache/gpudl/mnist" in str(info.value)


def test_offline_download_lists_every_option_and_the_reason():
    with pytest.raises(RuntimeError) as info:
        datasets.FashionMNIST(download=True, progress=False)
    message = str(info.value)
    assert "network disabled in tests" in message and "fashion-mnist.s3-website" in message
    assert "apt-get install dataset-fashion-mnist" in message


class _Response(io.BytesIO):
    """What urlopen returns: a readable body with headers, usable as a context manager."""

    def __init__(self, data, on_read=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.on_read = on_read

    def read(self, size=-1):
        if self.on_read:
            self.on_read()
        return super().read(size)


def _serve(monkeypatch, payload, fail_prefix=None, on_read=None):
    """Mock urlopen: serve payload[file name] for any URL, fail URLs starting with fail_prefix."""
    calls = []

    def urlopen(request, timeout=None):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        calls.append(url)
        if fail_prefix and url.startswith(fail_prefix):
            raise urllib.error.URLError("connection refused")
        return _Response(payload[url.rsplit("/", 1)[1]], on_read)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def test_download_lands_atomically_in_the_cache(tmp_path, monkeypatch, fake):
    cache = tmp_path / "cache" / "fashion-mnist"
    calls = _serve(monkeypatch, fake.files)
    ds = datasets.FashionMNIST(download=True, checksums=fake.md5, progress=False)
    _check(ds, fake.arrays["train"])
    assert ds.root == str(cache)
    assert calls == ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" + f for f in TRAIN]
    assert sorted(os.listdir(cache)) == sorted(TRAIN)
    for f in TRAIN:
        assert (cache / f).read_bytes() == fake.files[f]


def test_download_never_shows_a_partial_file(tmp_path, monkeypatch, fake):
    cache = tmp_path / "cache" / "mnist"
    seen = []

    def check_dest():
        names = os.listdir(cache) if cache.exists() else []
        seen.append([n for n in names if n.endswith(".gz")])

    _serve(monkeypatch, fake.files, on_read=check_dest)
    datasets.MNIST(download=True, checksums=fake.md5, progress=False)
    assert [] in seen and all(set(names) <= {TRAIN[0]} for names in seen)  # only finished files appear


def test_download_into_root_when_given(tmp_path, monkeypatch, fake):
    _serve(monkeypatch, fake.files)
    ds = datasets.MNIST(root=tmp_path / "r", train=False, download=True, checksums=fake.md5, progress=False)
    assert ds.root == str(tmp_path / "r" / "mnist")
    _check(ds, fake.arrays["test"])


def test_wrong_checksum_leaves_nothing_and_raises(tmp_path, monkeypatch, fake):
    calls = _serve(monkeypatch, fake.files)
    wrong = dict(fake.md5, **{TRAIN[0]: "0" * 32})
    with pytest.raises(ValueError, match=f"MD5 {fake.md5[TRAIN[0]]}.*tried twice"):
        datasets.FashionMNIST(download=True, checksums=wrong, progress=False)
    assert calls.count("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" + TRAIN[0]) == 2
    assert not (tmp_path / "cache" / "fashion-mnist" / TRAIN[0]).exists()
    assert [n for n in os.listdir(tmp_path / "cache" / "fashion-mnist") if n.endswith(".part")] == []


def test_second_mirror_is_tried(monkeypatch, fake):
    mirrors = datasets.SOURCES["mnist"].urls
    calls = _serve(monkeypatch, fake.files, fail_prefix=mirrors[0])
    _check(datasets.MNIST(download=True, checksums=fake.md5, progress=False), fake.arrays["train"])
    assert calls == [mirrors[0] + TRAIN[0], mirrors[1] + TRAIN[0], mirrors[0] + TRAIN[1], mirrors[1] + TRAIN[1]]


def test_corrupt_cached_file_is_fetched_again(tmp_path, monkeypatch, fake):
    cache = write_files(tmp_path / "cache" / "fashion-mnist", fake.files)
    good = fake.files[TRAIN[0]]
    with open(os.path.join(cache, TRAIN[0]), "wb") as f:
        f.write(good[: len(good) // 2])  # a truncated download from some earlier run
    with pytest.raises(ValueError, match="corrupt"):  # offline: reported, naming the file
        datasets.FashionMNIST(download=True, checksums=fake.md5, progress=False)
    calls = _serve(monkeypatch, fake.files)
    _check(datasets.FashionMNIST(download=True, checksums=fake.md5, progress=False), fake.arrays["train"])
    assert len(calls) == 1 and calls[0].endswith(TRAIN[0])
    assert open(os.path.join(cache, TRAIN[0]), "rb").read() == good


def test_corrupt_file_outside_the_cache_is_an_error(tmp_path, monkeypatch, fake):
    folder = write_files(tmp_path / "env" / "fashion-mnist", fake.files)
    bad = fake.files[TRAIN[1]][:-3]
    with open(os.path.join(folder, TRAIN[1]), "wb") as f:
        f.write(bad)
    monkeypatch.setenv("GPUDL_DATA", str(tmp_path / "env"))
    calls = _serve(monkeypatch, fake.files)
    with pytest.raises(ValueError, match=f"{os.path.join(folder, TRAIN[1])}.*corrupt"):
        datasets.FashionMNIST(download=True, checksums=fake.md5, progress=False)
    assert calls == [] and open(os.path.join(folder, TRAIN[1]), "rb").read() == bad


class _NoItems(datasets.MNIST):
    def __getitem__(self, index):
        raise AssertionError("the loader's fast path must not fetch sample by sample")


def test_loader_fast_path_over_a_dataset(tmp_path, fake):
    ds = _NoItems(root=write_files(tmp_path / "m", fake.files), download=False, checksums=fake.md5)
    x, y = next(iter(DataLoader(ds, batch_size=5, device="cpu")))
    np.testing.assert_array_equal(x.numpy(), fake.arrays["train"][0][:5])
    np.testing.assert_array_equal(y.numpy(), fake.arrays["train"][1][:5])


# The Debian package's .gz files carry the published data under a rewritten gzip header (no
# file name, a 2020 time stamp). Rebuilding the original header (FNAME flag, the original
# time stamp) gives back the published bytes, so their MD5s can be checked too.
PUBLISHED = {
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", 1504176606),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", 1504176606),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", 1504176627),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", 1504176627),
}


def _as_published(name, raw):
    """The file with the gzip header the published file has."""
    if raw[3] != 0:  # already has optional header fields: leave it as it is
        return raw
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", PUBLISHED[name][1]) + b"\x00\x03"
    return header + name[:-3].encode() + b"\0" + raw[10:]


@pytest.mark.skipif(not os.path.isdir(REAL_SYSTEM_DIR),
                    reason=f"{REAL_SYSTEM_DIR} absent (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_from_the_system_package(monkeypatch):
    monkeypatch.setitem(datasets.SOURCES, "fashion-mnist",
                        datasets.SOURCES["fashion-mnist"]._replace(system_dir=REAL_SYSTEM_DIR))
    ds = datasets.FashionMNIST(train=True, download=False)
    assert ds.root == REAL_SYSTEM_DIR
    assert ds.data.shape == (60000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.min() == 0 and ds.targets.max() == 9
    np.testing.assert_array_equal(np.bincount(ds.targets), np.full(10, 6000))
    for name, (published, _) in PUBLISHED.items():
        with open(os.path.join(REAL_SYSTEM_DIR, name), "rb") as f:
            raw = f.read()
        assert hashlib.md5(_as_published(name, raw)).hexdigest() == published, name
