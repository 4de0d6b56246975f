"""Roofline timing of every layer, vectorized over configurations.

For layer ``i`` at batch ``n``, with weights of ``b_w`` bits and activations of ``b_a`` bits:

* ``ops = n · (2·MACs + element-wise ops)`` and ``T_compute = ops / peak_ops_per_s(precision)``;
* bytes at each memory level (see :func:`level_bytes` for the traffic rule), and
  ``T_memory = max over levels (bytes_level / bandwidth_level)``: levels transfer concurrently,
  the slowest one bounds the layer (a hierarchical roofline). The operand level (register file)
  is left out of the time: feeding the datapath at full rate is what the peak figure assumes,
  and tensor cores and systolic arrays reuse each operand many times inside the array. Its
  traffic still costs energy;
* ``latency = max(T_compute, T_memory)``, named compute- or memory-bound by the larger term.
  With a calibrated efficiency model (:mod:`simulator.engine.efficiency`) the peak and bandwidths are
  derated per kernel class and a fixed overhead is added
  (:func:`~simulator.engine.efficiency.efficiency_arrays`,
  :func:`~simulator.engine.efficiency.expected_latency_s`).

A network's latency is the sum over its (inference-view) layers; throughput is ``n / latency``.
All arrays are ``(configs, layers)`` or ``(configs, levels, layers)`` in SI units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.configs import HardwareArrays, LinkLevel
from simulator.engine.efficiency import efficiency_arrays
from simulator.engine.workload import MATERIALIZED_ACCESSES, Workload
from simulator.model.formulas import OPS_PER_MAC
from simulator.model.layers import ring_link_elements

BITS_PER_BYTE = 8


@dataclass(frozen=True, eq=False)
class Timing:
    """Per-layer traffic and times for every configuration."""

    ops: np.ndarray                # (C, L) operations
    weight_bytes: np.ndarray       # (C, L) weights read, once per batch
    activation_bytes: np.ndarray   # (C, L) activations read and written
    level_bytes: np.ndarray        # (C, V, L) bytes crossing each memory level
    t_compute_s: np.ndarray        # (C, L)
    t_level_s: np.ndarray          # (C, V, L) bytes / bandwidth per level
    t_memory_s: np.ndarray         # (C, L) the slowest level
    latency_s: np.ndarray          # (C, L) max(T_compute, T_memory) + T_comm
    t_comm_s: np.ndarray | None = None  # (C, L) the link level's time (link_time_s): all-reduces

    @property
    def bytes_moved(self) -> np.ndarray:
        """Weights plus input and output activations of each layer, ``(C, L)`` [bytes]."""
        return self.weight_bytes + self.activation_bytes

    @property
    def memory_bound(self) -> np.ndarray:
        """``(C, L)`` True where ``T_memory > T_compute``."""
        return self.t_memory_s > self.t_compute_s


def level_bytes(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                activation_bits: np.ndarray, kv_bits: np.ndarray | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytes crossing each memory level, ``(C, V, L)``, and the weight and activation bytes ``(C, L)``.

    Traffic rule (each byte crosses each level it passes through once):

    * weights are read once per batch from the weight store and pass through every inner level
      that also holds weights;
    * activations (each layer's inputs and outputs) cross every level inside the activation store
      that holds activations; they reach the activation store itself only when spilled by the
      residency rule of :mod:`simulator.engine.workload` (always, without an on-chip buffer);
    * the operand level (register file) sees each MAC's two operands and each element-wise
      operation's one operand;
    * a materialized attention's score matrix (``workload.score_elements``) is written, read,
      written and read again (:data:`~simulator.engine.workload.MATERIALIZED_ACCESSES`); it stays
      in the on-chip buffer when the batch's scores fit there, else it goes to the activation store;
    * a KV cache (``workload.kv_elements``, at ``kv_bits``) is activation traffic that always
      reaches the activation store: it persists across decode steps, so it is never resident;
    * mixture-of-experts weights: the dense part once per batch, plus each expert that the batch's
      tokens touch (:meth:`~simulator.engine.workload.Workload.expected_experts`) once;
    * a gather's weights (``workload.gathered_weight_elements``, an Embedding's looked-up rows) are
      read per sample, as weights: ``n`` times the rows, never the whole table.
    """
    n = batch[:, None]
    weight_bytes_per_element = (weight_bits / BITS_PER_BYTE)[:, None]
    activation_bytes_per_element = (activation_bits / BITS_PER_BYTE)[:, None]
    weight_bytes = weight_bytes_per_element * workload.weight_elements  # (C, L), computed once
    if workload.expert_weight_elements is not None:
        experts = workload.expected_experts(batch)[:, None]
        weight_bytes = weight_bytes + weight_bytes_per_element * experts * workload.expert_weight_elements
    if workload.gathered_weight_elements is not None:
        weight_bytes = weight_bytes + n * weight_bytes_per_element * workload.gathered_weight_elements
    samples_bytes = n * activation_bytes_per_element  # (C, 1)
    activation_bytes = samples_bytes * workload.activation_elements
    buffer = hardware.activation_buffer
    if buffer is None:
        spilled = activation_bytes
    else:
        budget = hardware.capacity_bytes[:, buffer] / (batch * activation_bits / BITS_PER_BYTE)
        spilled = workload.spilled_for_budget(budget)  # a new (C, L) array, scaled in place
        spilled *= samples_bytes
    if workload.score_elements is not None and workload.score_elements.any():
        score_bytes = n * activation_bytes_per_element * workload.score_elements
        on_chip = (score_bytes <= hardware.capacity_bytes[:, buffer][:, None] if buffer is not None
                   else np.zeros_like(score_bytes, dtype=bool))
        accesses = MATERIALIZED_ACCESSES * score_bytes
        activation_bytes = activation_bytes + accesses
        spilled = spilled + np.where(on_chip, 0.0, accesses)
    if workload.kv_elements is not None:
        bits = activation_bits if kv_bits is None else kv_bits
        kv_bytes = n * (bits / BITS_PER_BYTE)[:, None] * workload.kv_elements
        activation_bytes = activation_bytes + kv_bytes
        spilled = spilled + kv_bytes
    # each level's bytes are the sum of its terms in this order (weights, activations, operands), written
    # into the (C, V, L) array directly: no zero-filled array added to
    levels = np.empty((len(batch), len(hardware.level_names), workload.layers))
    for v in range(len(hardware.level_names)):
        terms = []
        if v >= hardware.weight_store and hardware.stores_weights[v]:
            terms.append(weight_bytes)
        if v == hardware.activation_store:
            terms.append(spilled)
        elif v > hardware.activation_store and hardware.stores_activations[v]:
            terms.append(activation_bytes)
        if v == hardware.operand_level:
            operands = workload.macs * ((weight_bits + activation_bits) / BITS_PER_BYTE)[:, None]
            operands += workload.elementwise_ops * activation_bytes_per_element
            operands *= n
            terms.append(operands)
        out = levels[:, v]
        if not terms:
            out[...] = 0.0
        elif len(terms) == 1:
            out[...] = terms[0]
        else:
            np.add(terms[0], terms[1], out=out)
            for term in terms[2:]:
                out += term
    return levels, weight_bytes, activation_bytes


def link_bytes(workload: Workload, link: LinkLevel, batch: np.ndarray,
               activation_bits: np.ndarray) -> np.ndarray:
    """``(C, L)`` bytes each device sends over the link (:class:`~simulator.engine.configs.LinkLevel`),
    the link stream's traffic rule: an :class:`~simulator.model.layers.AllReduce` node's all-reduced
    activations, ``D = n · b/8 · allreduce_elements`` bytes per device, cross it as a ring all-reduce's
    ``2(N−1)/N · D`` (:func:`~simulator.model.layers.ring_link_elements`, the kind's link elements);
    ``b`` the activation precision's bits, at least the link's ``payload_bits`` where it has them (the
    expected model: 16, the GEMM output a runtime all-reduces)."""
    if workload.allreduce_elements is None:  # nothing all-reduced
        return np.zeros((len(batch), workload.layers))
    bits = activation_bits if link.payload_bits is None else np.maximum(activation_bits, link.payload_bits)
    data = batch[:, None] * (bits / BITS_PER_BYTE)[:, None] * workload.allreduce_elements
    with np.errstate(divide="ignore", invalid="ignore"):
        return ring_link_elements(data, link.devices[:, None])


def link_time_s(workload: Workload, hardware: HardwareArrays, batch: np.ndarray,
                activation_bits: np.ndarray) -> np.ndarray | None:
    """``(C, L)`` time of the link level (:class:`~simulator.engine.configs.LinkLevel`) of each layer
    that all-reduces across ``N`` tensor-parallel devices: ``transfers · latency + bytes / bandwidth +
    overhead`` with ``2(N−1)`` transfers and :func:`link_bytes` ``2(N−1)/N · D`` bytes, that is the ring
    all-reduce ``2(N−1)·latency + 2(N−1)/N · D / bandwidth``, plus the expected model's fixed cost per
    all-reduce (``overhead_s``, absent in the ideal roofline); zero on one device and on layers that
    all-reduce nothing; None without a link or without all-reduces. The one place of the formula. Not
    overlapped with compute: added to the layer's latency (an AllReduce node has no other work)."""
    link = hardware.link
    if workload.allreduce_elements is None or link is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (link.transfers() * link.latency_s[:, None]
             + link_bytes(workload, link, batch, activation_bits) / link.bandwidth_bytes_per_s[:, None])
    if link.overhead_s is not None:
        t = t + link.overhead_s[:, None]
    return np.where((workload.allreduce_elements > 0) & (link.devices[:, None] > 1), t, 0.0)


def compute_time_s(workload: Workload, batch: np.ndarray, peak_ops_per_s: np.ndarray,
                   compute_fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(C, L)`` operations ``n·(2·MACs + element-wise ops)`` and the derated compute time
    ``ops / peak / compute_fraction`` [s] (the ideal ``ops / peak`` divided by the fraction, as
    :func:`~simulator.engine.efficiency.expected_latency_s` divides it)."""
    ops = batch[:, None] * (OPS_PER_MAC * workload.macs + workload.elementwise_ops)
    t_compute = ops / peak_ops_per_s[:, None]
    t_compute /= compute_fraction
    return ops, t_compute


def slowest_level_s(levels: np.ndarray, bandwidth_bytes_per_s: np.ndarray, operand_level: int | None,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """``(C, L)`` ideal memory time: the largest ``bytes / bandwidth`` over the levels, the operand
    level left out (its time is zero, and every time is at least zero). ``levels`` is ``(U, V, L)``
    and ``rows`` picks configuration ``k``'s row of it (None: ``U = C``, row ``k``); one ``(C, L)``
    array per level at a time, never the ``(C, V, L)`` array of times [s]."""
    slowest: np.ndarray | None = None
    for v in range(levels.shape[1]):
        if v == operand_level:
            continue
        if rows is None:
            time_s = levels[:, v] / bandwidth_bytes_per_s[:, v, None]
        else:  # a gathered copy, divided in place
            time_s = levels[rows, v]
            time_s /= bandwidth_bytes_per_s[:, v, None]
        slowest = time_s if slowest is None else np.maximum(slowest, time_s, out=slowest)
    if slowest is None:  # only an operand level: nothing to wait for
        slowest = np.zeros((len(bandwidth_bytes_per_s), levels.shape[2]))
    return slowest


def layer_latency_s(t_compute_s: np.ndarray, t_memory_s: np.ndarray, overhead_s: np.ndarray) -> np.ndarray:
    """``(C, L)`` :func:`~simulator.engine.efficiency.expected_latency_s` of derated times:
    ``max(T_compute, T_memory) + overhead_s`` where the layer does work [s]."""
    latency = np.maximum(t_compute_s, t_memory_s)
    latency += np.where(latency > 0, overhead_s, 0.0)
    return latency


def roofline_timing(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                    activation_bits: np.ndarray, kv_bits: np.ndarray | None = None) -> Timing:
    """Per-layer roofline times of ``workload`` for every configuration (arrays of length C)."""
    levels, weight_bytes, activation_bytes = level_bytes(workload, hardware, batch, weight_bits,
                                                         activation_bits, kv_bits)
    compute_fraction, bandwidth_fraction, overhead_s = efficiency_arrays(workload, hardware, batch)
    ops, t_compute = compute_time_s(workload, batch, hardware.peak_ops_per_s, compute_fraction)
    ideal_level = levels / hardware.bandwidth_bytes_per_s[:, :, None]
    if hardware.operand_level is not None:
        ideal_level[:, hardware.operand_level] = 0.0
    t_memory = ideal_level.max(axis=1)
    t_level = np.divide(ideal_level, bandwidth_fraction, out=ideal_level)
    t_memory /= bandwidth_fraction
    latency = layer_latency_s(t_compute, t_memory, overhead_s)
    t_comm = link_time_s(workload, hardware, batch, activation_bits)
    if t_comm is not None:
        latency += t_comm
    return Timing(ops, weight_bytes, activation_bytes, levels, t_compute, t_level, t_memory, latency, t_comm)
