"""gpudl's benchmarks: `python -m benchmarks.kernels` and `python -m benchmarks.train` (see each module)."""
