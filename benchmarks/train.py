"""Training-step benchmarks: gpudl against PyTorch on the same device, batch and threads.

    python -m benchmarks.train --device cpu|emu|cuda [--quick] [--json [PATH]] [--models lenet,mlp,cnn]

One step = zero_grad, forward, cross-entropy, backward, Adam (lr 1e-3) on a batch of 128
28x28 images, for LeNet-5, the MLP 784-256-128-10 and the reference CNN (gpudl.models).
The PyTorch twin has the same layers and starts from gpudl's initial weights.  Steps run in
alternating blocks (gpudl x k, torch x k, gpudl x k, ...; 5 rounds, a short pause before
each block: see common.alternating) so both see the same background load; the table gives
median ms per step, images/s, the ratio of the medians (gpudl / torch: below 1 gpudl is
faster), the median of the per-round ratios, and the relative interquartile range of each
side's step times (how noisy the machine was).

On cuda and emu gpudl's step is also timed captured (gd.capture: one CUDA graph per step on
cuda), and on cuda PyTorch's with torch.cuda.graphs (a CUDAGraph of forward, backward and a
capturable Adam, the recipe of PyTorch's documentation); "captured/torch" is gpudl captured
over PyTorch eager.  emu times are CPU times of the emulator: they show that the columns run,
not GPU speed.

Both frameworks share one process and so one allocator: with glibc's defaults, arrays of a
few MB come from fresh mmaps whose page faults cost both sides ~30 % of a LeNet-5 step on
the 2-core reference machine.  MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ change that
and are recorded in the JSON (`env`) with the thread-count variables.

On cpu and cuda, when Fashion-MNIST is found (gpudl.data.datasets.where), one full LeNet-5
epoch (469 batches of 128, shuffled, standardised with mean 0.2860 / std 0.3530) is timed as
well: gpudl through `train.fit` (on cuda with a device-resident DataLoader, eager and captured),
PyTorch through the same loop by hand (on cuda from GPU-resident tensors, eager and with a
CUDA graph for the full batches); --quick skips it.
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
SIDES = ("gpudl", "gpudl captured", "torch", "torch graphs")  # timed steps, by name
COLUMNS = (("model", "model"), ("batch", "batch"), ("gpudl ms", "gpudl_ms"), ("gpudl img/s", "gpudl_img_s"),
           ("gpudl captured ms", "gpudl_captured_ms"), ("torch ms", "torch_ms"), ("torch img/s", "torch_img_s"),
           ("torch graphs ms", "torch_graphs_ms"), ("gpudl/torch", "ratio"), ("captured/torch", "captured_ratio"),
           ("per-round ratio", "round_ratio"), ("gpudl spread", "gpudl_spread"), ("torch spread", "torch_spread"),
           ("steps each", "steps"))
EPOCH_COLUMNS = (("Fashion-MNIST epoch", "model"), ("images", "images"), ("batch", "batch"), ("gpudl s", "gpudl_s"),
                 ("gpudl captured s", "gpudl_captured_s"), ("torch s", "torch_s"), ("torch graphs s", "torch_graphs_s"),
                 ("gpudl/torch", "ratio"), ("captured/torch", "captured_ratio"))


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


def build_steps(args, torch, name, x, y, errors):
    """{side: step} for the sides whose model builds and whose step runs (see SIDES)."""
    built = common.attempt("gpudl", lambda: gpudl_step(name, args.device, x, y), errors)
    if built is None:
        return {}
    model, steps = built[0], {"gpudl": built[1]}
    if args.device != "cpu":
        captured = common.attempt("gpudl captured", lambda: gpudl_step(name, args.device, x, y, True), errors)
        if captured is not None:
            steps["gpudl captured"] = captured[1]
    if torch is not None:
        peers = {"torch": lambda: torch_step(torch, name, args.device, model, x, y)}
        if args.device == "cuda":
            peers["torch graphs"] = lambda: torch_graph_step(torch, name, model, x, y)
        for side, make in peers.items():
            fn = common.attempt(side, make, errors)
            if fn is not None:
                steps[side] = fn
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
        row = {"model": name, "batch": batch, **{f"{key(side)}_error": errors.get(side) for side in SIDES}}
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
        for side in ("gpudl captured", "torch graphs"):
            if side in times:
                row[f"{key(side)}_ms"] = 1e3 * common.median(times[side])
        if t:
            row.update(torch_ms=1e3 * common.median(t), torch_img_s=batch / common.median(t),
                       torch_spread=common.spread(t), ratio=common.median(g) / common.median(t),
                       round_ratio=common.block_ratios(g, t, rounds))
            if "gpudl captured" in times:
                row["captured_ratio"] = common.median(times["gpudl captured"]) / common.median(t)
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


def torch_epoch(torch, device, images, labels, graphs=False):
    """Seconds for the same epoch in PyTorch (uint8 batches standardised on the fly, as gpudl does);
    on cuda the data sit on the GPU, and with `graphs` the full batches replay one CUDA graph."""
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


def epoch_row(device, torch):
    """The Fashion-MNIST epoch row, or None (with a note) when the data set is not found."""
    if datasets.where("fashion-mnist") is None:
        print("note: Fashion-MNIST not found; epoch timing skipped (apt-get install dataset-fashion-mnist)")
        return None
    train = datasets.FashionMNIST(train=True, download=False, progress=False)
    images, labels = train.data, train.targets
    g = gpudl_epoch(device, images, labels)
    row = {"model": "lenet", "images": len(images), "batch": BATCH, "gpudl_s": g}
    if device == "cuda":
        row["gpudl_captured_s"] = gpudl_epoch(device, images, labels, captured=True)
    if torch is not None:
        t = torch_epoch(torch, device, images, labels)
        row.update(torch_s=t, ratio=g / t)
        if device == "cuda":
            row["torch_graphs_s"] = torch_epoch(torch, device, images, labels, graphs=True)
        if "gpudl_captured_s" in row:
            row["captured_ratio"] = row["gpudl_captured_s"] / t
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train", description=__doc__.split("\n")[0])
    common.add_common_arguments(parser, ("cpu", "emu", "cuda"))
    parser.add_argument("--models", default="lenet,mlp,cnn", help="comma-separated subset of lenet,mlp,cnn")
    parser.add_argument("--steps", type=int, default=0,
                        help=f"timed steps per block ({ROUNDS} blocks per framework; default: ~1.5 s per pair of blocks)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in models.MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(models.MODELS)}")
    header = common.environment(args.device, "train", args)
    torch = common.torch_module(args.device) if args.device != "emu" else None  # emu: no peer on an emulator
    rows = step_rows(args, torch, names)
    epoch = epoch_row(args.device, torch) if args.device != "emu" and not args.quick and "lenet" in names else None
    peer = (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
            else "none on emu (an emulator: its times are CPU times)" if args.device == "emu"
            else "n/a (PyTorch not importable)")
    print(f"# gpudl training-step benchmarks on {args.device}: {header['device']}" + (" (quick)" if args.quick else ""))
    print(f"peer: {peer}; step = forward + backward + Adam; ratio < 1: gpudl faster; spread = IQR / median")
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
