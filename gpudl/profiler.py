"""Where does my step's time go?  Count kernel launches, host syncs and per-Function host time.

    with gd.profiler.profile() as prof:
        step()
    prof.launches        # kernel launches (int)
    prof.syncs           # host synchronisations: item(), numpy(), to('cpu'), printing a value (int)
    prof.uploads         # host-to-device copies (Device.asarray of host data on cuda / emu) (int)
    prof.by_kernel()     # {kernel name: calls}
    print(prof.table())  # kernel, calls, total time; then each Function's host time

Kernel time is device time on `cuda` (a pair of CUDA events around each launch, read when
the block ends) and wall time of the launch on `emu`.  On `emu` the launches are exactly the
ones the same step makes on `cuda`: both run the same wrappers.  On `cpu` no kernels run
(NumPy does the work) and only the host time per Function is recorded.
"""
import collections
import contextlib
import time

from .capture import forbid

_current = None  # the Profile being recorded, or None (checked on every launch: keep it cheap)


class Profile:
    """What one `profile()` block recorded."""

    def __init__(self):
        self.kernel_events = []           # (kernel, grid, block, seconds or (start, end) CUDA events)
        self.sync_events = []             # (what, shape)
        self.upload_events = []           # (what, bytes)
        self.function_seconds = collections.defaultdict(float)
        self.function_calls = collections.Counter()

    launches = property(lambda self: len(self.kernel_events))
    syncs = property(lambda self: len(self.sync_events))
    uploads = property(lambda self: len(self.upload_events))

    def by_kernel(self):
        """{kernel name: number of launches}, most launched first."""
        return dict(collections.Counter(name for name, *_ in self.kernel_events).most_common())

    def kernel_seconds(self):
        """{kernel name: total kernel time in seconds}."""
        total = collections.defaultdict(float)
        for name, _, _, timing in self.kernel_events:
            total[name] += _seconds(timing)
        return dict(total)

    def table(self):
        """A readable table: kernels (calls, total ms), then Functions (calls, host ms), then syncs."""
        seconds = self.kernel_seconds()
        lines = [f"{'kernel':<40} {'calls':>6} {'total ms':>10}"]
        lines += [f"{name:<40} {calls:>6} {1e3 * seconds[name]:>10.3f}" for name, calls in self.by_kernel().items()]
        lines.append(f"{'(all kernels)':<40} {self.launches:>6} {1e3 * sum(seconds.values()):>10.3f}")
        lines.append("")
        lines.append(f"{'Function (host time, incl. launches)':<40} {'calls':>6} {'total ms':>10}")
        for name, s in sorted(self.function_seconds.items(), key=lambda kv: -kv[1]):
            lines.append(f"{name:<40} {self.function_calls[name]:>6} {1e3 * s:>10.3f}")
        lines.append("")
        lines.append(f"host syncs: {self.syncs}" + "".join(f"\n  {what} {shape}" for what, shape in self.sync_events))
        lines.append(f"host-to-device copies: {self.uploads}"
                     + "".join(f"\n  {what} {nbytes} bytes" for what, nbytes in self.upload_events))
        return "\n".join(lines)


def _seconds(timing):
    if isinstance(timing, tuple):  # CUDA events, synchronised when the block ended
        import cupy
        return cupy.cuda.get_elapsed_time(*timing) / 1e3
    return timing


@contextlib.contextmanager
def profile():
    """Record every launch, sync and Function inside the block (blocks do not nest)."""
    global _current
    if _current is not None:
        raise RuntimeError("profiler.profile: a profile is already being recorded")
    prof = _current = Profile()
    try:
        yield prof
    finally:
        _current = None
        for _, _, _, timing in prof.kernel_events:
            if isinstance(timing, tuple):
                timing[1].synchronize()


def recording():
    return _current is not None


def launch(device, kernel, grid, block, call):
    """Run `call()` (one kernel launch) and record it with its time."""
    if device.type == "cuda":
        import cupy
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        call()
        end.record()
        _current.kernel_events.append((kernel, tuple(grid), tuple(block), (start, end)))
        return
    t0 = time.perf_counter()
    call()
    _current.kernel_events.append((kernel, tuple(grid), tuple(block), time.perf_counter() - t0))


def sync(what, shape):
    """Note a host synchronisation (a device value read back by the host); not allowed under gd.capture."""
    forbid(f"{what} of a tensor of shape {tuple(shape)}", "a host synchronisation reads the device "
           "while the step is recorded, and a replay would not repeat it; return the tensor from the step "
           "and read it after the call")
    if _current is not None:
        _current.sync_events.append((what, tuple(shape)))


def function(name, seconds):
    _current.function_seconds[name] += seconds
    _current.function_calls[name] += 1


def upload(what, nbytes):
    """Note a host-to-device copy (recorded only inside a profile)."""
    if _current is not None:
        _current.upload_events.append((what, int(nbytes)))
