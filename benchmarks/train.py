"""Training-step benchmarks: gpudl against PyTorch on the same device, batch and threads, each
framework in its own process.

    python -m benchmarks.train --device cpu|emu|cuda [--quick] [--json [PATH]] [--models lenet,mlp,cnn]

One step = zero_grad, forward, cross-entropy, backward, Adam (lr 1e-3) on a batch of 128
28x28 images, for LeNet-5, the MLP 784-256-128-10 and the reference CNN (gpudl.models).
The PyTorch twin has the same layers and starts from gpudl's initial weights.

Each side runs in a child process of its own (`--child SIDE`: no shared allocator, thread pool
or import state), which warms up, times steps for about STEP_BUDGET_S seconds and reports the
median.  Children run alternately, gpudl, torch, gpudl, torch, ... (PAIRS pairs), so background
load hits both alike; the table gives the median over pairs of each side's ms per step and
images/s, the median of the per-pair ratios (gpudl / torch: below 1 gpudl is faster) with their
range, and the spread (IQR / median) of gpudl's step times inside its children.

On cuda and emu gpudl's step is also timed captured (gd.capture: one CUDA graph per step on
cuda), and on cuda PyTorch's with torch.cuda.graphs (a CUDAGraph of forward, backward and a
capturable Adam, the recipe of PyTorch's documentation); "captured/torch" is gpudl captured
over PyTorch eager.  emu times are CPU times of the emulator: they show that the columns run,
not GPU speed.

On cpu and cuda, when Fashion-MNIST is found (gpudl.data.datasets.where), one full LeNet-5
epoch (469 batches of 128, shuffled, standardised with mean 0.2860 / std 0.3530) is timed as
well, also one child per framework, alternately (EPOCH_PAIRS pairs): gpudl through its
DataLoader and `train.fit` (on cuda device-resident, eager and captured), PyTorch through
torch.utils.data.DataLoader and the same loop by hand (on cuda from GPU-resident tensors, eager
and with a CUDA graph for the full batches); --quick skips it.
"""
import argparse
import json
import sys
import time

import numpy as np

import gpudl
import gpudl.nn.functional as F
from benchmarks import common
from gpudl import models
from gpudl.data import datasets, transforms

BATCH = 128
PAIRS, EPOCH_PAIRS = 5, 3     # alternating child processes per side
STEP_BUDGET_S = 1.5           # timed steps per child: about this long (5 to 200 steps)
CHILD_TIMEOUT_S = 900
MEAN, STD = 0.2860, 0.3530
SIDES = ("gpudl", "gpudl captured", "torch", "torch graphs")  # timed steps, by name
COLUMNS = (("model", "model"), ("batch", "batch"), ("gpudl ms", "gpudl_ms"), ("gpudl img/s", "gpudl_img_s"),
           ("gpudl captured ms", "gpudl_captured_ms"), ("torch ms", "torch_ms"), ("torch img/s", "torch_img_s"),
           ("torch graphs ms", "torch_graphs_ms"), ("gpudl/torch", "ratio"), ("ratio range", "ratio_range"),
           ("captured/torch", "captured_ratio"), ("gpudl spread", "gpudl_spread"), ("pairs", "pairs"),
           ("steps each", "steps"))
EPOCH_COLUMNS = (("Fashion-MNIST epoch", "model"), ("images", "images"), ("batch", "batch"), ("gpudl s", "gpudl_s"),
                 ("gpudl captured s", "gpudl_captured_s"), ("torch s", "torch_s"), ("torch graphs s", "torch_graphs_s"),
                 ("gpudl/torch", "ratio"), ("ratio range", "ratio_range"), ("captured/torch", "captured_ratio"),
                 ("pairs", "pairs"))


def key(side):
    """'gpudl captured' -> 'gpudl_captured' (the JSON field prefix)."""
    return side.replace(" ", "_")


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


def gpudl_step(name, device, x, y, captured=False):
    """(model, step): a fresh gpudl model (seeded: eager and captured start alike) and a function
    running one training step, eagerly or through gd.capture (synchronised on cuda)."""
    dev = gpudl.device(device)
    gpudl.manual_seed(0)
    model = models.MODELS[name]().to(dev)
    opt = gpudl.optim.Adam(model.parameters(), lr=1e-3)
    tx, ty = gpudl.tensor(x, device=dev), gpudl.tensor(y, device=dev)

    def train_step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss
    run = gpudl.capture(train_step) if captured else train_step

    def step():
        run(tx, ty)
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


def torch_graph_step(torch, name, model, x, y):
    """One PyTorch training step replayed as a CUDA graph: warm-up on a side stream, then
    torch.cuda.graph around forward, backward and a capturable Adam's step."""
    twin = torch_twin(torch, name)
    copy_weights(torch, model, twin)
    twin = twin.to("cuda")
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3, capturable=True)
    tx, ty = torch.from_numpy(x).to("cuda"), torch.from_numpy(y).to("cuda")

    def once():
        torch.nn.functional.cross_entropy(twin(tx), ty).backward()
        opt.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            once()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        once()

    def step():
        graph.replay()
        torch.cuda.synchronize()

    return step


def make_step(side, name, device, x, y):
    """The step function of one side (its model seeded like gpudl's, so every side starts alike)."""
    if side.startswith("gpudl"):
        return gpudl_step(name, device, x, y, captured=side == "gpudl captured")[1]
    torch = common.torch_module(device)
    if torch is None:
        raise RuntimeError("PyTorch is not importable for this device")
    model, _ = gpudl_step(name, "cpu", x, y)  # gpudl's initial weights, copied into the twin
    if side == "torch graphs":
        return torch_graph_step(torch, name, model, x, y)
    return torch_step(torch, name, device, model, x, y)


def batch_data(batch):
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int64)


def child_steps(side, name, device, batch, steps):
    """In a child process: {'times': seconds per timed step} for one side (3 warm-up steps first)."""
    fn = make_step(side, name, device, *batch_data(batch))
    for _ in range(3):  # allocators, optimizer state, kernel compilation, the capture
        fn()
    steps = steps or common.calls_for(fn, STEP_BUDGET_S, 5, 200)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"times": times}


def run_child(argv):
    """Run `python -m benchmarks.train --child ...` with this interpreter; its JSON, or {'error': ...}."""
    return common.run_child("benchmarks.train", argv, CHILD_TIMEOUT_S)


def sides_for(device, torch_available):
    sides = ["gpudl"] + (["gpudl captured"] if device != "cpu" else [])
    if torch_available:
        sides += ["torch"] + (["torch graphs"] if device == "cuda" else [])
    return sides


def step_rows(args, torch_available, names):
    """One row per model: each side's children alternate; medians over pairs, per-pair ratios."""
    batch = 8 if args.quick else BATCH
    pairs, steps = (1, 3) if args.quick else (PAIRS, args.steps)
    rows = []
    for name in names:
        sides = sides_for(args.device, torch_available)
        medians, errors, spreads, counts = {s: [] for s in sides}, {}, [], []
        for _ in range(pairs):
            for side in sides:
                if side in errors:
                    continue
                out = run_child(["--child", side, "--models", name, "--device", args.device, "--batch",
                                 str(batch), "--steps", str(steps)])
                if "error" in out:
                    errors[side] = out["error"]
                    print(f"error: {name} ({side}): {out['error']}", file=sys.stderr)
                    continue
                medians[side].append(common.median(out["times"]))
                if side == "gpudl":
                    spreads.append(common.spread(out["times"]))
                    counts.append(len(out["times"]))
        row = {"model": name, "batch": batch, "pairs": pairs, **{f"{key(s)}_error": errors.get(s) for s in SIDES}}
        for side, values in medians.items():
            if values:
                row[f"{key(side)}_ms"] = 1e3 * common.median(values)
        if medians["gpudl"]:
            row.update(gpudl_img_s=batch / common.median(medians["gpudl"]), gpudl_spread=common.median(spreads),
                       steps=int(common.median(counts)))
        ratios = common.pair_ratios(medians["gpudl"], medians.get("torch", []))
        if ratios:
            row.update(torch_img_s=batch / common.median(medians["torch"]), ratio=common.median(ratios),
                       ratio_range=f"{min(ratios):.2f}-{max(ratios):.2f}")
            captured = common.pair_ratios(medians.get("gpudl captured", []), medians["torch"])
            if captured:
                row["captured_ratio"] = common.median(captured)
        rows.append(row)
    return rows


# ---- one Fashion-MNIST epoch ------------------------------------------------------------------
def gpudl_epoch(device, images, labels, captured=False):
    """Seconds for one shuffled LeNet-5 epoch through gpudl's DataLoader and `train.fit` (Adam)."""
    dev = gpudl.device(device)
    gpudl.manual_seed(0)
    model = models.lenet5().to(dev)
    opt = gpudl.optim.Adam(model.parameters(), lr=1e-3)
    loader = gpudl.data.DataLoader(gpudl.data.TensorDataset(images[:, None], labels),
                                   batch_size=BATCH, shuffle=True, seed=0, device=dev,
                                   transform=transforms.Compose([transforms.ToFloat(),
                                                                 transforms.Normalize(MEAN, STD)]))
    dev.synchronize()
    start = time.perf_counter()
    gpudl.train.fit(model, opt, F.cross_entropy, loader, progress=False, capture=captured)
    dev.synchronize()
    return time.perf_counter() - start


def torch_loader_epoch(torch, images, labels):
    """Seconds for the same epoch in PyTorch on cpu through torch.utils.data.DataLoader (shuffled,
    uint8 batches standardised per batch, as gpudl's loader does)."""
    torch.manual_seed(0)
    twin = torch_twin(torch, "lenet")
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images[:, None]), torch.from_numpy(labels))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    start = time.perf_counter()
    for xb, yb in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(xb.float().div_(255).sub_(MEAN).div_(STD)), yb).backward()
        opt.step()
    return time.perf_counter() - start


def torch_epoch(torch, device, images, labels, graphs=False):
    """Seconds for the same epoch in PyTorch on cuda from GPU-resident tensors (uint8 batches
    standardised on the fly, as gpudl does); with `graphs` the full batches replay one CUDA graph."""
    torch.manual_seed(0)
    twin = torch_twin(torch, "lenet").to(device)
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3, capturable=graphs)
    data, targets = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(images))).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def batch(i):
        idx = order[i:i + BATCH]
        return data[idx].float().div_(255).sub_(MEAN).div_(STD).reshape(-1, 1, 28, 28), targets[idx]

    def step(xb, yb):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(xb), yb).backward()
        opt.step()

    sync()
    start = time.perf_counter()
    replay, static = None, None
    for i in range(0, len(images), BATCH):
        xb, yb = batch(i)
        if not graphs or len(yb) < BATCH:
            step(xb, yb)
        elif replay is None:  # warm up on a side stream, then capture the step on these buffers
            static = (xb, yb)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                step(*static)
            torch.cuda.current_stream().wait_stream(side)
            replay = torch.cuda.CUDAGraph()
            with torch.cuda.graph(replay):
                step(*static)
        else:
            static[0].copy_(xb)
            static[1].copy_(yb)
            replay.replay()
    sync()
    return time.perf_counter() - start


EPOCH_SIDES = {"gpudl": "epoch-gpudl", "gpudl captured": "epoch-gpudl-captured", "torch": "epoch-torch",
               "torch graphs": "epoch-torch-graphs"}


def child_epoch(side, device):
    """In a child process: {'seconds': one Fashion-MNIST LeNet-5 epoch} for one side."""
    train = datasets.FashionMNIST(train=True, download=False, progress=False)
    images, labels = train.data, train.targets
    if side.startswith("epoch-gpudl"):
        return {"seconds": gpudl_epoch(device, images, labels, captured=side.endswith("captured"))}
    torch = common.torch_module(device)
    if device == "cpu":
        return {"seconds": torch_loader_epoch(torch, images, labels)}
    return {"seconds": torch_epoch(torch, device, images, labels, graphs=side.endswith("graphs"))}


def epoch_row(device, torch_available):
    """The Fashion-MNIST epoch row (children alternating), or None (with a note) without the data set."""
    if datasets.where("fashion-mnist") is None:
        print("note: Fashion-MNIST not found; epoch timing skipped (apt-get install dataset-fashion-mnist)")
        return None
    sides = [s for s in sides_for(device, torch_available) if s != "gpudl captured" or device == "cuda"]
    seconds = {s: [] for s in sides}
    for _ in range(EPOCH_PAIRS):
        for side in sides:
            out = run_child(["--child", EPOCH_SIDES[side], "--device", device])
            if "error" in out:
                print(f"error: epoch ({side}): {out['error']}", file=sys.stderr)
            else:
                seconds[side].append(out["seconds"])
    row = {"model": "lenet", "images": 60000, "batch": BATCH, "pairs": EPOCH_PAIRS}
    for side, values in seconds.items():
        if values:
            row[f"{key(side)}_s"] = common.median(values)
    ratios = common.pair_ratios(seconds["gpudl"], seconds.get("torch", []))
    if ratios:
        row.update(ratio=common.median(ratios), ratio_range=f"{min(ratios):.2f}-{max(ratios):.2f}")
        captured = common.pair_ratios(seconds.get("gpudl captured", []), seconds["torch"])
        if captured:
            row["captured_ratio"] = common.median(captured)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train", description=__doc__.split("\n")[0])
    common.add_common_arguments(parser, ("cpu", "emu", "cuda"))
    parser.add_argument("--models", default="lenet,mlp,cnn", help="comma-separated subset of lenet,mlp,cnn")
    parser.add_argument("--steps", type=int, default=0,
                        help=f"timed steps per child process (default: about {STEP_BUDGET_S} s of steps)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # one side, run by the parent
    parser.add_argument("--batch", type=int, default=BATCH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in models.MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(models.MODELS)}")
    if args.child:
        out = (child_epoch(args.child, args.device) if args.child.startswith("epoch-")
               else child_steps(args.child, names[0], args.device, args.batch, args.steps))
        print(json.dumps(out))
        return out
    header = common.environment(args.device, "train", args)
    torch = common.torch_module(args.device) if args.device != "emu" else None  # emu: no peer on an emulator
    rows = step_rows(args, torch is not None, names)
    epoch = (epoch_row(args.device, torch is not None) if args.device != "emu" and not args.quick and "lenet" in names
             else None)
    peer = (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
            else "none on emu (an emulator: its times are CPU times)" if args.device == "emu"
            else "n/a (PyTorch not importable)")
    print(f"# gpudl training-step benchmarks on {args.device}: {header['device']}" + (" (quick)" if args.quick else ""))
    print(f"peer: {peer}; each side in its own process, alternating; step = forward + backward + Adam; "
          "ratio < 1: gpudl faster (median of per-pair ratios); spread = IQR / median")
    print()
    print(common.markdown_table(rows, COLUMNS))
    if epoch is not None:
        print()
        print(common.markdown_table([epoch], EPOCH_COLUMNS))
    failed = [f"{r['model']} ({side})" for r in rows for side in SIDES if r[f"{key(side)}_error"]]
    if failed:
        print(f"\nFailed (n/a in the table; errors in the JSON): {', '.join(failed)}")
    if args.json is not None:
        path = common.write_json(common.json_path(args.json, args.device, "train"), header, rows, peer=peer,
                                 epoch=epoch)
        print(f"\nwrote {path}")
    return rows


if __name__ == "__main__":
    main()
