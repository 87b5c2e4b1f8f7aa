"""The kernel lab: write CUDA kernels, run them, and see how they use GPU memory.

    1. SAXPY, y = a x + y: load a .cu file, launch a kernel with Tensors and Python numbers
    2. transpose, naive / through a shared tile / through a padded tile: read by the memory profiler
    3. a shared-memory block sum with and without bank conflicts
    4. swish(x) = x sigmoid(x) as a differentiable gd.Function made of two kernels, gradchecked
    5. on a GPU: the measured time of each kernel next to the roofline prediction

The kernels (examples/custom_kernel.cu) run on --device (cuda or emu); the memory profiles come
from emu, which sees every access. The tutorial that walks through it is docs/kernels.md.

    python examples/custom_kernel.py [--quick] [--device auto|emu|cuda]
"""
from pathlib import Path

import numpy as np

import gpudl as gd
from gpudl.gpu_peaks import lookup

import _common

SOURCE = Path(__file__).resolve().with_suffix(".cu")
SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
THREADS = 256


def blocks(n, threads=THREADS):
    """Enough blocks of `threads` for n elements: ceil(n / threads)."""
    return (n + threads - 1) // threads


class Swish(gd.Function):
    """swish(x) = x sigmoid(x), forward and backward each one launch of examples/custom_kernel.cu
    (float32 or float64 kernels, picked by the input's dtype)."""

    @staticmethod
    def forward(ctx, x):
        lab = gd.kernels.load(SOURCE, device=ctx.device)  # compiled once per device
        y = lab.empty(x.shape, x.dtype)
        lab.get_function(f"swish_forward_{SUFFIX[x.dtype]}")(blocks(x.size), THREADS, x, y, x.size)
        ctx.save(x)
        return y

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        lab = gd.kernels.load(SOURCE, device=ctx.device)
        grad_x = lab.empty(x.shape, x.dtype)
        lab.get_function(f"swish_backward_{SUFFIX[x.dtype]}")(blocks(x.size), THREADS, x, grad, grad_x, x.size)
        return grad_x


def swish(x):
    return Swish.apply(x)


def saxpy(dev, n):
    lab = gd.kernels.load(SOURCE, device=dev)
    print(f"\n1. SAXPY on {dev}: {lab.saxpy.signature}")
    x = gd.arange(n, dtype="float32", device=dev)
    y = gd.ones(n, device=dev)
    lab.saxpy(blocks(n), THREADS, 2.0, x, y, n)
    assert np.array_equal(y.numpy(), 2 * np.arange(n, dtype=np.float32) + 1)
    print(f"   y[:4] = {y.numpy()[:4].tolist()}  (2 x + 1, n = {n})")


def transposes(rows, cols, gpu):
    """The three transposes on emu, profiled; returns the profile."""
    lab = gd.kernels.load(SOURCE, device="emu")
    a = gd.randn(rows, cols).to("emu")
    grid = (blocks(cols, 32), blocks(rows, 32))
    names = ("transpose_naive", "transpose_shared", "transpose_padded")
    outs = [gd.zeros(cols, rows, device="emu") for _ in names]
    with gd.kernels.profile(gpu=gpu) as prof:
        for name, out in zip(names, outs):
            lab.get_function(name)(grid, (32, 32), a, out, rows, cols)
    for name, out in zip(names, outs):
        assert np.array_equal(out.numpy(), a.numpy().T), name
    print(f"\n2. transpose of a {rows} x {cols} float32 matrix, profiled on emu")
    print(table(prof))
    print("\n" + prof.report())
    return prof


def sums(n, gpu):
    """The two block sums on emu, profiled; returns the profile."""
    lab = gd.kernels.load(SOURCE, device="emu")
    x = gd.randn(n).to("emu")
    names = ("sum_interleaved", "sum_sequential")
    outs = [gd.zeros(blocks(n), device="emu") for _ in names]
    with gd.kernels.profile(gpu=gpu, flops={name: n for name in names}) as prof:  # n - 1 additions
        for name, out in zip(names, outs):
            lab.get_function(name)(blocks(n), THREADS, x, out, n)
    for name, out in zip(names, outs):
        assert np.allclose(out.numpy().sum(), x.numpy().sum(dtype=np.float64), rtol=1e-4, atol=1e-3), name
    print(f"\n3. block sums of {n} float32 values in shared memory, profiled on emu")
    print(table(prof))
    for r in prof.instructions("sum_interleaved")[:2]:
        print(f"   {r['where']}: shared {r['kind']}, worst {r['bank_conflict_ways']}-way, "
              f"{r['extra_wavefronts']} extra wavefronts")
    return prof


def table(prof):
    """One row per kernel: sectors per request, global efficiency, worst bank conflict, roofline."""
    lines = [f"   {'kernel':<18} {'sectors/request':>15} {'efficiency':>10} {'bank conflict':>13} "
             f"{'extra wavefronts':>16}   roofline on {prof.gpu['label']}"]
    for name in prof.kernels:
        s = prof.stats(name)
        lines.append(f"   {name:<18} {s['sectors_per_request']:>15.1f} {100 * s['global_efficiency']:>9.1f}% "
                     f"{s['bank_conflict_ways']:>10}-way {s['shared_extra_wavefronts']:>16}   "
                     f"{1e9 * s['predicted_seconds']:.1f}-{1e9 * s['predicted_seconds_uncached']:.1f} ns")
    return "\n".join(lines)


def function(dev, n):
    print(f"\n4. swish as a gd.Function of two kernels, on {dev}")
    x = gd.tensor(np.linspace(-4, 4, n, dtype=np.float32), device=dev, requires_grad=True)
    swish(x).sum().backward()
    print("   swish'(x) at x = -4, 0, 4: " + ", ".join(f"{g:.4f}" for g in x.grad.numpy()[[0, n // 2, -1]]))
    small = gd.tensor(np.random.default_rng(0).standard_normal(12), dtype="float64", device=dev, requires_grad=True)
    assert gd.gradcheck(swish, [small])
    print("   gd.gradcheck (float64 kernels, central differences): passed")


def gpu_ms(dev, launch, repeat):
    """Milliseconds per call of `launch` on the GPU (CUDA events around `repeat` calls, after a warm-up)."""
    cupy = dev.xp
    launch()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(repeat):
        launch()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / repeat


def timing(dev, profiles, scale, shapes, repeat):
    """Each profiled kernel timed on the GPU at `scale` times the profiled size, next to the profile's
    roofline scaled alike (the traffic of these kernels grows linearly with the size)."""
    print(f"\n5. measured on {dev}")
    if dev.type != "cuda":
        print(f"   no GPU ({gd.cuda.why_unavailable() or 'not requested'}): the roofline times above are "
              "the profile's prediction")
        return
    board = dev.xp.cuda.runtime.getDeviceProperties(dev.index)["name"]
    board = board.decode() if isinstance(board, bytes) else str(board)
    gpu = board if lookup(board) else profiles[0].gpu["label"]
    lab = gd.kernels.load(SOURCE, device=dev)
    (rows, cols), n = shapes
    a, t = gd.randn(rows * scale, cols, device=dev), gd.zeros(cols, rows * scale, device=dev)
    x, out = gd.randn(n * scale, device=dev), gd.zeros(blocks(n * scale), device=dev)
    grid = (blocks(cols, 32), blocks(rows * scale, 32))
    launches = {k: (lambda f=lab.get_function(k): f(grid, (32, 32), a, t, rows * scale, cols))
                for k in ("transpose_naive", "transpose_shared", "transpose_padded")}
    launches.update({k: (lambda f=lab.get_function(k): f(blocks(n * scale), THREADS, x, out, n * scale))
                     for k in ("sum_interleaved", "sum_sequential")})
    print(f"   {scale} x the profiled sizes; roofline on {gpu} from the emu profile, scaled alike")
    for prof in profiles:
        for kernel in prof.kernels:
            s = prof.stats(kernel, gpu=gpu)
            low, high = (1e6 * scale * s[key] for key in ("predicted_seconds", "predicted_seconds_uncached"))
            print(f"   {kernel:<18} {1e3 * gpu_ms(dev, launches[kernel], repeat):9.1f} us measured, "
                  f"roofline {low:.1f}-{high:.1f} us")


def main(argv=None):
    args = _common.parser(__doc__).parse_args(argv)
    dev = gd.device(args.device if args.device != "auto" else "cuda" if gd.cuda.is_available() else "emu")
    gd.manual_seed(args.seed)
    print(f"device: {dev}")
    (rows, cols), n = shapes = ((64, 96), 4096) if args.quick else ((512, 768), 1 << 16)
    saxpy(dev, 1000)
    profiles = [transposes(rows, cols, "H100"), sums(n, "H100")]
    function(dev, 101)
    timing(dev, profiles, 16 if args.quick else 64, shapes, 20 if args.quick else 100)
    return {name: prof.stats(name) for prof in profiles for name in prof.kernels}


if __name__ == "__main__":
    main()
