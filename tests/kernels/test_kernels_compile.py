"""Every kernels/*.cu compiles with NVRTC for the supported GPUs (no GPU needed), and every
entry point is launched by some wrapper in gpudl.gpu (no dead kernels)."""
import re
from pathlib import Path

import pytest

from gpudl.gpu import loader

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "kernels").glob("*.cu"))
ARCHS = ("compute_75", "compute_80", "compute_90")


def entries(path):
    """The extern "C" __global__ kernels of a file, macro-made ones included (as the emu finds them)."""
    from gpudl.emu import build, source
    text = loader.source_text(path)
    return sorted(source.find_kernels(build.preprocess(source.body(text, path.name), path.name)))


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as e:  # no CuPy, or CuPy without the NVRTC library
        pytest.skip(f"NVRTC unavailable: {type(e).__name__}: {e}")
    return nvrtc


def test_kernel_sources_exist():
    assert {p.stem for p in SOURCES} >= {"activation", "pool", "conv2d"}
    for path in SOURCES:
        assert loader.source_path(path.stem).resolve() == path.resolve()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_kernel_compiles_with_nvrtc(path, arch):
    nvrtc = _nvrtc()
    prog = nvrtc.createProgram(loader.source_text(path), path.name, [], [])
    try:
        try:
            nvrtc.compileProgram(prog, [f"--gpu-architecture={arch}", *loader.NVRTC_OPTIONS])
        except Exception as e:
            pytest.fail(f"{path.name} failed for {arch}: {e}\n{nvrtc.getProgramLog(prog)}")
        ptx = nvrtc.getPTX(prog).decode(errors="replace")
    finally:
        nvrtc.destroyProgram(prog)
    for name in entries(path):
        assert f".entry {name}(" in ptx, f"{name} missing from the PTX of {path.name}"


def test_every_kernel_is_launched_by_a_wrapper():
    wrappers = "\n".join(p.read_text() for p in (ROOT / "gpudl" / "gpu").glob("*.py"))
    names = [name for path in SOURCES for name in entries(path)]
    assert len(names) >= 12
    # name_f32 / name_u8_f32 / name_w4 are launched through their base name and a dtype or element-size suffix
    typed = re.compile("(_(" + "|".join(("u8",) + tuple(loader.SUFFIX.values())) + "))+$|_w[1248]$")
    dead = [name for name in names if f'"{name}"' not in wrappers and f'"{typed.sub("", name)}"' not in wrappers]
    assert not dead, f"kernels no wrapper launches: {dead}"


def test_compile_failure_shows_the_nvrtc_log(kernel_device):
    import gpudl
    dev = gpudl.device(kernel_device)
    if dev.type != "cuda":
        pytest.skip("the NVRTC log is a cuda matter; emu reports its compiler's own errors")
    bad = 'extern "C" __global__ void broken(float* y) { y[0] = undefined_name; }'
    with pytest.raises(RuntimeError, match="(?s)NVRTC failed to compile broken.cu.*undefined_name"):
        loader.compile_source(dev, bad, "broken.cu")


def test_cpu_and_gpu_tables_have_the_same_functions():
    import inspect

    import gpudl.cpu as cpu
    import gpudl.gpu as gpu
    assert cpu.__all__ == gpu.__all__ and len(cpu.__all__) >= 9
    for name in cpu.__all__:
        assert inspect.signature(getattr(cpu, name)) == inspect.signature(getattr(gpu, name)), name
