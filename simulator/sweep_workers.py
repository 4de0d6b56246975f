"""Where a sweep's chunks are evaluated off the calling thread: worker processes on this machine
(:func:`_pool_results`) and a ``dask.distributed`` cluster (:func:`_dask_workers`), for
:mod:`simulator.sweeps`.

Worker processes die with the process that started them, whatever ends it (SIGKILL included): on
Linux the kernel kills them (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), and everywhere a daemon thread
in each worker polls its parent every :data:`PARENT_POLL_S` seconds and ends the worker when the
parent is gone. Workers that cannot be started (``fork`` fails) or that die are one SimulatorError;
the workers already running are then killed, never waited for. A cluster without workers is a
SimulatorError after :data:`DASK_WORKER_WAIT_S` seconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

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


def _pool_results(plan: Any, units: Iterable[Any], workers: int) -> Iterator[dict]:
    """``plan.compute_part(unit)`` of each unit of a :class:`simulator.sweeps.SweepPlan`, in order,
    evaluated by ``workers`` processes on this machine (forked ones inherit the plan, others unpickle
    it once). The workers die with this process (:func:`_init_worker`). A worker that cannot be
    started (``fork`` fails: no memory, a process limit) or that dies is a SimulatorError; the
    workers already started are then killed, never waited for (they would wait for work forever)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if multiprocessing.get_start_method() == "fork":  # the workers inherit the plan (and the caches)
        _INHERITED["plan"], sent = plan, None
    else:  # spawn, forkserver: each worker unpickles it
        sent = pickle.dumps(plan)
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(sent, os.getpid()))
    finished = False

    def submit(unit: Any):
        try:
            return pool.submit(_worker_compute, unit)
        except OSError as error:
            raise SimulatorError(f"cannot start {workers} worker processes: {error.strerror or error}; run "
                                 "with fewer workers (--workers 1 evaluates here)") from None

    try:
        yield from _ordered(submit, units, 2 * workers)
        finished = True
    except BrokenProcessPool:
        raise SimulatorError(f"a sweep worker process ended unexpectedly (killed, or out of memory); "
                             f"run with fewer workers than {workers}, or --workers 1") from None
    finally:
        _INHERITED.pop("plan", None)
        if finished:
            pool.shutdown(wait=True)
        else:  # an error, Ctrl-C, SIGTERM or a consumer that stopped early: stop the workers now
            _kill_pool(pool)


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
    parent = os.getppid()  # parent_pid itself with fork; a fork server's pid with forkserver
    if not _parent_alive(parent, parent_pid):  # the parent ended before the prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, parent_pid), daemon=True,
                     name="sweep-parent-watch").start()
    _WORKER["plan"] = _INHERITED["plan"] if plan is None else pickle.loads(plan)


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


def _worker_compute(unit: Any) -> dict:
    return _WORKER["plan"].compute_part(unit, _WORKER)


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
