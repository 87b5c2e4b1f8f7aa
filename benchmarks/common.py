"""What both benchmarks share: timing, device peaks, the PyTorch peer, the table and the JSON.

Timing
    cpu / emu   wall clock (time.perf_counter) after warm-up; the functions being compared run
                in alternating blocks (a a a, b b b, a a a, ...; see `alternating`) so that load
                from other processes hits both alike, and the median is reported.
    cuda        GPU time of each call: cupyx.profiler.benchmark for gpudl (CUDA events around
                every repetition, after warm-up), torch.cuda.Event pairs for the PyTorch peer.

Peaks (the denominators of "% of peak")
    GPU   fp32 non-tensor-core FLOP/s and DRAM bandwidth of the board, from NVIDIA's datasheets
          (the vendor's numbers at boost clock: nobody reaches them, ~70-90 % of the bandwidth is
          a good kernel).  An unknown board gets the bandwidth from its memory clock and bus
          width when the driver reports them (2 transfers per clock), and no FLOP/s.
    CPU   probed here: the median of a float32 2048 x 2048 np.matmul (sgemm through NumPy's BLAS)
          and of a 128 MB np.copyto (bytes read + written).
"""
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gpudl.gpu_peaks import lookup

RESULTS = Path(__file__).resolve().parent / "results"


# ---- timing ----------------------------------------------------------------------------------
def alternating(fns, rounds, per_block, settle=0.0):
    """{name: [seconds per call]}: round after round, each function runs one untimed call and
    then `per_block` timed calls, after `settle` seconds of sleep.

    Blocks (not single calls) alternate because thread pools linger: OpenBLAS workers spin for
    ~0.1 s after a call and OpenMP workers for a while too, so a framework timed right after
    the other one would share the cores with its idle-spinning threads.  The pause lets them
    go to sleep; the untimed call wakes this framework's own pool.
    """
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if settle:
                time.sleep(settle)
            fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


def block_ratios(a, b, rounds):
    """Median over rounds of median(a's block) / median(b's block), for alternating() output."""
    size_a, size_b = len(a) // rounds, len(b) // rounds
    return median([median(a[r * size_a:(r + 1) * size_a]) / median(b[r * size_b:(r + 1) * size_b])
                   for r in range(rounds)])


def attempt(name, fn, errors):
    """fn()'s result, or None when it raises: the error goes to errors[name] and to stderr,
    so one broken kernel, model or peer op does not end a whole benchmark run."""
    try:
        return fn()
    except Exception as e:  # reported in the table and the JSON
        errors[name] = f"{type(e).__name__}: {e}"
        print(f"error: {name}: {errors[name]}", file=sys.stderr)
        return None


def _ran(fn):
    fn()
    return True


def runnable(fns, errors):
    """The functions of `fns` that run: each is called once (see `attempt`)."""
    return {name: fn for name, fn in fns.items() if attempt(name, functools.partial(_ran, fn), errors)}


def calls_for(fn, budget_s, lo, hi):
    """How many calls of fn fit in about budget_s, clamped to [lo, hi] (the probe call warms fn up)."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    return int(min(max(budget_s / once, lo), hi))


def cupy_gpu_times(fn, repeat, warmup):
    """Seconds of GPU time per call of fn (CuPy work), one value per repetition."""
    from cupyx.profiler import benchmark
    result = benchmark(fn, n_repeat=repeat, n_warmup=warmup, name=getattr(fn, "__name__", "case"))
    return [float(t) for t in np.asarray(result.gpu_times)[0]]


def torch_gpu_times(fn, repeat, warmup):
    """Seconds of GPU time per call of fn (PyTorch CUDA work), measured with CUDA events."""
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeat)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) / 1e3 for start, end in events]


def run_child(module, argv, timeout_s):
    """Run `python -m <module> <argv>` with this interpreter from the checkout (one benchmark side in a
    process of its own); the JSON its last line of output prints, or {'error': ...}."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, env=env,
                              cwd=root, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit code {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def pair_ratios(a, b):
    """Per-pair ratios a_i / b_i over the pairs both sides completed."""
    return [x / y for x, y in zip(a, b) if x and y]


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values):
    """Relative interquartile range (p75 - p25) / median: how noisy the timings were."""
    if len(values) < 4:
        return float("nan")
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


# ---- the peer ----------------------------------------------------------------------------------
def torch_module(device_type):
    """PyTorch set up as the peer for `device_type` ('cpu' or 'cuda'), or None when unusable.

    On cpu it gets os.cpu_count() threads (NumPy's BLAS uses them all too); on cuda cuDNN is
    enabled with autotuning off (the timed calls are the cuDNN heuristics' choice) and TF32
    off, since gpudl's kernels compute in plain fp32.
    """
    try:
        import torch
    except Exception:
        return None
    if device_type == "cuda":
        if not torch.cuda.is_available():
            return None
        torch.backends.cudnn.enabled = True
        torch.backends.cudnn.benchmark = False
        if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # fp32 against fp32: no TF32 shortcut
            torch.backends.cuda.matmul.fp32_precision = "ieee"
            torch.backends.cudnn.conv.fp32_precision = "ieee"
        else:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
    else:
        torch.set_num_threads(os.cpu_count() or 1)
    return torch


# ---- peaks ---------------------------------------------------------------------------------
def gpu_name():
    import cupy
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def gpu_peaks(name):
    """{'label', 'flops', 'bandwidth', 'source'} for a GPU name (FLOP/s, bytes/s; None if unknown)."""
    found = lookup(name)  # the table: gpudl/gpu_peaks.py
    if found:
        return {**found, "source": "NVIDIA datasheet (fp32 non-tensor, DRAM bandwidth)"}
    bandwidth = None
    try:
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        if props.get("memoryClockRate") and props.get("memoryBusWidth"):
            bandwidth = 2 * props["memoryClockRate"] * 1e3 * props["memoryBusWidth"] / 8
    except Exception:
        pass
    return {"label": name, "flops": None, "bandwidth": bandwidth,
            "source": "unknown board: bandwidth from memory clock x bus width, no FLOP/s"}


def cpu_peaks(quick):
    """{'flops', 'bandwidth', 'source'} probed by an sgemm and a large copy (medians)."""
    n, words = (512, 1 << 20) if quick else (2048, 32 << 20)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    src, dst = np.ones(words, np.float32), np.empty(words, np.float32)
    t = alternating({"gemm": lambda: np.matmul(a, b), "copy": lambda: np.copyto(dst, src)}, 1, 2 if quick else 7)
    return {"flops": 2 * n ** 3 / median(t["gemm"]), "bandwidth": 2 * src.nbytes / median(t["copy"]),
            "source": f"probed: np.matmul float32 {n}x{n}, np.copyto {src.nbytes >> 20} MB (read + write)"}


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device_type):
    return gpu_name() if device_type == "cuda" else cpu_name()


# ---- describing a run ----------------------------------------------------------------------------
def versions():
    out = {"python": platform.python_version(), "numpy": np.__version__}
    import gpudl
    out["gpudl"] = gpudl.__version__
    for name in ("cupy", "torch"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            out[name] = None
    return out


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def environment(device_type, kind, args):
    """The JSON header: what ran where, when, with which versions."""
    return {
        "benchmark": kind, "device_type": device_type, "device": device_name(device_type),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "versions": versions(), "cpu_count": os.cpu_count(), "quick": bool(args.quick),
        "env": {k: v for k, v in os.environ.items()  # thread counts and glibc malloc tuning change the timings
                if k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") or k.startswith("MALLOC_")},
        "load_average_start": load_average(),
    }


# ---- output ------------------------------------------------------------------------------------
def fmt(value, digits=3):
    """Table cell: numbers to `digits` significant figures, None as n/a."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return str(value)


def markdown_table(rows, columns):
    """rows: dicts; columns: (header, key) pairs."""
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(k)) for _, k in columns) + " |")
    return "\n".join(lines)


def json_path(arg, device_type, kind):
    """--json PATH as given, or benchmarks/results/<device>-<kind>-<date>.json for a bare --json."""
    if arg:
        return Path(arg)
    return RESULTS / f"{device_type}-{kind}-{datetime.date.today().isoformat()}.json"


def plain(value):
    """JSON-ready copy: NumPy scalars as Python numbers, NaN as None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def write_json(path, header, rows, **extra):
    """Write {header..., extra..., rows} atomically (temp file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = plain({**header, "load_average_end": load_average(), **extra, "rows": rows})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


def add_common_arguments(parser, devices):
    parser.add_argument("--device", choices=devices, default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 1-2 repetitions (smoke test)")
    parser.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                        help="write the results as JSON to PATH "
                             "(bare --json: benchmarks/results/<device>-<kind>-<date>.json)")
