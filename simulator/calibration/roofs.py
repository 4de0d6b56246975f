"""This machine's roofs, measured, and the device profile file that holds them.

Measured with :mod:`simulator.calibration.microbench` in the manner of the Empirical Roofline Toolkit, whose
roofs are the best rates any of its kernels reaches:

* fp32 peak: the best of NumPy's and ONNX Runtime's matrix products and of the calibration's
  convolutions and Gemms (one matrix product that a neighbour slowed down would otherwise set it);
* int8 peak: ONNX Runtime's ``MatMulInteger`` (u8 x s8), when it runs; else no int8 peak;
* bandwidths of DRAM and each cache: the better of copies and matrix-vector products sized for
  the level; DRAM is raised to the fastest weight stream of the calibration's Gemms if faster, and
  an inner level to the level outside it if a noisy measurement came out lower (the profile
  format requires inner levels to be at least as fast);
* capacities: ``MemTotal`` and the caches of sysfs (private caches times the cores);
* register file: an estimate, 16 (AVX2) or 32 (AVX-512) vector registers per core and three
  4-byte operands per FMA (2 ops) at the fp32 peak, i.e. ``6 bytes/op · peak``;
* energy: Horowitz's 45 nm table, a placeholder: **CPU energy is not measured**.

When other processes kept the CPUs busy, the measurement is repeated after a quiet moment and
each figure keeps its best value.

:func:`profile_toml` writes a measurement (and a fitted efficiency model, see
:mod:`simulator.calibration.calibrate`) in the device file format of :mod:`simulator.hardware.loader`
with ``tomli-w`` (correct quoting and escaping of any CPU name or note, unlike text pasted together),
with the date, CPU, library versions, thread count and how busy other processes kept the machine
in ``source`` strings; :func:`write_profile` writes it atomically. Writing needs ``tomli-w`` (the
``validate`` extra).
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.calibration import harness as mb
from simulator.calibration import microbench as bench
from simulator.calibration import session as ort
from simulator.errors import SimulatorError
from simulator.hardware.device import Device, KernelEfficiency
from simulator.hardware.loader import load_device

#: register file: bytes read per op at the peak, three 4-byte operands per FMA of 2 ops
REGISTER_BYTES_PER_OP = 3 * 4 / 2
VECTOR_REGISTER_FILE_BYTES = {"avx512f": 32 * 64, "avx2": 16 * 32}


@dataclass(frozen=True)
class MachineMeasurement:
    """The roofs of this machine as measured, SI units.

    ``measured_levels``: (name, capacity, best measured bandwidth, note) of DRAM and the caches,
    outermost first. ``kernel_fp32_ops_per_s`` and ``kernel_dram_bytes_per_s``: the best compute
    rate of the calibration's convolutions and Gemms, and the best DRAM rate of its weight-streaming
    Gemms. ``foreign_cores``: CPU use by other processes while measuring (:class:`~mb.LoadMonitor`).
    """

    cpu: str
    threads: int
    measured_at: str
    versions: str
    vector_register_bytes: int
    numpy_fp32_ops_per_s: float
    ort_fp32_ops_per_s: float
    int8_ops_per_s: float | None
    measured_levels: tuple[tuple[str, int, float, str], ...]
    foreign_cores: float
    kernel_fp32_ops_per_s: float = 0.0
    kernel_dram_bytes_per_s: float = 0.0

    @property
    def fp32_ops_per_s(self) -> float:
        """The roof: the best of the matrix products and the calibration's kernels [ops/s]."""
        return max(self.numpy_fp32_ops_per_s, self.ort_fp32_ops_per_s, self.kernel_fp32_ops_per_s)

    @property
    def levels(self) -> tuple[tuple[str, int, float, str], ...]:
        """The memory levels of the profile: DRAM raised to the kernels' best stream if faster, and
        each inner level raised to the level outside it if a noisy measurement came out slower."""
        levels = []
        bandwidth = 0.0
        for name, capacity, measured, note in self.measured_levels:
            if name == "dram" and self.kernel_dram_bytes_per_s > measured:
                measured = self.kernel_dram_bytes_per_s
                note += (f"; raised to the fastest weight stream of the calibration's Gemms, "
                         f"{measured / 1e9:.1f} GB/s")
            if measured < bandwidth:
                note += f", raised to the {levels[-1][0]} figure (an inner level is at least as fast)"
            bandwidth = max(bandwidth, measured)
            levels.append((name, capacity, bandwidth, note))
        return tuple(levels)

    @property
    def register_file(self) -> tuple[str, int, float, str]:
        """Estimated register file level: capacity and ``REGISTER_BYTES_PER_OP · peak``."""
        bandwidth = max(self.levels[-1][2], REGISTER_BYTES_PER_OP * self.fp32_ops_per_s)
        return ("register-file", self.vector_register_bytes * self.threads, bandwidth,
                "estimate: vector registers x cores; 3 x 4-byte operands per FMA (2 ops) at the fp32 peak")


def _versions() -> str:
    runtime = ort.require_onnxruntime()
    return f"numpy {np.__version__}, onnxruntime {runtime.__version__}"


def _vector_register_bytes() -> int:
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "").split()
    except OSError:
        flags = []
    return next((size for flag, size in VECTOR_REGISTER_FILE_BYTES.items() if flag in flags), 16 * 16)


def _int8_ops_per_s(n: int, threads: int) -> float | None:
    try:
        return bench.ort_matmul_ops_per_s(n, threads, integer=True)
    except Exception:  # no int8 kernel in this build of ONNX Runtime: leave int8 out
        return None


def _measure_roofs(quick: bool, threads: int, caches: Sequence[mb.CacheLevel], dram_set: int) -> dict:
    """One measurement of every roof: peaks [ops/s] and per-level bandwidths [bytes/s], the better
    of copies and a matrix-vector product (a read-only stream)."""
    moved, trials, n = (2e7, 2, 384) if quick else (4e8, 5, 2048)

    def stream(working_set: int, per_thread: bool) -> float:
        spread = working_set * (threads if per_thread else 1)
        multi = bench.copy_bytes_per_s(spread, threads, moved, trials)
        single = bench.copy_bytes_per_s(working_set, 1, moved, trials)
        return max(multi, single, bench.matvec_bytes_per_s(spread, trials))

    figures = {"int8": _int8_ops_per_s(n, threads), "numpy": bench.numpy_matmul_ops_per_s(n),
               "ort": bench.ort_matmul_ops_per_s(n, threads), "dram": stream(dram_set, per_thread=False)}
    for cache in caches:
        figures[cache.name] = stream(_working_set(cache), per_thread=cache.instances > 1)
    return figures


def _working_set(cache: mb.CacheLevel) -> int:
    """Bytes copied to measure a cache: half of a private cache per thread, a quarter of a shared one."""
    return cache.size_bytes // 2 if cache.instances > 1 else cache.size_bytes // 4


def measure_machine(quick: bool = False, threads: int | None = None, attempts: int = 3,
                    patience_s: float = 60.0) -> MachineMeasurement:
    """Measures peaks and bandwidths (about a second with ``quick``, ten seconds without).

    As ERT does, each figure is the best over its trials; when other processes kept the CPUs busy,
    the whole measurement is repeated after a quiet moment (up to ``attempts`` times, waiting
    ``patience_s`` at most) and each figure keeps its best value over the attempts.
    """
    threads = threads or mb.core_count()
    caches = [c for c in mb.cache_levels(threads) if c.level >= 2]
    last = caches[-1].capacity_bytes if caches else 32 * 2**20
    dram_set = max(2 * last, 64 * 2**20) if quick else max(8 * last, 256 * 2**20)
    best: dict = {}
    waited_s = 0.0
    tries = 1 if quick else attempts
    for attempt in range(tries):
        with mb.LoadMonitor() as load:
            figures = _measure_roofs(quick, threads, caches, dram_set)
        best = {key: max((v for v in (value, best.get(key)) if v is not None), default=None)
                for key, value in figures.items()}
        if load.foreign_cores < mb.QUIET_CORES or waited_s >= patience_s or attempt == tries - 1:
            break
        started = time.perf_counter()
        mb.wait_for_quiet(min(20.0, patience_s - waited_s), mb.QUIET_CORES)
        waited_s += time.perf_counter() - started
    levels = [("dram", mb.memory_capacity_bytes(), best["dram"],
               f"capacity: MemTotal (/proc/meminfo); bandwidth: copies and matrix-vector products of "
               f"{dram_set / 2**20:.0f} MiB ({dram_set / last:.0f} x the last-level cache), "
               f"{best['dram'] / 1e9:.1f} GB/s")]
    for cache in reversed(caches):
        levels.append((cache.name, cache.capacity_bytes, best[cache.name],
                       f"{cache.instances} x {cache.size_bytes / 2**10:.0f} KiB (sysfs); bandwidth: copies "
                       f"and matrix-vector products of {_working_set(cache) / 2**10:.0f} KiB "
                       f"{'per thread' if cache.instances > 1 else 'in all'}, "
                       f"{best[cache.name] / 1e9:.1f} GB/s"))
    return MachineMeasurement(
        cpu=mb.cpu_model(), threads=threads,
        measured_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        versions=_versions(), vector_register_bytes=_vector_register_bytes(),
        numpy_fp32_ops_per_s=best["numpy"], ort_fp32_ops_per_s=best["ort"], int8_ops_per_s=best["int8"],
        measured_levels=tuple(levels), foreign_cores=load.foreign_cores)


# --- the profile file ---------------------------------------------------------------------------

_ENERGY_ENTRIES = {"dram": "dram-32bit", "register-file": "rf-32bit"}
#: significant digits written for measured and fitted figures (their noise is far larger)
_DIGITS = 4


def _rounded(value: float) -> float:
    return float(f"{value:.{_DIGITS}g}")


def profile_data(machine: MachineMeasurement, name: str,
                 efficiency: dict[str, KernelEfficiency] | None = None,
                 efficiency_source: str = "") -> dict[str, Any]:
    """The device profile of ``machine`` (and its efficiency model) as the tables of a device file.

    Every provenance note is a ``source`` string (a TOML writer keeps no comments), so the loaded
    :class:`~simulator.hardware.device.Device` carries it too.
    """
    how = (f"Measured by `roofline calibrate` on {machine.measured_at}: {machine.cpu}, {machine.threads} "
           f"threads, {machine.versions}; other processes used {machine.foreign_cores:.2f} cores meanwhile. "
           f"Micro-benchmarks are noisy (more so on a shared machine): re-run to compare.")
    peak: dict[str, Any] = {"fp32_giga_ops_per_s": _rounded(machine.fp32_ops_per_s / 1e9)}
    peak_note = (f"the best of: 2 n^3 / t of fp32 matrix products, NumPy BLAS "
                 f"{machine.numpy_fp32_ops_per_s / 1e9:.1f} GFLOP/s and ONNX Runtime MatMul "
                 f"({machine.threads} threads) {machine.ort_fp32_ops_per_s / 1e9:.1f} GFLOP/s; the fastest "
                 f"convolution or Gemm of the calibration {machine.kernel_fp32_ops_per_s / 1e9:.1f} GFLOP/s")
    if machine.int8_ops_per_s:
        peak["int8_giga_ops_per_s"] = _rounded(machine.int8_ops_per_s / 1e9)
        peak_note += f". int8: ONNX Runtime MatMulInteger (u8 x s8) {machine.int8_ops_per_s / 1e9:.1f} GOP/s"
    peak["source"] = peak_note
    memory = [{"name": level, "capacity_bytes": capacity, "bandwidth_gb_per_s": _rounded(bandwidth / 1e9),
               "stores": [] if level == "register-file" else ["weights", "activations"],
               "energy_table_entry": _ENERGY_ENTRIES.get(level, "sram-1mib-64bit"), "source": note}
              for level, capacity, bandwidth, note in (*machine.levels, machine.register_file)]
    data: dict[str, Any] = {
        "name": name,
        "description": f"{machine.cpu}, {machine.threads} cores (this machine, CPU only)",
        "source": how,
        "energy": {"table": "horowitz-45nm", "source": "CPU energy is not measured: Horowitz 45 nm figures, "
                                                       "unscaled, as a placeholder."},
        "peak": peak,
        "memory": memory,
    }
    if efficiency:
        data["efficiency"] = {"source": efficiency_source} | {
            cls: {"compute_fraction": _rounded(entry.compute_fraction),
                  "bandwidth_fraction": _rounded(entry.bandwidth_fraction),
                  "overhead_us": _rounded(entry.overhead_s * 1e6)}
            for cls, entry in efficiency.items()}
    return data


def profile_toml(machine: MachineMeasurement, name: str,
                 efficiency: dict[str, KernelEfficiency] | None = None, efficiency_source: str = "") -> str:
    """The device profile of ``machine`` (and its efficiency model) as the text of a TOML file
    (:func:`profile_data`, written by ``tomli-w``)."""
    try:
        import tomli_w
    except ModuleNotFoundError:
        raise SimulatorError("writing a device profile needs tomli-w: pip install 'tomli-w>=1.0' "
                             "(or the validate extra)") from None
    return tomli_w.dumps(profile_data(machine, name, efficiency, efficiency_source))


def write_profile(path: str | Path, text: str) -> Path:
    """Writes ``text`` to ``path`` atomically: to a temporary file in the same folder, then
    ``os.replace``, so that a reader never sees half a profile and a failed write keeps the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def device_of(machine: MachineMeasurement, name: str = "this-machine") -> Device:
    """The ideal-roofline device of ``machine`` (through the file format, so the file is valid)."""
    with tempfile.TemporaryDirectory() as folder:
        return load_device(write_profile(Path(folder) / f"{name}.toml", profile_toml(machine, name)))
