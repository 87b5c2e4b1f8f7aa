"""Peak fp32 FLOP/s and DRAM bandwidth of NVIDIA boards: the benchmarks' "% of peak" and the
emu memory profiler's roofline (`gd.kernels.profile`).

The numbers are NVIDIA's datasheet values at boost clock (fp32 without tensor cores); nobody
reaches them, and ~70-90 % of the bandwidth is a good kernel.
"""
import re

# regex on the lower-case board name (first match wins) -> (label, fp32 TFLOP/s, DRAM TB/s), from
# NVIDIA's datasheets; CuPy reports e.g. "NVIDIA H100 80GB HBM3" (SXM), "NVIDIA H100 PCIe", "Tesla T4"
GPU_PEAKS = (
    (r"h200 nvl", ("H200 NVL", 60.0, 4.8)),
    (r"h200", ("H200 SXM", 67.0, 4.8)),
    (r"h100 nvl", ("H100 NVL", 60.0, 3.9)),
    (r"h100 pcie", ("H100 PCIe", 51.0, 2.0)),
    (r"h100", ("H100 SXM", 67.0, 3.35)),
    (r"a100.*80gb.*pcie|a100-pcie-80gb", ("A100 PCIe 80GB", 19.5, 1.935)),
    (r"a100.*80gb", ("A100 SXM 80GB", 19.5, 2.039)),
    (r"a100", ("A100 40GB", 19.5, 1.555)),
    (r"\bl4\b", ("L4", 30.3, 0.300)),
    (r"\bt4\b", ("T4", 8.1, 0.320)),
    (r"rtx 4090", ("RTX 4090", 82.6, 1.008)),
)


def lookup(name):
    """{'label', 'flops', 'bandwidth'} (FLOP/s, bytes/s) of the first board whose pattern
    matches `name` ('H100', 'NVIDIA A100-SXM4-80GB', 't4', ...), or None."""
    low = name.lower()
    for pattern, (label, tflops, tbs) in GPU_PEAKS:
        if re.search(pattern, low):
            return {"label": label, "flops": tflops * 1e12, "bandwidth": tbs * 1e12}
    return None


def labels():
    """The boards the table knows, as their labels."""
    return [label for _, (label, _, _) in GPU_PEAKS]
