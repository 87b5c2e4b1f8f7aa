"""What the lecture examples share: command-line flags, the device, the image data sets, PNGs.

Not an example itself. Every example is `python examples/<name>.py [--quick] [--device D] [--out DIR]`.
"""
import argparse
import os

import numpy as np

import gpudl as gd
from gpudl.cli import NORMALIZE  # training-set pixel mean / std: Fashion-MNIST 0.2860 / 0.3530
from gpudl.data import DataLoader, TensorDataset, datasets


def parser(doc, data=False):
    """argparse with --quick, --device, --out, --seed (and --data-root, --no-verify when `data`)."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny data and few epochs: finishes in seconds (tests)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | emu")
    p.add_argument("--out", default=os.path.join("runs", "examples"), help="folder for PNGs and checkpoints")
    p.add_argument("--seed", type=int, default=0)
    if data:
        p.add_argument("--data-root", default=None, help="folder holding the IDX .gz files (or a <dataset>/ folder)")
        p.add_argument("--no-verify", action="store_true", help="skip the MD5 check (private copies, test files)")
    return p


def setup(args):
    """Seed every generator, pick the device and say which one; returns the Device."""
    gd.manual_seed(args.seed)
    dev = gd.device(None if args.device == "auto" else args.device)
    why = "" if dev.type == "cuda" else f"  (cuda: {gd.cuda.why_unavailable() or 'not requested'})"
    print(f"device: {dev}{why}")
    return dev


def images(name, train, args, limit=None):
    """A split of 'fashion-mnist' or 'mnist' as (x float32 (N, 1, 28, 28), y int64), standardised

        x = (pixel / 255 - mean) / std      with the training set's mean and std,

    keeping only the first `limit` images when given.
    """
    cls = datasets.FashionMNIST if name == "fashion-mnist" else datasets.MNIST
    try:
        ds = cls(root=args.data_root, train=train, verify=not args.no_verify)
    except RuntimeError as e:  # not found and no download possible: the message lists every option
        raise SystemExit(f"{e}\n  - or run this example with --data-root /path/to/folder") from None
    pixels, labels = ds.data[:limit], ds.targets[:limit]
    mean, std = NORMALIZE[name]
    return ((pixels.astype(np.float32) / 255 - mean) / std)[:, None], labels


def loaders(name, dev, args, n_train, n_val=0, n_test=None, batch_size=128):
    """Shuffled training batches, then validation (the n_val training images after the first
    n_train; None when n_val = 0) and test batches (the first n_test test images; None: all;
    0: none), all on `dev`."""
    x, y = images(name, True, args, n_train + n_val if n_train else None)
    n_train = n_train or len(y) - n_val
    train = DataLoader(TensorDataset(x[:n_train], y[:n_train]), batch_size=batch_size, shuffle=True,
                       device=dev, seed=args.seed)
    val = DataLoader(TensorDataset(x[n_train:], y[n_train:]), batch_size=1000, device=dev) if n_val else None
    test = None
    if n_test != 0:
        test = DataLoader(TensorDataset(*images(name, False, args, n_test)), batch_size=1000, device=dev)
    print(f"{name}: {n_train} training, {n_val} validation, {len(test.dataset) if test else 0} test images")
    return train, val, test


def pyplot(out):
    """matplotlib.pyplot (drawing to files), or None with a note when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no PNG written (pip install matplotlib to get the figures)")
        return None
    os.makedirs(out, exist_ok=True)
    return plt


def save(plt, fig, out, name):
    """Write `fig` to out/name, close it, print and return the path."""
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def plot_history(out, history, name, val_label="validation"):
    """Loss and accuracy per epoch, training and validation, as out/name."""
    plt = pyplot(out)
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = range(1, history.epochs + 1)
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], "o-", label="training")
        if "val_" + key in history:
            ax.plot(epochs, history["val_" + key], "o-", label=val_label)
        ax.set(xlabel="epoch", ylabel=key)
        ax.legend()
    save(plt, fig, out, name)
