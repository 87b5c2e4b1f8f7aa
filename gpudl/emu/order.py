"""The order in which the emulator runs the threads of a block (and the blocks of a grid).

'forward' runs thread 0, 1, 2, ... up to each barrier; 'reverse' runs them last to first.
A kernel whose result depends on the order is missing a __syncthreads() (or a *_sync):
on a GPU the order is unspecified, so run the tests in both.
The default comes from $GPUDL_EMU_ORDER (forward when unset).
"""
import contextlib
import os

ORDERS = ("forward", "reverse")
_order = None


def _check(order, source):
    if order not in ORDERS:
        raise ValueError(f"{source} must be 'forward' or 'reverse', got {order!r}")
    return order


def current_order():
    """The thread order the next launch uses: set_thread_order's, else $GPUDL_EMU_ORDER's."""
    if _order is not None:
        return _order
    return _check(os.environ.get("GPUDL_EMU_ORDER", "").strip().lower() or "forward", "GPUDL_EMU_ORDER")


def set_thread_order(order):
    """Set the thread order for all later launches; None goes back to $GPUDL_EMU_ORDER."""
    global _order
    _order = None if order is None else _check(order, "thread order")


@contextlib.contextmanager
def thread_order(order):
    """`with thread_order('reverse'):` runs the launches inside with that order."""
    global _order
    previous = _order
    set_thread_order(order)
    try:
        yield
    finally:
        _order = previous
