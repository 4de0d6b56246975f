"""Where a sweep's chunks are evaluated off the calling thread: worker processes on this machine
(:func:`_pool_results`) and a ``dask.distributed`` cluster (:func:`_dask_workers`), for
:mod:`simulator.sweeps`.

Worker processes die with the process that started them, whatever ends it (SIGKILL included): on
Linux the kernel kills them (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), and everywhere a daemon thread
in each worker polls its parent every :data:`PARENT_POLL_S` seconds and ends the worker when the
parent is gone. Workers that cannot be started (``fork`` fails) or that die are one SimulatorError;
the workers already running are then killed, never waited for. A cluster without workers is a
SimulatorError after :data:`DASK_WORKER_WAIT_S` seconds.

Forked workers hand their chunk's columns back through shared memory (:class:`_Slots`): the parent
maps one anonymous shared block per chunk in flight (``2 · workers``) before the pool forks, each
worker writes a chunk's arrays into the block the parent named and returns only their offsets, and
the parent frames the chunk from the block (or copies it out) and frees the block for the next chunk.
Nothing then pickles or pipes a chunk's arrays (about 40 columns of 16,384 rows, 5 MiB a chunk; in a
1,056,000-configuration ResNet-50 sweep the parent's CPU went from 0.36 to 0.24 s and the workers'
share in the arithmetic from 84% to 92%).
The blocks have no name (``mmap(-1, ...)``, ``MAP_SHARED``): nothing is created in ``/dev/shm`` and
nothing is left behind whatever ends the sweep, SIGKILL included; the parent unmaps them when the
sweep ends. Where they cannot be mapped, where workers are not forked (spawn, forkserver), or for a
chunk that does not fit its block (object columns: counts past 2**63 - 1), the columns are pickled
through the pool's pipe as before; the rows are the same either way. On glibc a worker keeps the
memory it frees for its next chunk (:func:`_keep_freed_memory`) instead of faulting it in again.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from simulator.errors import SimulatorError


def _ordered(submit: Callable, units: Iterable[Any], window: int) -> Iterator:
    """Results of ``submit(unit)`` in order, with at most ``window`` submitted and not yet taken."""
    pending: deque = deque()
    for unit in units:
        pending.append(submit(unit))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


_WORKER: dict = {}  # in a worker process: the plan, and workloads by (plan, shape, device)
#: the plan a forked worker inherits (set while a pool starts, in the parent): not pickled to each worker
_INHERITED: dict = {}
#: Seconds between a worker's checks that its parent is alive (the fallback to PR_SET_PDEATHSIG).
PARENT_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
#: glibc's mallopt parameters (<malloc.h>) and the values a worker sets: arrays up to 32 MiB (glibc's
#: largest mmap threshold on 64-bit) come from the heap, and up to 256 MiB of freed heap is kept
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
WORKER_MMAP_THRESHOLD_BYTES, WORKER_TRIM_THRESHOLD_BYTES = 32 << 20, 256 << 20


def _pool_results(plan: Any, units: Iterable[Any], workers: int, views: bool = False,
                  rows: int = 0) -> Iterator[dict]:
    """``plan.compute_part(unit)`` of each unit of a :class:`simulator.sweeps.SweepPlan`, in order,
    evaluated by ``workers`` processes on this machine (forked ones inherit the plan, others unpickle
    it once), at most ``2 · workers`` units submitted and not yet taken; ``rows``: the most rows a unit
    has (a block's size; 0: no blocks). Forked workers return the
    columns through shared blocks (:class:`_Slots`), others through the pipe; with ``views`` a part's
    arrays are views of its block, valid until the next part is asked for (the block is then written
    again), else copies. The workers die with
    this process (:func:`_init_worker`). A worker that cannot be started (``fork`` fails: no memory, a
    process limit) or that dies is a SimulatorError; the workers already started are then killed,
    never waited for (they would wait for work forever), and the blocks are unmapped."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    window = 2 * workers
    slots = None
    if multiprocessing.get_start_method() == "fork":  # the workers inherit the plan (and the caches)
        slots = _Slots.create(window, _slot_bytes(plan, rows)) if rows > 0 else None
        _INHERITED["plan"], _INHERITED["slots"], sent = plan, slots, None
    else:  # spawn, forkserver: each worker unpickles it
        sent = pickle.dumps(plan)
    finished, pool = False, None
    try:
        pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(sent, os.getpid()))

        def submit(unit: Any, slot: int | None):
            try:
                return pool.submit(_worker_compute, unit, slot)
            except OSError as error:
                raise SimulatorError(f"cannot start {workers} worker processes: {error.strerror or error}; "
                                     "run with fewer workers (--workers 1 evaluates here)") from None

        free = deque(range(window) if slots is not None else ())
        pending: deque = deque()

        def take() -> Iterator[dict]:
            slot, future = pending.popleft()
            part = future.result()
            if slot is None:
                yield part
                return
            yield slots.unpack(slot, part, copy=not views)
            free.append(slot)  # asked for the next part: this one's views are no longer read

        for unit in units:
            slot = free.popleft() if free else None
            pending.append((slot, submit(unit, slot)))
            if len(pending) >= window:
                yield from take()
        while pending:
            yield from take()
        finished = True
    except BrokenProcessPool:
        raise SimulatorError(f"a sweep worker process ended unexpectedly (killed, or out of memory); "
                             f"run with fewer workers than {workers}, or --workers 1") from None
    finally:
        _INHERITED.pop("plan", None)
        _INHERITED.pop("slots", None)
        if pool is not None:
            if finished:
                pool.shutdown(wait=True)
            else:  # an error, Ctrl-C, SIGTERM or a consumer that stopped early: stop the workers now
                _kill_pool(pool)
        if slots is not None:
            slots.close()


#: Bytes a shared block reserves per array of a chunk beyond its rows' bytes (alignment)
_ALIGN = 64


class _Shared(NamedTuple):
    """An array a worker wrote into its block: where, its dtype and shape."""

    offset: int
    dtype: str
    shape: tuple[int, ...]


def _slot_bytes(plan: Any, rows: int) -> int:
    """The size [bytes] of a block holding the columns of a chunk of ``rows`` rows: rows x 8 bytes (the
    widest item of a numeric column) x its arrays (each column, and a second one for the resolution's
    mask), plus alignment; a chunk that needs more goes through the pipe. Only the pages a worker
    writes take memory."""
    arrays = len(plan.columns) + 2
    return max(1, arrays * (rows * 8 + _ALIGN))


class _Slots:
    """``count`` anonymous shared memory blocks of ``size`` bytes each (``mmap(-1, size)``: MAP_SHARED
    on POSIX, so a forked worker's writes are the parent's), mapped by the parent before the pool
    forks. A worker writes into block ``k`` (:meth:`pack`), the parent reads back (:meth:`unpack`)."""

    def __init__(self, blocks: list):
        self.blocks = blocks

    @classmethod
    def create(cls, count: int, size: int) -> _Slots | None:
        """The blocks, or None where they cannot be mapped (no shared anonymous mapping, no memory)."""
        blocks: list = []
        try:
            for _ in range(count):
                blocks.append(mmap.mmap(-1, size))
        except (OSError, ValueError, OverflowError, TypeError):
            for block in blocks:
                block.close()
            return None
        return cls(blocks)

    def pack(self, slot: int, part: dict) -> dict:
        """``part`` with each numeric array written into block ``slot`` and replaced by its
        :class:`_Shared` place (arrays inside tuples included); ``part`` itself where it does not
        fit or holds an object array (then it goes through the pipe)."""
        block, end = self.blocks[slot], [0]

        def put(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                if value.dtype.hasobject:
                    raise _DoesNotFitError
                start = -(-end[0] // _ALIGN) * _ALIGN
                if start + value.nbytes > len(block):
                    raise _DoesNotFitError
                np.frombuffer(block, value.dtype, value.size, start).reshape(value.shape)[...] = value
                end[0] = start + value.nbytes
                return _Shared(start, value.dtype.str, value.shape)
            if isinstance(value, tuple):
                items = [put(item) for item in value]
                return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
            return value

        try:
            return {"__slot__": {key: put(value) for key, value in part.items()}}
        except _DoesNotFitError:
            return part

    def unpack(self, slot: int, sent: dict, copy: bool = True) -> dict:
        """The part :meth:`pack` wrote into block ``slot``, its arrays copied out (the block may be
        written again at once) or, without ``copy``, views of the block (read them before it is);
        ``sent`` itself where it came through the pipe."""
        if "__slot__" not in sent:
            return sent
        block = self.blocks[slot]

        def get(value: Any) -> Any:
            if isinstance(value, _Shared):
                dtype = np.dtype(value.dtype)
                size = int(np.prod(value.shape, dtype=np.int64))
                array = np.frombuffer(block, dtype, size, value.offset).reshape(value.shape)
                return array.copy() if copy else array
            if isinstance(value, tuple):
                items = [get(item) for item in value]
                return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
            return value

        return {key: get(value) for key, value in sent["__slot__"].items()}

    def close(self) -> None:
        """Unmaps every block (a block whose arrays are still viewed stays mapped until they go)."""
        for block in self.blocks:
            with contextlib.suppress(BufferError, ValueError):
                block.close()
        self.blocks = []


class _DoesNotFitError(Exception):
    """A part that a shared block cannot hold."""


def _kill_pool(pool) -> None:
    """Kills ``pool``'s worker processes and shuts it down without waiting for them."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            process.join(timeout=1)


def _init_worker(plan: bytes | None, parent_pid: int) -> None:
    """A sweep worker's start: it dies with its parent, whatever ends the parent (SIGKILL included):
    on Linux the kernel sends it SIGKILL (``prctl(PR_SET_PDEATHSIG)``), and everywhere a daemon thread
    polls its parent every :data:`PARENT_POLL_S` and ends the process when the parent is gone. SIGTERM
    takes its default action (not the parent's handler, which a fork copies) and Ctrl-C is left to
    the parent, which stops the workers. ``plan``: the pickled plan, or None where the worker was
    forked while the parent held it (:data:`_INHERITED`)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _keep_freed_memory()
    parent = os.getppid()  # parent_pid itself with fork; a fork server's pid with forkserver
    if not _parent_alive(parent, parent_pid):  # the parent ended before the prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, parent_pid), daemon=True,
                     name="sweep-parent-watch").start()
    _WORKER["plan"] = _INHERITED["plan"] if plan is None else pickle.loads(plan)
    _WORKER["slots"] = _INHERITED.get("slots") if plan is None else None


def _keep_freed_memory() -> bool:
    """Has glibc's malloc keep the memory a worker frees for its next chunk (``mallopt``: arrays of up
    to :data:`WORKER_MMAP_THRESHOLD_BYTES` from the heap, freed heap returned to the system only past
    :data:`WORKER_TRIM_THRESHOLD_BYTES`), instead of handing each chunk's arrays back to the system and
    faulting them in again, zeroed, for the next (in a ResNet-50 sweep, about 2,700 page faults a
    chunk, a fifth of a worker's CPU in the kernel). A worker's memory stays at the peak of its
    chunks, which it reaches anyway. The caller's own process is left as it is; nothing happens
    without glibc. Returns whether malloc took both settings."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return all([mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD_BYTES) == 1,
                mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD_BYTES) == 1])


def _parent_alive(parent: int, parent_pid: int) -> bool:
    """Whether this worker's parent (``parent`` when it started) and the sweep's process live on."""
    if os.getppid() != parent:  # re-parented: the parent is gone
        return False
    if parent == parent_pid:
        return True
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's (cannot be ours): alive
        return True
    return True


def _watch_parent(parent: int, parent_pid: int) -> None:
    while _parent_alive(parent, parent_pid):
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _worker_compute(unit: Any, slot: int | None = None) -> dict:
    """``compute_part`` of ``unit``, its arrays written into shared block ``slot`` where given."""
    part = _WORKER["plan"].compute_part(unit, _WORKER)
    slots = _WORKER.get("slots")
    return part if slot is None or slots is None else slots.pack(slot, part)


def _remote_compute(plan: Any, unit: Any) -> dict:
    return plan.compute_part(unit, _WORKER)


#: Seconds a sweep waits for a dask cluster to have a worker before it gives up.
DASK_WORKER_WAIT_S = 10.0


def _dask_workers(client, wait_s: float | None = None) -> int:
    """The number of workers of ``client``'s cluster, waiting up to ``wait_s`` for a first one:
    a cluster without workers is a SimulatorError (scattering to it would fail, submitting would
    wait forever)."""
    try:
        workers = len(client.scheduler_info().get("workers", {}))
    except Exception:  # an unusual client: a modest window
        return 2
    if workers:
        return workers
    wait_s = DASK_WORKER_WAIT_S if wait_s is None else wait_s
    try:
        client.wait_for_workers(1, timeout=wait_s)
    except Exception:  # dask's TimeoutError (asyncio's or its own), or a closed client
        address = getattr(getattr(client, "scheduler", None), "address", None)
        raise SimulatorError(f"the dask scheduler at {address!r} has no workers (waited {wait_s:g} s); start "
                             "some with `dask worker ADDRESS`") from None
    return max(1, len(client.scheduler_info().get("workers", {})))
