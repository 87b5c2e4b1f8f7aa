"""Data-parallel training under mpiexec (2 and 3 ranks on this machine) equals one process with the
same global batch and data order; collectives per step; a failing rank ends every rank."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpudl as gd
from gpudl import data

sys.path.insert(0, str(Path(__file__).parent))
import worker  # noqa: E402

pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'gpudl[mpi]')")
MPIEXEC = Path(sys.executable).with_name("mpiexec")
if not MPIEXEC.exists():
    pytest.skip(f"no mpiexec beside {sys.executable} (pip install 'gpudl[mpi]' brings MPICH's)",
                allow_module_level=True)
WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).parents[2]


def mpiexec(ranks, *argv, timeout=300, check=True):
    """Run `argv` on `ranks` MPI processes; the CompletedProcess (stdout and stderr together)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([str(MPIEXEC), "-n", str(ranks), *map(str, argv)], cwd=ROOT, env=env, timeout=timeout,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check:
        assert result.returncode == 0, result.stdout[-3000:]
    return result


def one_process(name, device, dtype, steps, batch):
    """The same steps in this process, from rank 0's weights, on the whole global batches."""
    model = worker.model_on(name, device, dtype, 100)
    loader = data.DataLoader(worker.dataset(dtype), batch_size=batch, shuffle=True, seed=worker.SEED, device=device)
    opt, _ = worker.train(model, loader, steps)
    return model, opt


def relative_error(a, b):
    """||a - b|| / ||b|| (Frobenius norms)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def assert_same_training(out, model, opt, rtol):
    got = gd.load(out)
    for key, value in model.state_dict().items():
        assert relative_error(got["model"][key], value.numpy()) < rtol, key
    state = opt.state_dict()
    assert set(got["optimizer"]) == set(state)
    for key, value in state.items():
        if np.asarray(value).dtype.kind == "f":
            assert relative_error(got["optimizer"][key], value) < rtol, key
        else:
            assert np.array_equal(np.asarray(got["optimizer"][key]), np.asarray(value)), key
    return got


# 5 steps over 46 samples in batches of 12: the 4th batch has 10 (shards 4, 3, 3 with 3 ranks),
# the 5th starts the next epoch's order
@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_matches_one_process_in_float64(tmp_path, name, ranks):
    out = tmp_path / "rank0.npz"
    mpiexec(ranks, sys.executable, WORKER, name, "cpu", "float64", 5, 12, out)
    model, opt = one_process(name, "cpu", "float64", 5, 12)
    got = assert_same_training(out, model, opt, rtol=1e-6)
    # one all-reduce per step (the whole model is one bucket), for the MLP's 235 K and LeNet's 62 K parameters
    assert got["buckets"] == 1 and got["calls"].tolist() == [1] * 5


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_matches_one_process_in_float32_on_emu(tmp_path, name):
    out = tmp_path / "rank0.npz"
    mpiexec(2, sys.executable, WORKER, name, "emu", "float32", 4, 12, out)
    model, opt = one_process(name, "emu", "float32", 4, 12)
    assert_same_training(out, model, opt, rtol=1e-5)


def test_collectives_per_step_are_the_buckets(tmp_path):
    """With 0.1 MiB (104,858-byte) buckets the MLP's float32 parameters in order -- weight 1 (802,816 bytes),
    bias 1 (1,024), weight 2 (131,072), then bias 2, weight 3 and bias 3 (5,672 together) -- make 4 buckets."""
    out = tmp_path / "rank0.npz"
    mpiexec(2, sys.executable, WORKER, "mlp", "cpu", "float32", 3, 12, out, 0.1)
    got = gd.load(out)
    assert int(got["buckets"]) == 4 and got["calls"].tolist() == [4] * 3


def test_a_rank_that_raises_ends_every_rank(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("import gpudl as gd, gpudl.distributed as dist\n"
                      "dist.init_process_group('mpi')\n"
                      "if dist.get_rank() == 1:\n"
                      "    raise ValueError('rank one broke')\n"
                      "dist.all_reduce(gd.ones(3))  # the others wait here for rank 1\n")
    result = mpiexec(3, sys.executable, script, timeout=60, check=False)  # a hang would time out
    assert result.returncode != 0
    assert "rank 1 of 3 failed" in result.stdout and "ValueError: rank one broke" in result.stdout


needs_data = pytest.mark.skipif(gd.data.datasets.where("fashion-mnist") is None,
                                reason="Fashion-MNIST not found (apt-get install dataset-fashion-mnist)")
CLI = [sys.executable, "-m", "gpudl", "train", "--distributed", "--model", "mlp", "--limit", "1200",
       "--device", "cpu", "--batch-size", "100"]


@needs_data
def test_cli_resumed_run_equals_an_uninterrupted_one_and_matches_one_process(tmp_path):
    straight, split, single = tmp_path / "straight", tmp_path / "split", tmp_path / "single"
    printed = mpiexec(2, *CLI, "--epochs", "2", "--out", straight).stdout
    assert printed.count("test accuracy") == 1 and "2 rank(s) over mpi" in printed  # rank 0 prints
    mpiexec(2, *CLI, "--epochs", "1", "--out", split)
    mpiexec(2, *CLI[:5], "--resume", split, "--epochs", "2", "--device", "cpu")
    a, b = gd.load(straight / "checkpoint.npz"), gd.load(split / "checkpoint.npz")
    for key, value in a["model"].items():
        assert np.array_equal(b["model"][key], value), key
    assert json.loads((split / "history.json").read_text()) == json.loads((straight / "history.json").read_text())
    # one process with the same global batch: the same run up to float32 rounding
    subprocess.run([a for a in CLI if a != "--distributed"] + ["--epochs", "2", "--out", str(single)], cwd=ROOT,
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    c = gd.load(single / "checkpoint.npz")
    for key, value in c["model"].items():
        assert relative_error(a["model"][key], value) < 1e-3, key
    runs = [json.loads((d / "run.json").read_text()) for d in (straight, single)]
    assert runs[0]["ranks"] == 2 and abs(runs[0]["test_accuracy"] - runs[1]["test_accuracy"]) < 0.01


@needs_data
def test_cli_error_on_every_rank_is_one_line_and_exits(tmp_path):
    result = mpiexec(2, *CLI, "--epochs", "1", "--batch-size", "1", "--out", tmp_path, timeout=60, check=False)
    assert result.returncode != 0
    assert "cannot give each of 2 ranks one" in result.stdout


def test_fit_stops_every_rank_at_the_same_step_and_resumes_exactly(tmp_path):
    """A Ctrl-C that reaches rank 1 alone (in step 6 of 12) stops the 3 ranks after that step (no hang); the
    resumed run (each rank with its own generator back) ends with the weights and history of the uninterrupted one."""
    fit_worker = WORKER.with_name("worker_fit.py")
    for mode in ("straight", "interrupt", "resume"):
        mpiexec(3, sys.executable, fit_worker, mode, tmp_path, timeout=120)
    straight, interrupted, resumed = (gd.load(tmp_path / f"{m}.npz") for m in ("straight", "interrupt", "resume"))
    assert int(straight["steps"]) == 12 and int(interrupted["steps"]) == 6 and int(resumed["steps"]) == 6
    for key, value in straight["model"].items():
        assert np.array_equal(resumed["model"][key], value), key
    history = [json.loads((tmp_path / f"{m}.json").read_text()) for m in ("straight", "resume")]
    assert set(history[0]) == set(history[1]) and len(history[0]["loss"]) == 3
    for key, values in history[0].items():  # the epoch cut by the interrupt sums its parts in another order
        assert history[1][key] == pytest.approx(values, rel=1e-12), key


def test_a_nan_loss_on_one_rank_names_its_step_and_ends_every_rank(tmp_path):
    result = mpiexec(3, sys.executable, WORKER.with_name("worker_fit.py"), "nan", tmp_path, timeout=60, check=False)
    assert result.returncode != 0
    assert "NonFiniteLossError: fit: loss became NaN or Inf at epoch 1, step 3" in result.stdout
