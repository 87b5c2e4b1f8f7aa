"""Intra-op parallelism on cpu: one op split into independent pieces, piece i on thread i.

A NumPy loop runs on one core and OpenBLAS threads only the matrix products, so a NumPy
convolution (copies, small products, copies) uses one core most of the time.  An op that is
independent along some axis (the images of a batch, the filters of a weight gradient, the
channels of batch norm) is cut into k contiguous pieces: piece 0 runs in the calling thread,
piece i on worker thread i, with OpenBLAS at one thread meanwhile (k threads each asking for
every core would oversubscribe them).  NumPy releases the GIL inside its loops and BLAS calls,
so the pieces overlap.  Each piece computes what the whole op computes for its slice, so results do
not depend on the thread count: bit for bit, except that BLAS may round the last bits of a product
with fewer columns differently (the convolution's pieces), and that the convolution's weight
gradient adds up per-piece partial products (equal to rounding).

    set_num_threads(k)   threads per op (default: the cores this process may use)
    pieces(count, work, least)   how many pieces to cut `count` items into (1 when the work is small)
    run(tasks)           run tasks[i] on thread i, return their results in order
    over(count, work, piece, least)   piece(lo, hi) for each piece [lo, hi) of range(count), via run

Piece i always runs on the same thread, so per-thread scratch buffers (scratch.py) are reused
from step to step.  An op inside a piece runs serially (no nesting), and so does an op of one
program thread while another program thread's op has the workers.  A forked child starts its own
workers (the parent's threads do not exist there).
"""
import functools
import os
import queue
import threading
import time

from threadpoolctl import ThreadpoolController

from ..checks import integer

__all__ = ["get_num_threads", "set_num_threads"]

MIN_WORK = 1 << 19  # element passes a piece must make (~0.2 ms) to be worth a thread hand-off (~0.1 ms)
ALONE_AFTER_S = 0.2  # products go back to BLAS's own threads once no other op has been cut for this long


def usable_cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_threads = usable_cores()
_workers = []                  # (inbox, outbox) of worker thread i + 1
_local = threading.local()     # .inside: this thread is running a piece
_blas = None                   # threadpoolctl's BLAS libraries, found on first use
_last_cut = float("-inf")      # time.perf_counter() when an op other than products was last cut
_pool = threading.Lock()       # held by the program thread whose op is using the workers


def get_num_threads():
    """Threads one cpu op may use."""
    return _threads


def set_num_threads(threads):
    """Let each cpu op use up to `threads` threads (1: everything serial, as NumPy alone)."""
    global _threads
    _threads = integer("set_num_threads", "threads", threads, 1)


def piece_bounds(count, parts, index):
    """[lo, hi): piece `index` of `count` positions cut into `parts` near-equal contiguous pieces."""
    small, extra = divmod(count, parts)
    lo = index * small + min(index, extra)
    return lo, lo + small + (index < extra)


def pieces(count, work, least=1):
    """How many pieces to cut `count` independent items into (at least `least` items each) when the
    whole op makes `work` element passes."""
    if getattr(_local, "inside", False):
        return 1
    return max(1, min(_threads, count // least, work // MIN_WORK))


def over(count, work, piece, least=1, products=False):
    """[piece(lo, hi) for each contiguous piece [lo, hi) of range(count)], in parallel when `work` is worth it.

    `products`: the op is matrix products, which OpenBLAS threads by itself with faster hand-offs than
    gpudl's threads, or an optimizer update.  It runs whole, BLAS free to thread, unless some other op
    was cut within the last ALONE_AFTER_S seconds: after a threaded product OpenBLAS's idle threads spin
    for ~0.1 s on the cores gpudl's pieces need (a pooling region measured 3.1 ms alone, 4.9 ms then).
    So an MLP's products thread as in plain NumPy, and a convolutional net's are cut like the rest."""
    global _last_cut
    if products and time.perf_counter() - _last_cut > ALONE_AFTER_S and not getattr(_local, "inside", False):
        return [piece(0, count)]
    k = pieces(count, work, least)
    if k > 1 and not products:
        _last_cut = time.perf_counter()
    return run([functools.partial(piece, *piece_bounds(count, k, i)) for i in range(k)])


def _forget_workers():
    """In a forked child: the workers were the parent's threads, so start afresh."""
    global _pool
    _workers.clear()
    _pool = threading.Lock()
    _local.inside = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _serve(inbox, outbox):
    _local.inside = True
    while True:
        task = inbox.get()
        try:
            outbox.put((True, task()))
        except BaseException as error:  # handed to the caller, which re-raises it
            outbox.put((False, error))


def _worker(i):
    while len(_workers) < i:
        inbox, outbox = queue.SimpleQueue(), queue.SimpleQueue()
        threading.Thread(target=_serve, args=(inbox, outbox), name=f"gpudl-cpu-{len(_workers) + 1}",
                         daemon=True).start()
        _workers.append((inbox, outbox))
    return _workers[i - 1]


def _blas_libraries():
    global _blas
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


def run(tasks):
    """[tasks[0](), tasks[1](), ...]: task i on thread i (0 is the caller), BLAS at one thread meanwhile:
    OpenBLAS's own threads spin for a while after each threaded product, on the cores gpudl's threads
    need, so gpudl never lets them start."""
    if getattr(_local, "inside", False) or not _pool.acquire(blocking=False):
        return [task() for task in tasks]  # inside a piece, or another thread of the program has the pool
    blas = _blas_libraries()
    before = [lib.get_num_threads() for lib in blas]
    for lib in blas:
        lib.set_num_threads(1)
    _local.inside = True
    sent = received = 0  # tasks handed to workers, results taken back
    try:
        for i, task in enumerate(tasks[1:], 1):
            _worker(i)[0].put(task)
            sent = i
        results, failure = [], None
        try:
            results.append(tasks[0]())
        except BaseException as error:
            failure = error
        for i in range(1, len(tasks)):
            ok, value = _worker(i)[1].get()
            received = i
            results.append(value)
            failure = failure or (None if ok else value)
        if failure is not None:
            raise failure
        return results
    finally:
        if received < sent:  # interrupted (Ctrl-C) while pieces ran: their late results must reach no other op
            _workers.clear()
        _local.inside = False
        for lib, threads in zip(blas, before):
            lib.set_num_threads(threads)
        _pool.release()
