"""MNIST and Fashion-MNIST: 28x28 grey images of 10 classes, 60,000 for training, 10,000 for test.

    ds = FashionMNIST(train=True)     # found on disk (see gpudl.data.fetch) or downloaded
    ds.data      uint8  (N, 28, 28)   pixels 0..255
    ds.targets   int64  (N,)          class index into ds.classes

The published MD5s are those of the .gz files. For Fashion-MNIST the table also holds the
MD5s of the uncompressed IDX content: Debian's dataset-fashion-mnist package rewrites the
gzip headers (time stamp, file name) but keeps the compressed data, so its .gz files have
other MD5s yet unpack to exactly the published bytes.
"""
import numpy as np

from .. import creation
from . import fetch
from .dataset import Dataset

_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

SOURCES = {
    "fashion-mnist": fetch.Source(
        name="fashion-mnist", title="FashionMNIST", splits=_SPLITS,
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={  # (published .gz, uncompressed IDX content)
            "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
            "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
            "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
        },
        system_dir="/usr/share/datasets/fashion-mnist", apt_package="dataset-fashion-mnist"),
    "mnist": fetch.Source(
        name="mnist", title="MNIST", splits=_SPLITS,
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        md5={
            "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",),
            "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432",),
            "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3",),
            "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f9a3b7a",),
        },
        system_dir=None, apt_package=None),
}


def _source(name):
    key = "".join(c for c in name.lower() if c.isalnum())
    for source in SOURCES.values():
        if key in (source.name.replace("-", ""), source.title.lower()):
            return source
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(SOURCES)}")


def where(name, root=None):
    """The folder the dataset `name` ('fashion-mnist', 'mnist') would be read from, or None.

    Looks only (no download, no checksum), for `gpudl info`.
    """
    source = _source(name)
    return fetch.find(source, [f for files in source.splits.values() for f in files], root)


class MNIST(Dataset):
    """Handwritten digits. Items are (image uint8 28x28, label); batches come from `get_batch`.

    root, download: see gpudl.data.fetch for where files are looked for.
    verify: check MD5s; checksums: {file name: md5} overriding the published table.
    """

    name = "mnist"
    classes = [str(d) for d in range(10)]

    def __init__(self, root=None, train=True, download=True, verify=True, checksums=None, progress=True):
        self.train = bool(train)
        source = SOURCES[self.name]
        files = source.splits["train" if self.train else "test"]
        self.root, (images, labels) = fetch.load_files(source, files, root, download, verify,
                                                       checksums, progress)
        if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {files[0]} holds {images.dtype} {images.shape} and "
                             f"{files[1]} {labels.dtype} {labels.shape}; expected uint8 (N, H, W) and (N,)")
        if labels.size and not 0 <= labels.min() <= labels.max() < len(self.classes):
            raise ValueError(f"{type(self).__name__}: {files[1]} has labels outside 0..{len(self.classes) - 1}")
        self.data, self.targets = images, labels.astype(np.int64)

    @property
    def arrays(self):
        """(data, targets) as NumPy arrays."""
        return self.data, self.targets

    def tensors(self, device=None):
        """(images uint8, labels int64) as gpudl Tensors on `device` (the whole split, copied once)."""
        return creation.tensor(self.data, device=device), creation.tensor(self.targets, device=device)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.data[index], self.targets[index]

    def get_batch(self, indices):
        return self.data[indices], self.targets[indices]

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} images from {self.root})"


class FashionMNIST(MNIST):
    """Zalando's article images, a drop-in replacement for MNIST (same format and sizes)."""

    name = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
