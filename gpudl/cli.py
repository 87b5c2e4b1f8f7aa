"""The `gpudl` command line (also `python -m gpudl`).

    gpudl train [--dataset fashion-mnist|mnist] [--model cnn|lenet|mlp] [--epochs N] ...
    gpudl train --resume DIR [--epochs N]     continue a run from its last checkpoint
    mpiexec -n 4 gpudl train --distributed    data-parallel over 4 processes (gpudl.distributed)
    gpudl eval CHECKPOINT                     test-set loss and accuracy of a saved model
    gpudl info

`train` holds out --val-split training images (a seeded random split) for validation and
EarlyStopping, as the lectures teach, and evaluates the test set once, at the end.
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
    try:
        import mpi4py
        print(f"mpi4py {mpi4py.__version__} (gpudl train --distributed under mpiexec)")
    except ImportError:
        print("mpi4py not installed (data-parallel training: pip install 'gpudl[mpi]')")
    print(_device_line(gd, gd.get_default_device()))
    if gd.cuda.is_available():
        print(f"cuda: {gd.cuda.device_count()} device(s)")
    for name in ("fashion-mnist", "mnist"):
        print(f"{name}: {datasets.where(name) or 'not found (will download when allowed)'}")


def load_split(name, train, root=None, limit=0):
    """A split as a TensorDataset of (uint8 images (N, 1, 28, 28), int64 labels): the first `limit` if given."""
    from gpudl.data import TensorDataset, datasets
    ds = (datasets.FashionMNIST if name == "fashion-mnist" else datasets.MNIST)(root=root, train=train)
    n = limit or len(ds)
    return TensorDataset(ds.data[:n, None], ds.targets[:n])


def transform_for(name, augment=False):
    """Pixels to [0, 1], standardised with the training set's mean and std, then (augment) +-2 pixel shifts."""
    from gpudl.data import transforms as T
    mean, std = NORMALIZE[name]
    return T.Compose([T.ToFloat(), T.Normalize(mean, std)] + ([T.RandomTranslate(2)] if augment else []))


def val_size(args, n_train):
    """--val-split, or its default: 5000 images, a tenth of the training images with --limit."""
    size = args.val_split if args.val_split is not None else (n_train // 10 if args.limit else 5000)
    if not 0 <= size < n_train:
        raise SystemExit(f"gpudl train: --val-split {size} must be >= 0 and below the {n_train} training images")
    return size


def make_optimizer(name, params, lr):
    from gpudl import optim
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    return {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
            "adagrad": optim.Adagrad, "adadelta": optim.Adadelta}[name](params, lr=lr)


RUN_ARGS = ("dataset", "model", "epochs", "batch_size", "lr", "optimizer", "seed", "augment", "cosine", "limit",
            "val_split", "patience")  # what --resume takes from the run it continues


def _latest_checkpoint(folder):
    """The newer of DIR/checkpoint.npz and the one written on Ctrl-C, or SystemExit when neither exists."""
    found = [os.path.join(folder, f) for f in ("checkpoint.npz", "checkpoint.npz.interrupted.npz")]
    found = [f for f in found if os.path.exists(f)]
    if not found:
        raise SystemExit(f"gpudl train --resume: no checkpoint.npz in {folder}")
    return max(found, key=os.path.getmtime)


def _run_file(folder):
    path = os.path.join(folder, "run.json")
    if not os.path.exists(path):
        raise SystemExit(f"gpudl: {folder} has no run.json (written by gpudl train)")
    with open(path) as f:
        return json.load(f)


def _write_json(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def _device(gd, spec, command):
    """The Device for --device, or a one-line exit naming the flag and the reason (before any data is read)."""
    try:
        return gd.device(None if spec == "auto" else spec)
    except (ValueError, RuntimeError) as e:
        raise SystemExit(f"gpudl {command}: --device {spec}: {e} (use --device auto, cpu or emu)") from None


def _writable(folder):
    """Create --out, or a one-line exit saying why it cannot be written."""
    try:
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as e:
        raise SystemExit(f"gpudl train: --out {folder}: cannot create or write it ({e.strerror}); "
                         "choose another folder") from None


def _resumed(args, explicit):
    """args for --resume DIR: the run's own arguments, except the ones given on this command line."""
    saved = _run_file(args.resume)["args"]
    for key in RUN_ARGS:
        if key not in explicit:
            setattr(args, key, saved[key])
    args.out = args.resume
    return args


def eval_batch(n, shard, size=1000):
    """The evaluation batch size: `size`, or a little more so that a sharded last batch has a sample per rank."""
    world = shard[1] if shard else 1
    while 0 < n % size < world:
        size += 1
    return size


def _join(gd, spec):
    """Join the ranks (--distributed): MPI for --device cpu / emu, else NCCL when every rank has a GPU."""
    try:
        return gd.distributed.init_process_group("mpi" if spec in ("cpu", "emu") else "auto")
    except (ImportError, RuntimeError) as e:
        raise SystemExit(f"gpudl train --distributed: {e}") from None


def _rank_device(spec, group):
    """A rank's --device: 'cuda' and, on NCCL, 'auto' mean cuda:<local rank>."""
    if spec == "cuda" or (spec == "auto" and group.backend == "nccl"):
        return f"cuda:{group.local_rank}"
    return "cpu" if spec == "auto" else spec


def _quiet(*args, **kwargs):
    """print on the ranks other than 0."""


def train(args, explicit=()):
    import gpudl as gd
    from gpudl import data, models, train as training
    from gpudl.nn import functional as F
    if args.resume:
        args = _resumed(args, explicit)
    if args.distributed and args.capture:
        raise SystemExit("gpudl train: --capture cannot record the gradient all-reduce of --distributed; drop one")
    group = _join(gd, args.device) if args.distributed else None
    main_rank = group is None or group.rank == 0
    say = print if main_rank else _quiet
    shard = (group.rank, group.size) if group is not None else None
    dev = _device(gd, args.device if group is None else _rank_device(args.device, group), "train")
    _writable(args.out)
    say(_device_line(gd, dev))
    if group is not None:
        say(f"distributed: {group.size} rank(s) over {group.backend}; each step's {args.batch_size} images are "
            f"split among them")
    gd.manual_seed(args.seed)
    full = load_split(args.dataset, True, args.data_root, args.limit)
    test = load_split(args.dataset, False, args.data_root, args.limit)
    n_val = val_size(args, len(full))
    train_set, val_set = data.random_split(full, [len(full) - n_val, n_val], seed=args.seed)
    try:
        train_loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, device=dev, seed=args.seed,
                                       transform=transform_for(args.dataset, args.augment), shard=shard)
    except ValueError as e:
        raise SystemExit(f"gpudl train: {e}") from None
    evaluation = lambda ds: data.DataLoader(ds, batch_size=eval_batch(len(ds), shard), device=dev,  # noqa: E731
                                            transform=transform_for(args.dataset), shard=shard)
    model = models.MODELS[args.model]().to(dev)
    if group is not None:
        model = gd.distributed.DistributedDataParallel(model)
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr)
    scheduler = gd.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs) if args.cosine else None
    ckpt = os.path.join(args.out, "checkpoint.npz")
    start_epoch, history = 0, None
    if args.resume:
        start_epoch, history = training.resume(_latest_checkpoint(args.out), model, opt, train_loader, scheduler)
        say(f"resuming {args.out} at epoch {start_epoch + 1} of {args.epochs}")
    run = {"args": {k: getattr(args, k) for k in RUN_ARGS}, "device": str(dev), "ranks": shard[1] if shard else 1}
    if main_rank:
        _write_json(os.path.join(args.out, "run.json"), run)
    callbacks = [training.Checkpoint(ckpt)]
    if n_val and args.patience:
        callbacks.append(training.EarlyStopping(monitor="val_loss", patience=args.patience))
    start = time.perf_counter()
    history = training.fit(model, opt, F.cross_entropy, train_loader, val_data=evaluation(val_set) if n_val else None,
                           epochs=args.epochs, callbacks=callbacks, scheduler=scheduler, capture=args.capture,
                           start_epoch=start_epoch, history=history)
    seconds = time.perf_counter() - start
    scores = training.evaluate(model, evaluation(test), F.cross_entropy)
    if main_rank:
        history.to_json(os.path.join(args.out, "history.json"))
        _write_json(os.path.join(args.out, "run.json"), {**run, "test_loss": scores["loss"],
                                                          "test_accuracy": scores["accuracy"], "train_seconds": seconds})
        _plot(history, os.path.join(args.out, "curves.png"))
    val = f"validation accuracy {history['val_accuracy'][-1] * 100:.2f}%, " if n_val else ""
    ranks = f" x {shard[1]} ranks" if shard else ""
    say(f"{val}test accuracy: {scores['accuracy'] * 100:.2f}%  ({seconds:.0f} s on {dev}{ranks}); wrote {args.out}/")
    return scores["accuracy"]


def evaluate(args):
    """Test-set loss and accuracy of the model in a checkpoint (its run.json names dataset and model)."""
    import gpudl as gd
    from gpudl import data, models, train as training
    from gpudl.nn import functional as F
    folder = os.path.dirname(os.path.abspath(args.checkpoint))
    saved = _run_file(folder)["args"] if (args.model is None or args.dataset is None) else {}
    name, dataset = args.model or saved["model"], args.dataset or saved["dataset"]
    dev = _device(gd, args.device, "eval")
    try:
        state = gd.load(args.checkpoint)
    except (OSError, ValueError) as e:
        raise SystemExit(f"gpudl eval: {e}") from None
    model = models.MODELS[name]().to(dev)
    model.load_state_dict(state["model"] if "model" in state else state)
    test = data.DataLoader(load_split(dataset, False, args.data_root), batch_size=1000, device=dev,
                           transform=transform_for(dataset))
    scores = training.evaluate(model, test, F.cross_entropy)
    print(f"{name} on the {dataset} test set: loss {scores['loss']:.4f}, accuracy {scores['accuracy'] * 100:.2f}%")
    return scores


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


def _number(kind, low, inclusive):
    """An argparse type: `kind` (int / float) at least (inclusive) or above `low`."""
    bound = f">= {low}" if inclusive else f"> {low}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'} {bound}, "
                                             f"got {text!r}") from None
        if not (value >= low if inclusive else value > low) or value != value:
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


POSITIVE_INT, COUNT, POSITIVE = _number(int, 1, True), _number(int, 0, True), _number(float, 0, False)


class _Parser(argparse.ArgumentParser):
    """User errors as one line (the option, what is wrong, where to look), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help with its default (left out where the default is None: the help says it)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def parser():
    fmt = _Help
    p = _Parser(prog="gpudl", description="gpudl: train and inspect small networks", formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("info", help="versions, devices, why cuda is unavailable, where data was found", formatter_class=fmt)
    t = sub.add_parser("train", help="train a network on Fashion-MNIST or MNIST and report test accuracy",
                       formatter_class=fmt)
    t.add_argument("--dataset", choices=sorted(NORMALIZE), default="fashion-mnist", help="the data set")
    t.add_argument("--model", choices=["cnn", "lenet", "mlp"], default="cnn",
                   help="cnn: the reference CNN (BatchNorm + Dropout); lenet: LeNet-5; mlp: 784-256-128-10")
    t.add_argument("--epochs", type=POSITIVE_INT, default=4, help="passes over the training images (the total, with --resume)")
    t.add_argument("--batch-size", type=POSITIVE_INT, default=128, help="images per training step")
    t.add_argument("--lr", type=POSITIVE, default=1e-3, help="learning rate")
    t.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta"], default="adam",
                   help="update rule (sgd: momentum 0.9, Nesterov)")
    t.add_argument("--device", default="auto", help="auto (a GPU when usable, else cpu) | cpu | cuda | cuda:N | emu")
    t.add_argument("--seed", type=int, default=0, help="seeds weights, shuffling, the validation split, augmentation")
    t.add_argument("--out", default="runs/latest", help="folder for checkpoint, run.json, history.json, curves.png")
    t.add_argument("--data-root", default=None, help="folder holding the dataset's IDX files (default: searched)")
    t.add_argument("--val-split", type=COUNT, default=None,
                   help="training images held out for validation and early stopping; 0: none "
                        "(default: 5000, a tenth of the images with --limit)")
    t.add_argument("--patience", type=COUNT, default=3,
                   help="stop after this many epochs without a better validation loss (0: never)")
    t.add_argument("--augment", action="store_true", help="random +-2 pixel translations of the training images")
    t.add_argument("--cosine", action="store_true", help="cosine learning-rate schedule over the epochs")
    t.add_argument("--limit", type=COUNT, default=0, help="use only the first N training and test images (0: all)")
    t.add_argument("--capture", action=argparse.BooleanOptionalAction, default=False,
                   help="capture the training step once and replay it (cuda: a CUDA graph; emu: recorded launches)")
    t.add_argument("--resume", metavar="DIR", default=None,
                   help="continue the run in DIR from its last checkpoint, with its own arguments")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training, one process per device, started by mpiexec (mpiexec -n 4 gpudl "
                        "train --distributed): --batch-size is the global batch, split among the ranks; rank 0 "
                        "prints and writes the checkpoint; needs gpudl[mpi]")
    e = sub.add_parser("eval", help="test-set loss and accuracy of a checkpoint written by gpudl train",
                       formatter_class=fmt)
    e.add_argument("checkpoint", help="a checkpoint .npz (or a model state_dict saved with gd.save)")
    e.add_argument("--model", choices=["cnn", "lenet", "mlp"], default=None, help="default: from run.json beside it")
    e.add_argument("--dataset", choices=sorted(NORMALIZE), default=None, help="default: from run.json beside it")
    e.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | emu")
    e.add_argument("--data-root", default=None, help="folder holding the dataset's IDX files (default: searched)")
    p.train_parser = t
    return p


def _explicit(train_parser, argv):
    """The destinations of the train options written on the command line (--resume keeps the others)."""
    written = {token.split("=")[0] for token in argv if token.startswith("--")}
    return {a.dest for a in train_parser._actions if written & set(a.option_strings)}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser()
    args = p.parse_args(argv)
    if args.command == "info":
        info()
    elif args.command == "eval":
        evaluate(args)
    else:
        try:
            train(args, _explicit(p.train_parser, argv))
        except SystemExit as e:  # one rank's user error ends every rank (the others would wait for it)
            import gpudl.distributed as dist
            if e.code not in (0, None) and dist.get_world_size() > 1:
                dist.abort(e.code if isinstance(e.code, str) else f"exit status {e.code}",
                           e.code if isinstance(e.code, int) else 1)
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
