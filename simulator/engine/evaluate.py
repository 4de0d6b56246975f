"""One block of configurations through the whole engine: figures, traffic, times, energy, fit, totals.

:func:`evaluate` is the kernel of every simulation: :func:`simulator.simulation.simulate` calls it on
one configuration and keeps its per-layer arrays. :func:`evaluate_totals` is what a sweep runs on
thousands at once: the same functions of :mod:`~simulator.engine.timing` and
:mod:`~simulator.engine.energy`, element by element the same operations, but what does not depend on
the bandwidth once per distinct row of the configurations and only the sums kept, so both report the
same numbers bit for bit (tests/engine/test_block_totals.py, the sweep's sampled-row tests). Totals
are sums over the layer axis of ``(configs, layers)`` arrays, and the energy total adds the parts in
one stated order (compute, then each memory level).

Every per-layer intermediate is float64, not float32: a sweep's rows equal single simulations bit
for bit (the tests compare them with ``==``), which float32 intermediates would give up for a
relative error of ~1e-7 per layer; and a discrete outcome decided by a comparison of two sums (the
micro-batching plan kept, ``total < best``; ``bound``, a share over one half; ``fits``) could then
differ between a sweep row and its simulation near a tie. A sweep's time is mostly what does not
scale with the arithmetic's width (per-block numpy calls, the plan search, framing), so float32 would
gain little of the reference kernel's 2x.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np

from simulator.engine.configs import HardwareArrays, LinkLevel, hardware_arrays
from simulator.engine.efficiency import class_table, efficiency_arrays
from simulator.engine.energy import Energy, compute_energy_j, layer_energy, level_energy_j, static_energy_j
from simulator.engine.timing import (
    BITS_PER_BYTE,
    Timing,
    compute_time_s,
    level_bytes,
    roofline_timing,
    slowest_level_s,
)
from simulator.engine.totals import Totals, saturated_int64, summed_fields
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
    def link_bound(self) -> np.ndarray:
        """``(C, L)`` True where the link time exceeds both others, ``T_comm > max(T_compute, T_memory)``
        (a tensor-parallel all-reduce, whose only time is its link time); all False without a link."""
        t = self.timing
        if t.t_comm_s is None:
            return np.zeros(t.latency_s.shape, dtype=bool)
        return t.t_comm_s > np.maximum(t.t_compute_s, t.t_memory_s)

    @property
    def bound(self) -> np.ndarray:
        """``(C, L)``: ``"memory"`` / ``"compute"``, ``"link"`` where :attr:`link_bound`, or ``"none"``
        for a layer with no work (a view)."""
        names = np.where(self.timing.memory_bound, "memory", "compute")
        names = np.where(self.link_bound, "link", names)
        return np.where(self.timing.latency_s == 0, "none", names)

    @property
    def binding(self) -> np.ndarray:
        """``(C, L)``: what binds each layer: ``compute``, the slowest memory level's name, ``link``
        (:attr:`link_bound`), or ``none``."""
        levels = np.array(self.hardware.level_names, dtype=object)[self.timing.t_level_s.argmax(axis=1)]
        names = np.where(self.timing.memory_bound, levels, "compute")
        names = np.where(self.link_bound, "link", names)
        return np.where(self.timing.latency_s == 0, "none", names)


#: The most ``(configurations, levels, layers)`` elements one block of :func:`evaluate_totals` creates
#: per array: 2**17 float64, 1 MiB, so that a block's temporaries stay in a core's L2 cache (blocks of
#: about a thousand ResNet-50 configurations ran 1.6-2x faster than blocks of 16,384)
BLOCK_ELEMENTS = 2**17
FIRST_PASS_ELEMENTS = 2**15


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


def _with_link(hardware: HardwareArrays, link: Mapping[str, np.ndarray] | None) -> HardwareArrays:
    """``hardware`` with the link level (:class:`~simulator.engine.configs.LinkLevel`) of ``link``'s
    arrays (:func:`simulator.llm.parallel.link_arrays`' keys); unchanged without one."""
    if not link:
        return hardware
    return dataclasses.replace(hardware, link=LinkLevel(
        devices=link["devices"], bandwidth_bytes_per_s=link["link_bandwidth_bytes_per_s"],
        latency_s=link["link_latency_s"], overhead_s=link.get("allreduce_overhead_s"),
        payload_bits=link.get("allreduce_payload_bits")))


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
    hardware = _with_link(hardware_arrays(device, compute, overrides, ideal), link)
    bits = (weight_bits, activation_bits, kv_bits)
    if micro_batching:
        timing, energy, micro_batch = _run_batches(workload, hardware, batch, *bits)
    else:
        timing, energy = _run(workload, hardware, batch, *bits)
        micro_batch = batch.astype(float)
    checks, totals = _totals(workload, hardware, batch, weight_bits, activation_bits, micro_batch,
                             _layer_sums(timing, energy))
    return Evaluation(hardware, timing, energy, batch, checks, totals)


def memory_bound_sum_s(memory_bound: np.ndarray, latency_s: np.ndarray,
                       work: np.ndarray | None = None) -> np.ndarray:
    """``(C,)`` latency of the memory-bound layers [s]: ``Σ_l latency_l · [memory-bound_l]`` per
    configuration, its row of the ``(C, L)`` product summed over the layer axis as every other total
    is (``latency_s.sum(axis=1)``: numpy sums each contiguous row alone, pairwise), so that one
    configuration's figure is the same whatever the configurations beside it. A product, not
    ``np.where``: equal for the finite, non-negative latencies the engine makes (``x·1 = x``,
    ``x·0 = +0``) and a fifth of its time (a select on a mask that alternates mispredicts); a
    transposed copy that added the layers one by one cost as much as fifteen elementwise
    operations. ``work``: a scratch array of at least ``C·L`` float64 instead of a new temporary."""
    masked = None if work is None else work.reshape(-1)[:latency_s.size].reshape(latency_s.shape)
    return np.multiply(latency_s, memory_bound, out=masked).sum(axis=1)


#: what :func:`_totals` takes from the per-layer arrays: each one's sum over the layers, per configuration
_SUMS = ("t_compute_s", "t_memory_s", "latency_s", "memory_bound_s", "compute_j", "level_j", "static_j",
         "t_comm_s")


def _sums_of(timing: Mapping[str, Any], energy: Mapping[str, Any]) -> dict[str, Any]:
    """The sums over the layer axis that the totals are made of (:data:`_SUMS`), ``(C,)`` each
    (``level_j``: ``(C, V)``; ``t_comm_s``: None without tensor parallelism), from the per-layer
    ``(C, L)`` arrays by field name (``level_j``: ``(C, V, L)``)."""
    t_comm, t_memory, t_compute = timing["t_comm_s"], timing["t_memory_s"], timing["t_compute_s"]
    return {
        "t_compute_s": timing["t_compute_s"].sum(axis=1),
        "t_memory_s": timing["t_memory_s"].sum(axis=1),
        "latency_s": timing["latency_s"].sum(axis=1),
        "memory_bound_s": memory_bound_sum_s(t_memory > t_compute, timing["latency_s"]),
        "compute_j": energy["compute_j"].sum(axis=1),
        "level_j": energy["level_j"].sum(axis=2),
        "static_j": energy["static_j"].sum(axis=1),
        "t_comm_s": None if t_comm is None else t_comm.sum(axis=1),
    }


def _layer_sums(timing: Timing, energy: Energy) -> dict[str, np.ndarray | None]:
    """:func:`_sums_of` a :class:`Timing` and an :class:`Energy`."""
    return _sums_of({name: getattr(timing, name) for name in _SUMMED_FIELDS[0]},
                    {name: getattr(energy, name) for name in _SUMMED_FIELDS[1]})


def _totals(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
            activation_bits: np.ndarray, micro_batch: np.ndarray, sums: Mapping[str, Any],
            ) -> tuple[tuple[tuple[int, str, np.ndarray], ...], Totals]:
    """The memory checks and the :class:`Totals` of C configurations from their layer sums."""
    checks = memory_checks(workload, hardware, micro_batch, weight_bits, activation_bits)
    fits = np.ones(len(batch), dtype=bool)
    for v, _, required in checks:
        fits &= required <= hardware.capacity_bytes[:, v]
    totals = Totals(
        model_size_bytes=saturated_int64(storage_bytes(workload.params, weight_bits)),
        peak_activation_bytes=saturated_int64(storage_bytes(batch * workload.peak_activations,
                                                            activation_bits)),
        micro_batch=saturated_int64(micro_batch),
        t_compute_s=sums["t_compute_s"],
        t_memory_s=sums["t_memory_s"],
        fits=fits,
        t_comm_s=sums["t_comm_s"],
        **summed_fields(batch, sums["latency_s"], sums["memory_bound_s"], sums["compute_j"], sums["level_j"],
                        sums["static_j"]),
    )
    return checks, totals


def evaluate_totals(workload: Workload, device: Device, compute: Sequence[str], batch: np.ndarray,
                    weight_bits: np.ndarray, activation_bits: np.ndarray,
                    overrides: Mapping[str, np.ndarray] | None = None, ideal: bool = False,
                    micro_batching: bool = True) -> tuple[Totals, tuple[str, ...]]:
    """:func:`evaluate`'s ``totals`` for C configurations, and the device's memory level names, what a
    sweep keeps, without keeping per-layer arrays: the device's arrays are made once, the whole
    batches' sums come from :func:`_first_pass_sums`, and each winning micro-batching plan's sums
    replace its configurations' (each plan run on blocks of at most :data:`BLOCK_ELEMENTS`
    ``(configs, levels, layers)`` elements). A configuration's totals do not depend on the others',
    so they equal one :func:`evaluate` call's."""
    hardware = hardware_arrays(device, compute, overrides, ideal)
    sums, distinct = _first_pass_sums(workload, hardware, batch, weight_bits, activation_bits)
    micro = batch.astype(float)
    if micro_batching:
        rows_per_run = max(1, BLOCK_ELEMENTS // (len(device.memory_levels) * max(workload.layers, 1)))
        searched = _plan_search(workload, hardware, batch, weight_bits, activation_bits, None,
                                sums["latency_s"].copy(), False, rows_per_run, distinct)
        for won in searched:
            for key, values in _sums_of(*won.rows(_SUMMED_FIELDS)).items():
                if values is not None:
                    sums[key][won.keep] = values
            micro[won.keep] = won.m
    _, totals = _totals(workload, hardware, batch, weight_bits, activation_bits, micro,
                        {**sums, "t_comm_s": None})
    return totals, hardware.level_names


def _distinct_rows(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)``: the index of one configuration per distinct row of ``columns`` (each
    ``(C,)``), and for each configuration its distinct row's position in ``first``."""
    varying = [c for c in columns if len(c) and c.min() != c.max()]  # a constant column sorts nothing
    if not varying:
        return np.zeros(min(len(columns[0]), 1), dtype=np.intp), np.zeros(len(columns[0]), dtype=np.intp)
    keys = np.stack(varying)
    # runs of equal consecutive rows (a product's innermost axis repeats them): only each run's first
    # row is sorted; the first of a distinct row's runs is its first configuration, as a stable sort
    # of all rows finds it
    starts = np.empty(keys.shape[1], dtype=bool)
    starts[:1] = True
    np.any(keys[:, 1:] != keys[:, :-1], axis=0, out=starts[1:])
    heads = np.flatnonzero(starts)
    if 2 * len(heads) <= keys.shape[1]:
        first, inverse = _distinct_rows([key[heads] for key in varying])
        return heads[first], inverse[np.cumsum(starts) - 1]
    order = np.lexsort(keys)
    ordered = keys[:, order]
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    np.any(ordered[:, 1:] != ordered[:, :-1], axis=0, out=new[1:])
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def _first_pass_sums(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                     activation_bits: np.ndarray,
                     ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """:func:`_layer_sums` of :func:`_run` (whole batches, no tensor parallelism) for C configurations.

    What a layer's traffic, compute time and energy depend on (batch, precisions, peak, capacities,
    energies) is computed once per distinct row of those (a sweep over bandwidths repeats them);
    what depends on the bandwidth (the memory time, the latency, static energy) for every
    configuration, from its row's arrays. Both in blocks of at most :data:`BLOCK_ELEMENTS`
    ``(rows, levels, layers)`` elements. Element by element these are :func:`_run`'s operations, so
    its sums. Also ``(first, inverse)`` of :func:`_distinct_rows` (None when rows rarely repeat)."""
    configs = len(batch)
    sums: dict[str, np.ndarray] = {key: np.empty(configs) for key in (
        "t_compute_s", "t_memory_s", "latency_s", "memory_bound_s", "compute_j", "static_j")}
    sums["level_j"] = np.empty((configs, len(hardware.level_names)))
    step = max(1, BLOCK_ELEMENTS // (len(hardware.level_names) * max(workload.layers, 1)))  # (C, V, L)
    keys = [batch, weight_bits, activation_bits, hardware.peak_ops_per_s, hardware.mac_energy_pj,
            hardware.op_energy_pj, *hardware.capacity_bytes.T, *hardware.energy_per_byte_pj.T]
    distinct = _distinct_rows(keys) if configs > 1 else None
    if distinct is None or 2 * len(distinct[0]) > configs:  # too few repeats to pay for the gathers
        for start in range(0, configs, step):
            block = slice(start, start + step)
            _first_pass_block(workload, hardware, batch, weight_bits, activation_bits, block,
                              [(block, None, 0)], sums)
        return sums, None
    first, inverse = distinct
    grouped = np.argsort(inverse, kind="stable")  # the configurations, those of each distinct row together
    bounds = np.searchsorted(inverse[grouped], np.arange(0, len(first) + step, step))
    per_block = max(1, FIRST_PASS_ELEMENTS // max(workload.layers, 1))  # (C, L) arrays of the configurations
    row_sums: dict[str, list[np.ndarray]] = {}  # the sums of each distinct row, in the order of first
    for k, start in enumerate(range(0, len(first), step)):
        # the configurations of distinct rows start:start+step, in blocks
        members = grouped[bounds[k]:bounds[k + 1]]
        counts = np.bincount(inverse[members] - start)
        groups: list[tuple[np.ndarray, np.ndarray | slice, int]]
        if np.min(counts) == np.max(counts) <= per_block:  # as many configurations of each row: broadcast
            runs = int(counts[0])
            per = max(1, per_block // runs)
            groups = [(members[j * runs:(j + per) * runs], slice(j, min(j + per, len(counts))), runs)
                      for j in range(0, len(counts), per)]
        else:
            groups = [(where, inverse[where] - start, 0)
                      for where in (members[c:c + per_block] for c in range(0, len(members), per_block))]
        for key, values in _first_pass_block(workload, hardware, batch, weight_bits, activation_bits,
                                             first[start:start + step], groups, sums, False).items():
            row_sums.setdefault(key, []).append(values)
    for key, parts in row_sums.items():  # what does not depend on the bandwidth: one gather per sum
        sums[key][...] = np.concatenate(parts)[inverse]
    return sums, (first, inverse)


class _Distinct:
    """What does not depend on the bandwidth, of some configurations: per-level bytes ``(U, V, L)``,
    derated compute time ``(U, L)``, the bandwidth fraction ``(L,)``, overhead (only where a layer
    does work, ``(U, L)``), compute and level energy per layer ``(U, L)``, ``(U, V, L)`` and the sums of
    compute time, compute energy and level energy. (A plain class: a dataclass costs a millisecond of
    every command's start-up.)"""

    __slots__ = ("bandwidth_fraction", "compute_j", "level_j", "levels", "overhead_s", "sums", "t_compute_s")

    def __init__(self, workload: Workload, hardware: HardwareArrays, batch: np.ndarray,
                 weight_bits: np.ndarray, activation_bits: np.ndarray, sums: bool = True) -> None:
        """``sums``: whether to take the sums (a plan's runs combine per-layer arrays instead)."""
        levels, _, _ = level_bytes(workload, hardware, batch, weight_bits, activation_bits)
        compute_fraction, self.bandwidth_fraction, overhead_s = efficiency_arrays(workload, hardware, batch)
        _, t_compute = compute_time_s(workload, batch, hardware.peak_ops_per_s, compute_fraction)
        # a layer does work (latency > 0, layer_latency_s) where it computes or moves bytes at a timed
        # level (bytes over a finite bandwidth are then > 0, whatever the bandwidth)
        timed = [v for v in range(levels.shape[1]) if v != hardware.operand_level]
        works = (t_compute > 0) | (levels[:, timed].max(axis=1) > 0)
        self.levels, self.t_compute_s, self.overhead_s = levels, t_compute, np.where(works, overhead_s, 0.0)
        self.compute_j = compute_energy_j(workload, hardware, batch)
        self.level_j = level_energy_j(levels, hardware)
        self.sums = {"t_compute_s": t_compute.sum(axis=1), "compute_j": self.compute_j.sum(axis=1),
                     "level_j": self.level_j.sum(axis=2)} if sums else {}


def _run_distinct(workload: Workload, hardware: HardwareArrays, runs: np.ndarray, first: np.ndarray,
                  weight_bits: np.ndarray, activation_bits: np.ndarray, index: np.ndarray,
                  rows: np.ndarray, d: _Distinct | None = None) -> tuple[SimpleNamespace, SimpleNamespace]:
    """The fields of :func:`_run` that the totals are summed from (:data:`_SUMMED_FIELDS`), of
    configurations ``index`` (no tensor parallelism): configuration ``index[k]`` runs the batch
    ``runs[rows[k]]`` and has the batch, precisions, peak, capacities and energies of configuration
    ``first[rows[k]]``, so what does not depend on the bandwidth is computed once per row of ``first``.
    Element by element :func:`_run`'s operations. ``d``: that :class:`_Distinct` of ``runs`` and
    ``first``, made before (``runs`` and ``first`` then unused)."""
    if d is None:
        d = _Distinct(workload, _take(hardware, first, len(hardware.peak_ops_per_s)), runs,
                      weight_bits[first], activation_bits[first], sums=False)
    t_memory = slowest_level_s(d.levels, hardware.bandwidth_bytes_per_s[index], hardware.operand_level, rows)
    t_memory /= d.bandwidth_fraction
    t_compute = d.t_compute_s[rows]
    latency = np.maximum(t_compute, t_memory)  # layer_latency_s, the overhead's condition known per row
    latency += d.overhead_s[rows]
    power = None if hardware.static_power_w is None else hardware.static_power_w[index]
    return (SimpleNamespace(t_compute_s=t_compute, t_memory_s=t_memory, latency_s=latency, t_comm_s=None),
            SimpleNamespace(compute_j=_RowsOf(d.compute_j, rows), level_j=_RowsOf(d.level_j, rows),
                            static_j=_StaticOf(power, latency)))


class _StaticOf:
    """:func:`~simulator.engine.energy.static_energy_j` of the configurations read (``[pick]``: a plan's
    winners) only, as :class:`_RowsOf`; row by row the same products."""

    __slots__ = ("latency_s", "power_w")

    def __init__(self, power_w: np.ndarray | None, latency_s: np.ndarray) -> None:
        self.power_w, self.latency_s = power_w, latency_s

    def __getitem__(self, pick: np.ndarray) -> np.ndarray:
        return static_energy_j(None if self.power_w is None else self.power_w[pick], self.latency_s[pick])


class _RowsOf:
    """Per-configuration rows ``rows`` of per-distinct-row ``values``, gathered only for the
    configurations read (``[pick]``: a plan's winners), not for every configuration a plan ran on."""

    __slots__ = ("rows", "values")

    def __init__(self, values: np.ndarray, rows: np.ndarray) -> None:
        self.values, self.rows = values, rows

    def __getitem__(self, pick: np.ndarray) -> np.ndarray:
        return self.values[self.rows[pick]]


def _first_pass_block(workload: Workload, hardware: HardwareArrays, batch: np.ndarray,
                      weight_bits: np.ndarray, activation_bits: np.ndarray, distinct: np.ndarray | slice,
                      groups: Sequence[tuple[np.ndarray | slice, np.ndarray | slice | None, int]],
                      sums: dict[str, np.ndarray], row_sums: bool = True) -> dict[str, np.ndarray]:
    """Writes into ``sums`` the sums of configurations ``where`` of each ``(where, rows, runs)`` of
    ``groups`` (not those that do not depend on the bandwidth unless ``row_sums``: they are returned
    per configuration of ``distinct``), whose traffic, compute time and energy are those of
    configurations ``distinct``:
    configuration ``where[k]``'s are ``distinct[rows[k]]``'s (``rows`` None: ``where`` is
    ``distinct``); with ``runs`` > 0, ``rows`` is a slice of ``distinct`` and ``where`` holds ``runs``
    configurations of each of its rows in turn (the arrays then broadcast, ``(rows, runs, L)``)."""
    part = _take(hardware, distinct, len(batch))
    d = _Distinct(workload, part, batch[distinct], weight_bits[distinct], activation_bits[distinct])
    layers = d.levels.shape[2]
    timed = [v for v in range(d.levels.shape[1]) if v != hardware.operand_level]
    # scratch (configs, L) arrays, reused by every group: no fresh temporaries (and page faults) per group
    size = max(_group_size(where, rows, runs, len(batch)) for where, rows, runs in groups) * layers
    t_memory_buffer, latency_buffer, work_buffer = np.empty(size), np.empty(size), np.empty(size)
    bound_buffer = np.empty(size, dtype=bool)
    for where, rows, runs in groups:
        for key, values in d.sums.items() if row_sums else ():
            sums[key][where] = (values if rows is None else np.repeat(values[rows], runs, axis=0) if runs
                                else values[rows])
        bandwidth = hardware.bandwidth_bytes_per_s[where]
        count = len(bandwidth)
        shape: tuple[int, ...]
        t_memory: np.ndarray
        latency: np.ndarray
        memory_bound: np.ndarray
        if runs:  # slowest_level_s, each distinct row's bytes over its configurations' bandwidths
            shape = (count // runs, runs, layers)
            shaped = bandwidth.reshape(-1, runs, bandwidth.shape[1])
            t_memory = t_memory_buffer[:count * layers].reshape(shape)
            # a level whose bandwidth is the same for all configurations of a row (all but the swept
            # one): its time once per row; the slowest level's time is the same largest quotient
            varies = [v for v in timed if (shaped[:, 1:, v] != shaped[:, :1, v]).any()]
            fixed = [v for v in timed if v not in varies]
            row_s: np.ndarray | None = None
            for v in fixed:
                time_s = d.levels[rows, v, :] / shaped[:, 0, v, None]
                row_s = time_s if row_s is None else np.maximum(row_s, time_s, out=row_s)
            if varies:
                np.divide(d.levels[rows, None, varies[0], :], shaped[:, :, varies[0], None], out=t_memory)
                level_s = work_buffer[:count * layers].reshape(shape)
                for v in varies[1:]:
                    np.divide(d.levels[rows, None, v, :], shaped[:, :, v, None], out=level_s)
                    np.maximum(t_memory, level_s, out=t_memory)
                if row_s is not None:
                    np.maximum(t_memory, row_s[:, None, :], out=t_memory)
            elif row_s is not None:
                t_memory[...] = row_s[:, None, :]
            else:  # only an operand level: nothing to wait for
                t_memory[...] = 0.0
            np.divide(t_memory, d.bandwidth_fraction, out=t_memory)
            t_compute, overhead_s = d.t_compute_s[rows, None, :], d.overhead_s[rows, None, :]
        else:
            shape = (count, layers)
            t_memory = slowest_level_s(d.levels, bandwidth, hardware.operand_level, rows)  # type: ignore[arg-type]
            t_memory /= d.bandwidth_fraction
            t_compute = d.t_compute_s if rows is None else d.t_compute_s[rows]
            overhead_s = d.overhead_s if rows is None else d.overhead_s[rows]
        # layer_latency_s, the overhead's condition known per distinct row
        latency = np.maximum(t_compute, t_memory, out=latency_buffer[:count * layers].reshape(shape))
        latency += overhead_s
        memory_bound = np.greater(t_memory, t_compute, out=bound_buffer[:count * layers].reshape(shape))
        t_memory, latency = t_memory.reshape(-1, layers), latency.reshape(-1, layers)  # (configs, L)
        memory_bound = memory_bound.reshape(-1, layers)
        sums["t_memory_s"][where] = t_memory.sum(axis=1)
        sums["latency_s"][where] = latency.sum(axis=1)
        work = work_buffer[:count * layers].reshape(-1, layers)
        sums["memory_bound_s"][where] = memory_bound_sum_s(memory_bound, latency, work)
        if hardware.static_power_w is None:
            sums["static_j"][where] = 0.0
        else:  # static_energy_j, summed
            np.multiply(hardware.static_power_w[where][:, None], latency, out=work)
            sums["static_j"][where] = work.sum(axis=1)
    return d.sums


def _group_size(where: np.ndarray | slice, rows: np.ndarray | slice | None, runs: int, configs: int) -> int:
    """The configurations of one group of :func:`_first_pass_block`."""
    if isinstance(where, slice):
        return len(range(*where.indices(configs)))
    return len(where)


#: the dataclasses of per-configuration arrays that _take and _put_rows copy field by field
_Arrays = TypeVar("_Arrays", HardwareArrays, LinkLevel, Timing, Energy)


def _take(arrays: _Arrays, index: np.ndarray | slice, configs: int) -> _Arrays:
    """A copy of a dataclass of per-configuration arrays keeping configurations ``index`` (a slice:
    views of its arrays), those of a nested one (the link level) too."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(arrays):
        value = getattr(arrays, f.name)
        if isinstance(value, np.ndarray) and value.shape[:1] == (configs,):
            changes[f.name] = value[index]
        elif isinstance(value, LinkLevel):
            changes[f.name] = _take(value, index, configs)
    return dataclasses.replace(arrays, **changes)


def _plan_rows(part: Timing | Energy, rest: Timing | Energy | None, q: np.ndarray, has_rest: np.ndarray,
               pick: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray | None]:
    """Fields ``names`` of a micro-batching plan for its configurations ``pick``: ``q·part +
    has_rest·rest`` per layer (``q`` passes of ``m`` samples and the remainder's pass, which runs
    nothing where ``has_rest`` is 0), or ``q·part`` when no configuration has a remainder."""
    rows: dict[str, np.ndarray | None] = {}
    for name in names:
        value = getattr(part, name)
        if not isinstance(value, np.ndarray | _RowsOf | _StaticOf):
            rows[name] = None
            continue
        picked = value[pick]
        shape = (-1,) + (1,) * (picked.ndim - 1)
        plan = q[pick].reshape(shape) * picked
        if rest is not None:
            plan = plan + has_rest[pick].reshape(shape) * getattr(rest, name)[pick]
        rows[name] = plan
    return rows


def _put_rows(full: _Arrays, where: np.ndarray, rows: Mapping[str, np.ndarray | None]) -> _Arrays:
    """A copy of ``full`` with configurations ``where`` of each array field replaced by ``rows``."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(full):
        value = getattr(full, f.name)
        if not isinstance(value, np.ndarray):
            continue
        value = value.copy()
        value[where] = rows[f.name]
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
                 activation_bits: np.ndarray, batch: np.ndarray | None = None,
                 distinct: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``distinct``: ``(first, inverse)`` of :func:`_distinct_rows` over the configurations' batch,
        peak, bit widths and capacities (and perhaps more), of batches ``batch``; None: found here."""
        self.batch, self.distinct = batch, (None if batch is None else distinct)
        #: plan -> (its configurations, their quick bound, their bound: inf where the quick bound ruled
        #: the plan out), from :meth:`prepare`
        self.prepared: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
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

    #: the most (configuration, plan) pairs :meth:`prepare` bounds at once (its arrays are of this length)
    PREPARE_PAIRS = 2**14

    def prepare(self, plans: Sequence[tuple[float, np.ndarray]], best_s: np.ndarray) -> None:
        """The bounds of the plans ``(m, configurations)`` of ``plans`` for :meth:`can_win`, several
        plans at once (one pass of numpy calls for consecutive plans of at most
        :data:`PREPARE_PAIRS` pairs in all, instead of one per plan: the search's fixed cost), where
        the caller's distinct rows make :meth:`_crossover_bound_s` apply (weights and activations in
        one store, at most a quarter as many (row, plan) pairs as configurations, their arrays
        within :data:`BLOCK_ELEMENTS`). ``best_s``: the latency to beat per configuration (C,), which
        only falls as plans win: a plan ruled out against it stays ruled out. Other plans
        :meth:`can_win` bounds one by one. The decisions are those of :meth:`can_win` plan by plan:
        the same bounds, compared with the best latency at that time."""
        self.prepared = {}
        hardware, batch, distinct = self.hardware, self.batch, self.distinct
        if hardware.weight_store != hardware.activation_store or distinct is None or batch is None:
            return
        group: list[tuple[float, np.ndarray]] = []
        for plan in plans:
            if group and sum(len(index) for _, index in group) + len(plan[1]) > self.PREPARE_PAIRS:
                self._prepare_group(group, best_s, batch, distinct)
                group = []
            group.append(plan)
        if group:
            self._prepare_group(group, best_s, batch, distinct)

    def _prepare_group(self, plans: Sequence[tuple[float, np.ndarray]], best_s: np.ndarray, batch: np.ndarray,
                       distinct: tuple[np.ndarray, np.ndarray]) -> None:
        """:meth:`prepare` of consecutive plans, in one pass (nothing where the crossover bound does
        not apply: :meth:`can_win` then bounds them one by one); ``batch`` and ``distinct``: the
        floor's."""
        sizes = [len(index) for _, index in plans]
        if sum(sizes) < 2:
            return
        index = np.concatenate([index for _, index in plans])
        plan_m = np.array([m for m, _ in plans])
        plan_of = np.repeat(np.arange(len(plans)), sizes)
        m, n = plan_m[plan_of], batch[index]
        first, inverse = distinct
        pair_key = inverse[index] * len(plans) + plan_of  # (distinct row, plan) of each pair
        present = np.zeros(len(first) * len(plans), dtype=bool)
        present[pair_key] = True
        used = np.flatnonzero(present)
        if 4 * len(used) <= len(index):  # the quick bound's terms but the bandwidth once per (row, plan)
            row, plan = np.divmod(used, len(plans))
            pair_row = (np.cumsum(present) - 1)[pair_key]
            quick = self._quick_bound_rows_s(index, first[row], plan_m[plan], pair_row)
        else:
            quick = self.quick_bound_s(index, n, m)
        left = np.flatnonzero(quick * (1.0 - self.MARGIN) <= best_s[index])
        bound = np.full(len(index), np.inf)
        if len(left):
            key = pair_key[left]
            present = np.zeros(len(first) * len(plans), dtype=bool)
            present[key] = True
            used = np.flatnonzero(present)
            if 4 * len(used) > len(left) or len(used) * max(self.workload.layers, 1) > BLOCK_ELEMENTS:
                return
            rows = (np.cumsum(present) - 1)[key]
            row, plan = np.divmod(used, len(plans))
            bound[left] = self._crossover_bound_s(index[left], n[left], m[left], first[row],
                                                  batch[first[row]], rows, plan_m[plan])
        ends = np.cumsum(sizes)
        for k, (m_k, index_k) in enumerate(plans):
            part = slice(ends[k] - sizes[k], ends[k])
            self.prepared[m_k] = (index_k, quick[part], bound[part])

    def quick_bound_s(self, index: np.ndarray, n: np.ndarray, m: float | np.ndarray) -> np.ndarray:
        """``(len(index),)``: a weaker bound than :meth:`bound_s`, from the network's sums alone:
        ``max(n·Σc, q·ΣM(m)) + q·o`` (``Σ_layers max(a, b) ≥ max(Σa, Σb)``) [s]; ``m`` a plan's
        samples per pass, or one per configuration."""
        hardware = self.hardware
        q, compute_s, weights, spilled = self._quick_terms(index, n, m)
        weight_store, activation_store = hardware.weight_store, hardware.activation_store
        if weight_store == activation_store:
            pass_s = np.add(weights, spilled, out=weights)
            pass_s /= hardware.bandwidth_bytes_per_s[index, weight_store]
        else:
            pass_s = np.divide(weights, hardware.bandwidth_bytes_per_s[index, weight_store], out=weights)
            spilled /= hardware.bandwidth_bytes_per_s[index, activation_store]
            np.maximum(pass_s, spilled, out=pass_s)
        pass_s *= q
        bound = np.maximum(compute_s, pass_s, out=compute_s)
        q *= self.overhead_s
        bound += q
        return bound

    def _quick_terms(self, at: np.ndarray, n: np.ndarray, m: float | np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`quick_bound_s`'s terms that do not depend on the bandwidth, of configurations ``at``
        running batches ``n`` in passes of ``m`` samples: the full passes ``q``, the compute time
        ``n·Σc`` [s], and the bytes one pass moves of weights and of spilled activations (new arrays,
        the caller's to write into)."""
        hardware, workload = self.hardware, self.workload
        # the formula's operations in place on a few (k,) arrays (each gather is a new array)
        q = np.floor(np.divide(n, m), out=np.empty(len(at)))
        compute_s = np.divide(n, hardware.peak_ops_per_s[at])
        compute_s *= self.ops_sum
        weights = self.weight_bytes_per_element[at]
        weights *= self.weight_sum
        spilled = np.multiply(m, self.activation_bytes_per_element[at])  # bytes per sample, m samples
        budget = hardware.capacity_bytes[at, hardware.activation_buffer]
        budget /= spilled
        spilled *= self.spilled_sums[np.searchsorted(workload.spill_thresholds, budget, side="right")]
        return q, compute_s, weights, spilled

    def _quick_bound_rows_s(self, index: np.ndarray, distinct: np.ndarray, m_rows: np.ndarray,
                            rows: np.ndarray) -> np.ndarray:
        """:meth:`quick_bound_s` of configurations ``index`` (weights and activations in one store),
        configuration ``index[k]`` having the batch, peak, bit widths and capacity of configuration
        ``distinct[rows[k]]`` and running its plan of ``m_rows[rows[k]]`` samples per pass: every term
        but the store's bandwidth once per row (:meth:`_quick_terms`), the same operations on the same
        values."""
        hardware = self.hardware
        q, compute_s, weights, spilled = self._quick_terms(distinct, self.batch[distinct], m_rows)  # type: ignore[index]
        weights += spilled
        pass_s = np.divide(weights[rows], hardware.bandwidth_bytes_per_s[index, hardware.weight_store])
        q_pairs = q[rows]
        pass_s *= q_pairs
        bound = np.maximum(compute_s[rows], pass_s, out=pass_s)
        q_pairs *= self.overhead_s
        bound += q_pairs
        return bound

    def bound_s(self, index: np.ndarray, n: np.ndarray, m: float) -> np.ndarray:
        """``(len(index),)``: the lower bound of running batches ``n`` of configurations ``index`` in
        passes of ``m`` samples [s]. Where weights and activations share a store and configurations
        differ mostly in its bandwidth ``w`` (a sweep over bandwidths), per distinct rest:
        ``Σ_l max(a_l, b_l / w)`` with ``a_l`` the compute time and ``b_l`` the bytes over the
        fraction is ``Σ_{l: b_l/a_l > w} b_l / w + Σ_{other l} a_l``: the layers sorted by their
        crossover bandwidth ``b_l / a_l`` once, each configuration counts the layers above its own
        (:meth:`_crossover_bound_s`); the same sum, added in another order."""
        hardware = self.hardware
        if hardware.weight_store == hardware.activation_store and len(index) > 1:
            if self.distinct is not None and self.batch is not None:  # the caller's distinct rows
                first, inverse = self.distinct
                present = np.zeros(len(first), dtype=bool)
                present[inverse[index]] = True
                used = np.flatnonzero(present)
                if 4 * len(used) <= len(index):
                    rows = (np.cumsum(present) - 1)[inverse[index]]
                    return self._crossover_bound_s(index, n, m, first[used], self.batch[first[used]], rows)
            else:
                keys = [n, hardware.peak_ops_per_s[index], self.weight_bytes_per_element[index],
                        self.activation_bytes_per_element[index],
                        hardware.capacity_bytes[index, hardware.activation_buffer]]
                first, rows = _distinct_rows(keys)
                if 4 * len(first) <= len(index):
                    return self._crossover_bound_s(index, n, m, index[first], n[first], rows)
        return self._layer_bound_s(index, n, m)

    def _crossover_bound_s(self, index: np.ndarray, n: np.ndarray, m: float | np.ndarray,
                           distinct: np.ndarray, nd: np.ndarray, rows: np.ndarray,
                           m_rows: float | np.ndarray | None = None) -> np.ndarray:
        """:meth:`bound_s` of one store from the layers sorted by crossover bandwidth, per distinct row
        of everything but the bandwidth: configurations ``distinct``, of batches ``nd``
        (configuration ``index[k]``'s row is ``rows[k]``). ``m``: samples per pass, one or per
        configuration; ``m_rows``: per row (None: ``m``, one plan)."""
        hardware, workload = self.hardware, self.workload
        m_rows = m if m_rows is None else m_rows
        q = np.floor(nd / m_rows)
        compute_s = (nd / hardware.peak_ops_per_s[distinct])[:, None] * self.ops_per_fraction
        weights = self.weight_bytes_per_element[distinct][:, None] * workload.weight_elements
        activation_bytes = self.activation_bytes_per_element[distinct]
        budget = hardware.capacity_bytes[distinct, hardware.activation_buffer] / (m_rows * activation_bytes)
        spilled = (m_rows * activation_bytes)[:, None] * workload.spilled_for_budget(budget)
        moved = q[:, None] * (weights + spilled) / self.bandwidth_fraction  # bytes: times w, a time
        with np.errstate(divide="ignore", invalid="ignore"):
            crossover = np.where(moved > 0, moved / compute_s, 0.0)  # memory-bound below this bandwidth
        order = np.argsort(-crossover, axis=1)
        crossover = np.take_along_axis(crossover, order, axis=1)
        zero = np.zeros((len(distinct), 1))
        moved = np.take_along_axis(moved, order, axis=1)
        compute_s = np.take_along_axis(compute_s, order, axis=1)
        moved_before = np.concatenate([zero, np.cumsum(moved, axis=1)], axis=1)
        compute_from = np.concatenate([np.cumsum(compute_s[:, ::-1], axis=1)[:, ::-1], zero], axis=1)
        bandwidth = hardware.bandwidth_bytes_per_s[index, hardware.weight_store]
        above = _count_above(crossover, rows, bandwidth)  # the memory-bound layers, first in order
        return (moved_before[rows, above] / bandwidth + compute_from[rows, above]
                + np.floor(n / m) * self.overhead_s)

    def _layer_bound_s(self, index: np.ndarray, n: np.ndarray, m: float) -> np.ndarray:
        """:meth:`bound_s` layer by layer, configuration by configuration."""
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
        ``m`` samples may have a latency below ``best_s`` (from the bounds :meth:`prepare` found, when
        it found this plan's)."""
        prepared = self.prepared.get(m)
        if prepared is not None and np.array_equal(prepared[0], index):
            _, quick, bound = prepared
            return (quick * (1.0 - self.MARGIN) <= best_s) & (bound * (1.0 - self.MARGIN) <= best_s)
        keep = self.quick_bound_s(index, n, m) * (1.0 - self.MARGIN) <= best_s
        left = np.flatnonzero(keep)  # the per-layer bound for those the network's sums leave in
        step = max(1, BLOCK_ELEMENTS // max(self.workload.layers, 1))  # (rows, layers) arrays of a block
        for start in range(0, len(left), step):
            rows = left[start:start + step]
            keep[rows] = self.bound_s(index[rows], n[rows], m) * (1.0 - self.MARGIN) <= best_s[rows]
        return keep


def _count_above(descending: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(k,)``: how many entries of row ``rows[k]`` of ``descending`` (``(U, L)``, each row sorted from
    the largest) exceed ``values[k]``: a binary search of all k at once over the rows padded with
    ``-inf`` to ``2**b > L`` entries, ``b`` steps of a few ``(k,)`` operations (each step adds its
    width where the entry that far on still exceeds the value) instead of one ``(k, L)`` comparison."""
    count, layers = descending.shape
    width = 1 << int(layers).bit_length()
    padded = np.full((count, width), -np.inf)
    padded[:, :layers] = descending
    flat = padded.ravel()
    position = rows * width  # the row's start plus the entries counted so far
    step = width >> 1
    while step:
        probe = flat[position + (step - 1)]
        position += (probe > values) * step
        step >>= 1
    return position - rows * width


class _Winners:
    """Configurations ``keep`` (of C) that the plan of ``m`` samples per pass runs faster than any
    plan before it: their total latency ``latency_s``, and the plan's passes (``part``, ``q`` each) and
    remainder (``rest``, None when no configuration tried had one) as run on the configurations
    tried, of which ``pick`` are the winners. (A plain class, as :class:`_Distinct`.)"""

    __slots__ = ("has_rest", "keep", "latency_s", "m", "part", "pick", "q", "rest")

    def __init__(self, keep: np.ndarray, m: float, latency_s: np.ndarray, part: tuple[Timing, Energy],
                 rest: tuple[Timing, Energy] | None, q: np.ndarray, has_rest: np.ndarray,
                 pick: np.ndarray) -> None:
        self.keep, self.m, self.latency_s, self.part, self.rest = keep, m, latency_s, part, rest
        self.q, self.has_rest, self.pick = q, has_rest, pick

    def rows(self, names: tuple[Sequence[str], Sequence[str]]) -> tuple[dict, dict]:
        """The winners' per-layer timing fields ``names[0]`` and energy fields ``names[1]``."""
        return tuple(_plan_rows(self.part[k], None if self.rest is None else self.rest[k], self.q,
                                self.has_rest, self.pick, names[k]) for k in (0, 1))  # type: ignore[return-value]


def _plan_search(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                 activation_bits: np.ndarray, kv_bits: np.ndarray | None, best: np.ndarray,
                 per_level: bool, rows_per_run: int | None = None,
                 distinct: tuple[np.ndarray, np.ndarray] | None = None) -> Iterator[_Winners]:
    """The micro-batching plans that beat the whole batch (``best``: its latency per configuration,
    updated in place), in the order tried (see :func:`_run_batches`); each plan run on at most
    ``rows_per_run`` configurations at a time (None: all it may win on). ``distinct``: the
    configurations' distinct rows, for the plans' bound (:class:`_PlanFloor`)."""
    buffer = hardware.activation_buffer
    if buffer is None or len(workload.spill_thresholds) == 0:
        return
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
        return
    floor = _PlanFloor(workload, hardware, weight_bits, activation_bits, batch, distinct)
    plans = [(2.0 ** j, candidates[batch[candidates] > 2.0 ** j])
             for j in range(int(np.log2(batch[candidates].max())) + 1)]
    floor.prepare(plans, best)  # every plan's bound at once, where the caller's distinct rows allow it
    passes = None
    if distinct is not None and not per_level and kv_bits is None and hardware.link is None:
        passes = _PlanPasses(workload, hardware, weight_bits, activation_bits, plans, floor, best, distinct)
    for m, index in plans:
        # only the plans whose lower bound can beat the best so far are run (the same plans win as
        # when every one is run: a plan skipped here would not have been better)
        index = index[floor.can_win(index, batch[index], m, best[index])]
        if not len(index):
            continue
        step = rows_per_run or len(index)
        for start in range(0, len(index), step):
            won = _plan_runs(workload, hardware, batch, weight_bits, activation_bits, kv_bits, best,
                             per_level, m, index[start:start + step], distinct, passes)
            if won is not None:
                yield won


class _PlanPasses:
    """The :class:`_Distinct` of a pass of ``m`` samples of every (distinct row, plan) that may win when
    the search begins (:meth:`_PlanFloor.can_win` against the whole batch's latency; the latency to
    beat only falls), made in one call instead of one per plan run (its fixed cost: some forty numpy
    calls on small arrays). Rows are computed element by element, so a row's figures are those a
    plan's own :class:`_Distinct` would give. (A plain class, as :class:`_Distinct`.)"""

    __slots__ = ("distinct", "position")

    def __init__(self, workload: Workload, hardware: HardwareArrays, weight_bits: np.ndarray,
                 activation_bits: np.ndarray, plans: Sequence[tuple[float, np.ndarray]], floor: _PlanFloor,
                 best_s: np.ndarray, distinct: tuple[np.ndarray, np.ndarray]) -> None:
        first, inverse = distinct
        #: plan -> for each distinct row its row of self.distinct, -1 where none was made
        self.position: dict[float, np.ndarray] = {}
        self.distinct: _Distinct | None = None
        made_rows, made_m = [], []
        count = 0
        for m, index in plans:
            prepared = floor.prepared.get(m)
            if prepared is None or not len(index) or not np.array_equal(prepared[0], index):
                continue
            _, quick, bound = prepared
            beat = best_s[index]
            alive = (quick * (1.0 - floor.MARGIN) <= beat) & (bound * (1.0 - floor.MARGIN) <= beat)
            present = np.zeros(len(first), dtype=bool)
            present[inverse[index[alive]]] = True
            rows = np.flatnonzero(present)
            if not len(rows):
                continue
            position = np.full(len(first), -1, dtype=np.intp)
            position[rows] = np.arange(count, count + len(rows))
            self.position[m] = position
            made_rows.append(rows)
            made_m.append(np.full(len(rows), m))
            count += len(rows)
        if count:
            at = first[np.concatenate(made_rows)]
            part = _take(hardware, at, len(hardware.peak_ops_per_s))
            self.distinct = _Distinct(workload, part, np.concatenate(made_m), weight_bits[at],
                                      activation_bits[at], sums=False)

    def rows(self, m: float, distinct_rows: np.ndarray) -> np.ndarray | None:
        """The rows of :attr:`distinct` of passes of ``m`` samples for distinct rows ``distinct_rows``;
        None where one was not made."""
        position = self.position.get(m)
        if position is None:
            return None
        rows = position[distinct_rows]
        return None if (rows < 0).any() else rows


def _plan_runs(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
               activation_bits: np.ndarray, kv_bits: np.ndarray | None, best: np.ndarray, per_level: bool,
               m: float, index: np.ndarray, distinct: tuple[np.ndarray, np.ndarray] | None = None,
               passes: _PlanPasses | None = None) -> _Winners | None:
    """The plan of ``m`` samples per pass run on configurations ``index``: those it makes faster than
    ``best`` (updated in place), or None. ``distinct``: the configurations' distinct rows (as
    :func:`_first_pass_sums` finds them); a sweep's totals (not ``per_level``) then run each once
    (:func:`_run_distinct`)."""
    q = np.floor(batch[index] / m)
    rest_n = batch[index] - q * m
    run: Any
    if distinct is not None and not per_level and kv_bits is None and hardware.link is None:
        # configurations of one distinct row share their batch, so their remainder: each row run once
        first, inverse = distinct
        present = np.zeros(len(first), dtype=bool)
        present[inverse[index]] = True
        used = first[present]
        rows = (np.cumsum(present) - 1)[inverse[index]]
        n_used = batch[used]
        rest_used = n_used - np.floor(n_used / m) * m

        def run(n: np.ndarray) -> tuple:
            return _run_distinct(workload, hardware, n, used, weight_bits, activation_bits, index, rows)

        made = None if passes is None else passes.rows(m, inverse[index])
        if made is None or passes is None:
            part = run(np.full(len(used), m))
        else:  # the passes of m samples made for every plan at once
            part = _run_distinct(workload, hardware, None, None, weight_bits, activation_bits, index,  # type: ignore[arg-type]
                                 made, passes.distinct)
    else:
        sub = _take(hardware, index, len(batch))
        args = (weight_bits[index], activation_bits[index], None if kv_bits is None else kv_bits[index])

        def run(n: np.ndarray) -> tuple:
            return _run(workload, sub, n, *args)

        rest_used = rest_n
        part = run(np.full(len(index), m))
    total = q * part[0].latency_s.sum(axis=1)
    has_rest = (rest_n > 0).astype(float)
    rest = None
    if has_rest.any():
        rest = run(np.maximum(rest_used, 1.0))
        # a remainder of zero samples runs nothing
        total = total + (has_rest[:, None] * rest[0].latency_s).sum(axis=1)
    better = total < best[index]
    if not better.any():
        return None
    keep = index[better]
    best[keep] = total[better]
    return _Winners(keep, m, total[better], part, rest, q, has_rest, np.flatnonzero(better))


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
    names = ([f.name for f in dataclasses.fields(timing) if isinstance(getattr(timing, f.name), np.ndarray)],
             [f.name for f in dataclasses.fields(energy)])
    best = timing.latency_s.sum(axis=1)
    for won in _plan_search(workload, hardware, batch, weight_bits, activation_bits, kv_bits, best, True):
        timing_rows, energy_rows = won.rows(names)
        timing = _put_rows(timing, won.keep, timing_rows)
        energy = _put_rows(energy, won.keep, energy_rows)
        micro[won.keep] = won.m
    return timing, energy, micro


#: the per-layer fields the totals are summed from (what a sweep's plans combine)
_SUMMED_FIELDS = (("t_compute_s", "t_memory_s", "latency_s", "t_comm_s"),
                  ("compute_j", "level_j", "static_j"))
