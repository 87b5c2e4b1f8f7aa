"""The emu memory profiler (gd.kernels.profile): the kernels of tests/emu/kernels/memory.cu have
known coalescing and bank-conflict patterns, and the profile must count them as a GPU's memory
system would, in either thread order."""
import numpy as np
import pytest

import gpudl as gd
from gpudl import emu
from gpudl.gpu_peaks import lookup


@pytest.fixture(scope="module")
def memory(kernel_path):
    return gd.kernels.load(kernel_path("memory.cu"), device="emu")


@pytest.fixture(scope="module")
def line_of(kernel_path):
    """line_of(text, after=None): the line number of `text` in memory.cu (the first after `after`)."""
    lines = open(kernel_path("memory.cu")).read().splitlines()

    def find(text, after=None):
        start = next(i for i, line in enumerate(lines) if after in line) if after else 0
        return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1
    return find


def _instruction(prof, kernel, space, kind):
    rows = [r for r in prof.instructions(kernel) if r["space"] == space and r["kind"] == kind]
    assert len(rows) == 1, rows
    return rows[0]


def test_coalesced_float32_copy_is_4_sectors_per_request(memory, order):
    n = 1024
    x, y = np.arange(n, dtype=np.float32), np.zeros(n, np.float32)
    with gd.kernels.profile() as prof:
        memory.strided_copy(n // 256, 256, x, y, n, 1)
    s = prof.stats("strided_copy")
    assert s["global_load_requests"] == s["global_store_requests"] == n // 32
    assert s["sectors_per_request"] == s["ideal_sectors_per_request"] == 4
    assert s["global_efficiency"] == 1.0
    assert s["bytes_read"] == s["bytes_written"] == 4 * n
    assert s["bank_conflict_ways"] == 1 and s["shared_extra_wavefronts"] == 0
    np.testing.assert_array_equal(y, x)


def test_stride_32_copy_is_32_sectors_per_request(memory, order, line_of):
    n = 512
    x, y = np.arange(32 * n, dtype=np.float32), np.zeros(32 * n, np.float32)
    with gd.kernels.profile() as prof:
        memory.strided_copy(n // 256, 256, x, y, n, 32)
    s = prof.stats("strided_copy")
    assert s["sectors_per_request"] == 32 and s["ideal_sectors_per_request"] == 4
    assert s["global_efficiency"] == 0.125
    assert s["bytes_read"] == s["bytes_written"] == 32 * n  # one sector per element
    worst = prof.instructions("strided_copy")[0]
    assert worst["where"] == f"memory.cu:{line_of('y[(long long)i * stride] = x[(long long)i * stride];')}"
    assert worst["function"] == "strided_copy" and worst["efficiency"] == 0.125
    assert "efficiency 12.5 %" in prof.report()
    np.testing.assert_array_equal(y[::32], x[::32])


def test_inactive_lanes_are_not_counted(memory, order):
    n = 40  # a 64-thread block: warp 0 has 32 active lanes, warp 1 eight
    x, y = np.arange(n, dtype=np.float32), np.zeros(n, np.float32)
    with gd.kernels.profile() as prof:
        memory.strided_copy(1, 64, x, y, n, 1)
    s = prof.stats("strided_copy")
    assert s["global_load_requests"] == s["global_store_requests"] == 2
    assert s["global_load_sectors"] == s["global_store_sectors"] == 4 + 1
    assert s["global_efficiency"] == 1.0 and s["bytes_read"] == 160
    assert _instruction(prof, "strided_copy", "global", "load")["lanes_per_request"] == n / 2


def test_broadcast_is_one_sector_and_no_bank_conflict(memory, order, line_of):
    x, y = np.arange(32, dtype=np.float32), np.zeros(32, np.float32)
    with gd.kernels.profile() as prof:
        memory.broadcast(1, 32, x, y)
    line = line_of("y[threadIdx.x] = x[0] + s[0];")
    loads = [r for r in prof.instructions("broadcast") if r["line"] == line and r["kind"] == "load"]
    assert {r["space"] for r in loads} == {"global", "shared"}
    for r in loads:
        assert r["units_per_request"] == r["ideal_per_request"] == 1 and r["efficiency"] == 1.0
    assert prof.stats("broadcast")["bank_conflict_ways"] == 1
    np.testing.assert_array_equal(y, x[0] + x[0])


def test_each_loop_round_is_its_own_request(memory, order):
    n, rounds = 256, 4
    x, y = np.arange(rounds * n, dtype=np.float32), np.zeros(rounds * n, np.float32)
    with gd.kernels.profile() as prof:
        memory.rounds_copy(1, n, x, y, n, rounds)
    s = prof.stats("rounds_copy")
    assert s["global_load_requests"] == rounds * n // 32 and s["sectors_per_request"] == 4
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("kernel, expected, function", [
    ("tile_column", 32, "tile_column"), ("tile_column_padded", 1, "tile_column_padded"),
    ("template_tile", 32, "column_read"), ("template_tile_padded", 1, "column_read"),
])
def test_column_read_of_a_shared_tile(memory, order, line_of, kernel, expected, function):
    x, y = np.arange(1024, dtype=np.float32), np.zeros(1024, np.float32)
    with gd.kernels.profile() as prof:
        getattr(memory, kernel)(1, (32, 32), x, y)
    s = prof.stats(kernel)
    assert s["bank_conflict_ways"] == expected
    assert s["shared_extra_wavefronts"] == 32 * (expected - 1)  # 32 warps
    assert s["shared_load_requests"] == s["shared_store_requests"] == 32
    assert s["global_efficiency"] == 1.0
    column = _instruction(prof, kernel, "shared", "load")
    assert column["bank_conflict_ways"] == expected
    assert column["line"] == line_of("y[ty * 32 + tx] = tile[tx][ty];", after=f"void {function}(")
    if expected > 1:
        assert "32-way bank conflict" in prof.report() and column["where"] in prof.report()
    np.testing.assert_array_equal(y, x.reshape(32, 32).T.ravel())


def test_two_lanes_per_bank_is_a_2_way_conflict(memory, order):
    x, y = np.arange(64, dtype=np.float32), np.zeros(32, np.float32)
    with gd.kernels.profile() as prof:
        memory.shared_stride2(1, 32, x, y, shared_mem=64 * 4)
    read = [r for r in prof.instructions("shared_stride2") if r["space"] == "shared" and r["kind"] == "load"]
    assert [(r["bank_conflict_ways"], r["extra_wavefronts"]) for r in read] == [(2, 1)]
    np.testing.assert_array_equal(y, x[::2])


def test_wide_accesses(memory, order):
    """float64 and float4 warp accesses are 8 and 16 sectors, all useful; consecutive doubles in
    shared memory take 2 wavefronts, which is no conflict."""
    x64, y64 = np.arange(256, dtype=np.float64), np.zeros(256)
    x4, y4 = gd.arange(1024, dtype="float32", device="emu"), gd.zeros(1024, device="emu")
    with gd.kernels.profile() as prof:
        memory.copy_f64(1, 256, x64, y64, 256)
        memory.copy_float4(1, 256, x4, y4, 256)
        memory.shared_f64(1, 32, x64, y64)
    assert prof.stats("copy_f64")["sectors_per_request"] == 8
    assert prof.stats("copy_float4")["sectors_per_request"] == 16
    assert prof.stats("copy_f64")["global_efficiency"] == prof.stats("copy_float4")["global_efficiency"] == 1.0
    read = _instruction(prof, "shared_f64", "shared", "load")
    assert read["units_per_request"] == 2 and read["bank_conflict_ways"] == 1 and read["extra_wavefronts"] == 0
    np.testing.assert_array_equal(y4.numpy(), x4.numpy())


def test_a_misaligned_view_needs_an_extra_sector(memory):
    """Allocations start on 256 bytes (as cudaMalloc's do); a view one float in does not."""
    n = 256
    x, y = np.arange(n + 1, dtype=np.float32), np.zeros(n, np.float32)
    with gd.kernels.profile() as prof:
        memory.strided_copy(1, n, x[1:], y, n, 1)
    assert _instruction(prof, "strided_copy", "global", "load")["units_per_request"] == 5
    assert _instruction(prof, "strided_copy", "global", "store")["units_per_request"] == 4


def _everything(memory):
    x, y = np.arange(32 * 512, dtype=np.float32), np.zeros(32 * 512, np.float32)
    with gd.kernels.profile() as prof:
        memory.strided_copy(2, 256, x, y, 300, 32)
        memory.tile_column(1, (32, 32), x, y)
        memory.shared_stride2(1, 32, x, y, shared_mem=64 * 4)
        memory.rounds_copy(2, 64, x, y, 128, 3)
    return {k: (prof.stats(k), prof.instructions(k)) for k in prof.kernels}


def test_forward_and_reverse_thread_order_give_the_same_profile(memory):
    with emu.thread_order("forward"):
        forward = _everything(memory)
    with emu.thread_order("reverse"):
        reverse = _everything(memory)
    assert forward == reverse and len(forward) == 4


def test_roofline_from_declared_flops():
    mod = gd.kernels.load('extern "C" __global__ void scale(float* y, float a, int n) {\n'
                          '  int i = blockIdx.x * blockDim.x + threadIdx.x;\n'
                          '  if (i < n) y[i] *= a;\n}\n', device="emu", name="scale.cu")
    y = np.ones(1024, np.float32)
    with gd.kernels.profile(gpu="T4", flops={"scale": lambda grid, block, args: int(args[2])}) as prof:
        mod.scale(4, 256, y, 2.0, 1024)
        mod.scale(4, 256, y, 2.0, 1024)
    s, t4 = prof.stats("scale"), lookup("T4")
    assert s["launches"] == 2 and s["flops"] == 2048 and s["gpu"] == "T4"
    assert s["bytes_read"] == s["bytes_written"] == 2 * 4096
    assert s["arithmetic_intensity"] == 2048 / (4 * 4096)
    assert s["predicted_seconds"] == pytest.approx(max(4 * 4096 / t4["bandwidth"], 2048 / t4["flops"]))
    assert s["predicted_seconds_uncached"] == pytest.approx(s["sector_bytes"] / t4["bandwidth"])
    h100 = prof.stats("scale", gpu="H100")
    assert h100["gpu"] == "H100 SXM" and h100["predicted_seconds"] < s["predicted_seconds"]
    custom = prof.stats("scale", gpu={"flops": 1e12, "bandwidth": 1e9})
    assert custom["predicted_seconds"] == pytest.approx(4 * 4096 / 1e9)
    with pytest.raises(ValueError, match="unknown GPU 'Z80'.*H100 SXM"):
        prof.stats("scale", gpu="Z80")
    np.testing.assert_array_equal(y, 4)


def test_gpudl_own_kernels_are_profiled_too():
    x = gd.ones((8, 100), device="emu")
    with gd.kernels.profile() as prof:
        (x * 2).sum().numpy()
    assert len(prof.kernels) >= 2
    for name in prof.kernels:
        s = prof.stats(name)
        assert 0 < s["global_efficiency"] <= 1 and s["global_load_requests"] > 0
    assert all(f"kernel {name}:" in prof.report() for name in prof.kernels)


def test_profiling_build_is_used_only_inside_the_block():
    mod = gd.kernels.load('extern "C" __global__ void untouched(float* y) { y[threadIdx.x] += 1.0f; }\n',
                          device="emu", name="untouched.cu")
    y = np.zeros(32, np.float32)
    mod.untouched(1, 32, y)
    compiled = mod.get_function("untouched")._function.module
    assert compiled._profiling is None
    with gd.kernels.profile() as prof:
        mod.untouched(1, 32, y)
    assert "-profile-" in compiled._profiling.path.name and compiled._profiling.path != compiled.path
    assert prof.stats("untouched")["global_store_requests"] == 1
    mod.untouched(1, 32, y)
    np.testing.assert_array_equal(y, 3)


def test_misuse():
    with gd.kernels.profile() as prof:
        with pytest.raises(RuntimeError, match="already being recorded"):
            with gd.kernels.profile():
                pass
    with pytest.raises(KeyError, match="'nope' was not launched on emu"):
        prof.stats("nope")
    with pytest.raises(ValueError, match="unknown GPU"):
        gd.kernels.profile(gpu="K80").__enter__()
    with pytest.raises(TypeError, match="flops must be a dict"):
        gd.kernels.profile(flops=3).__enter__()
    assert prof.report() == "no emu launches profiled"
