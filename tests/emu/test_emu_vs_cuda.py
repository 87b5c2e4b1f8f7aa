"""The emulator and a real GPU agree on the test kernels (skipped without a GPU), which are\nvalid CUDA (checked with NVRTC, which needs no GPU)."""
import numpy as np
import pytest

from gpudl import cuda

needs_gpu = pytest.mark.skipif(not cuda.is_available(), reason=f"cuda unavailable: {cuda.why_unavailable()}")

F32 = np.float32


def _normal(rng, n):
    return rng.standard_normal(n, dtype=F32)


# kernel, grid, block, shared_mem, args(rng)
CASES = [
    ("axpy", 8, 128, 0, lambda r: (_normal(r, 1000), _normal(r, 1000), F32(2.5), np.int32(1000))),
    ("indices", (2, 3, 2), (4, 2, 3), 0, lambda r: (np.zeros(12 * 24 * 12, np.int32),)),
    ("block_sum", 4, 256, 0, lambda r: (_normal(r, 1000), np.zeros(4, F32), np.int32(1000))),
    ("block_reverse", 5, 64, 256, lambda r: (_normal(r, 300), np.zeros(300, F32), np.int32(300))),
    ("count_positive", 4, 64, 256, lambda r: (_normal(r, 200), np.zeros(4, np.int32), np.int32(200))),
    ("shuffle_sum", 8, 128, 0, lambda r: (_normal(r, 1000), np.zeros(1, F32), np.int32(1000))),
    ("warp_ops", 3, 32, 0, lambda r: (_normal(r, 96), np.zeros(3, np.uint32),
                                       *(np.zeros(96, F32) for _ in range(3)))),
    ("votes", 1, 128, 0, lambda r: ((r.random(128) < 0.9).astype(np.int32), np.zeros(4, np.int32),
                                    np.zeros(4, np.int32))),
    ("histogram", 4, 128, 0, lambda r: (r.integers(-3, 20, 5000).astype(np.int32), np.zeros(16, np.uint32),
                                        np.int32(5000), np.int32(16))),
    ("shift_synced", 2, 128, 0, lambda r: (_normal(r, 256), np.zeros(256, F32))),
    ("broadcast_after_exit", 1, 64, 0, lambda r: (_normal(r, 64), np.zeros(64, F32))),
    ("math_functions", 1, 64, 0, lambda r: (r.uniform(0.1, 3, 50).astype(F32), np.zeros(200, F32), np.int32(50))),
    ("scale_by_two", 1, 8, 0, lambda r: (_normal(r, 5), np.int32(5))),
]


@pytest.fixture(scope="module")
def gpu_module(kernel_path):
    cupy = cuda.cupy_module()
    return cupy.RawModule(code=open(kernel_path("basics.cu")).read())


@needs_gpu
@pytest.mark.parametrize("name, grid, block, shared_mem, make", CASES, ids=[c[0] for c in CASES])
def test_emu_matches_gpu(basics, gpu_module, name, grid, block, shared_mem, make):
    cupy = cuda.cupy_module()
    grid, block = (grid if isinstance(grid, tuple) else (grid,)), (block if isinstance(block, tuple) else (block,))
    args = make(np.random.default_rng(0))
    on_gpu = tuple(cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
    gpu_module.get_function(name)(grid, block, on_gpu, shared_mem=shared_mem)
    basics.get_function(name)(grid, block, args, shared_mem=shared_mem)
    for emu_out, gpu_out in zip(args, on_gpu):
        if isinstance(emu_out, np.ndarray):
            np.testing.assert_allclose(emu_out, cupy.asnumpy(gpu_out), rtol=1e-5, atol=1e-4)


def test_test_kernels_are_valid_cuda(kernel_path):
    """NVRTC (no GPU needed) accepts the test kernels: the emulator is tested on real CUDA."""
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    for name in ("basics.cu", "oob.cu"):
        try:
            program = nvrtc.createProgram(open(kernel_path(name)).read(), name, [], [])
        except Exception as e:  # the NVRTC library itself is missing
            pytest.skip(f"NVRTC unavailable: {e}")
        try:
            nvrtc.compileProgram(program, ["--gpu-architecture=compute_75"])
        except Exception as e:
            pytest.fail(f"NVRTC rejects {name}: {e}\n{nvrtc.getProgramLog(program)}")
