"""Smoke tests of the benchmark scripts in --quick mode: they run, print the expected rows and
write JSON that parses.  No timing is asserted (speed is judged from the benchmarks' ratios)."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not installed with the package: import it from the checkout
    sys.path.insert(0, str(ROOT))

from benchmarks import common, kernels, train  # noqa: E402

NO_CXX = shutil.which("g++") is None and shutil.which("c++") is None


def table_rows(out):
    """The data rows of every markdown table in `out`, as lists of stripped cells."""
    rows = []
    for line in out.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def expected_kernel_rows(algos, single):
    """(family, layer, pass, algo) of every row the kernel suite must print in --quick mode
    (the 256 MB sizes, quick shape None, are skipped)."""
    out = set()
    for layer, *_ in kernels.CONV_LAYERS:
        out |= {("conv", layer, p, a) for p in kernels.PASSES["conv"] for a in algos}
    for family, table in (("pool", kernels.POOL_LAYERS), ("activation", kernels.ACT_LAYERS),
                          ("gemm", kernels.GEMM_LAYERS)):
        for layer, *_, quick in table:
            if quick is not None:
                out |= {(family, layer, p, single) for p in kernels.PASSES[family]}
    return out


@pytest.mark.parametrize("device, algos, single", [
    ("cpu", ("numpy",), "numpy"),
    pytest.param("emu", ("im2col", "tiled"), "kernel",
                 marks=pytest.mark.skipif(NO_CXX, reason="emu needs a C++ compiler (g++) and none is installed")),
])
def test_kernels_quick(device, algos, single, tmp_path, capsys):
    path = tmp_path / "kernels.json"
    rows = kernels.main(["--device", device, "--quick", "--json", str(path)])
    out = capsys.readouterr().out
    printed = {tuple(r[:4]) for r in table_rows(out)[1:]}  # skip the header row
    expected = expected_kernel_rows(algos, single)
    assert printed == expected
    doc = json.loads(path.read_text())
    assert doc["device_type"] == device and doc["quick"] is True and doc["versions"]["numpy"]
    assert {(r["family"], r["layer"], r["pass"], r["algo"]) for r in doc["rows"]} == expected
    assert all(r["ms"] > 0 and r["rate"] > 0 and r["host_ms"] is None for r in rows)
    assert all(r["peer_ms"] > 0 and r["unit"] == "GFLOP/s" for r in rows if r["family"] == "gemm")
    assert {"maxpool-256MB", "bias-relu-256MB"} <= {layer for layer, *_ in kernels.POOL_LAYERS + kernels.ACT_LAYERS}
    if device == "cpu" and common.torch_module("cpu") is not None:  # the sides ran in child processes, one pair
        assert all(r["pairs"] == 1 and r["ratio_range"] for r in rows if r["peer_ms"])
    if device == "emu":
        assert "Fastest conv algorithm per shape" in out and doc["default_conv_algo"] in algos
        assert sum(r["best"] == "yes" for r in doc["rows"]) == len(kernels.CONV_LAYERS) * 3


def test_train_quick(tmp_path, capsys):
    path = tmp_path / "train.json"
    rows = train.main(["--device", "cpu", "--quick", "--json", str(path)])
    out = capsys.readouterr().out
    assert [r[0] for r in table_rows(out)[1:]] == ["lenet", "mlp", "cnn"]
    doc = json.loads(path.read_text())
    assert [r["model"] for r in doc["rows"]] == ["lenet", "mlp", "cnn"] and doc["epoch"] is None
    assert all(r["gpudl_ms"] > 0 and r["batch"] == 8 for r in rows)
    if doc["versions"]["torch"]:
        assert all(r["torch_ms"] > 0 and r["ratio"] > 0 for r in rows)


@pytest.mark.skipif(NO_CXX, reason="emu needs a C++ compiler (g++) and none is installed")
def test_train_quick_on_emu_times_the_captured_step(capsys):
    rows = train.main(["--device", "emu", "--quick", "--models", "mlp"])
    out = capsys.readouterr().out
    assert "peer: none on emu" in out and "gpudl captured ms" in out
    assert rows[0]["gpudl_ms"] > 0 and rows[0]["gpudl_captured_ms"] > 0 and rows[0]["gpudl_captured_error"] is None
    assert "torch_ms" not in rows[0]


def test_markdown_table_and_missing_values():
    text = common.markdown_table([{"a": 1.23456, "b": None}, {"a": 12345.6, "b": "x"}], (("A", "a"), ("B", "b")))
    assert text.splitlines() == ["| A | B |", "|---|---|", "| 1.23 | n/a |", "| 12346 | x |"]


@pytest.mark.parametrize("name, label", [("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"),
                                         ("NVIDIA H200", "H200 SXM"), ("NVIDIA A100-SXM4-80GB", "A100 SXM 80GB"),
                                         ("NVIDIA L4", "L4"), ("Tesla T4", "T4"),
                                         ("NVIDIA GeForce RTX 4090", "RTX 4090")])
def test_gpu_peak_table(name, label):
    peaks = common.gpu_peaks(name)
    assert peaks["label"] == label and peaks["flops"] > 1e12 and peaks["bandwidth"] > 1e11


def test_default_json_path_only_names_a_file():
    assert common.json_path("", "cpu", "train").parent == common.RESULTS
    assert common.json_path("x/y.json", "cpu", "train").as_posix() == "x/y.json"


def test_kernels_without_peer_and_with_a_failing_kernel(monkeypatch, capsys):
    """PyTorch absent: the peer columns say n/a; a kernel that raises is reported, not fatal."""
    import gpudl.cpu

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(common, "torch_module", lambda device_type: None)
    monkeypatch.setattr(gpudl.cpu, "bias_act_backward", broken)
    rows = kernels.main(["--device", "cpu", "--quick", "--families", "activation"])
    out = capsys.readouterr().out
    assert "peer: n/a" in out and "Failed" in out and "broken on purpose" not in out
    assert all(r["peer_ms"] is None and r["ratio"] is None for r in rows)
    failed = [r for r in rows if r["error"]]
    assert {r["pass"] for r in failed} == {"backward"} and all("broken on purpose" in r["error"] for r in failed)
    assert all(r["ms"] > 0 for r in rows if not r["error"])


def test_train_without_peer(monkeypatch, capsys):
    monkeypatch.setattr(common, "torch_module", lambda device_type: None)
    rows = train.main(["--device", "cpu", "--quick", "--models", "mlp"])
    assert "peer: n/a" in capsys.readouterr().out
    assert rows[0]["gpudl_ms"] > 0 and "torch_ms" not in rows[0]


def test_json_is_strict():
    doc = common.plain({"a": float("nan"), "b": [np.float32(1.5)], "c": (1, None)})
    assert json.loads(json.dumps(doc, allow_nan=False)) == {"a": None, "b": [1.5], "c": [1, None]}


def test_train_reports_a_model_that_fails(monkeypatch, capsys):
    monkeypatch.setattr(train, "run_child", lambda argv: {"error": "exit code 1: RuntimeError: no such model here"})
    rows = train.main(["--device", "cpu", "--quick", "--models", "mlp"])
    assert "Failed" in capsys.readouterr().out
    assert "no such model here" in rows[0]["gpudl_error"] and "gpudl_ms" not in rows[0]


def test_each_side_runs_in_its_own_process():
    out = train.run_child(["--child", "gpudl", "--models", "mlp", "--device", "cpu", "--batch", "4", "--steps", "2"])
    assert len(out["times"]) == 2 and all(t > 0 for t in out["times"])
    assert "error" in train.run_child(["--child", "gpudl", "--models", "mlp", "--device", "tpu"])




def test_each_kernel_side_runs_in_its_own_process_on_cpu():
    sides = {side: common.run_child("benchmarks.kernels", ["--child", side, "--device", "cpu", "--quick",
                                                           "--families", "activation,gemm"], 300)
             for side in ("gpudl", "peer")}
    assert not sides["gpudl"]["torch_imported"]  # gpudl's process never loads PyTorch
    keys = {f"{family} {layer} {p}" for family, table in (("activation", kernels.ACT_LAYERS), ("gemm", kernels.GEMM_LAYERS))
            for layer, *_, quick in table if quick is not None for p in kernels.PASSES[family]}
    assert set(sides["gpudl"]["times"]) == keys and not sides["gpudl"]["errors"]
    assert all(t > 0 for times in sides["gpudl"]["times"].values() for t in times)
    gemm = {k for k in keys if k.startswith("gemm")}
    if sides["peer"]["torch_imported"]:  # PyTorch installed: every case has a peer
        assert set(sides["peer"]["times"]) == keys
    else:
        assert set(sides["peer"]["times"]) == gemm  # NumPy's matmul is the gemm peer either way


@pytest.mark.skipif(NO_CXX, reason="emu needs a C++ compiler (g++) and none is installed")
def test_kernel_profile_covers_every_kernel(tmp_path, capsys):
    from gpudl.emu import build, source
    from gpudl.gpu import loader
    names = set()
    for path in (ROOT / "kernels").glob("*.cu"):  # every extern "C" __global__, as test_kernels_compile finds them
        names |= set(source.find_kernels(build.preprocess(source.body(loader.source_text(path), path.name), path.name)))
    path = tmp_path / "profile.json"
    rows = kernels.main(["--device", "emu", "--profile", "--quick", "--json", str(path)])
    out = capsys.readouterr().out
    assert {r["kernel"] for r in rows} == names and len(names) >= 100
    unseen = {r["kernel"] for r in rows if r["launches"] == 0}
    assert unseen <= set(kernels.PROFILE_EXEMPT) and not set(kernels.PROFILE_EXEMPT) - names
    assert f"Coverage: {len(names) - len(unseen)}/{len(names)} kernels" in out and "Failed calls" not in out
    printed = {r[0] for r in table_rows(out) if r[0] != "kernel"}
    assert printed == names
    for r in rows:
        if r["launches"]:
            assert 0 < r["global_efficiency"] <= 1, r
            assert r["sectors_per_request"] >= 1 and r["sectors_per_request"] >= r["ideal_sectors_per_request"], r
            assert r["bank_conflict_ways"] >= 1 and r["shared_extra_wavefronts"] >= 0, r
            assert r["bytes_read"] + r["bytes_written"] > 0 and r["predicted_us"] > 0, r
    pool = {r["kernel"]: r for r in rows if r["file"] == "pool.cu"}
    assert pool["max_pool2d_forward"]["global_load_requests"] > pool["max_pool2d_forward"]["global_store_requests"]
    doc = json.loads(path.read_text())
    assert doc["benchmark"] == "kernel-profile" and doc["missing"] == [] and doc["gpu"] == kernels.PROFILE_GPU
    assert {r["kernel"] for r in doc["rows"]} == names
    with pytest.raises(SystemExit):
        kernels.main(["--device", "cpu", "--profile"])
