"""Kernel benchmarks: every kernel family on a fixed shape suite, side by side with a peer.

    python -m benchmarks.kernels --device cpu|cuda|emu [--quick] [--json [PATH]]
    python -m benchmarks.kernels --device emu --profile [--quick] [--json [PATH]]

--profile (emu only) runs small calls of the device function table (run_profile) inside one
gd.kernels.profile block and prints, per kernels/*.cu file, one row per extern "C" __global__
kernel: launches, global load / store requests, sectors per request, global efficiency, the
worst bank conflict, extra shared wavefronts, bytes read / written, the roofline time on an
H100 and the .cu line of the most wasteful access; then which kernels no call launched.

Shape suite (batch 128 unless said; "256 MB" rows run on cuda only, not in --quick mode, and
only when the arrays fit in the free GPU memory):
    conv        LeNet-5 conv1 (1->6, 5x5, pad 2, 28x28) and conv2 (6->16, 5x5, 14x14);
                64->128 channels, 3x3, pad 1, 32x32, batch 64.  Forward, backward-data and
                backward-weight; on cuda / emu both algorithms ('im2col', 'tiled').
    pool        LeNet-5 max pools (6x28x28, 16x10x10); max and avg 2x2 on 128x16x28x28 and
                on 128x32x128x128 (256 MB).
    activation  LeNet-5 ReLUs (both conv maps, both hidden dense layers); fused bias + ReLU
                on 128x80x32x32 (10.5 M elements) and 128x32x128x128 (256 MB).  Forward and
                backward.
    gemm        the dense layers of the MLP 784-256-128-10 and of LeNet-5 (M x K x N = batch x
                in x out), 256x128x128 and a 2048^3 square.  The three products of a dense
                layer y = x W: forward x W (A B), backward-data dL/dy W^T (A B^T, a transposed
                view), backward-weight x^T dL/dy (A^T B).

Work per call:
    conv        FLOP = 2 N C_out H_out W_out C_in kH kW  (the same for all three passes)
    gemm        FLOP = 2 M K N  (all three passes)
    pool / act  bytes read + written once: forward x + y (+ argmax for max pooling), backward
                dL/dy + dL/dx (+ argmax, + x for the activation: its derivative needs z)

Peer: PyTorch on cpu (os.cpu_count() threads) and on cuda (cuDNN for convolution); on emu the
NumPy cpu path of gpudl (the emulator is for correctness, ~1 M threads/s, so use --quick).
GEMM's peer is cuBLAS (cupy.matmul, plain fp32: no TF32) on cuda and NumPy's BLAS (np.matmul)
on cpu and emu.  `ratio` is gpudl time / peer time: below 1 gpudl is faster.  On cuda the
GEMM ratios say whether GPUDL_MATMUL=cublas (gpudl.gpu.gemm.resolve_backend) pays off.

On cpu with PyTorch installed each side runs in child processes of its own (`--child gpudl|peer`:
no shared thread pools, allocator or imports; gpudl's never imports PyTorch), alternately gpudl,
peer, gpudl, ... (PAIRS pairs); `ms` and `peer ms` are medians, `gpudl/peer` the median of the
per-pair ratios and `ratio range` their range.  Without PyTorch (the gemm peer is NumPy) and on
emu both sides run in this process, in alternating blocks.

Timing on cuda: `ms` is device time per call.  A spin kernel first holds the GPU while the
host queues a batch of calls between two CUDA events, so the batch runs back to back and
(end - start) / calls is the device time without launch gaps; a batch whose spin ended
before the last call was queued is rerun with a longer spin.  `host ms` is the host wall
time per call while queuing that batch (the Python wrapper's overhead, the GPU never
waited on).  On cpu and emu `ms` is wall time and `host ms` is n/a.
"""
import argparse
import functools
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

import gpudl
import gpudl.cpu
import gpudl.gpu
from benchmarks import common
from gpudl.cpu.metrics import FIELDS

ROOT = Path(__file__).resolve().parents[1]

# (layer, full (x shape, w shape, padding), quick (x shape, w shape, padding))
CONV_LAYERS = (
    ("lenet-conv1", ((128, 1, 28, 28), (6, 1, 5, 5), 2), ((2, 1, 8, 8), (3, 1, 5, 5), 2)),
    ("lenet-conv2", ((128, 6, 14, 14), (16, 6, 5, 5), 0), ((2, 2, 7, 7), (3, 2, 5, 5), 0)),
    ("conv3x3-64to128", ((64, 64, 32, 32), (128, 64, 3, 3), 1), ((2, 4, 6, 6), (5, 4, 3, 3), 1)),
)
# (layer, kind, full x shape, quick x shape); 2x2 windows, stride 2
POOL_LAYERS = (
    ("lenet-pool1", "max", (128, 6, 28, 28), (2, 2, 8, 8)),
    ("lenet-pool2", "max", (128, 16, 10, 10), (2, 3, 6, 6)),
    ("maxpool-128x16x28x28", "max", (128, 16, 28, 28), (2, 3, 8, 8)),
    ("avgpool-128x16x28x28", "avg", (128, 16, 28, 28), (2, 3, 8, 8)),
    ("maxpool-256MB", "max", (128, 32, 128, 128), None),
    ("avgpool-256MB", "avg", (128, 32, 128, 128), None),
)
# (layer, with bias, full x shape, quick x shape); activation ReLU
ACT_LAYERS = (
    ("lenet-relu-conv1", False, (128, 6, 28, 28), (2, 2, 8, 8)),
    ("lenet-relu-conv2", False, (128, 16, 10, 10), (2, 3, 6, 6)),
    ("lenet-relu-fc1", False, (128, 120), (4, 12)),
    ("lenet-relu-fc2", False, (128, 84), (4, 8)),
    ("bias-relu-128x80x32x32", True, (128, 80, 32, 32), (2, 5, 8, 8)),
    ("bias-relu-256MB", True, (128, 32, 128, 128), None),
)
# (layer, full (M, K, N), quick (M, K, N)); a dense layer x (M, K) @ W (K, N)
GEMM_LAYERS = (
    ("mlp-fc1", (128, 784, 256), (4, 20, 9)),
    ("mlp-fc2", (128, 256, 128), (4, 9, 7)),
    ("mlp-fc3", (128, 128, 10), (4, 7, 3)),
    ("lenet-fc1", (128, 400, 120), (4, 17, 6)),
    ("lenet-fc2", (128, 120, 84), (4, 6, 5)),
    ("lenet-fc3", (128, 84, 10), (4, 5, 3)),
    ("dense-256x128x128", (256, 128, 128), (8, 6, 6)),
    ("square-2048", (2048, 2048, 2048), (65, 33, 66)),
)
PASSES = {"conv": ("forward", "backward-data", "backward-weight"), "pool": ("forward", "backward"),
          "activation": ("forward", "backward"), "gemm": ("forward", "backward-data", "backward-weight")}
FLOP_FAMILIES = ("conv", "gemm")  # rated in GFLOP/s; the others in GB/s
GEMM_PEERS = {"cuda": "cuBLAS (cupy.matmul)", "cpu": "NumPy BLAS (np.matmul)", "emu": "NumPy BLAS (np.matmul)"}
COLUMNS = (("family", "family"), ("layer", "layer"), ("pass", "pass"), ("algo", "algo"), ("shape", "shape"),
           ("ms", "ms"), ("host ms", "host_ms"), ("rate", "rate"), ("unit", "unit"), ("% peak", "pct_peak"),
           ("peer ms", "peer_ms"), ("gpudl/peer", "ratio"), ("ratio range", "ratio_range"))
BEST_COLUMN = (("fastest algo", "best"),)


class Case:
    """One (layer, pass): `run(algo)` makes the gpudl call, `peer` the peer's (or None), whose
    cuda work is timed through `peer_api` ('torch' or 'cupy')."""

    def __init__(self, family, layer, pass_, shape, work, run, peer, peer_api="torch"):
        self.family, self.layer, self.pass_, self.shape, self.work = family, layer, pass_, shape, work
        self.run, self.peer, self.peer_api = run, peer, peer_api


class Bench:
    """The device under test, its kernel table, the peer and the input generator."""

    def __init__(self, device_type, quick, peer=True):
        self.type, self.quick = device_type, quick
        self.dev = gpudl.device(device_type)
        self.impl = gpudl.gpu if self.dev.uses_kernels else gpudl.cpu
        self.algos = gpudl.gpu.conv2d.ALGOS if self.dev.uses_kernels else ("numpy",)
        self.single = "kernel" if self.dev.uses_kernels else "numpy"  # the algo label of pool / activation
        self.rng = np.random.default_rng(0)
        if device_type == "emu":
            self.torch, self.peer_name = None, "gpudl NumPy cpu path"
        elif not peer:  # gpudl's side of a cpu run in processes of their own: PyTorch never imported
            self.torch, self.peer_name = None, "none in this process"
        else:
            self.torch = common.torch_module(device_type)
            self.peer_name = self._torch_name() if self.torch is not None else "n/a (PyTorch not importable)"

    def _torch_name(self):
        t = self.torch
        if self.type == "cuda":
            return f"PyTorch {t.__version__} CUDA (cuDNN {t.backends.cudnn.version()})"
        return f"PyTorch {t.__version__} CPU ({t.get_num_threads()} threads)"

    def array(self, shape):
        """Host float32 standard normal values."""
        return self.rng.standard_normal(shape, dtype=np.float32)

    def on_device(self, a):
        return self.dev.asarray(a) if a is not None else None

    def on_peer(self, a):
        """The host array for the peer: a torch tensor (cpu / cuda) or itself (emu's NumPy peer)."""
        if self.torch is None:
            return a
        return self.torch.from_numpy(np.ascontiguousarray(a)).to("cuda" if self.type == "cuda" else "cpu")

    def has_peer(self):
        return self.type == "emu" or self.torch is not None

    def shape(self, full, quick):
        """The shape to run: `quick` in --quick mode; None (skipped) for a 256 MB size (quick None)
        off cuda or when its arrays would not fit in the free GPU memory."""
        if self.quick or quick is None and (self.type != "cuda" or not _fits_on_gpu(full)):
            return quick
        return full


def _fits_on_gpu(shape, arrays=6):
    """Whether `arrays` float32 arrays of `shape` fit in the free memory of the current GPU."""
    import cupy
    free, _ = cupy.cuda.runtime.memGetInfo()
    return arrays * 4 * int(np.prod(shape)) < free


# ---- the cases ------------------------------------------------------------------------------
def conv_cases(b):
    k, dev = b.impl, b.dev
    for layer, full, quick in CONV_LAYERS:
        xs, ws, pad = quick if b.quick else full
        n, c, h, w_ = xs
        f, _, kh, kw = ws
        out = (n, f, h + 2 * pad - kh + 1, w_ + 2 * pad - kw + 1)
        x, w, bias, g = b.array(xs), b.array(ws) * 0.1, b.array((f,)), b.array(out)
        flops = 2 * n * f * out[2] * out[3] * c * kh * kw
        shape = f"x {xs} w {ws} pad {pad}"
        stride, padding = (1, 1), (pad, pad)
        runs = _conv_runs(k, dev, b.on_device(x), b.on_device(w), b.on_device(bias), b.on_device(g), stride, padding)
        peers = _conv_peers(b, x, w, bias, g, padding) if b.has_peer() else {}
        for pass_ in PASSES["conv"]:
            yield Case("conv", layer, pass_, shape, flops, runs[pass_], peers.get(pass_))


def _conv_runs(k, dev, x, w, bias, g, stride, padding):
    """{pass: algo -> the gpudl call}; 'numpy' (the cpu path) passes algo=None."""
    def bind(fn, *args):
        return lambda algo: functools.partial(fn, dev, *args, stride, padding, algo=None if algo == "numpy" else algo)
    return {"forward": bind(k.conv2d_forward, x, w, bias),
            "backward-data": bind(k.conv2d_backward_data, g, w, x.shape),
            "backward-weight": bind(k.conv2d_backward_weight, g, x, w.shape)}


def _conv_peers(b, x, w, bias, g, padding):
    if b.torch is None:  # emu: the NumPy path
        c, dev = gpudl.cpu, gpudl.device("cpu")
        return {"forward": functools.partial(c.conv2d_forward, dev, x, w, bias, (1, 1), padding),
                "backward-data": functools.partial(c.conv2d_backward_data, dev, g, w, x.shape, (1, 1), padding),
                "backward-weight": functools.partial(c.conv2d_backward_weight, dev, g, x, w.shape, (1, 1), padding)}
    t = b.torch
    tx, tw, tb, tg = (b.on_peer(a) for a in (x, w, bias, g))
    back = functools.partial(t.ops.aten.convolution_backward, tg, tx, tw, None, [1, 1], list(padding), [1, 1],
                             False, [0, 0], 1)
    return {"forward": functools.partial(t.nn.functional.conv2d, tx, tw, tb, 1, padding),
            "backward-data": functools.partial(back, [True, False, False]),
            "backward-weight": functools.partial(back, [False, True, False])}


def pool_cases(b):
    k, dev = b.impl, b.dev
    window = ((2, 2), (2, 2), (0, 0))
    for layer, kind, full, quick in POOL_LAYERS:
        xs = b.shape(full, quick)
        if xs is None:
            continue
        ys = xs[:2] + (xs[2] // 2, xs[3] // 2)
        x, g = b.array(xs), b.array(ys)
        size = 4 * int(np.prod(ys))  # bytes of y (and of the int32 argmax)
        extra = size if kind == "max" else 0
        work = {"forward": 4 * x.size + size + extra, "backward": size + extra + 4 * x.size}
        dx, dg = b.on_device(x), b.on_device(g)
        if kind == "max":
            _, argmax = k.max_pool2d_forward(dev, dx, *window)
            runs = {"forward": functools.partial(k.max_pool2d_forward, dev, dx, *window),
                    "backward": functools.partial(k.max_pool2d_backward, dev, dg, argmax, xs, *window)}
        else:
            runs = {"forward": functools.partial(k.avg_pool2d_forward, dev, dx, *window),
                    "backward": functools.partial(k.avg_pool2d_backward, dev, dg, xs, *window)}
        peers = _pool_peers(b, kind, x, g, window) if b.has_peer() else {}
        for pass_ in PASSES["pool"]:
            yield Case("pool", layer, pass_, f"x {xs} {kind} 2x2", work[pass_], _fixed(runs[pass_]),
                       peers.get(pass_))


def _fixed(fn):
    """A run(algo) for families with one algorithm."""
    return lambda algo: fn


def _pool_peers(b, kind, x, g, window):
    (kernel, stride, padding), dev = window, gpudl.device("cpu")
    if b.torch is None:
        c = gpudl.cpu
        if kind == "max":
            _, argmax = c.max_pool2d_forward(dev, x, *window)
            return {"forward": functools.partial(c.max_pool2d_forward, dev, x, *window),
                    "backward": functools.partial(c.max_pool2d_backward, dev, g, argmax, x.shape, *window)}
        return {"forward": functools.partial(c.avg_pool2d_forward, dev, x, *window),
                "backward": functools.partial(c.avg_pool2d_backward, dev, g, x.shape, *window)}
    aten = b.torch.ops.aten
    tx, tg = b.on_peer(x), b.on_peer(g)
    kernel, stride, padding = list(kernel), list(stride), list(padding)
    if kind == "max":
        _, idx = aten.max_pool2d_with_indices(tx, kernel, stride, padding)
        return {"forward": functools.partial(aten.max_pool2d_with_indices, tx, kernel, stride, padding),
                "backward": functools.partial(aten.max_pool2d_with_indices_backward, tg, tx, kernel, stride,
                                              padding, [1, 1], False, idx)}
    return {"forward": functools.partial(aten.avg_pool2d, tx, kernel, stride, padding),
            "backward": functools.partial(aten.avg_pool2d_backward, tg, tx, kernel, stride, padding, False,
                                          True, None)}


def act_cases(b):
    k, dev = b.impl, b.dev
    for layer, with_bias, full, quick in ACT_LAYERS:
        xs = b.shape(full, quick)
        if xs is None:
            continue
        x, g = b.array(xs), b.array(xs)
        bias = b.array((xs[1],)) if with_bias else None
        work = {"forward": 2 * x.nbytes, "backward": 3 * x.nbytes}
        dx, dg, db = b.on_device(x), b.on_device(g), b.on_device(bias)
        runs = {"forward": functools.partial(k.bias_act_forward, dev, dx, db, "relu"),
                "backward": functools.partial(k.bias_act_backward, dev, dg, dx, db, "relu")}
        peers = _act_peers(b, x, g, bias) if b.has_peer() else {}
        shape = f"x {xs}" + (" + bias" if with_bias else "")
        for pass_ in PASSES["activation"]:
            yield Case("activation", layer, pass_, shape, work[pass_], _fixed(runs[pass_]), peers.get(pass_))


def _act_peers(b, x, g, bias):
    if b.torch is None:
        c, dev = gpudl.cpu, gpudl.device("cpu")
        return {"forward": functools.partial(c.bias_act_forward, dev, x, bias, "relu"),
                "backward": functools.partial(c.bias_act_backward, dev, g, x, bias, "relu")}
    t = b.torch
    tx, tg = b.on_peer(x), b.on_peer(g)
    view = (1, -1) + (1,) * (x.ndim - 2)
    tb = b.on_peer(bias).view(view) if bias is not None else None
    axes = (0,) + tuple(range(2, x.ndim))

    def forward():  # relu(x + b): PyTorch's eager mode runs the add and the relu as two kernels
        return t.relu_(tx + tb) if tb is not None else t.relu(tx)

    y = forward()

    def backward():  # dL/dz = dL/dy [y > 0];  dL/db = sum over all axes but 1
        gz = t.ops.aten.threshold_backward(tg, y, 0)
        return (gz, gz.sum(axes)) if tb is not None else gz

    return {"forward": forward, "backward": backward}


def gemm_cases(b):
    """The three products of each dense layer, gpudl's matmul against dev.xp.matmul (cuBLAS / BLAS)."""
    k, dev = b.impl, b.dev
    for layer, full, quick in GEMM_LAYERS:
        m, depth, n = b.shape(full, quick)
        x, w, g = (b.on_device(b.array(s)) for s in ((m, depth), (depth, n), (m, n)))
        products = {"forward": ("x W", x, w), "backward-data": ("dY W^T", g, w.T),
                    "backward-weight": ("x^T dY", x.T, g)}
        for pass_ in PASSES["gemm"]:
            label, lhs, rhs = products[pass_]
            shape = f"{label}: ({lhs.shape[0]}, {lhs.shape[1]}) @ ({rhs.shape[0]}, {rhs.shape[1]})"
            yield Case("gemm", layer, pass_, shape, 2 * m * depth * n,
                       _fixed(functools.partial(k.matmul, dev, lhs, rhs)),
                       functools.partial(dev.xp.matmul, lhs, rhs), peer_api="cupy")


# ---- cuda device time -------------------------------------------------------------------------
SPIN_SOURCE = r"""
extern "C" __global__ void spin(long long cycles)
{
    long long start = clock64();
    while (clock64() - start < cycles) {
    }
}
"""
BATCH_S, MAX_CALLS, REPEATS = 20e-3, 100, 10   # device seconds per batch, calls per batch, batches
MAX_SPIN_S, MAX_RETRIES = 0.5, 6                # first spin at most; doublings of a spin that ran out


class CupyClock:
    """CUDA events and a spin kernel on CuPy's current stream (gpudl's kernels, cupy.matmul)."""

    def __init__(self):
        import cupy
        self.cupy = cupy
        self.spin_kernel = cupy.RawKernel(SPIN_SOURCE, "spin")
        self.hz = _cycles_per_second(self)

    def event(self):
        ev = self.cupy.cuda.Event()
        ev.record()
        return ev

    def spin(self, cycles):
        self.spin_kernel((1,), (1,), (np.int64(cycles),))

    @staticmethod
    def done(ev):
        return ev.done

    def seconds(self, start, end):
        end.synchronize()
        return self.cupy.cuda.get_elapsed_time(start, end) / 1e3


class TorchClock:
    """The same for PyTorch's current stream (torch.cuda._sleep is its spin kernel)."""

    def __init__(self):
        import torch
        self.torch = torch
        self.hz = _cycles_per_second(self)

    def event(self):
        ev = self.torch.cuda.Event(enable_timing=True)
        ev.record()
        return ev

    def spin(self, cycles):
        self.torch.cuda._sleep(int(cycles))

    @staticmethod
    def done(ev):
        return ev.query()

    @staticmethod
    def seconds(start, end):
        end.synchronize()
        return start.elapsed_time(end) / 1e3


def _cycles_per_second(clock, cycles=10 ** 7):
    """The GPU clock as the spin kernel sees it (clock64 ticks per second of event time)."""
    clock.spin(cycles // 10)  # warm-up (first launch)
    start = clock.event()
    clock.spin(cycles)
    return cycles / clock.seconds(start, clock.event())


def _batch(clock, fn, calls, spin_s):
    """(device seconds, host seconds, starved) of `calls` back-to-back calls queued behind a spin
    of spin_s; starved: the spin ended before the last call was queued (the GPU may have waited)."""
    clock.spin(spin_s * clock.hz)
    start = clock.event()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    host = time.perf_counter() - t0
    starved = clock.done(start)
    return clock.seconds(start, clock.event()), host, starved


def cuda_times(clock, fn, quick):
    """([device seconds per call], [host seconds per call]): one value per batch of back-to-back calls."""
    for _ in range(2):  # warm-up, then the estimates of device and host time per call
        device_s, host_s, _ = _batch(clock, fn, 2, 1e-3)
    calls = 2 if quick else int(min(max(BATCH_S / max(device_s / 2, 1e-7), 3), MAX_CALLS))
    spin_s = min(1.5 * host_s / 2 * calls + 1e-3, MAX_SPIN_S)
    device, host = [], []
    retries = 0
    while len(device) < (2 if quick else REPEATS):
        d, h, starved = _batch(clock, fn, calls, spin_s)
        if starved and retries < MAX_RETRIES:  # rerun with a longer head start
            spin_s, retries = 2 * spin_s, retries + 1
            continue
        device.append(d / calls)
        host.append(h / calls)
    return device, host


_clocks = {}


def clock_for(api):
    """The (cached) CupyClock or TorchClock."""
    if api not in _clocks:
        _clocks[api] = CupyClock() if api == "cupy" else TorchClock()
    return _clocks[api]


# ---- measuring --------------------------------------------------------------------------------
ROUNDS, ROUNDS_QUICK, SETTLE_S = 3, 1, 0.15  # cpu / emu: alternating blocks (common.alternating)
PAIRS, PAIRS_QUICK = 5, 1                    # cpu with PyTorch: child processes per side, alternately
CHILD_BUDGET_S, CHILD_TIMEOUT_S = 0.1, 1800  # a child's seconds of calls per case and block; its limit


def time_case(b, case, errors):
    """({algo: seconds per call}, {algo: host seconds per call} (cuda only), the peer's seconds or
    None) for the functions that run."""
    algos = b.algos if case.family == "conv" else (b.single,)
    fns = common.runnable({algo: case.run(algo) for algo in algos}, errors)
    peer = common.runnable({"peer": case.peer}, errors).get("peer") if case.peer is not None else None
    if b.type == "cuda":
        measured = {algo: cuda_times(clock_for("cupy"), fn, b.quick) for algo, fn in fns.items()}
        peer_times = cuda_times(clock_for(case.peer_api), peer, b.quick)[0] if peer is not None else None
        return ({a: d for a, (d, _) in measured.items()}, {a: h for a, (_, h) in measured.items()}, peer_times)
    if peer is not None:
        fns["peer"] = peer
    if not fns:
        return {}, {}, None
    if b.quick:
        times = common.alternating(fns, ROUNDS_QUICK, 2)
    else:
        calls = common.calls_for(lambda: [fn() for fn in fns.values()], 0.4, 3, 30)
        times = common.alternating(fns, ROUNDS, calls, SETTLE_S)
    return times, {}, times.pop("peer", None)


def all_cases(b, families):
    builders = {"conv": conv_cases, "pool": pool_cases, "activation": act_cases, "gemm": gemm_cases}
    return itertools.chain(*(builders[f](b) for f in families))


def case_key(case):
    return f"{case.family} {case.layer} {case.pass_}"


def child_times(side, quick, families):
    """In a child process on cpu: {'times': {case: [seconds per call]}, 'errors': {case: message},
    'torch_imported'} of one side, gpudl ('gpudl': this process never imports PyTorch) or the peer ('peer')."""
    b = Bench("cpu", quick, peer=side == "peer")
    times, errors = {}, {}
    for case in all_cases(b, families):
        fn = case.run(b.single) if side == "gpudl" else case.peer
        fns = common.runnable({case_key(case): fn}, errors) if fn is not None else {}
        if fns:
            calls = 2 if quick else common.calls_for(fn, CHILD_BUDGET_S, 3, 30)
            times.update(common.alternating(fns, ROUNDS_QUICK if quick else ROUNDS, calls))
    return {"times": times, "errors": errors, "torch_imported": "torch" in sys.modules}


def apart(b, families):
    """On cpu with the PyTorch peer: {case: {'gpudl': [child medians], 'peer': [...], 'times': [gpudl's
    seconds per call], 'errors': {side: message}}}, each side in child processes of its own, alternately
    (gpudl, peer, gpudl, ...: PAIRS pairs)."""
    out = {}
    for _ in range(PAIRS_QUICK if b.quick else PAIRS):
        for side in ("gpudl", "peer"):
            argv = ["--child", side, "--device", "cpu", "--families", ",".join(families)] + ["--quick"] * b.quick
            child = common.run_child("benchmarks.kernels", argv, CHILD_TIMEOUT_S)
            for key, times in child.get("times", {}).items():
                entry = out.setdefault(key, {"gpudl": [], "peer": [], "times": [], "errors": {}})
                entry[side].append(common.median(times))
                if side == "gpudl":
                    entry["times"] += times
            for key, error in child.get("errors", {}).items():
                out.setdefault(key, {"gpudl": [], "peer": [], "times": [], "errors": {}})["errors"][side] = error
            if "error" in child:
                print(f"error: kernels child ({side}): {child['error']}", file=sys.stderr)
                for entry in out.values():
                    entry["errors"].setdefault(side, child["error"])
    return out


def measure(b, peaks, families=tuple(PASSES)):
    """One row per (case, algorithm): median time, rate, % of peak, the peer and the ratio.  On cpu with
    PyTorch the two sides run in processes of their own (`apart`): one process would share OpenMP's,
    OpenBLAS's and gpudl's threads and one allocator between them."""
    rows = []
    separate = apart(b, families) if b.type == "cpu" and b.torch is not None else None
    for case in all_cases(b, families):
        errors = {}
        if separate is None:
            times, host, peer = time_case(b, case, errors)
        else:
            entry = separate.get(case_key(case), {"gpudl": [], "peer": [], "times": [], "errors": {}})
            times, host, peer = ({b.single: entry["times"]} if entry["times"] else {}), {}, entry["peer"]
            errors.update({b.single if side == "gpudl" else "peer": e for side, e in entry["errors"].items()})
        peer_ms = common.median(peer) * 1e3 if peer else None
        best = min(times, key=lambda a: common.median(times[a])) if len(times) > 1 else ""
        unit = "GFLOP/s" if case.family in FLOP_FAMILIES else "GB/s"
        peak = (peaks or {}).get("flops" if case.family in FLOP_FAMILIES else "bandwidth")
        for algo in (b.algos if case.family == "conv" else (b.single,)):
            row = {"family": case.family, "layer": case.layer, "pass": case.pass_, "algo": algo,
                   "shape": case.shape, "unit": unit, "peer_ms": peer_ms, "best": "yes" if algo == best else "",
                   "error": errors.get(algo), "peer_error": errors.get("peer"), "ms": None, "host_ms": None,
                   "rate": None, "pct_peak": None, "ratio": None, "spread": None, "repeats": 0}
            if algo in times:
                ms = common.median(times[algo]) * 1e3
                rate = case.work / (ms * 1e-3) / 1e9
                row.update(ms=ms, rate=rate, pct_peak=100 * rate * 1e9 / peak if peak else None,
                           ratio=ms / peer_ms if peer_ms else None, spread=common.spread(times[algo]),
                           repeats=len(times[algo]))
            if algo in host:
                row["host_ms"] = common.median(host[algo]) * 1e3
            ratios = common.pair_ratios(entry["gpudl"], entry["peer"]) if separate is not None else []
            if ratios:
                row.update(ratio=common.median(ratios), ratio_range=f"{min(ratios):.2f}-{max(ratios):.2f}",
                           pairs=len(ratios))
            rows.append(row)
    return rows


def best_algorithms(rows):
    """{(layer, pass): fastest algorithm} for the conv rows that compare several algorithms."""
    return {f"{r['layer']} {r['pass']}": r["algo"] for r in rows if r["family"] == "conv" and r["best"] == "yes"}


def summary(b, rows):
    """The closing lines: what failed, which conv algorithm won where, and what the default is."""
    failed = [f"{r['layer']} {r['pass']} {r['algo']}" for r in rows if r["error"]]
    failed += sorted({f"{r['layer']} {r['pass']} peer" for r in rows if r["peer_error"]})
    lines = [f"Failed (n/a in the table; errors in the JSON): {', '.join(failed)}"] if failed else []
    gemm = [r for r in rows if r["family"] == "gemm" and r["ratio"]]
    if b.type == "cuda" and gemm:
        slower = sum(r["ratio"] > 1 for r in gemm)
        lines.append(f"cuBLAS is faster than gemm.cu on {slower}/{len(gemm)} GEMM rows; GPUDL_MATMUL=cublas "
                     f"makes eager cuda matmuls use it (now: {gpudl.gpu.gemm.resolve_backend(b.dev)}).")
    if not b.dev.uses_kernels or "conv" not in {r["family"] for r in rows}:
        return lines
    best = best_algorithms(rows)
    wins = ", ".join(f"{a} {sum(v == a for v in best.values())}/{len(best)}" for a in b.algos)
    lines.append("Fastest conv algorithm per shape: " + "; ".join(f"{k}: {v}" for k, v in best.items()))
    lines.append(f"Wins: {wins}. The default stays gpudl.gpu.conv2d.DEFAULT_ALGO = "
                 f"'{gpudl.gpu.conv2d.DEFAULT_ALGO}' (GPUDL_CONV_ALGO or algo= overrides it).")
    if b.type == "emu":
        lines.append("On emu these times measure the emulator, not a GPU: do not choose the default from them.")
    return lines


# ---- --profile: the emu memory profile of every kernel -----------------------------------------
PROFILE_BATCH, PROFILE_CHANNELS = 2, (8, 16)   # the batch and the most (input, output) channels
PROFILE_GPU = "H100"
PROFILE_COLUMNS = (("kernel", "kernel"), ("launches", "launches"), ("load req", "global_load_requests"),
                   ("store req", "global_store_requests"), ("sectors/req", "sectors_per_request"),
                   ("efficiency %", "efficiency_pct"), ("bank ways", "bank_conflict_ways"),
                   ("extra wavefronts", "shared_extra_wavefronts"), ("bytes read", "bytes_read"),
                   ("bytes written", "bytes_written"), (f"{PROFILE_GPU} us", "predicted_us"), ("worst line", "worst"))
# kernels the --profile run may leave unlaunched, with the reason (none today)
PROFILE_EXEMPT = {}


def kernel_sources():
    """{kernel name: its .cu file name} for every extern "C" __global__ function of kernels/*.cu
    (macro-made ones included, found as the emu finds them)."""
    from gpudl.emu import build, source
    from gpudl.gpu import loader
    out = {}
    for path in sorted((ROOT / "kernels").glob("*.cu")):
        text = build.preprocess(source.body(loader.source_text(path), path.name), path.name)
        out.update({name: path.name for name in sorted(source.find_kernels(text))})
    return out


def _scaled(shape):
    """A benchmark input shape (N, C, H, W) or (N, F) at PROFILE_BATCH and at most PROFILE_CHANNELS[0] channels."""
    return (PROFILE_BATCH, min(shape[1], PROFILE_CHANNELS[0])) + tuple(shape[2:])


def _profile_shape(full, quick, quick_mode):
    """The benchmark's quick shape in --quick mode, else its full shape _scaled."""
    return quick if quick_mode else _scaled(full)


def _profile_conv(b, k):
    for layer, full, quick in CONV_LAYERS:
        xs, ws, pad = quick if b.quick else full
        if not b.quick:
            xs = _scaled(xs)
            ws = (min(ws[0], PROFILE_CHANNELS[1]), xs[1]) + ws[2:]
        x, w, bias = b.on_device(b.array(xs)), b.on_device(b.array(ws) * 0.1), b.on_device(b.array(ws[:1]))
        out = (xs[0], ws[0], xs[2] + 2 * pad - ws[2] + 1, xs[3] + 2 * pad - ws[3] + 1)
        g = b.on_device(b.array(out))
        for algo in b.algos:
            for pass_, run in _conv_runs(k, b.dev, x, w, bias, g, (1, 1), (pad, pad)).items():
                yield f"conv {layer} {pass_} {algo}", run(algo)


def _profile_pool(b, k):
    window = ((2, 2), (2, 2), (0, 0))
    for layer, kind, full, quick in POOL_LAYERS:
        if quick is None:
            continue
        xs = _profile_shape(full, quick, b.quick)
        x, g = b.on_device(b.array(xs)), b.on_device(b.array(xs[:2] + (xs[2] // 2, xs[3] // 2)))
        if kind == "max":
            _, argmax = k.max_pool2d_forward(b.dev, x, *window)
            yield f"{layer} forward", functools.partial(k.max_pool2d_forward, b.dev, x, *window)
            yield f"{layer} backward", functools.partial(k.max_pool2d_backward, b.dev, g, argmax, xs, *window)
        else:
            yield f"{layer} forward", functools.partial(k.avg_pool2d_forward, b.dev, x, *window)
            yield f"{layer} backward", functools.partial(k.avg_pool2d_backward, b.dev, g, xs, *window)
    xs = (PROFILE_BATCH, 3, 9, 9)  # adaptive pooling: uneven windows down to 4 x 4
    x, g = b.on_device(b.array(xs)), b.on_device(b.array(xs[:2] + (4, 4)))
    yield "adaptive avg forward", functools.partial(k.adaptive_avg_pool2d_forward, b.dev, x, (4, 4))
    yield "adaptive avg backward", functools.partial(k.adaptive_avg_pool2d_backward, b.dev, g, xs, (4, 4))


def _profile_activation(b, k):
    for layer, with_bias, full, quick in ACT_LAYERS:
        if quick is None:
            continue
        xs = _profile_shape(full, quick, b.quick)
        x, g = b.on_device(b.array(xs)), b.on_device(b.array(xs))
        bias = b.on_device(b.array(xs[1:2])) if with_bias else None
        yield f"{layer} forward", functools.partial(k.bias_act_forward, b.dev, x, bias, "relu")
        yield f"{layer} backward", functools.partial(k.bias_act_backward, b.dev, g, x, bias, "relu")


def _profile_gemm(b, k):
    """The three products (x W, dY W^T, x^T dY) of each dense layer at its --quick shape (in both
    modes), then every pair of operand layouts ('n', 't', 's': gpudl/gpu/gemm.py) in float32 and float64."""
    for layer, _, (m, depth, n) in GEMM_LAYERS:
        x, w, g = (b.on_device(b.array(s)) for s in ((m, depth), (depth, n), (m, n)))
        for label, lhs, rhs in (("forward", x, w), ("backward-data", g, w.T), ("backward-weight", x.T, g)):
            yield f"{layer} {label}", functools.partial(k.matmul, b.dev, lhs, rhs)
    for dtype in (np.float32, np.float64):
        a, c = (b.on_device(b.array((12, 12)).astype(dtype)) for _ in range(2))
        views = {"n": a[:6, :6], "t": a[:6, :6].T, "s": a[:6, ::2]}
        for (la, lhs), (lb, rhs) in itertools.product(views.items(), {**views, "s": c[:6, ::2]}.items()):
            yield f"{la}{lb} {np.dtype(dtype)}", functools.partial(k.matmul, b.dev, lhs, rhs)


def _profile_softmax(b, k, dtype):
    z = b.on_device(b.array((6, 10)).astype(dtype))
    labels = b.on_device(np.arange(6, dtype=np.int64) % 10)
    y = k.softmax(b.dev, z, 1)
    per_row, logp = k.cross_entropy_forward(b.dev, z, labels, 0.1)
    yield "softmax", functools.partial(k.softmax, b.dev, z, 1)
    yield "softmax backward", functools.partial(k.softmax_backward, b.dev, y, z, 1)
    yield "log_softmax", functools.partial(k.log_softmax, b.dev, z, 1)
    yield "log_softmax backward", functools.partial(k.log_softmax_backward, b.dev, logp, z, 1)
    yield "cross_entropy", functools.partial(k.cross_entropy_forward, b.dev, z, labels, 0.1)
    yield "cross_entropy backward", functools.partial(k.cross_entropy_backward, b.dev, logp, labels,
                                                      per_row[0], 0.1)
    yield "nll", functools.partial(k.nll_forward, b.dev, logp, labels)
    yield "nll backward", functools.partial(k.nll_backward, b.dev, labels, per_row[0], 10)


def _profile_batchnorm(b, k):
    xs = _profile_shape((128, 6, 14, 14), (2, 3, 5, 5), b.quick)
    c = xs[1]
    x, g = b.on_device(b.array(xs)), b.on_device(b.array(xs))
    weight, bias = b.on_device(np.ones(c, np.float32)), b.on_device(np.zeros(c, np.float32))
    mean, var = b.on_device(np.zeros(c, np.float32)), b.on_device(np.ones(c, np.float32))
    _, batch_mean, invstd = k.batch_norm_forward(b.dev, x, weight, bias, mean, var, True, 0.1, 1e-5)
    yield "forward", functools.partial(k.batch_norm_forward, b.dev, x, weight, bias, mean, var, True, 0.1, 1e-5)
    yield "backward", functools.partial(k.batch_norm_backward, b.dev, g, x, weight, batch_mean, invstd, True)


def _profile_random(b, k):
    from gpudl.gpu import random
    state = b.on_device(np.array([7, 0], np.uint64))
    yield "uniform", functools.partial(k.rng_uniform, b.dev, state, (1000,))
    yield "normal", functools.partial(k.rng_normal, b.dev, state, (1000,))
    for dtype in (np.float32, np.float64):
        x = b.on_device(b.array((4, 250)).astype(dtype))
        yield f"dropout {np.dtype(dtype)}", functools.partial(k.dropout_forward, b.dev, x, 0.25, state)
    counters = b.on_device(np.arange(64 * 4, dtype=np.uint32).reshape(64, 4))
    yield "philox words", functools.partial(random.philox4x32, b.dev, counters, (1, 2))


def _profile_optim(b, k, dtype):
    n = 1000
    p, g, s1, s2, s3 = (b.on_device(b.array(n).astype(dtype)) for _ in range(5))
    s2[:] = np.abs(s2) + 1  # square averages are positive
    lr, step = b.on_device(np.array([1e-3], dtype)), b.on_device(np.array([1], np.int32))
    yield "tick", functools.partial(k.optim_tick, b.dev, step)
    yield "sgd", functools.partial(k.sgd_step, b.dev, p, g, s1, lr, step, 0.9, 0.0, 1e-4, True, 0, n)
    yield "adagrad", functools.partial(k.adagrad_step, b.dev, p, g, s2, lr, step, 0.0, 0.0, 1e-10, 0, n)
    yield "rmsprop", functools.partial(k.rmsprop_step, b.dev, p, g, s2, s1, s3, lr, 0.99, 1e-8, 0.0, 0.9, True, 0, n)
    yield "adadelta", functools.partial(k.adadelta_step, b.dev, p, g, s2, s3, lr, 0.9, 1e-6, 0.0, 0, n)
    yield "adam", functools.partial(k.adam_step, b.dev, p, g, s1, s2, s3, lr, step, 0.9, 0.999, 1e-8, 0.0,
                                    True, True, 0, n)


NUMBER_DTYPES = (np.float32, np.float64, np.int32, np.int64)


def _profile_elementwise(b, k):
    """Each kernel per dtype: arithmetic (float32 also on 4-aligned contiguous arrays: binary_vec4),
    a broadcast compare, unary, where, fill and cast; sizes not a multiple of 4."""
    for dtype in NUMBER_DTYPES + (np.bool_,):
        name = np.dtype(dtype).name
        a = b.on_device((b.array((7, 33)) * 4).astype(dtype))
        row = b.on_device((b.array((1, 33)) * 4).astype(dtype))
        cond = b.on_device(b.array((7, 33)) > 0)
        if dtype is not np.bool_:
            yield f"add {name}", functools.partial(k.add, b.dev, a, row)
            yield f"abs {name}", functools.partial(k.abs, b.dev, a)
        yield f"equal {name}", functools.partial(k.equal, b.dev, a, row)
        yield f"where {name}", functools.partial(k.where, b.dev, cond, a, row)
        yield f"fill {name}", functools.partial(k.fill, b.dev, a, 1)
        yield f"cast to {name}", functools.partial(k.cast, b.dev, b.on_device(b.array((7, 33))), dtype)
    x = b.on_device(b.array((64, 32)))
    yield "mul float32 (vec4)", functools.partial(k.mul, b.dev, x, x)


def _profile_reduce(b, k):
    """sum / max / min / argmax per dtype over the rows and over the batch (column mode), one long
    row (the two-pass split), var, and the scaled (mean) sums of integers and bools."""
    for dtype in NUMBER_DTYPES + (np.bool_,):
        x = b.on_device((b.array((64, 40)) * 4).astype(dtype))
        name = np.dtype(dtype).name
        yield f"sum {name} rows", functools.partial(k.sum, b.dev, x, (1,))
        yield f"mean {name} batch", functools.partial(k.sum, b.dev, x, (0,), scale=1 / 64)
        if dtype in (np.float32, np.float64, np.int64):
            yield f"max {name}", functools.partial(k.max, b.dev, x, (1,))
            yield f"min {name}", functools.partial(k.min, b.dev, x, (0,))
            yield f"argmax {name}", functools.partial(k.argmax, b.dev, x, 1)
        if dtype in (np.float32, np.float64):
            yield f"var {name}", functools.partial(k.var, b.dev, x, (0,))
    long = b.on_device(b.array(3 * gpudl.gpu.reduce.PART + 5))
    yield "sum float32 long row", functools.partial(k.sum, b.dev, long, (0,))


def _profile_index(b, k):
    for dtype in (np.float32, np.float64, np.int64):
        x = b.on_device((b.array((10, 33)) * 4).astype(dtype))
        rows = b.on_device(np.array([3, 1, 3, 9, 0, -1], np.int64))
        src = b.on_device((b.array((6, 33)) * 4).astype(dtype))
        yield f"take {np.dtype(dtype)}", functools.partial(k.take, b.dev, x, (rows,))
        yield f"index_add {np.dtype(dtype)}", functools.partial(k.index_add, b.dev, x, (rows,), src)


def _profile_data(b, k):
    from gpudl.cpu.data import feistel_keys
    yield "permutation", functools.partial(k.permutation, b.dev, 1000, feistel_keys(0, 1))
    rows = b.on_device(np.array([5, 0, 3, 3, 1], np.int64))
    for dtype in (np.uint8, np.float16, np.float32, np.float64):
        images = b.on_device((np.abs(b.array((6, 1, 28, 28))) * 50).astype(dtype))
        name = np.dtype(dtype).name
        yield f"gather_rows {name}", functools.partial(k.gather_rows, b.dev, images, rows)
        yield f"random_crop {name}", functools.partial(k.random_crop, b.dev, images, (28, 28), (4, 4), 1, 2)
        yield f"random_hflip {name}", functools.partial(k.random_hflip, b.dev, images, 0.5, 1, 2)
    for source in (np.uint8, np.int32, np.int64, np.float32, np.float64):
        x = b.on_device((np.abs(b.array((2, 28, 28))) * 50).astype(source))
        for dtype in (np.float32, np.float64):
            yield f"to_float {np.dtype(source)} -> {np.dtype(dtype)}", functools.partial(
                k.to_float, b.dev, x, 1 / 255, dtype)


def _profile_metrics(b, k):
    sums = b.on_device(np.zeros(len(FIELDS)))
    for dtype, labels in itertools.product((np.float32, np.float64), (np.float32, np.float64, np.int32, np.int64)):
        out = b.on_device(b.array((20, 10)).astype(dtype))
        loss = b.on_device(np.ones(1, dtype))
        y = b.on_device((np.arange(20) % 10).astype(labels))
        yield f"{np.dtype(dtype)} outputs, {np.dtype(labels)} labels", functools.partial(
            k.accumulate_metrics, b.dev, loss, out, y, True, sums)


def profile_calls(b):
    """(family, label, call) of the small calls that together launch every kernel of kernels/*.cu."""
    k = b.impl
    families = {
        "conv": _profile_conv(b, k), "pool": _profile_pool(b, k), "activation": _profile_activation(b, k),
        "gemm": _profile_gemm(b, k), "softmax f32": _profile_softmax(b, k, np.float32),
        "softmax f64": _profile_softmax(b, k, np.float64), "batchnorm": _profile_batchnorm(b, k),
        "random": _profile_random(b, k), "optim f32": _profile_optim(b, k, np.float32),
        "optim f64": _profile_optim(b, k, np.float64), "elementwise": _profile_elementwise(b, k),
        "reduce": _profile_reduce(b, k), "index": _profile_index(b, k), "data": _profile_data(b, k),
        "metrics": _profile_metrics(b, k)}
    for family, calls in families.items():
        for label, call in calls:
            yield family, label, call


def _worst(prof, kernel):
    """'file:line space kind figure' of the kernel's most wasteful access, '-' when none wastes."""
    worst = (prof.instructions(kernel) or [None])[0]
    if worst is None or worst["wasted"] <= 0:
        return "-"
    if worst["space"] == "global":
        return f"{worst['where']} global {worst['kind']} {100 * worst['efficiency']:.0f} %"
    return f"{worst['where']} shared {worst['kind']} {worst['bank_conflict_ways']}-way"


def profile_row(prof, kernel, source):
    """The table / JSON row of one kernel (launches 0 and n/a figures when it was not launched)."""
    row = {"file": source, "kernel": kernel, "launches": 0}
    if kernel not in prof.kernels:
        return row
    s = prof.stats(kernel)
    row.update({key: s[key] for key in ("launches", "global_load_requests", "global_store_requests",
                                        "sectors_per_request", "ideal_sectors_per_request", "global_efficiency",
                                        "bank_conflict_ways", "shared_extra_wavefronts", "bytes_read",
                                        "bytes_written", "predicted_seconds", "predicted_seconds_uncached")})
    row.update(efficiency_pct=100 * s["global_efficiency"], predicted_us=1e6 * s["predicted_seconds"],
               worst=_worst(prof, kernel), gpu=s["gpu"])
    return row


def run_profile(b):
    """(rows, missing, errors): every kernel's profile over profile_calls, the kernels not launched
    and {call: error} of the calls that failed."""
    from gpudl import kernels as lab
    errors = {}
    with lab.profile(gpu=PROFILE_GPU) as prof:
        for family, label, call in profile_calls(b):
            common.attempt(f"{family} {label}", call, errors)
    sources = kernel_sources()
    rows = [profile_row(prof, kernel, source) for kernel, source in sources.items()]
    missing = sorted(set(sources) - set(prof.kernels) - set(PROFILE_EXEMPT))
    return rows, missing, errors


def print_profile(b, rows, missing, errors):
    """One markdown table per .cu file, then the coverage and the worst kernels."""
    print("# gpudl kernel memory profile on emu" + (" (quick)" if b.quick else ""))
    print(f"Each row sums the kernel's launches over small calls of the function table (benchmark shapes at "
          f"batch {PROFILE_BATCH}" + (", --quick shapes" if b.quick else "") + f"); roofline time on an "
          f"{PROFILE_GPU} from the distinct sectors read and written (gpudl/emu/memprof.py).")
    for source in dict.fromkeys(r["file"] for r in rows):
        print(f"\n## {source}\n")
        print(common.markdown_table([r for r in rows if r["file"] == source], PROFILE_COLUMNS))
    seen = sum(r["launches"] > 0 for r in rows)
    print(f"\nCoverage: {seen}/{len(rows)} kernels of kernels/*.cu launched; not launched: "
          f"{', '.join(missing) or 'none'}")
    for kernel, reason in PROFILE_EXEMPT.items():
        print(f"  exempt: {kernel} ({reason})")
    if errors:
        print("Failed calls: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    poor = sorted((r for r in rows if r["launches"] and r["global_efficiency"] < 0.5),
                  key=lambda r: r["global_efficiency"])
    if poor:
        print("Global efficiency below 50 %: " + ", ".join(
            f"{r['kernel']} {r['efficiency_pct']:.0f} % ({r['worst']})" for r in poor))
    conflicts = [r for r in rows if r["launches"] and r["bank_conflict_ways"] > 1]
    if conflicts:
        print("Shared-memory bank conflicts: " + ", ".join(
            f"{r['kernel']} {r['bank_conflict_ways']}-way ({r['shared_extra_wavefronts']} extra wavefronts)"
            for r in conflicts))


def profile_main(parser, args):
    """--profile: print (and with --json write) the memory profile rows of every kernel."""
    if args.device != "emu":
        parser.error(f"--profile needs --device emu (the profiler watches the emulator), got {args.device}")
    header = common.environment(args.device, "kernel-profile", args)
    b = Bench(args.device, args.quick)
    rows, missing, errors = run_profile(b)
    print_profile(b, rows, missing, errors)
    if args.json is not None:
        path = common.write_json(common.json_path(args.json, args.device, "kernel-profile"), header, rows,
                                 gpu=PROFILE_GPU, missing=missing, exempt=PROFILE_EXEMPT, errors=errors)
        print(f"\nwrote {path}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernels", description=__doc__.split("\n")[0])
    common.add_common_arguments(parser, ("cpu", "cuda", "emu"))
    parser.add_argument("--families", default=",".join(PASSES),
                        help=f"comma-separated subset of {','.join(PASSES)}")
    parser.add_argument("--profile", action="store_true",
                        help="emu only: the memory profile of every kernel of kernels/*.cu (gd.kernels.profile)")
    parser.add_argument("--child", choices=("gpudl", "peer"), default=None, help=argparse.SUPPRESS)  # one cpu side
    args = parser.parse_args(argv)
    if args.profile:
        return profile_main(parser, args)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    if not families or set(families) - set(PASSES):
        parser.error(f"--families: choose from {', '.join(PASSES)}, got {args.families!r}")
    if args.child:
        out = child_times(args.child, args.quick, families)
        print(json.dumps(common.plain(out), allow_nan=False))
        return out
    if args.device == "emu" and not args.quick:
        print("note: emu runs ~1 M GPU threads/s; the full suite takes very long (use --quick)", file=sys.stderr)
    header = common.environment(args.device, "kernels", args)
    b = Bench(args.device, args.quick)
    if args.device == "cuda":
        peaks = common.gpu_peaks(header["device"])
    elif args.device == "cpu":
        peaks = common.cpu_peaks(args.quick)
    else:
        peaks = None
    rows = measure(b, peaks, families)
    print(f"# gpudl kernel benchmarks on {args.device}: {header['device']}" + (" (quick)" if args.quick else ""))
    print(f"peer: {b.peer_name}; gemm: {GEMM_PEERS[args.device]}")
    if "gemm" in families and b.dev.uses_kernels and gpudl.gpu.gemm.resolve_backend(b.dev) != "gpudl":
        print("note: GPUDL_MATMUL=cublas is set, so the gemm rows time cuBLAS on both sides")
    if peaks:
        flops = f"{peaks['flops'] / 1e9:.0f} GFLOP/s" if peaks.get("flops") else "n/a"
        bandwidth = f"{peaks['bandwidth'] / 1e9:.0f} GB/s" if peaks.get("bandwidth") else "n/a"
        print(f"peaks: {flops} fp32, {bandwidth} memory ({peaks['source']})")
    else:
        print("peaks: n/a on emu (the emulator is a correctness tool)")
    print()
    print(common.markdown_table(rows, COLUMNS + (BEST_COLUMN if b.dev.uses_kernels else ())))
    lines = summary(b, rows)
    if lines:
        print()
        print("\n".join(lines))
    if args.json is not None:
        path = common.write_json(common.json_path(args.json, args.device, "kernels"), header, rows,
                                 peer=b.peer_name, gemm_peer=GEMM_PEERS[args.device], peaks=peaks,
                                 matmul_backend=gpudl.gpu.gemm.resolve_backend(b.dev) if b.dev.uses_kernels else None,
                                 best_conv_algo=best_algorithms(rows),
                                 default_conv_algo=gpudl.gpu.conv2d.DEFAULT_ALGO if b.dev.uses_kernels else None)
        print(f"\nwrote {path}")
    return rows


if __name__ == "__main__":
    main()
