"""The timing harness that calibration and validation share, and what machine this is.

* timing: :func:`time_callable` (warm-up, repeats, median and inter-quartile range as
  :class:`TimingStats`), :class:`LoadMonitor` (how busy other processes kept the CPUs meanwhile),
  :func:`wait_for_quiet` and :func:`time_quietly` (timing that leaves out disturbed runs);
* the machine: :func:`core_count` (the thread count used throughout), :func:`cpu_model`,
  :func:`memory_capacity_bytes` and :func:`cache_levels` (sizes, levels and types from
  ``/sys/devices/system/cpu/cpu0/cache/index*/``, or ``os.sysconf``; the capacity of a level is its
  size times its instances among our cores).

This module imports nothing else of :mod:`simulator.calibration`: the ONNX Runtime sessions
(:mod:`~simulator.calibration.session`) and the micro-benchmarks
(:mod:`~simulator.calibration.microbench`) build on it. Everything is in SI units.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
