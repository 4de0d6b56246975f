"""The efficiency model: from the ideal roofline bound to an expected time, per kernel class.

A pure roofline assumes every kernel reaches the device's peak and full bandwidth. Real kernels
reach a fraction of each that depends mostly on the kind of kernel, plus a fixed launch overhead.
A device profile may carry, per class, ``compute_fraction``, ``bandwidth_fraction`` and
``overhead_s`` (:class:`simulator.hardware.device.KernelEfficiency`) for the class a layer runs as
(its kind's ``efficiency_class``, :data:`simulator.kernels.EFFICIENCY_CLASSES`); then

``latency = max(ops / (peak · compute_fraction), bytes / (bandwidth · bandwidth_fraction)) + overhead_s``

for every layer that does work (views cost nothing). Classes without an entry use ``default``,
and without that the ideal roofline (fractions 1, no overhead). :func:`efficiency_arrays` gives
each layer its class's figures (the compute fraction times the fill of a parallel device,
:func:`fill_fraction`; the overhead plus a per-kernel overhead for each kernel the layer launches);
:func:`expected_latency_s` is the formula, the one both :func:`simulator.engine.timing.roofline_timing`
and the calibration's fit (:mod:`simulator.calibration.fit`) evaluate.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from simulator.engine.configs import HardwareArrays
from simulator.engine.workload import Workload
from simulator.kernels import EFFICIENCY_CLASSES, class_lookup

if TYPE_CHECKING:  # annotations only: numpy.typing is not imported at run time (start-up, issue 21)
    from numpy.typing import ArrayLike

__all__ = ["EFFICIENCY_CLASSES", "efficiency_arrays", "expected_latency_s", "fill_fraction"]


def expected_latency_s(t_compute_s: ArrayLike, t_memory_s: ArrayLike, compute_fraction: ArrayLike,
                       bandwidth_fraction: ArrayLike, overhead_s: ArrayLike) -> np.ndarray:
    """Calibrated latency of a layer [s] from its times on the ideal roofline [s]:

    ``max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s``

    where ``T_compute = ops / peak`` and ``T_memory`` the slowest memory level's ``bytes /
    bandwidth``. A layer with no work (a view, ``T_compute = T_memory = 0``) gets no overhead. The
    arguments broadcast against each other; fractions 1 and overhead 0 give the ideal roofline.
    """
    latency = np.maximum(np.divide(t_compute_s, compute_fraction), np.divide(t_memory_s, bandwidth_fraction))
    return latency + np.where(latency > 0, overhead_s, 0.0)


def class_table(table: Mapping[str, Hashable], classes: tuple[str, ...],
                missing: Hashable = None) -> np.ndarray:
    """Each layer's entry of ``table`` (by its efficiency class, :func:`simulator.kernels.class_lookup`)
    as a float array, read-only: built once per table and network, not per evaluation."""
    return _class_table(tuple(table.items()), classes, missing)


@lru_cache(maxsize=256)
def _class_table(items: tuple[tuple[str, Hashable], ...], classes: tuple[str, ...],
                 missing: Hashable) -> np.ndarray:
    table = dict(items)
    array = np.array([class_lookup(table, c, missing) for c in classes], dtype=float)
    array.flags.writeable = False  # shared by every evaluation that asks for it
    return array


def fill_fraction(workload: Workload, hardware: HardwareArrays, batch: np.ndarray) -> np.ndarray:
    """``(C, L)`` share of a parallel device's arithmetic a kernel uses: ``n·outputs / (waves·units·tile)``.

    A kernel's output is computed in thread blocks of ``tile`` elements (``tile_outputs`` of its
    kernel class), ``tiles = ceil(n · outputs / tile)`` of them, spread over ``units`` processors
    (SMs) in ``waves = ceil(tiles / units)`` rounds of equal time: the kernel takes as long as
    ``waves · units`` full tiles, of which ``n · outputs`` elements are useful. A kernel with fewer
    tiles than processors, or ending in a partial wave, leaves arithmetic idle. Only the compute
    time is derated: a memory-bound kernel streams at full bandwidth from fewer blocks (split-K,
    GEMV kernels). 1 where the device has no such model or the layer runs nothing.
    """
    if hardware.parallel_units is None or hardware.tile_outputs is None or workload.output_elements is None:
        return np.ones((len(batch), workload.layers))
    tile = class_table(hardware.tile_outputs, workload.efficiency_classes)
    useful = batch[:, None] * workload.output_elements
    waves = np.ceil(np.ceil(useful / tile) / hardware.parallel_units)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(useful > 0, useful / (waves * hardware.parallel_units * tile), 1.0)


def efficiency_arrays(workload: Workload, hardware: HardwareArrays,
                      batch: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-layer ``(compute fraction, bandwidth fraction, overhead_s)``: the class's fractions, the
    compute fraction times the kernel's fill (``(C, L)``) and at most the device's power-limited
    share of the peak (:func:`simulator.engine.power_limit.power_share`, where the profile has one),
    and the class's overhead plus the per-kernel overhead times the layer's kernels; ones and zero
    when ideal."""
    if hardware.efficiency is None:
        return np.ones(workload.layers), np.ones(workload.layers), np.zeros(workload.layers)
    # a class the profile lacks: the class it refines (kernels.CLASS_FALLBACK), then default, then ideal
    rows = class_table(hardware.efficiency, workload.efficiency_classes, (1.0, 1.0, 0.0))
    kernels = np.ones(workload.layers) if workload.kernels is None else workload.kernels
    if hardware.parallel_units is None:
        return rows[:, 0], rows[:, 1], rows[:, 2] + hardware.kernel_overhead_s * kernels
    compute = rows[:, 0] * fill_fraction(workload, hardware, batch)
    if hardware.power_share is not None:  # the clock under the power limit (engine.power_limit)
        np.minimum(compute, hardware.power_share, out=compute)
    return compute, rows[:, 1], rows[:, 2] + hardware.kernel_overhead_s * kernels
