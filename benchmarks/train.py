"""Training-step benchmarks: gpudl against PyTorch on the same device, batch and threads.

    python -m benchmarks.train --device cpu|cuda [--quick] [--json [PATH]] [--models lenet,mlp,cnn]

One step = zero_grad, forward, cross-entropy, backward, Adam (lr 1e-3) on a batch of 128
28x28 images, for LeNet-5, the MLP 784-256-128-10 and the reference CNN (gpudl.models).
The PyTorch twin has the same layers and starts from gpudl's initial weights.  Steps run in
alternating blocks (gpudl x k, torch x k, gpudl x k, ...; 5 rounds, a short pause before
each block: see common.alternating) so both see the same background load; the table gives
median ms per step, images/s, the ratio of the medians (gpudl / torch: below 1 gpudl is
faster), the median of the per-round ratios, and the relative interquartile range of each
side's step times (how noisy the machine was).

Both frameworks share one process and so one allocator: with glibc's defaults, arrays of a
few MB come from fresh mmaps whose page faults cost both sides ~30 % of a LeNet-5 step on
the 2-core reference machine.  MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ change that
and are recorded in the JSON (`env`) with the thread-count variables.

On cpu, when Fashion-MNIST is found (gpudl.data.datasets.where), one full LeNet-5 epoch
(469 batches of 128, shuffled, standardised with mean 0.2860 / std 0.3530) is timed for
both frameworks as well; --quick skips it.
"""
import argparse
import time

import numpy as np

import gpudl
import gpudl.nn.functional as F
from benchmarks import common
from gpudl import models
from gpudl.data import datasets, transforms

BATCH = 128
ROUNDS, SETTLE_S = 5, 0.25  # alternating blocks of steps, with a pause before each (common.alternating)
MEAN, STD = 0.2860, 0.3530
COLUMNS = (("model", "model"), ("batch", "batch"), ("gpudl ms", "gpudl_ms"), ("gpudl img/s", "gpudl_img_s"),
           ("torch ms", "torch_ms"), ("torch img/s", "torch_img_s"), ("gpudl/torch", "ratio"),
           ("per-round ratio", "round_ratio"), ("gpudl spread", "gpudl_spread"), ("torch spread", "torch_spread"),
           ("steps each", "steps"))
EPOCH_COLUMNS = (("Fashion-MNIST epoch", "model"), ("images", "images"), ("batch", "batch"), ("gpudl s", "gpudl_s"),
                 ("torch s", "torch_s"), ("gpudl/torch", "ratio"))


def torch_twin(torch, name, width=32):
    """The PyTorch network with the layers of gpudl.models.<name>."""
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                             nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25), nn.Linear(2 * width * 49, 128), nn.ReLU(),
                         nn.Dropout(0.25), nn.Linear(128, 10))


def copy_weights(torch, model, twin):
    """Start the twin from gpudl's initial parameters (same order, same shapes)."""
    ours, theirs = list(model.parameters()), list(twin.parameters())
    if [p.shape for p in ours] != [tuple(p.shape) for p in theirs]:
        raise RuntimeError(f"benchmarks.train: gpudl and PyTorch parameter shapes differ: "
                           f"{[p.shape for p in ours]} vs {[tuple(p.shape) for p in theirs]}")
    with torch.no_grad():
        for p, q in zip(ours, theirs):
            q.copy_(torch.from_numpy(p.numpy()))


def gpudl_step(name, device, x, y):
    """(model, step): a fresh gpudl model and a function running one training step (synchronised on cuda)."""
    dev = gpudl.device(device)
    model = models.MODELS[name]().to(dev)
    opt = gpudl.optim.Adam(model.parameters(), lr=1e-3)
    tx, ty = gpudl.tensor(x, device=dev), gpudl.tensor(y, device=dev)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(tx), ty).backward()
        opt.step()
        dev.synchronize()

    return model, step


def torch_step(torch, name, device, model, x, y):
    """A function running one PyTorch training step of the twin of `model` (synchronised on cuda)."""
    twin = torch_twin(torch, name)
    copy_weights(torch, model, twin)
    twin = twin.to(device)
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(tx), ty).backward()
        opt.step()
        sync()

    return step


def build_steps(args, torch, name, x, y, errors):
    """{'gpudl': step, 'torch': step} for the frameworks whose model builds and whose step runs."""
    built = common.attempt("gpudl", lambda: gpudl_step(name, args.device, x, y), errors)
    if built is None:
        return {}
    model, steps = built[0], {"gpudl": built[1]}
    if torch is not None:
        twin = common.attempt("torch", lambda: torch_step(torch, name, args.device, model, x, y), errors)
        if twin is not None:
            steps["torch"] = twin
    return common.runnable(steps, errors)


def step_rows(args, torch, names):
    """One row per model: median step times of gpudl and the peer, alternating blocks."""
    batch = 8 if args.quick else BATCH
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    rows = []
    for name in names:
        errors = {}
        fns = build_steps(args, torch, name, x, y, errors)
        row = {"model": name, "batch": batch, "gpudl_error": errors.get("gpudl"), "torch_error": errors.get("torch")}
        rows.append(row)
        if "gpudl" not in fns:
            continue
        for _ in range(2):  # warm-up: allocators, Adam state, kernel compilation
            for fn in fns.values():
                fn()
        if args.quick:
            rounds, per_block = 1, 2
        else:
            rounds = ROUNDS
            per_block = args.steps or common.calls_for(lambda: [fn() for fn in fns.values()], 1.5, 5, 40)
        times = common.alternating(fns, rounds, per_block, 0 if args.quick else SETTLE_S)
        g, t = times["gpudl"], times.get("torch")
        row.update(gpudl_ms=1e3 * common.median(g), gpudl_img_s=batch / common.median(g),
                   gpudl_spread=common.spread(g), steps=len(g))
        if t:
            row.update(torch_ms=1e3 * common.median(t), torch_img_s=batch / common.median(t),
                       torch_spread=common.spread(t), ratio=common.median(g) / common.median(t),
                       round_ratio=common.block_ratios(g, t, rounds))
    return rows


# ---- one Fashion-MNIST epoch ------------------------------------------------------------------
def gpudl_epoch(images, labels):
    """Seconds for one shuffled LeNet-5 epoch through gpudl's DataLoader and Adam."""
    gpudl.manual_seed(0)
    model = models.lenet5()
    opt = gpudl.optim.Adam(model.parameters(), lr=1e-3)
    loader = gpudl.data.DataLoader(gpudl.data.TensorDataset(images[:, None], labels),
                                   batch_size=BATCH, shuffle=True, seed=0, device="cpu",
                                   transform=transforms.Compose([transforms.ToFloat(),
                                                                 transforms.Normalize(MEAN, STD)]))
    start = time.perf_counter()
    for xb, yb in loader:
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    return time.perf_counter() - start


def torch_epoch(torch, images, labels):
    """Seconds for the same epoch in PyTorch (uint8 batches standardised on the fly, as gpudl does)."""
    torch.manual_seed(0)
    twin = torch_twin(torch, "lenet")
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    data, targets = torch.from_numpy(images), torch.from_numpy(labels)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(images)))
    start = time.perf_counter()
    for i in range(0, len(images), BATCH):
        idx = order[i:i + BATCH]
        xb = data[idx].float().div_(255).sub_(MEAN).div_(STD).reshape(-1, 1, 28, 28)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(xb), targets[idx]).backward()
        opt.step()
    return time.perf_counter() - start


def epoch_row(torch):
    """The Fashion-MNIST epoch row, or None (with a note) when the data set is not found."""
    if datasets.where("fashion-mnist") is None:
        print("note: Fashion-MNIST not found; epoch timing skipped (apt-get install dataset-fashion-mnist)")
        return None
    train = datasets.FashionMNIST(train=True, download=False, progress=False)
    images, labels = train.data, train.targets
    g = gpudl_epoch(images, labels)
    row = {"model": "lenet", "images": len(images), "batch": BATCH, "gpudl_s": g}
    if torch is not None:
        t = torch_epoch(torch, images, labels)
        row.update(torch_s=t, ratio=g / t)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train", description=__doc__.split("\n")[0])
    common.add_common_arguments(parser, ("cpu", "cuda"))
    parser.add_argument("--models", default="lenet,mlp,cnn", help="comma-separated subset of lenet,mlp,cnn")
    parser.add_argument("--steps", type=int, default=0,
                        help=f"timed steps per block ({ROUNDS} blocks per framework; default: ~1.5 s per pair of blocks)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in models.MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(models.MODELS)}")
    header = common.environment(args.device, "train", args)
    torch = common.torch_module(args.device)
    rows = step_rows(args, torch, names)
    epoch = epoch_row(torch) if args.device == "cpu" and not args.quick and "lenet" in names else None
    peer = (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
            else "n/a (PyTorch not importable)")
    print(f"# gpudl training-step benchmarks on {args.device}: {header['device']}" + (" (quick)" if args.quick else ""))
    print(f"peer: {peer}; step = forward + backward + Adam; ratio < 1: gpudl faster; spread = IQR / median")
    print()
    print(common.markdown_table(rows, COLUMNS))
    if epoch is not None:
        print()
        print(common.markdown_table([epoch], EPOCH_COLUMNS))
    failed = [f"{r['model']} ({side})" for r in rows for side in ("gpudl", "torch") if r[f"{side}_error"]]
    if failed:
        print(f"\nFailed (n/a in the table; errors in the JSON): {', '.join(failed)}")
    if args.json is not None:
        path = common.write_json(common.json_path(args.json, args.device, "train"), header, rows, peer=peer,
                                 epoch=epoch)
        print(f"\nwrote {path}")
    return rows


if __name__ == "__main__":
    main()
