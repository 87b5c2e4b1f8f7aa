"""After warm-up a cpu training step touches no freshly mapped memory (gpudl/cpu/heap.py)."""
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = """
import resource, numpy as np, gpudl as gd
from gpudl import models
from gpudl.nn import functional as F
gd.manual_seed(0)
model = models.lenet5()
opt = gd.optim.Adam(model.parameters(), lr=1e-3)
x, y = gd.tensor(np.random.rand(128, 1, 28, 28).astype(np.float32)), gd.tensor(np.random.randint(0, 10, 128))
def step():
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_step(keep):
    env = {**os.environ, "GPUDL_KEEP_FREED": "1" if keep else "0"}
    out = subprocess.run([sys.executable, "-c", STEPS], cwd=Path(__file__).parents[1], env=env, check=True,
                         capture_output=True, text=True, timeout=300)
    return float(out.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_a_lenet_step_reuses_its_memory_instead_of_faulting_in_new_pages():
    # batch 128: about 3,400 minor page faults a step when every large array is a fresh mmap
    assert faults_per_step(keep=False) > 1000
    assert faults_per_step(keep=True) < 50
