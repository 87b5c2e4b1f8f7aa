"""The `gpudl` command line (also `python -m gpudl`).

    gpudl train [--dataset fashion-mnist|mnist] [--model cnn|lenet|mlp] [--epochs N] ...
    gpudl info
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

# Fashion-MNIST training-set statistics; MNIST's are 0.1307 / 0.3081.
NORMALIZE = {"fashion-mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081)}


def _device_line(gd, dev):
    line = f"device: {dev}"
    if dev.type != "cuda":
        reason = gd.cuda.why_unavailable()
        line += f" (cuda not used: {reason or 'another device was requested'})"
    return line


def info():
    """Versions, devices, why cuda is unavailable, and where each dataset was found."""
    import gpudl as gd
    from gpudl.data import datasets
    print(f"gpudl {gd.__version__}  python {platform.python_version()}  numpy {np.__version__}")
    try:
        import cupy
        print(f"cupy {cupy.__version__}")
    except ImportError:
        print("cupy not installed")
    print(_device_line(gd, gd.get_default_device()))
    if gd.cuda.is_available():
        print(f"cuda: {gd.cuda.device_count()} device(s)")
    for name in ("fashion-mnist", "mnist"):
        print(f"{name}: {datasets.where(name) or 'not found (will download when allowed)'}")


def load_arrays(name, train, root=None):
    """(images float32 (N, 1, 28, 28) standardised, labels int64) of a dataset split."""
    from gpudl.data import datasets
    ds = (datasets.FashionMNIST if name == "fashion-mnist" else datasets.MNIST)(root=root, train=train)
    mean, std = NORMALIZE[name]
    x = (ds.data.astype(np.float32) / 255.0 - mean) / std
    return x[:, None, :, :], ds.targets.astype(np.int64)


def make_optimizer(name, params, lr):
    from gpudl import optim
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    return {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
            "adagrad": optim.Adagrad, "adadelta": optim.Adadelta}[name](params, lr=lr)


def train(args):
    import gpudl as gd
    from gpudl import data, models, train as training
    from gpudl.nn import functional as F
    dev = gd.device(None if args.device == "auto" else args.device)
    print(_device_line(gd, dev))
    gd.manual_seed(args.seed)
    x_train, y_train = load_arrays(args.dataset, True, args.data_root)
    x_test, y_test = load_arrays(args.dataset, False, args.data_root)
    if args.limit:
        x_train, y_train, x_test, y_test = x_train[:args.limit], y_train[:args.limit], x_test[:args.limit], y_test[:args.limit]
    transform = data.transforms.RandomTranslate(2) if args.augment else None
    train_loader = data.DataLoader(data.TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                                   device=dev, seed=args.seed, transform=transform)
    test_loader = data.DataLoader(data.TensorDataset(x_test, y_test), batch_size=1000, device=dev)
    model = models.MODELS[args.model]().to(dev)
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr)
    scheduler = gd.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs) if args.cosine else None
    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "checkpoint.npz")
    start = time.perf_counter()
    history = training.fit(model, opt, F.cross_entropy, train_loader, val_data=test_loader, epochs=args.epochs,
                           callbacks=[training.Checkpoint(ckpt)], scheduler=scheduler, capture=args.capture)
    seconds = time.perf_counter() - start
    acc = history["val_accuracy"][-1]
    history.to_json(os.path.join(args.out, "history.json"))
    with open(os.path.join(args.out, "run.json"), "w") as f:
        json.dump({**vars(args), "device": str(dev), "test_accuracy": acc, "train_seconds": seconds}, f, indent=1)
    _plot(history, os.path.join(args.out, "curves.png"))
    print(f"test accuracy: {acc * 100:.2f}%  ({seconds:.0f} s on {dev}); wrote {args.out}/")
    return acc


def _plot(history, path):
    """Loss and accuracy curves as a PNG, when matplotlib is installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "accuracy")):
        for prefix in ("", "val_"):
            if prefix + key in history:
                ax.plot(range(1, history.epochs + 1), history[prefix + key], label=prefix + key)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parser():
    p = argparse.ArgumentParser(prog="gpudl", description="gpudl: train and inspect small networks")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, devices, why cuda is unavailable, where data was found")
    t = sub.add_parser("train", help="train a network on Fashion-MNIST or MNIST and report test accuracy")
    t.add_argument("--dataset", choices=sorted(NORMALIZE), default="fashion-mnist")
    t.add_argument("--model", choices=["cnn", "lenet", "mlp"], default="cnn")
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta"], default="adam")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | emu")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/latest", help="folder for checkpoint, history.json, curves.png")
    t.add_argument("--data-root", default=None, help="folder holding the dataset's IDX files")
    t.add_argument("--augment", action="store_true", help="random +-2 pixel translations")
    t.add_argument("--cosine", action="store_true", help="cosine learning-rate schedule")
    t.add_argument("--limit", type=int, default=0, help="use only the first N images (quick runs)")
    t.add_argument("--capture", action=argparse.BooleanOptionalAction, default=False,
                   help="capture the training step once and replay it (cuda: a CUDA graph; emu: recorded launches)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "info":
        info()
    else:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
