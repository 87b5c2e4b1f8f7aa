"""The emu memory profiler: what a GPU's memory system would make of every access of a launch.

    with gd.kernels.profile() as prof:             # launches on emu: gpudl's own or a user's
        ...
    print(prof.report(gpu="H100"))
    prof.stats("transpose_naive")                  # a dict per kernel (all its launches)
    prof.instructions("transpose_naive")           # per load / store instruction, worst first

Inside the block every emu launch runs on a profiling build of its module (gpudl/emu/build.py:
ThreadSanitizer's instrumentation, -g, and the hooks of memprof.cpp in place of its runtime),
compiled once per source and cached apart from the normal build; outside it nothing changes.
Accesses to the launch's array arguments count as global memory, accesses to __shared__
variables as shared memory; registers, the stack and kernel parameters are not memory traffic.
A warp is 32 consecutive threads of a block; its lanes' k-th executions of one instruction form
one request (inactive lanes are absent), and per request

    global   sectors = distinct 32-byte segments touched, ideal = ceil(distinct bytes / 32),
             efficiency = ideal / actual (a coalesced float32 warp load: 4 of 4, 100 %)
    shared   32 banks of 4-byte words; wavefronts = most distinct words in one bank (one word
             read by many lanes is a broadcast), ideal = ceil(distinct words / 32),
             n-way conflict = ceil(wavefronts / ideal), extra wavefronts = wavefronts - ideal

bytes_read / bytes_written are the distinct sectors each launch read / wrote, x 32 bytes: a
lower bound on DRAM traffic. The roofline time on a GPU of gpudl/gpu_peaks.py is
max(bytes / bandwidth, flops / peak FLOP/s), from those bytes (`predicted_seconds`) and from every
requested sector (`predicted_seconds_uncached`, no cache reuse). FLOPs are what you declare:
`profile(flops={"saxpy": lambda grid, block, args: 2 * n})` (or a number per launch).
Atomics count as a load and a store; __constant__ and __device__ variables are not counted.
"""
import contextlib
import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .. import gpu_peaks
from . import guard
from .params import Strided

SECTOR = 32
ALIGNMENT = 256  # of every allocation, as cudaMalloc aligns them
_HEADERS = ("shim.h", "runtime_api.h")  # inline helpers of the emu: report the .cu line calling them
_ROW = ("offset", "shared", "write", "requests", "lanes", "bytes", "units", "ideal", "worst_ways")
_active = None


def active():
    """The MemoryProfile being recorded, or None (checked at every emu launch)."""
    return _active


class _Instruction:
    """One load or store instruction's totals over the profiled launches."""

    def __init__(self, library, offset, shared, write):
        self.library, self.offset, self.shared, self.write = library, offset, shared, write
        self.requests = self.lanes = self.bytes = self.units = self.ideal = 0
        self.worst_ways = 1

    def add(self, row):
        self.requests += row["requests"]
        self.lanes += row["lanes"]
        self.bytes += row["bytes"]
        self.units += row["units"]
        self.ideal += row["ideal"]
        self.worst_ways = max(self.worst_ways, row["worst_ways"])


class _Kernel:
    """What the profiled launches of one kernel name left."""

    def __init__(self):
        self.launches = 0
        self.sectors_read = self.sectors_written = 0
        self.flops = None
        self.instructions = {}


def _byte_range(array):
    """(lowest, one past the highest) address of the bytes an array (or a strided view) spans."""
    if array.size == 0:
        return None
    low = high = array.ctypes.data
    for n, stride in zip(array.shape, array.strides):
        low += min(0, (n - 1) * stride)
        high += max(0, (n - 1) * stride)
    return low, high + array.itemsize


def _ranges(params, args):
    """(begin, end, shift) per array argument, as a ctypes uint64 array, and their count; the
    shift puts the allocation's start on a multiple of 256 bytes, like cudaMalloc."""
    spans = []
    for p, a in zip(params, args):
        array = a.array if isinstance(a, Strided) else a
        span = _byte_range(array) if p.pointer and isinstance(array, np.ndarray) else None
        if span:
            spans.extend((*span, guard.allocation_start(array) % ALIGNMENT))
    return _uint64s(spans), len(spans) // 3


def _uint64s(values):
    """A ctypes uint64 array holding `values` (never of length 0)."""
    return (ctypes.c_uint64 * max(len(values), 1))(*values)


def bind(library, path):
    """Declare the argument types of a profiling build's gpudl_emu_profile_* functions and tell
    it where its templates' __shared__ variables are."""
    library.gpudl_emu_profile_begin.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
    library.gpudl_emu_profile_begin.restype = None
    library.gpudl_emu_profile_end.argtypes, library.gpudl_emu_profile_end.restype = [], ctypes.c_size_t
    library.gpudl_emu_profile_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    library.gpudl_emu_profile_read.restype = None
    library.gpudl_emu_profile_template_shared.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
    library.gpudl_emu_profile_template_shared.restype = None
    spans = [value for span in _local_statics(path) for value in span]
    library.gpudl_emu_profile_template_shared(_uint64s(spans), len(spans) // 2)


def _local_statics(path):
    """(offset, size) of the writable function-local statics of a library (symbols _ZZ...: in a
    kernel's translation unit, its __shared__ variables), from binutils' nm; none without nm."""
    tool = _binutils("nm")
    if tool is None:
        return []
    try:
        out = subprocess.run([tool, "--defined-only", "-S", str(path)], capture_output=True, text=True).stdout
    except OSError:
        return []
    rows = (line.split() for line in out.splitlines())  # address size type name
    return [(int(r[0], 16), int(r[1], 16)) for r in rows
            if len(r) == 4 and r[2] in "bBdD" and r[3].startswith("_ZZ")]


def record(kernel, grid, block, args, run):
    """Run one launch of the emu `kernel` on its profiling build (`run(twin)`) and add its accesses."""
    twin = kernel.profiling_twin()
    library = twin.module.library
    ranges, count = _ranges(kernel.params, args)
    with twin.module._lock:  # one launch at a time records into the library's profiler
        library.gpudl_emu_profile_begin(ranges, count)
        try:
            run(twin)
        finally:
            rows = np.zeros((library.gpudl_emu_profile_end(), len(_ROW)), np.uint64)
            sectors = np.zeros(2, np.uint64)
            library.gpudl_emu_profile_read(rows.ctypes.data, sectors.ctypes.data)
    _active._add(kernel.name, str(twin.module.path), rows, sectors, _active._flops(kernel.name, grid, block, args))


def _binutils(tool):
    """The path of a binutils program (addr2line, nm), or None."""
    found = shutil.which(tool)
    if found:
        return found
    from .build import compiler
    try:
        prog = subprocess.run([compiler()[0], f"-print-prog-name={tool}"], capture_output=True, text=True)
    except OSError:
        return None
    name = prog.stdout.strip()
    return shutil.which(name) if name else None


def _pick_frame(frames):
    """(function, file, line) of the innermost frame outside the emu's own headers."""
    for frame in frames:
        if Path(frame[1]).name not in _HEADERS:
            return frame
    return frames[0] if frames else ("?", "?", 0)


def _parse_addr2line(text):
    """{offset: [(function, file, line), ...]} from `addr2line -a -f -i` output, innermost first."""
    out, frames, lines = {}, None, text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("0x"):
            frames = out.setdefault(int(lines[i], 16) + 1, [])
            i += 1
            continue
        function, place = lines[i], lines[i + 1] if i + 1 < len(lines) else "??:0"
        file, _, line = place.split(" (")[0].rpartition(":")
        frames.append((function, file, int(line) if line.isdigit() else 0))
        i += 2
    return out


def resolve_lines(library, offsets):
    """{offset: (function, file, line)} for return addresses in a -g library (one addr2line run)."""
    tool = _binutils("addr2line")
    if tool is None or not offsets:
        return {o: ("?", "?", 0) for o in offsets}
    cmd = [tool, "-a", "-f", "-i", "-C", "-e", library, *(hex(o - 1) for o in offsets)]
    try:
        frames = _parse_addr2line(subprocess.run(cmd, capture_output=True, text=True).stdout)
    except OSError:
        frames = {}
    return {o: _pick_frame(frames.get(o, [])) for o in offsets}


def _gpu(gpu):
    """{'label', 'flops', 'bandwidth'} for a board name of gpudl/gpu_peaks.py or a dict of peaks."""
    if isinstance(gpu, dict):
        missing = {"flops", "bandwidth"} - set(gpu)
        if missing:
            raise ValueError(f"gd.kernels.profile: gpu peaks need 'flops' and 'bandwidth', missing {sorted(missing)}")
        return {"label": gpu.get("label", "custom GPU"), **gpu}
    found = gpu_peaks.lookup(gpu) if isinstance(gpu, str) else None
    if found is None:
        raise ValueError(f"gd.kernels.profile: unknown GPU {gpu!r}; known: {', '.join(gpu_peaks.labels())} "
                         "(or pass {'flops': FLOP/s, 'bandwidth': bytes/s})")
    return found


def _ratio(num, den, empty):
    return num / den if den else empty


class MemoryProfile:
    """What one `profile()` block recorded, per kernel name."""

    def __init__(self, gpu="H100", flops=None):
        self.gpu = _gpu(gpu)
        if flops is not None and not isinstance(flops, dict):
            raise TypeError(f"gd.kernels.profile: flops must be a dict {{kernel name: FLOPs per launch or "
                            f"callable(grid, block, args)}}, got {type(flops).__name__}")
        self._declared = dict(flops or {})
        self._kernels = {}
        self._lines = {}

    @property
    def kernels(self):
        """The names of the kernels launched (on emu) inside the block, in first-launch order."""
        return tuple(self._kernels)

    def _flops(self, name, grid, block, args):
        declared = self._declared.get(name)
        if declared is None:
            return None
        return int(declared(grid, block, args) if callable(declared) else declared)

    def _add(self, name, library, rows, sectors, flops):
        k = self._kernels.setdefault(name, _Kernel())
        k.launches += 1
        k.sectors_read += int(sectors[0])
        k.sectors_written += int(sectors[1])
        if flops is not None:
            k.flops = (k.flops or 0) + flops
        for values in rows.tolist():
            row = dict(zip(_ROW, values))
            key = (library, row["offset"], bool(row["shared"]), bool(row["write"]))
            if key not in k.instructions:
                k.instructions[key] = _Instruction(*key)
            k.instructions[key].add(row)

    def _kernel(self, name):
        if name not in self._kernels:
            raise KeyError(f"gd.kernels.profile: kernel {name!r} was not launched on emu inside the block; "
                           f"profiled: {', '.join(self._kernels) or 'none'}")
        return self._kernels[name]

    def _where(self, ins):
        """(function, file, line) of an instruction (addr2line, once per library and report)."""
        key = (ins.library, ins.offset)
        if key not in self._lines:
            pending = sorted({i.offset for k in self._kernels.values() for i in k.instructions.values()
                              if i.library == ins.library and (ins.library, i.offset) not in self._lines})
            for offset, frame in resolve_lines(ins.library, pending).items():
                self._lines[(ins.library, offset)] = frame
        return self._lines[key]

    def stats(self, kernel, gpu=None):
        """The totals of every profiled launch of `kernel` as a dict (see the module docstring):
        requests, sectors per request (mean over global loads and stores), global efficiency
        (ideal / actual sectors, 0-1), the worst bank conflict (1 = none), extra wavefronts,
        bytes, FLOPs, arithmetic intensity and the roofline times on `gpu` (default: the profile's)."""
        k = self._kernel(kernel)
        peaks = self.gpu if gpu is None else _gpu(gpu)
        glob = [i for i in k.instructions.values() if not i.shared]
        shared = [i for i in k.instructions.values() if i.shared]
        requests = sum(i.requests for i in glob)
        sectors, ideal = sum(i.units for i in glob), sum(i.ideal for i in glob)
        bytes_read, bytes_written = SECTOR * k.sectors_read, SECTOR * k.sectors_written
        dram = bytes_read + bytes_written
        compute = k.flops / peaks["flops"] if k.flops and peaks["flops"] else 0.0
        return {
            "launches": k.launches,
            "global_load_requests": sum(i.requests for i in glob if not i.write),
            "global_store_requests": sum(i.requests for i in glob if i.write),
            "global_load_sectors": sum(i.units for i in glob if not i.write),
            "global_store_sectors": sum(i.units for i in glob if i.write),
            "sectors_per_request": _ratio(sectors, requests, 0.0),
            "ideal_sectors_per_request": _ratio(ideal, requests, 0.0),
            "global_efficiency": _ratio(ideal, sectors, 1.0),
            "shared_load_requests": sum(i.requests for i in shared if not i.write),
            "shared_store_requests": sum(i.requests for i in shared if i.write),
            "shared_wavefronts": sum(i.units for i in shared),
            "shared_extra_wavefronts": sum(i.units - i.ideal for i in shared),
            "bank_conflict_ways": max((i.worst_ways for i in shared), default=1),
            "bytes_read": bytes_read,
            "bytes_written": bytes_written,
            "sector_bytes": SECTOR * sectors,
            "flops": k.flops,
            "arithmetic_intensity": _ratio(k.flops, dram, None) if k.flops is not None else None,
            "gpu": peaks["label"],
            "predicted_seconds": max(dram / peaks["bandwidth"], compute),
            "predicted_seconds_uncached": max(SECTOR * sectors / peaks["bandwidth"], compute),
        }

    def instructions(self, kernel):
        """One dict per load / store instruction of `kernel`: its .cu line, space ('global' /
        'shared'), kind ('load' / 'store'), requests, mean active lanes, sectors (global) or
        wavefronts (shared) per request and their ideal, efficiency (ideal / actual), the worst
        n-way bank conflict and the extra wavefronts; the most wasteful first."""
        out = []
        for ins in self._kernel(kernel).instructions.values():
            function, file, line = self._where(ins)
            out.append({
                "where": f"{Path(file).name}:{line}", "file": file, "line": line, "function": function,
                "space": "shared" if ins.shared else "global", "kind": "store" if ins.write else "load",
                "requests": ins.requests, "lanes_per_request": ins.lanes / ins.requests,
                "units_per_request": ins.units / ins.requests, "ideal_per_request": ins.ideal / ins.requests,
                "efficiency": _ratio(ins.ideal, ins.units, 1.0),
                "bank_conflict_ways": ins.worst_ways if ins.shared else None,
                "extra_wavefronts": ins.units - ins.ideal if ins.shared else None,
                "wasted": ins.units - ins.ideal,
            })
        return sorted(out, key=lambda r: (-r["wasted"], r["file"], r["line"]))

    def report(self, gpu=None, worst=3):
        """A readable summary per kernel, with the .cu lines of its `worst` accesses."""
        return "\n\n".join(self._report(name, gpu, worst) for name in self._kernels) or "no emu launches profiled"

    def _report(self, name, gpu, worst):
        s = self.stats(name, gpu)
        lines = [f"kernel {name}: {s['launches']} launch(es)"]
        for kind in ("load", "store"):
            rows = [i for i in self.instructions(name) if i["space"] == "global" and i["kind"] == kind]
            if rows:
                req = sum(r["requests"] for r in rows)
                sec = sum(r["units_per_request"] * r["requests"] for r in rows)
                ideal = sum(r["ideal_per_request"] * r["requests"] for r in rows)
                lines.append(f"  {f'global {kind}s:':<14} {req} requests, {sec / req:.1f} sectors/request "
                             f"(ideal {ideal / req:.1f}), efficiency {100 * _ratio(ideal, sec, 1.0):.1f} %")
        if s["shared_load_requests"] or s["shared_store_requests"]:
            lines.append(f"  {'shared:':<14} {s['shared_load_requests']} load and {s['shared_store_requests']} store "
                         f"requests, worst bank conflict {s['bank_conflict_ways']}-way, "
                         f"{s['shared_extra_wavefronts']} extra wavefronts")
        lines.append(f"  DRAM (distinct sectors): {s['bytes_read']} bytes read, {s['bytes_written']} written; "
                     f"sectors requested: {s['sector_bytes']} bytes")
        if s["flops"] is not None:
            lines.append(f"  FLOPs: {s['flops']}, arithmetic intensity {s['arithmetic_intensity'] or 0:.3f} FLOP/byte")
        lines.append(f"  roofline on {s['gpu']}: {1e6 * s['predicted_seconds']:.3f} us "
                     f"({1e6 * s['predicted_seconds_uncached']:.3f} us if every requested sector came from DRAM)")
        bad = [r for r in self.instructions(name) if r["wasted"] > 0][:worst]
        if bad:
            lines.append("  worst accesses:")
        for r in bad:
            if r["space"] == "global":
                what = (f"{r['units_per_request']:.1f} sectors/request (ideal {r['ideal_per_request']:.1f}), "
                        f"efficiency {100 * r['efficiency']:.1f} %")
            else:
                what = f"{r['bank_conflict_ways']}-way bank conflict, {r['extra_wavefronts']} extra wavefronts"
            lines.append(f"    {r['where']:<24} {r['space']} {r['kind']:<5} {what}  (in {r['function']})")
        return "\n".join(lines)


@contextlib.contextmanager
def profile(gpu="H100", flops=None):
    """Record the memory accesses of every emu launch inside the block (blocks do not nest).

    gpu: the board of the roofline prediction ('T4', 'A100', 'H100', 'H200', ... or a dict
    {'flops': FLOP/s, 'bandwidth': bytes/s}); flops: {kernel name: FLOPs per launch, or
    callable(grid, block, args) -> FLOPs}. Launches on cuda are not seen."""
    global _active
    if _active is not None:
        raise RuntimeError("gd.kernels.profile: a memory profile is already being recorded (blocks do not nest)")
    prof = _active = MemoryProfile(gpu, flops)
    try:
        yield prof
    finally:
        _active = None
