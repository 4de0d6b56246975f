"""Micro-benchmarks of the machine this runs on, in the manner of the Empirical Roofline Toolkit.

ERT (Lo et al., "Toward Automated Application Profiling on Cray Systems", CUG 2014; Yang et al.,
"An Empirical Roofline Methodology for Quantitatively Assessing Performance Portability",
P3HPC 2018) measures a machine's roofs with kernels that stress one resource each and keeps the
best rate it reaches. Here:

* **peak fp32 ops/s**: large single-precision matrix products, ``2·n³ / t`` (a MAC is 2 ops),
  through NumPy's BLAS and through ONNX Runtime's ``MatMul`` (MLAS); the larger is the roof.
  **int8**: ONNX Runtime's ``MatMulInteger`` (u8 x s8 -> i32), ``2·n³ / t``, when it runs;
* **bandwidth**: the better of ``np.copyto`` between two arrays, ``(bytes read + bytes written) /
  t``, and a matrix-vector product, ``matrix bytes / t`` (a read-only stream), with the working set
  sized to sit in one level: half of a private cache per thread, a quarter of the
  shared last-level cache, or many times it for DRAM. This is rough: a copy through NumPy is
  bounded by its per-call overhead for the smallest levels (L1 is a lower bound), hardware
  prefetchers and the replacement policy blur the edges, and on a shared (virtual) machine the
  neighbours' traffic counts against us;
* **caches**: sizes, levels and types from ``/sys/devices/system/cpu/cpu0/cache/index*/`` (or
  ``os.sysconf``); the capacity of a level is its size times its instances among our cores.

Also the timing helpers that calibration and validation share: :func:`time_callable` (warm-up,
repeats, median and inter-quartile range), :class:`LoadMonitor` (how busy other processes kept
the CPUs meanwhile) and :func:`time_quietly` (timing that leaves out disturbed runs). Everything
is in SI units.
"""

from __future__ import annotations

import math
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FLOAT32_BYTES = 4
OPS_PER_MAC = 2  # as simulator.model.formulas counts: a multiply-accumulate is a multiply and an add
_SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


@dataclass(frozen=True)
class TimingStats:
    """Robust summary of repeated timings [s]: median, quartiles and minimum."""

    median_s: float
    q1_s: float
    q3_s: float
    min_s: float
    repeats: int
    #: runs left out because other processes were busy meanwhile (see :func:`time_quietly`)
    dropped: int = 0

    @property
    def iqr_s(self) -> float:
        """Inter-quartile range ``q3 - q1`` [s]."""
        return self.q3_s - self.q1_s

    def scaled(self, factor: float) -> TimingStats:
        """Every statistic times ``factor`` (e.g. per copy of a replicated kernel)."""
        return TimingStats(self.median_s * factor, self.q1_s * factor, self.q3_s * factor,
                           self.min_s * factor, self.repeats, self.dropped)

    @classmethod
    def of(cls, samples_s: Sequence[float], dropped: int = 0) -> TimingStats:
        values = np.asarray(samples_s, dtype=float)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return cls(float(median), float(q1), float(q3), float(values.min()), len(values), dropped)


def time_callable(run: Callable[[], Any], warmup: int = 2, repeats: int = 7) -> TimingStats:
    """Times ``run()`` ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return TimingStats.of(samples)


# --- the machine ---------------------------------------------------------------------------------


def core_count() -> int:
    """CPUs this process may run on (its affinity mask), the thread count used throughout."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The ``model name`` of /proc/cpuinfo, else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def memory_capacity_bytes() -> int:
    """Physical memory: ``MemTotal`` of /proc/meminfo (kB = 1024 bytes), else ``os.sysconf``."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class CacheLevel:
    """One data (or unified) cache: per-instance size and how many instances our cores have."""

    level: int
    kind: str          # "Data" or "Unified"
    size_bytes: int    # one instance
    instances: int     # instances among the cores we run on (1 for a shared cache)

    @property
    def capacity_bytes(self) -> int:
        return self.size_bytes * self.instances

    @property
    def name(self) -> str:
        return f"l{self.level}d" if self.kind == "Data" else f"l{self.level}"


def _parse_size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = text.strip()
    return int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)


def _cpu_count_in(cpu_list: str) -> int:
    count = 0
    for part in cpu_list.strip().split(","):
        low, _, high = part.partition("-")
        count += int(high) - int(low) + 1 if high else 1
    return count


def cache_levels(cores: int | None = None) -> tuple[CacheLevel, ...]:
    """Data and unified caches, innermost (L1d) first, from sysfs, else ``os.sysconf``."""
    cores = cores or core_count()
    levels = []
    for index in sorted(_SYSFS_CACHE.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            sharing = _cpu_count_in((index / "shared_cpu_list").read_text())
            levels.append(CacheLevel(int((index / "level").read_text()), kind,
                                     _parse_size((index / "size").read_text()),
                                     max(1, cores // max(1, sharing))))
        except (OSError, ValueError, KeyError):
            continue
    if levels:
        return tuple(sorted(levels, key=lambda c: c.level))
    fallback = []
    for level, key, kind, private in ((1, "SC_LEVEL1_DCACHE_SIZE", "Data", True),
                                      (2, "SC_LEVEL2_CACHE_SIZE", "Unified", True),
                                      (3, "SC_LEVEL3_CACHE_SIZE", "Unified", False)):
        try:
            size = os.sysconf(key)
        except (ValueError, OSError):
            continue
        if size > 0:
            fallback.append(CacheLevel(level, kind, size, cores if private else 1))
    return tuple(fallback)


def _busy_cpu_s() -> float:
    """CPU time of every process since boot, idle and I/O wait excluded, from /proc/stat [s]."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class LoadMonitor:
    """Context manager: the CPUs other processes (and the hypervisor's steal) kept busy meanwhile.

    ``foreign_cores`` = (all busy CPU time − this process's) / wall time, in cores; 0 on a quiet
    machine, and NaN where /proc/stat is missing. Measurements taken while it is high are suspect.
    """

    def __enter__(self) -> LoadMonitor:
        self.foreign_cores = math.nan
        try:
            self._busy = _busy_cpu_s()
        except (OSError, ValueError, IndexError):
            self._busy = math.nan
        self._own, self._start = sum(os.times()[:2]), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        elapsed = time.perf_counter() - self._start
        try:
            busy = _busy_cpu_s() - self._busy
        except (OSError, ValueError, IndexError):
            return
        own = sum(os.times()[:2]) - self._own
        self.foreign_cores = max(0.0, busy - own) / elapsed if elapsed > 0 else math.nan


def wait_for_quiet(max_wait_s: float = 60.0, foreign_cores: float = 0.25, window_s: float = 1.0) -> float:
    """Waits (at most ``max_wait_s``) for a ``window_s`` in which other processes use fewer than
    ``foreign_cores`` cores; returns the last window's foreign load [cores]."""
    deadline = time.perf_counter() + max_wait_s
    while True:
        with LoadMonitor() as monitor:
            time.sleep(window_s)
        if not monitor.foreign_cores >= foreign_cores or time.perf_counter() >= deadline:
            return monitor.foreign_cores


#: other processes' CPU use [cores] below which a measurement counts as undisturbed
QUIET_CORES = 0.15
#: the shortest window whose load /proc/stat's 10 ms ticks resolve to a few hundredths of a core
MONITOR_WINDOW_S = 0.25


def time_quietly(run: Callable[[], Any], warmup: int = 2, repeats: int = 7, quiet_cores: float = QUIET_CORES,
                 patience_s: float = 10.0) -> TimingStats:
    """Like :func:`time_callable`, but leaves out runs made while other processes were busy.

    Runs are timed in blocks of at least :data:`MONITOR_WINDOW_S` (or one run); a block during
    which other processes used ``quiet_cores`` or more (:class:`LoadMonitor`) is dropped and run
    again, for at most ``patience_s`` beyond the first block; then the dropped runs are used too
    (the result's ``dropped`` says how many were left out).
    """
    for _ in range(warmup):
        run()
    kept: list[float] = []
    dropped: list[float] = []
    deadline = None
    while len(kept) < repeats:
        block: list[float] = []
        with LoadMonitor() as load:
            started = time.perf_counter()
            while not block or (time.perf_counter() - started < MONITOR_WINDOW_S
                                and len(kept) + len(block) < repeats):
                start = time.perf_counter()
                run()
                block.append(time.perf_counter() - start)
        (dropped if load.foreign_cores >= quiet_cores else kept).extend(block)
        deadline = deadline or time.perf_counter() + patience_s
        if len(kept) < repeats and time.perf_counter() > deadline:
            return TimingStats.of(kept + dropped[:repeats - len(kept)])
    return TimingStats.of(kept[:repeats], dropped=len(dropped))


# --- peaks and bandwidths -------------------------------------------------------------------------


def numpy_matmul_ops_per_s(n: int = 2048, repeats: int = 5) -> float:
    """Best ``2·n³ / t`` of ``a @ b`` with n x n float32 matrices (NumPy's BLAS, its own threads)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), dtype=np.float32)
    stats = time_callable(lambda: np.matmul(a, b, out=out), warmup=1, repeats=repeats)
    return OPS_PER_MAC * n**3 / stats.min_s


def _matmul_model(n: int, integer: bool) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if integer:
        weight = rng.integers(-64, 64, (n, n), dtype=np.int8)
        node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
        a_type, y_type = TensorProto.UINT8, TensorProto.INT32
    else:
        weight = rng.standard_normal((n, n), dtype=np.float32)
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
        a_type = y_type = TensorProto.FLOAT
    graph = helper.make_graph([node], "matmul", [helper.make_tensor_value_info("a", a_type, [n, n])],
                              [helper.make_tensor_value_info("y", y_type, None)],
                              [numpy_helper.from_array(weight, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def ort_matmul_ops_per_s(n: int = 2048, threads: int | None = None, integer: bool = False,
                         repeats: int = 5) -> float:
    """Best ``2·n³ / t`` of ONNX Runtime ``MatMul`` (fp32) or ``MatMulInteger`` (u8 x s8 -> i32)."""
    from simulator.calibration.session import bind, make_session

    session = make_session(_matmul_model(n, integer), threads)
    rng = np.random.default_rng(1)
    a = (rng.integers(0, 128, (n, n), dtype=np.uint8) if integer
         else rng.standard_normal((n, n), dtype=np.float32))
    binding = bind(session, {"a": a})
    stats = time_callable(lambda: session.run_with_iobinding(binding), warmup=1, repeats=repeats)
    return OPS_PER_MAC * n**3 / stats.min_s


def _aligned_pair(elements: int) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination in one buffer, 4 KiB-aligned and offset by 528 bytes so that loads and
    stores do not alias modulo 4 KiB (which stalls store-to-load forwarding)."""
    pad = 132  # float32 elements = 528 bytes
    buffer = np.zeros(2 * elements + pad + 1024, dtype=np.float32)
    start = (-buffer.ctypes.data % 4096) // FLOAT32_BYTES
    source = buffer[start:start + elements]
    source[:] = 1.0
    return source, buffer[start + elements + pad:start + 2 * elements + pad]


def matvec_bytes_per_s(working_set_bytes: int, trials: int = 5) -> float:
    """Best ``matrix bytes / t`` of ``A @ x`` (NumPy's BLAS GEMV, its own threads): a read-only
    stream, as a fully connected layer streams its weights; copies also pay the destination's
    read-for-ownership and so understate what a read reaches."""
    columns = 1024
    rows = max(1, working_set_bytes // (FLOAT32_BYTES * columns))
    matrix = np.ones((rows, columns), dtype=np.float32)
    vector = np.ones(columns, dtype=np.float32)
    stats = time_callable(lambda: matrix @ vector, warmup=1, repeats=trials)
    return matrix.nbytes / stats.min_s


def copy_bytes_per_s(working_set_bytes: int, threads: int = 1, moved_bytes: float = 4e8,
                     trials: int = 5) -> float:
    """Best ``(bytes read + written) / t`` of ``np.copyto`` loops in ``threads`` threads.

    Each thread copies between its own arrays of ``working_set_bytes / threads`` (source plus
    destination); NumPy releases the GIL during the copy, so the threads run concurrently.
    """
    per_thread = max(2 * FLOAT32_BYTES, working_set_bytes // threads)
    elements = per_thread // (2 * FLOAT32_BYTES)
    pairs = [_aligned_pair(elements) for _ in range(threads)]
    step_bytes = 2 * elements * FLOAT32_BYTES
    reps = max(1, int(moved_bytes / threads / step_bytes))

    def work(source: np.ndarray, destination: np.ndarray, barrier: threading.Barrier) -> None:
        barrier.wait()
        for _ in range(reps):
            np.copyto(destination, source)

    best = 0.0
    for _ in range(trials):
        barrier = threading.Barrier(threads + 1)
        workers = [threading.Thread(target=work, args=(*pair, barrier)) for pair in pairs]
        for worker in workers:
            worker.start()
        barrier.wait()
        start = time.perf_counter()
        for worker in workers:
            worker.join()
        best = max(best, threads * reps * step_bytes / (time.perf_counter() - start))
    return best
