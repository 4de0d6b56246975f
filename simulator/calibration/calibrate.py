"""Calibrate a device profile of this machine: its roofs, and the efficiency of real kernels.

**Roofs** (:mod:`simulator.calibration.roofs`): peaks, bandwidths and caches of this machine,
measured as the Empirical Roofline Toolkit does, and written as a device profile.

**Efficiency model** (:func:`measure_kernels`, :func:`fit_efficiency`): single-operator ONNX
models (:mod:`simulator.calibration.kernel_cases`: convolutions of CNN shapes with the activation their
networks fuse into them, depthwise convolutions, Gemm, attention's MatMul, Add, Mul, Relu,
Softmax, LayerNormalization, MaxPool, GlobalAveragePool; batch 1, 4 and 16) run in ONNX Runtime
with every graph optimization and one thread per core.
The time of a case is the median over repeated runs of the kernel time of its compute nodes in
ONNX Runtime's profiler; the NCHWc layout conversions that ONNX Runtime puts around a lone
operator (and only at the edges of a network) are left out. Each case is measured in two passes
over all cases and keeps the lower median, and a case measured while other processes kept the
CPUs busy is measured again after a quiet moment, so that a burst of load from a neighbour does
not set a class's efficiency. The caches are not flushed between runs: a flush lets ONNX
Runtime's worker threads fall asleep and evicts its code, which costs tens of µs per run that a
layer inside a network does not pay (and made 3x3 convolutions 1.5x slower here); activations
are warm, as inside a network, and weight-heavy cases run as copies whose weights together
overflow the cache, so that their weights come from DRAM as inside a network.

The simulator models the same layer the same way: :mod:`simulator.calibration.kernel_cases` builds it with
:class:`~simulator.model.graph.NetworkBuilder` between a producer and a consumer (so that its
activations follow the residency rule of :mod:`simulator.engine.workload` instead of being pinned to
DRAM as a network's own input and output are), and :func:`~simulator.engine.workload.build_workload`
and :func:`~simulator.engine.timing.roofline_timing` give its ideal ``T_compute`` and ``T_memory``.
Per efficiency class the model

``t = max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s``

is fitted by least squares on ``log t`` (:mod:`simulator.calibration.fit`). ``default`` is fitted
on every case together.

What the fit cannot capture: a kernel's efficiency varies with its shape within a class (one
fraction per class averages, e.g., 3x3 convolutions near the peak and 1x1 convolutions with few
channels at half of it) and with the activation fused into it (ONNX Runtime's ReLU6 costs up to
40% on large outputs, ReLU nothing); caches shared between layers (the weights of a small model
may stay in the L3 across inferences); ONNX Runtime's fusion decisions (a residual Add fused into
the convolution before it costs nothing there, but is an element-wise layer here); how the thread
pool splits small kernels; memory allocation and the per-node dispatch (about 1 µs); and the
machine's speed, which on a shared virtual machine drifts by tens of percent between minutes.
A fused attention layer (one kernel for ``softmax(Q Kᵀ) V``) has no single-operator benchmark here
and falls back to ``default``; an attention exported as its operators (torchvision's ViT) runs as
``matmul``, ``elementwise`` (softmax) and ``gemm`` layers, which the suite measures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from simulator.calibration import harness as mb
from simulator.calibration import session as ort
from simulator.calibration.fit import fit_kernel_efficiency
from simulator.calibration.kernel_cases import (
    KernelCase,
    case_model,
    case_network,
    kernel_suite,
    probe_index,
    weight_copies,
)
from simulator.calibration.roofs import (
    MachineMeasurement,
    device_of,
    measure_machine,
    profile_toml,
    write_profile,
)
from simulator.engine.configs import hardware_arrays
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import build_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device, KernelEfficiency
from simulator.hardware.loader import load_device

# --- kernels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelSample:
    """One single-operator case: its ops, DRAM bytes, ideal roofline times and measured time [s]."""

    case: KernelCase
    ops: float
    dram_bytes: float
    t_compute_s: float
    t_memory_s: float
    measured: mb.TimingStats


def ideal_times(case: KernelCase, device: Device) -> tuple[float, float, float, float]:
    """``(ops, DRAM bytes, T_compute, T_memory)`` of the case's layer on the ideal roofline of
    ``device`` (DRAM: its outermost level)."""
    workload = build_workload(case_network(case))
    timing = roofline_timing(workload, hardware_arrays(device, ["fp32"], ideal=True),
                             np.array([case.batch], dtype=float), np.array([32.0]), np.array([32.0]))
    index = probe_index(workload)
    return (float(timing.ops[0, index]), float(timing.level_bytes[0, 0, index]),
            float(timing.t_compute_s[0, index]), float(timing.t_memory_s[0, index]))


def _measure_case(case: KernelCase, threads: int | None, repeats: int, evict_bytes: int,
                  rng: np.random.Generator) -> tuple[mb.TimingStats, float]:
    """The case's kernel time per copy, and the load of other processes meanwhile [cores]."""
    copies = weight_copies(case, evict_bytes)
    model, inputs, outputs = case_model(case, copies)
    feeds = {name: rng.standard_normal(shape, dtype=np.float32) for name, shape in inputs.items()}
    results = {name: np.empty(shape, dtype=np.float32) for name, shape in outputs.items()}
    with mb.LoadMonitor() as load:
        started = time.perf_counter()
        nodes = ort.profiled_node_times(model, feeds, threads, warmup=2, repeats=repeats, outputs=results)
        elapsed = time.perf_counter() - started
    # /proc/stat counts 10 ms ticks: the load of a shorter case is unknown, and taken as quiet
    foreign = load.foreign_cores if elapsed >= mb.MONITOR_WINDOW_S else 0.0
    return ort.compute_time_stats(nodes).scaled(1 / copies), foreign


#: a case whose ideal time exceeds this is timed over only :data:`LONG_CASE_REPEATS` runs
LONG_CASE_S = 0.02
LONG_CASE_REPEATS = 3


def measure_kernels(cases: Sequence[KernelCase], device: Device, threads: int | None = None, repeats: int = 7,
                    passes: int = 2, evict_bytes: int = 64 * 2**20, attempts: int = 3,
                    patience_s: float = 90.0,
                    progress: Callable[[str], None] | None = None) -> list[mb.TimingStats]:
    """Kernel times of every case in ONNX Runtime: per case, the pass with the lowest median.

    Several passes over all cases, rather than more repeats in one, so that a burst of load from
    other processes slows one pass of a case, not all of its runs; and a case measured while other
    processes were busy is measured again (up to ``attempts`` times, after waiting for a quiet
    moment; ``patience_s`` bounds the waiting in all). Weight-heavy cases run as copies with
    ``evict_bytes`` of weights in all (:func:`~simulator.calibration.kernel_cases.weight_copies`).
    Cases longer than :data:`LONG_CASE_S` on the ideal roofline of ``device`` get fewer repeats.
    """
    rng = np.random.default_rng(0)
    best: list[mb.TimingStats | None] = [None] * len(cases)
    waited_s = 0.0
    for number in range(passes):
        for i, case in enumerate(cases):
            long_case = max(ideal_times(case, device)[2:]) >= LONG_CASE_S
            runs = min(repeats, LONG_CASE_REPEATS) if long_case else repeats
            for attempt in range(attempts):
                stats, foreign = _measure_case(case, threads, runs, evict_bytes, rng)
                previous = best[i]
                if previous is None or stats.median_s < previous.median_s:
                    best[i] = stats
                if foreign < mb.QUIET_CORES or waited_s >= patience_s or attempt == attempts - 1:
                    break
                started = time.perf_counter()
                mb.wait_for_quiet(min(10.0, patience_s - waited_s), mb.QUIET_CORES)
                waited_s += time.perf_counter() - started
            if progress is not None:
                progress(f"pass {number + 1}/{passes} {case.label}: {stats.median_s * 1e6:.0f} us")
    return [stats for stats in best if stats is not None]


def kernel_samples(cases: Sequence[KernelCase], measured: Sequence[mb.TimingStats],
                   device: Device) -> list[KernelSample]:
    """Each case with its ideal times on ``device`` and its measured time."""
    return [KernelSample(case, *ideal_times(case, device), stats)
            for case, stats in zip(cases, measured, strict=True)]


# --- the fit ------------------------------------------------------------------------------------


def fit_efficiency(samples: Sequence[KernelSample]) -> dict[str, KernelEfficiency]:
    """A fit per efficiency class among ``samples``, and ``default`` over all of them."""
    groups: dict[str, list[KernelSample]] = {}
    for sample in samples:
        groups.setdefault(sample.case.efficiency_class, []).append(sample)
    groups["default"] = list(samples)
    return {cls: fit_kernel_efficiency([s.t_compute_s for s in group], [s.t_memory_s for s in group],
                                       [s.measured.median_s for s in group])
            for cls, group in groups.items()}


# --- all together -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` measured and fitted, and the device it wrote."""

    machine: MachineMeasurement
    samples: tuple[KernelSample, ...]
    efficiency: dict[str, KernelEfficiency]
    device: Device
    path: Path


def calibrate(output: str | Path, quick: bool = False, threads: int | None = None, repeats: int | None = None,
              progress: Callable[[str], None] | None = None) -> Calibration:
    """Measures this machine, fits the efficiency model and writes the device profile to ``output``.

    ``quick`` measures a few tiny cases only (seconds; for tests: the fit is not meaningful).
    """
    output = Path(output)
    if output.suffix != ".toml":
        raise SimulatorError(f"the profile is written as TOML: give a .toml path, not {str(output)!r}")
    ort.require_onnxruntime()
    threads = threads or mb.core_count()
    say = progress or (lambda _message: None)
    if not quick:
        say("waiting for a quiet moment (other processes using under "
            f"{mb.QUIET_CORES} cores), at most a minute")
        mb.wait_for_quiet(60.0, mb.QUIET_CORES)
    say(f"measuring peaks and bandwidths with {threads} threads")
    machine = measure_machine(quick, threads)
    cases = kernel_suite(quick)
    say(f"running {len(cases)} single-operator models in ONNX Runtime")
    with mb.LoadMonitor() as load:
        evict = 2 * max(capacity for _, capacity, _, _ in machine.levels[1:])  # twice the largest cache
        measured = measure_kernels(cases, device_of(machine), threads, repeats or (3 if quick else 7),
                                   passes=1 if quick else 2, evict_bytes=evict, attempts=1 if quick else 3,
                                   progress=progress)
    first = kernel_samples(cases, measured, device_of(machine))
    dense = ("conv", "pointwise_conv", "gemm", "matmul")
    rates = [s.ops / s.measured.median_s for s in first if s.case.efficiency_class in dense]
    streams = [s.dram_bytes / s.measured.median_s for s in first if s.case.efficiency_class == "gemm"]
    machine = replace(machine, kernel_fp32_ops_per_s=max(rates, default=0.0),
                      kernel_dram_bytes_per_s=max(streams, default=0.0),
                      foreign_cores=max(machine.foreign_cores, load.foreign_cores))
    samples = kernel_samples(cases, measured, device_of(machine, output.stem))
    efficiency = fit_efficiency(samples)
    counts = {cls: sum(s.case.efficiency_class == cls for s in samples) for cls in efficiency}
    source = (f"Fitted by `roofline calibrate{' --quick' if quick else ''}` on {machine.measured_at} "
              f"({machine.cpu}, {threads} threads, {machine.versions}): least squares on log time of "
              f"max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead against the "
              f"median ONNX Runtime kernel time of single-operator models (cases per class: "
              f"{', '.join(f'{c} {n}' for c, n in counts.items() if c != 'default')}; default: all "
              f"{len(samples)}).")
    write_profile(output, profile_toml(machine, output.stem, efficiency, source))
    return Calibration(machine, tuple(samples), efficiency, load_device(output), output)
