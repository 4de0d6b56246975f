"""One block of configurations through the whole engine: figures, traffic, times, energy, fit, totals.

:func:`evaluate` is the kernel of every simulation: :func:`simulator.simulation.simulate` calls it on
one configuration, :func:`simulator.sweeps.sweep` on thousands at once, so both report the same
numbers by construction. Totals are sums over the layer axis of ``(configs, layers)`` arrays, and
the energy total adds the parts in one stated order (compute, then each memory level).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from simulator.engine.configs import HardwareArrays, hardware_arrays
from simulator.engine.efficiency import class_table
from simulator.engine.energy import Energy, layer_energy
from simulator.engine.timing import BITS_PER_BYTE, Timing, roofline_timing
from simulator.engine.totals import Totals, summed_fields
from simulator.engine.workload import Workload
from simulator.hardware.device import Device
from simulator.model.formulas import OPS_PER_MAC
from simulator.precision import storage_bytes


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything the engine computed for C configurations of one network on one device."""

    hardware: HardwareArrays
    timing: Timing
    energy: Energy
    batch: np.ndarray                 # (C,)
    #: (level index, what it holds, required bytes (C,)) per memory check
    memory_checks: tuple[tuple[int, str, np.ndarray], ...]
    totals: Totals

    @property
    def bound(self) -> np.ndarray:
        """``(C, L)``: ``"memory"`` / ``"compute"``, or ``"none"`` for a layer with no work (a view)."""
        names = np.where(self.timing.memory_bound, "memory", "compute")
        return np.where(self.timing.latency_s == 0, "none", names)

    @property
    def binding(self) -> np.ndarray:
        """``(C, L)``: what binds each layer: ``compute``, the slowest memory level's name, or ``none``."""
        levels = np.array(self.hardware.level_names, dtype=object)[self.timing.t_level_s.argmax(axis=1)]
        names = np.where(self.timing.memory_bound, levels, "compute")
        return np.where(self.timing.latency_s == 0, "none", names)


#: The most ``(configurations, levels, layers)`` elements one block of :func:`evaluate_totals` creates
#: per array: 2**17 float64, 1 MiB, so that a block's temporaries stay in a core's L2 cache (blocks of
#: about a thousand ResNet-50 configurations ran 1.6-2x faster than blocks of 16,384)
BLOCK_ELEMENTS = 2**17


def memory_checks(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                  activation_bits: np.ndarray) -> tuple[tuple[int, str, np.ndarray], ...]:
    """``(level, what, required bytes per configuration)``: weights in the weight store, peak
    activations in the activation store, summed when they share a level."""
    weights = storage_bytes(workload.params, weight_bits)
    activations = storage_bytes(batch * workload.peak_activations, activation_bits)
    if hardware.weight_store == hardware.activation_store:
        return ((hardware.weight_store, "weights + peak activations", weights + activations),)
    return ((hardware.weight_store, "weights", weights),
            (hardware.activation_store, "peak activations", activations))


def evaluate(workload: Workload, device: Device, compute: Sequence[str], batch: np.ndarray,
             weight_bits: np.ndarray, activation_bits: np.ndarray,
             overrides: Mapping[str, np.ndarray] | None = None, ideal: bool = False,
             kv_bits: np.ndarray | None = None, link: Mapping[str, np.ndarray] | None = None,
             micro_batching: bool = True) -> Evaluation:
    """``workload`` on ``device`` for C configurations (arrays of length C; ``compute`` names the
    compute precision of each), with SI ``overrides`` as :func:`~simulator.engine.configs.override_arrays`
    gives them. ``totals``: the per-configuration sums, a :class:`~simulator.engine.totals.Totals`
    (``t_comm_s`` set when there is tensor-parallel communication). ``kv_bits``: the KV
    cache's precision per configuration (default: the activations'); ``link``: ``devices``,
    ``link_bandwidth_bytes_per_s`` and ``link_latency_s`` arrays for tensor parallelism.
    ``micro_batching``: let a batch that spills run in micro-batches when faster (see
    :func:`_run_batches`); off, every batch runs whole, as TensorRT runs an engine's batch."""
    hardware = hardware_arrays(device, compute, overrides, ideal)
    if link:
        hardware = dataclasses.replace(
            hardware, devices=link["devices"], link_bandwidth_bytes_per_s=link["link_bandwidth_bytes_per_s"],
            link_latency_s=link["link_latency_s"], allreduce_overhead_s=link.get("allreduce_overhead_s"))
    bits = (weight_bits, activation_bits, kv_bits)
    if micro_batching:
        timing, energy, micro_batch = _run_batches(workload, hardware, batch, *bits)
    else:
        timing, energy = _run(workload, hardware, batch, *bits)
        micro_batch = batch.astype(float)
    checks = memory_checks(workload, hardware, micro_batch, weight_bits, activation_bits)
    latency_s = timing.latency_s.sum(axis=1)
    # memory-bound layer latencies added one by one, in layer order
    memory_bound_s = np.cumsum(np.where(timing.memory_bound, timing.latency_s, 0.0), axis=1)[:, -1]
    compute_j = energy.compute_j.sum(axis=1)
    level_j = energy.level_j.sum(axis=2)
    static_j = energy.static_j.sum(axis=1)
    fits = np.ones(len(batch), dtype=bool)
    for v, _, required in checks:
        fits &= required <= hardware.capacity_bytes[:, v]
    totals = Totals(
        model_size_bytes=storage_bytes(workload.params, weight_bits).astype(np.int64),
        peak_activation_bytes=storage_bytes(batch * workload.peak_activations,
                                            activation_bits).astype(np.int64),
        micro_batch=micro_batch.astype(np.int64),
        t_compute_s=timing.t_compute_s.sum(axis=1),
        t_memory_s=timing.t_memory_s.sum(axis=1),
        fits=fits,
        t_comm_s=None if timing.t_comm_s is None else timing.t_comm_s.sum(axis=1),
        **summed_fields(batch, latency_s, memory_bound_s, compute_j, level_j, static_j),
    )
    return Evaluation(hardware, timing, energy, batch, checks, totals)


def evaluate_totals(workload: Workload, device: Device, compute: Sequence[str], batch: np.ndarray,
                    weight_bits: np.ndarray, activation_bits: np.ndarray,
                    overrides: Mapping[str, np.ndarray] | None = None, ideal: bool = False,
                    micro_batching: bool = True) -> tuple[Totals, tuple[str, ...]]:
    """:func:`evaluate`'s ``totals`` for C configurations, and the device's memory level names, what a
    sweep keeps. The configurations go through the engine in blocks of at most
    :data:`BLOCK_ELEMENTS` ``(configs, levels, layers)`` elements, each block's per-layer arrays
    dropped once its totals are taken: a configuration's totals do not depend on the others in its
    block, so they equal one :func:`evaluate` call's."""
    levels = len(device.memory_levels)
    step = max(1, BLOCK_ELEMENTS // (levels * max(workload.layers, 1)))
    configs = len(batch)

    def rows(values: np.ndarray, block: slice) -> np.ndarray:  # an override may be one value for all
        return values[block] if np.ndim(values) and len(values) == configs else values

    parts: list[Totals] = []
    names: tuple[str, ...] = ()
    for start in range(0, max(configs, 1), step):
        block = slice(start, start + step)
        evaluation = evaluate(workload, device, compute[block], batch[block], weight_bits[block],
                              activation_bits[block],
                              {key: rows(values, block) for key, values in (overrides or {}).items()},
                              ideal, micro_batching=micro_batching)
        parts.append(evaluation.totals)
        names = evaluation.hardware.level_names
    return Totals.concatenate(parts), names


#: the dataclasses of per-configuration arrays that _take and _combine copy field by field
_Arrays = TypeVar("_Arrays", HardwareArrays, Timing, Energy)


def _take(arrays: _Arrays, index: np.ndarray, configs: int) -> _Arrays:
    """A copy of a dataclass of per-configuration arrays keeping configurations ``index``."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(arrays):
        value = getattr(arrays, f.name)
        if isinstance(value, np.ndarray) and value.shape[:1] == (configs,):
            changes[f.name] = value[index]
    return dataclasses.replace(arrays, **changes)


def _combine(full: _Arrays, part: _Arrays, q: np.ndarray, rest: _Arrays | None,
             where: np.ndarray) -> _Arrays:
    """``full`` with configurations ``where`` replaced by ``q·part + rest`` (field by field)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(full):
        value = getattr(full, f.name)
        if not isinstance(value, np.ndarray):
            continue
        shape = (-1,) + (1,) * (value.ndim - 1)
        plan = q.reshape(shape) * getattr(part, f.name)
        if rest is not None:
            plan = plan + getattr(rest, f.name)
        value = value.copy()
        value[where] = plan
        changes[f.name] = value
    return dataclasses.replace(full, **changes)


def _run(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
         activation_bits: np.ndarray, kv_bits: np.ndarray | None) -> tuple[Timing, Energy]:
    timing = roofline_timing(workload, hardware, batch, weight_bits, activation_bits, kv_bits)
    return timing, layer_energy(workload, hardware, timing, batch)


class _PlanFloor:
    """A lower bound of a micro-batching plan's latency, cheap enough to decide which plans to run.

    A plan runs ``q`` passes of ``m`` samples and one of ``r = n − q·m``. In a pass of ``k > 0``
    samples each layer's latency is at least its compute time ``k·c``, with ``c = ops / (peak ·
    compute_fraction)`` per sample (the fill of a parallel device is at most 1), and at least the
    time of the bytes it moves at the weight store and at the activation store over that level's
    bandwidth times the bandwidth fraction: its weights (read once per pass) and the activations
    the residency rule spills at ``m`` samples (``Workload.spilled_for_budget``, a step function of
    ``m`` that changes where the residency set does), ``M(m)`` in all; plus its fixed overhead
    ``o`` when it does work.
    So the plan's latency is at least ``Σ_layers max(n·c, q·M(m)) + q·o`` (the remainder's
    traffic, scores, KV cache and expert weights only add to it). A plan whose bound, less a
    relative margin far above rounding, exceeds the best latency found so far cannot be better.
    """

    #: relative margin: the engine's sums round to ~1e-16 per term; this is a million times more
    MARGIN = 1e-9

    def __init__(self, workload: Workload, hardware: HardwareArrays, weight_bits: np.ndarray,
                 activation_bits: np.ndarray) -> None:
        # plain ndarray annotations: numpy's stubs type shapes differently from one release to the next
        compute_fraction: np.ndarray
        bandwidth_fraction: np.ndarray
        overhead_s: np.ndarray
        if hardware.efficiency is None:
            compute_fraction = bandwidth_fraction = np.ones(workload.layers)
            overhead_s = np.zeros(workload.layers)
        else:
            rows = class_table(hardware.efficiency, workload.efficiency_classes, (1.0, 1.0, 0.0))
            compute_fraction, bandwidth_fraction = rows[:, 0], rows[:, 1]
            kernels = np.ones(workload.layers) if workload.kernels is None else workload.kernels
            overhead_s = rows[:, 2] + hardware.kernel_overhead_s * kernels
        ops = OPS_PER_MAC * workload.macs + workload.elementwise_ops
        busy = (ops > 0) | (workload.weight_elements > 0)
        self.hardware, self.workload = hardware, workload
        self.weight_bytes_per_element = weight_bits / BITS_PER_BYTE
        self.activation_bytes_per_element = activation_bits / BITS_PER_BYTE
        self.ops_per_fraction = ops / compute_fraction
        self.bandwidth_fraction = bandwidth_fraction
        self.overhead_s = np.where(busy, overhead_s, 0.0).sum()
        # the network's sums, for a first bound in O(configs) (Σ max ≥ max Σ): ops over the compute
        # fraction, weights and each residency segment's spilled elements over the bandwidth fraction
        self.ops_sum = self.ops_per_fraction.sum()
        self.weight_sum = (workload.weight_elements / bandwidth_fraction).sum()
        self.spilled_sums = (workload.spilled_elements / bandwidth_fraction).sum(axis=1)

    def quick_bound_s(self, index: np.ndarray, n: np.ndarray, m: float) -> np.ndarray:
        """``(len(index),)``: a weaker bound than :meth:`bound_s`, from the network's sums alone:
        ``max(n·Σc, q·ΣM(m)) + q·o`` (``Σ_layers max(a, b) ≥ max(Σa, Σb)``) [s]."""
        hardware, workload = self.hardware, self.workload
        q = np.floor(n / m)
        compute_s = n / hardware.peak_ops_per_s[index] * self.ops_sum
        weights = self.weight_bytes_per_element[index] * self.weight_sum
        activation_bytes = self.activation_bytes_per_element[index]
        budget = hardware.capacity_bytes[index, hardware.activation_buffer] / (m * activation_bytes)
        segment = np.searchsorted(workload.spill_thresholds, budget, side="right")
        spilled = m * activation_bytes * self.spilled_sums[segment]
        bandwidth = hardware.bandwidth_bytes_per_s[index]
        weight_store, activation_store = hardware.weight_store, hardware.activation_store
        if weight_store == activation_store:
            pass_s = (weights + spilled) / bandwidth[:, weight_store]
        else:
            pass_s = np.maximum(weights / bandwidth[:, weight_store],
                                spilled / bandwidth[:, activation_store])
        return np.maximum(compute_s, q * pass_s) + q * self.overhead_s

    def bound_s(self, index: np.ndarray, n: np.ndarray, m: float) -> np.ndarray:
        """``(len(index),)``: the lower bound of running batches ``n`` of configurations ``index`` in
        passes of ``m`` samples [s]."""
        hardware, workload = self.hardware, self.workload
        q = np.floor(n / m)
        compute_s = (n / hardware.peak_ops_per_s[index])[:, None] * self.ops_per_fraction
        weights = self.weight_bytes_per_element[index][:, None] * workload.weight_elements
        activation_bytes = self.activation_bytes_per_element[index]
        budget = hardware.capacity_bytes[index, hardware.activation_buffer] / (m * activation_bytes)
        spilled = (m * activation_bytes)[:, None] * workload.spilled_for_budget(budget)
        bandwidth = hardware.bandwidth_bytes_per_s[index]
        weight_store, activation_store = hardware.weight_store, hardware.activation_store
        if weight_store == activation_store:
            pass_s = (weights + spilled) / bandwidth[:, weight_store, None]
        else:
            pass_s = np.maximum(weights / bandwidth[:, weight_store, None],
                                spilled / bandwidth[:, activation_store, None])
        pass_s = pass_s / self.bandwidth_fraction
        return np.maximum(compute_s, q[:, None] * pass_s).sum(axis=1) + q * self.overhead_s

    def can_win(self, index: np.ndarray, n: np.ndarray, m: float, best_s: np.ndarray) -> np.ndarray:
        """``(len(index),)``: True where running batches ``n`` of configurations ``index`` in passes of
        ``m`` samples may have a latency below ``best_s``."""
        keep = self.quick_bound_s(index, n, m) * (1.0 - self.MARGIN) <= best_s
        if keep.any():  # the per-layer bound for those the network's sums leave in
            rows = np.flatnonzero(keep)
            keep[rows] = self.bound_s(index[rows], n[rows], m) * (1.0 - self.MARGIN) <= best_s[rows]
        return keep


def _run_batches(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                 activation_bits: np.ndarray, kv_bits: np.ndarray | None,
                 ) -> tuple[Timing, Energy, np.ndarray]:
    """Per-layer timing and energy of each configuration's batch, run in micro-batches when that is faster.

    A runtime may split a batch of ``n`` into ``q = n // m`` passes of ``m`` samples and one of the
    remaining ``n − q·m``, so that activations stay in the on-chip buffer (the residency rule of
    :mod:`simulator.engine.workload` then holds for ``m`` samples, not ``n``), at the price of
    reading the weights once per pass. Of ``m = n`` and every power of two below it, the plan
    with the least total latency is kept; the result's arrays are the plan's totals per layer
    (``q·X(m) + X(n − q·m)``). Only a configuration whose batch spills more activations (or
    materialized attention scores) than one sample does can gain: the others run whole, which is
    best for them (weights are read once, overheads are paid once). Without an on-chip activation
    buffer nothing is split. Splitting keeps per-sample time non-increasing in the batch over
    powers of two, in the ideal and in the expected model alike. Plans are tried from ``m = 1`` up,
    and a plan runs only for the configurations where its lower bound (:class:`_PlanFloor`: compute,
    weights once per pass, the activations spilled at ``m``, overheads) is below the best latency
    so far; the others could not have won, so the result is the exhaustive search's.
    """
    timing, energy = _run(workload, hardware, batch, weight_bits, activation_bits, kv_bits)
    micro = batch.astype(float).copy()
    buffer = hardware.activation_buffer
    if buffer is None or len(workload.spill_thresholds) == 0:
        return timing, energy, micro
    bytes_per_sample = activation_bits / BITS_PER_BYTE
    capacity = hardware.capacity_bytes[:, buffer]
    whole = np.searchsorted(workload.spill_thresholds, capacity / (batch * bytes_per_sample), side="right")
    single = np.searchsorted(workload.spill_thresholds, capacity / bytes_per_sample, side="right")
    spills_more = whole != single
    if workload.score_elements is not None and workload.score_elements.any():
        # a materialized score matrix stays on chip while the batch's scores fit (timing.level_bytes)
        scores = workload.score_elements[workload.score_elements > 0] * bytes_per_sample[:, None]
        spills_more |= ((batch[:, None] * scores > capacity[:, None])
                        & (scores <= capacity[:, None])).any(axis=1)
    candidates = np.flatnonzero(spills_more & (batch > 1))
    if not len(candidates):
        return timing, energy, micro
    best = timing.latency_s.sum(axis=1)
    configs = len(batch)
    floor = _PlanFloor(workload, hardware, weight_bits, activation_bits)
    for j in range(int(np.log2(batch[candidates].max())) + 1):
        m = 2.0 ** j
        index = candidates[batch[candidates] > m]
        # only the plans whose lower bound can beat the best so far are run (the same plans win as
        # when every one is run: a plan skipped here would not have been better)
        index = index[floor.can_win(index, batch[index], m, best[index])]
        if not len(index):
            continue
        q = np.floor(batch[index] / m)
        rest_n = batch[index] - q * m
        sub = _take(hardware, index, configs)
        args = (weight_bits[index], activation_bits[index], None if kv_bits is None else kv_bits[index])
        part_t, part_e = _run(workload, sub, np.full(len(index), m), *args)
        total = q * part_t.latency_s.sum(axis=1)
        has_rest = rest_n > 0
        rest_t = rest_e = None
        if has_rest.any():
            rest_t, rest_e = _run(workload, sub, np.maximum(rest_n, 1.0), *args)
            # a remainder of zero samples runs nothing
            rest_t = _combine(rest_t, rest_t, has_rest.astype(float), None, np.ones(len(index), bool))
            rest_e = _combine(rest_e, rest_e, has_rest.astype(float), None, np.ones(len(index), bool))
            total = total + rest_t.latency_s.sum(axis=1)
        better = total < best[index]
        if not better.any():
            continue
        keep = index[better]
        pick = np.flatnonzero(better)
        timing = _combine(timing, _take(part_t, pick, len(index)), q[pick],
                          None if rest_t is None else _take(rest_t, pick, len(index)), keep)
        energy = _combine(energy, _take(part_e, pick, len(index)), q[pick],
                          None if rest_e is None else _take(rest_e, pick, len(index)), keep)
        best[keep] = total[better]
        micro[keep] = m
    return timing, energy, micro
