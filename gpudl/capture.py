"""`gd.capture(fn)`: record a whole training step once and replay it, without Python, each call.

    step = gd.capture(train_step)        # train_step(x, y) -> loss (a Tensor or tuple of Tensors)
    for x, y in loader:
        loss = step(x, y)                # one training step per call, like train_step(x, y)

Every op of a step on cuda / emu is a gpudl kernel launch (gpudl/gpu/loader.py `launch`), and
every value that changes from step to step lives in device memory (the optimizers' step count
and lr, the Philox offset behind dropout, BatchNorm's running statistics).  So the step is a
fixed list of launches over fixed arrays, which is what a CUDA graph is:

    call 1      warm-up: runs fn eagerly (compiles kernels, makes optimizer state, fills caches)
    call 2      capture: copies the inputs into static input buffers and runs fn on them while
                recording; the step happens too (emu: the launches run while recorded; cuda: the
                graph is launched once right after the capture)
    call 3...   copies the inputs into the static buffers (kernel copies) and replays

The outputs are static Tensors that each replay overwrites: `.clone()` or `.numpy()` the value
to keep it.  On emu the recording is the list of launches (their argument arrays are the graph's
memory); on cuda it is a CuPy stream capture on a non-blocking stream, and every array allocated
while capturing is kept alive with the graph.

What cannot be replayed raises `CaptureError` naming the op and the rule, inside the capture:
a host synchronisation (item(), numpy(), float(t), printing, to('cpu')), a host-to-device copy
(`Device.asarray`), a cuBLAS matmul (GPUDL_MATMUL=cublas), an optimizer's one-time setup or lr
write, and a kernel argument passed by value that differs between the warm-up and the capture
(it would be frozen).  A later call with other input shapes or dtypes raises too, unless
`shapes="recapture"`: then each input signature (e.g. the partial last batch) gets its own
warm-up and graph.  Before each capture and replay the registered optimizers write their lr
to the device when it changed, so a scheduler's `step()` between calls takes effect.
"""
import contextlib
import weakref

import numpy as np

SHAPES = ("error", "recapture")
FROZEN = "it would be frozen in a CUDA graph; keep changing values in device memory"

_active = None                   # the _Recording of the step running under capture, or None
_optimizers = weakref.WeakSet()  # what writes a changed lr before every capture and replay


class CaptureError(RuntimeError):
    """A step does something a captured graph cannot replay."""


class _Recording:
    """What the launches of one step under `gd.capture` leave: each kernel's name and by-value
    arguments (the frozen-argument check); while capturing also the launches themselves (emu's
    graph) and the arrays allocated (cuda's graph memory)."""

    def __init__(self, capturing):
        self.capturing = capturing
        self.signature = []  # (kernel, ((position, value), ...)) per launch outside setup
        self.launches = []   # (function, grid, block, args, shared_mem) while capturing
        self.arrays = []     # arrays allocated while capturing
        self.setup = 0       # depth of `setup` blocks: their launches are not compared


def register(optimizer):
    """Have gd.capture call `optimizer.write_lr()` before every capture and replay."""
    _optimizers.add(optimizer)


def note_launch(kernel, fn, grid, block, args, shared_mem):
    """Called by loader.launch for every launch (a no-op unless a step runs under gd.capture)."""
    if _active is None:
        return
    if not _active.setup:
        scalars = tuple((i, a) for i, a in enumerate(args) if isinstance(a, (np.generic, int, float)))
        _active.signature.append((kernel, scalars))
    if _active.capturing:
        _active.launches.append((fn, grid, block, args, shared_mem))


def keep(array):
    """Called by loader.empty: an array allocated while capturing lives as long as the graph."""
    if _active is not None and _active.capturing:
        _active.arrays.append(array)
    return array


def forbid(op, rule):
    """CaptureError naming `op` and the `rule` it breaks, when a capture is recording."""
    if _active is not None and _active.capturing:
        raise CaptureError(f"{op} inside gd.capture: {rule}")


@contextlib.contextmanager
def setup(what):
    """A one-time write (an optimizer's buffers, its lr): run eagerly, not compared between the
    warm-up and the capture; inside a capture it raises, as a replay would repeat or freeze it."""
    forbid(what, "one-time setup would be repeated by every replay; change it between calls "
                 "(gd.capture writes a changed lr before each replay)")
    if _active is not None:
        _active.setup += 1
    try:
        yield
    finally:
        if _active is not None:
            _active.setup -= 1


@contextlib.contextmanager
def _recording(capturing):
    """Make a _Recording the active one for the block."""
    global _active
    if _active is not None:
        raise CaptureError("gd.capture: captured steps do not nest")
    rec = _active = _Recording(capturing)
    try:
        yield rec
    finally:
        _active = None


def _write_lrs():
    for optimizer in list(_optimizers):
        optimizer.write_lr()


def _check_frozen(warm, captured):
    """CaptureError unless the capture launched the warm-up's kernels with the same by-value arguments."""
    if len(warm) != len(captured):
        raise CaptureError(f"gd.capture: the warm-up step made {len(warm)} kernel launches and the captured step "
                           f"{len(captured)}: the step must launch the same kernels every call")
    for j, ((k1, s1), (k2, s2)) in enumerate(zip(warm, captured)):
        if k1 != k2:
            raise CaptureError(f"gd.capture: launch #{j} is kernel {k1} in the warm-up step but {k2} in the "
                               "captured step: the step must launch the same kernels every call")
        for (i, a), (_, b) in zip(s1, s2):
            if a != b:
                raise CaptureError(f"kernel {k1} argument #{i} changed between steps ({a} vs {b}): {FROZEN}")


def _signature(inputs):
    return tuple((x.shape, str(x.dtype)) for x in inputs)


def _describe(signature):
    return ", ".join(f"{shape} {dtype}" for shape, dtype in signature)


def _outputs(result):
    """fn's result checked: a Tensor or a tuple of Tensors."""
    from .tensor import Tensor  # (tensor -> profiler -> capture: imported when used)
    if not all(isinstance(t, Tensor) for t in (result if isinstance(result, tuple) else (result,))):
        raise TypeError(f"gd.capture: fn must return a Tensor or a tuple of Tensors, got {type(result).__name__}")
    return result


class _Graph:
    """One captured step: static input Tensors, the outputs, and the recorded launches (emu) or
    the CUDA graph and its stream (cuda)."""

    def __init__(self, fn, inputs, warm_signature):
        from .tensor import Tensor
        device = inputs[0].device
        self.device, self.kernels = device, device.kernels
        with device.activate():
            self.inputs = [Tensor._wrap(self.kernels.copy(x.data), device, x.requires_grad) for x in inputs]
        _write_lrs()
        capture = self._capture_cuda if device.type == "cuda" else self._capture_emu
        rec = capture(fn)
        _check_frozen(warm_signature, rec.signature)
        self.launches, self.arrays = rec.launches, rec.arrays

    def _capture_emu(self, fn):
        """Run fn on the static inputs, recording each launch as it runs."""
        with _recording(capturing=True) as rec:
            self.outputs = _outputs(fn(*self.inputs))
        return rec

    def _capture_cuda(self, fn):
        """Stream-capture fn on a non-blocking stream (ended cleanly on an error), then launch it once."""
        cupy = self.device.xp
        with self.device.activate():
            self.stream = cupy.cuda.Stream(non_blocking=True)
            self.stream.wait_event(cupy.cuda.get_current_stream().record())  # after the input copies
            with _recording(capturing=True) as rec, self.stream:
                self.stream.begin_capture()
                try:
                    self.outputs = _outputs(fn(*self.inputs))
                except Exception as e:
                    with contextlib.suppress(Exception):  # an invalidated capture may fail to end
                        self.stream.end_capture()
                    if isinstance(e, CaptureError):
                        raise
                    last = rec.signature[-1][0] if rec.signature else "none yet"
                    raise CaptureError(f"gd.capture: {type(e).__name__} while capturing (last kernel recorded: "
                                       f"{last}): {e}") from e
                self.graph = self.stream.end_capture()
            self._launch_cuda()
        return rec

    def _launch_cuda(self):
        """Launch the graph on its stream, ordered after and before the current stream's work."""
        current = self.device.xp.cuda.get_current_stream()
        self.stream.wait_event(current.record())
        self.graph.launch(self.stream)
        current.wait_event(self.stream.record())

    def replay(self, inputs):
        """Copy `inputs` into the static buffers, write changed lrs, run the step; the outputs."""
        with self.device.activate():
            for x, static in zip(inputs, self.inputs):
                self.kernels.copy(x.data, out=static.data)
            _write_lrs()
            if self.device.type == "cuda":
                self._launch_cuda()
                return self.outputs
            for fn, grid, block, args, shared_mem in self.launches:
                fn(grid, block, args, shared_mem=shared_mem)
        return self.outputs


class Captured:
    """The callable `gd.capture` returns: warm-up, capture, then replays, per input signature."""

    def __init__(self, fn, shapes="error"):
        if shapes not in SHAPES:
            raise ValueError(f"gd.capture: shapes must be one of {', '.join(map(repr, SHAPES))}, got {shapes!r}")
        self.fn, self.shapes = fn, shapes
        self.first = None  # the first input signature (with shapes="error" the only one)
        self.warm = {}     # input signature -> the launch signature of its warm-up
        self.graphs = {}   # input signature -> _Graph

    def __call__(self, *inputs):
        self._check_inputs(inputs)
        key = _signature(inputs)
        graph = self.graphs.get(key)
        if graph is not None:
            return graph.replay(inputs)
        self.first = self.first or key
        if key != self.first and self.shapes == "error":
            raise CaptureError(f"gd.capture: inputs {_describe(key)} differ from the first call's {_describe(self.first)}; "
                               "pass shapes='recapture' to capture one graph per input signature")
        if key in self.warm:
            self.graphs[key] = graph = _Graph(self.fn, inputs, self.warm.pop(key))
            return graph.outputs
        with _recording(capturing=False) as rec:
            outputs = _outputs(self.fn(*inputs))
        self.warm[key] = rec.signature
        return outputs

    def _check_inputs(self, inputs):
        """TypeError unless Tensors on one kernel device; RuntimeError on cpu."""
        from .tensor import Tensor
        if not inputs or not all(isinstance(x, Tensor) for x in inputs):
            raise TypeError("gd.capture: the step takes one or more Tensors (the batch)")
        device = inputs[0].device
        if not device.uses_kernels:
            raise RuntimeError(f"gd.capture: capture needs a kernel device: cuda or emu (the inputs are on {device})")
        if any(x.device != device for x in inputs):
            raise RuntimeError(f"gd.capture: inputs are on different devices: {[str(x.device) for x in inputs]}")


def capture(fn, shapes="error"):
    """`fn(*tensors)` as a captured step: call 1 runs it, call 2 captures it, later calls replay it
    (each call one step); see the module docstring."""
    return Captured(fn, shapes)
