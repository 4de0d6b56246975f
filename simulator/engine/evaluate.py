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

import numpy as np

from simulator.engine.configs import hardware_arrays
from simulator.engine.energy import Energy, layer_energy
from simulator.engine.timing import HardwareArrays, Timing, roofline_timing
from simulator.engine.workload import Workload
from simulator.hardware.device import Device
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
    totals: Mapping[str, np.ndarray]  # (C,) each, SI units

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
             kv_bits: np.ndarray | None = None, link: Mapping[str, np.ndarray] | None = None) -> Evaluation:
    """``workload`` on ``device`` for C configurations (arrays of length C; ``compute`` names the
    compute precision of each), with SI ``overrides`` as :func:`~simulator.engine.configs.override_arrays`
    gives them. ``totals`` hold, per configuration: ``model_size_bytes``, ``peak_activation_bytes``,
    ``t_compute_s``, ``t_memory_s``, ``latency_s`` (sums over layers), ``throughput_per_s``,
    ``energy_j``, ``energy_per_sample_j``, ``energy_compute_j``, ``energy_level_j`` (C, V),
    ``memory_bound_s`` (latency of memory-bound layers), ``memory_bound_fraction``, ``bound`` and
    ``fits``, and ``t_comm_s`` when there is tensor-parallel communication. ``kv_bits``: the KV
    cache's precision per configuration (default: the activations'); ``link``: ``devices``,
    ``link_bandwidth_bytes_per_s`` and ``link_latency_s`` arrays for tensor parallelism."""
    hardware = hardware_arrays(device, compute, overrides, ideal)
    if link:
        hardware = dataclasses.replace(hardware, **link)
    timing = roofline_timing(workload, hardware, batch, weight_bits, activation_bits, kv_bits)
    energy = layer_energy(workload, hardware, timing, batch)
    checks = memory_checks(workload, hardware, batch, weight_bits, activation_bits)
    latency_s = timing.latency_s.sum(axis=1)
    # memory-bound layer latencies added one by one, in layer order
    memory_bound_s = np.cumsum(np.where(timing.memory_bound, timing.latency_s, 0.0), axis=1)[:, -1]
    compute_j = energy.compute_j.sum(axis=1)
    level_j = energy.level_j.sum(axis=2)
    energy_j = compute_j
    for v in range(len(hardware.level_names)):
        energy_j = energy_j + level_j[:, v]
    fits = np.ones(len(batch), dtype=bool)
    for v, _, required in checks:
        fits &= required <= hardware.capacity_bytes[:, v]
    with np.errstate(divide="ignore", invalid="ignore"):
        totals = {
            "model_size_bytes": storage_bytes(workload.params, weight_bits).astype(np.int64),
            "peak_activation_bytes": storage_bytes(batch * workload.peak_activations,
                                                   activation_bits).astype(np.int64),
            "t_compute_s": timing.t_compute_s.sum(axis=1),
            "t_memory_s": timing.t_memory_s.sum(axis=1),
            "latency_s": latency_s,
            "throughput_per_s": batch / latency_s,
            "energy_j": energy_j,
            "energy_per_sample_j": energy_j / batch,
            "energy_compute_j": compute_j,
            "energy_level_j": level_j,
            "memory_bound_s": memory_bound_s,
            "memory_bound_fraction": memory_bound_s / latency_s,
            "bound": np.where(memory_bound_s > latency_s / 2, "memory", "compute"),
            "fits": fits,
        }
        if timing.t_comm_s is not None:
            totals["t_comm_s"] = timing.t_comm_s.sum(axis=1)
    return Evaluation(hardware, timing, energy, batch, checks, totals)
