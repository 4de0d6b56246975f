"""Put a network on a device: latency, throughput, energy, memory fit and the bound of every layer.

:func:`simulate` is the main entry point. It evaluates one configuration through the same
vectorized kernels (:mod:`simulator.engine.timing`, :mod:`simulator.engine.energy`) that sweeps evaluate
thousands with, so a sweep's row equals the single simulation of its configuration exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from simulator.catalog import build_network
from simulator.engine.energy import Energy, layer_energy
from simulator.engine.timing import BITS_PER_BYTE, HardwareArrays, Timing, roofline_timing
from simulator.engine.workload import Workload, build_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import NetworkCounts, check_batch, count_network
from simulator.model.fusion import inference_view
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision
from simulator.units import format_bytes


def hardware_arrays(device: Device, precisions: Sequence[str],
                    overrides: Mapping[str, np.ndarray] | None = None, ideal: bool = False) -> HardwareArrays:
    """The device's parameters for configurations computing at ``precisions`` (one per configuration).

    ``overrides`` replaces fields per configuration, in SI units: ``peak_ops_per_s``,
    ``<level>.bandwidth_bytes_per_s``, ``<level>.capacity_bytes`` and ``<level>.energy_per_byte_pj``
    (level names as in the profile, case-insensitive). ``ideal`` ignores the device's
    calibrated efficiency model (if any) and gives the pure roofline.
    """
    count = len(precisions)
    levels = device.memory_levels
    columns = {
        "bandwidth_bytes_per_s": np.array([[lv.bandwidth_bytes_per_s for lv in levels]] * count, dtype=float),
        "capacity_bytes": np.array([[lv.capacity_bytes for lv in levels]] * count, dtype=float),
        "energy_per_byte_pj": np.array([[lv.energy_per_byte_pj for lv in levels]] * count, dtype=float),
    }
    distinct = dict.fromkeys(precisions)
    peaks = {p: device.peak_for(p) for p in distinct}
    mac_energy = {p: device.energy.mac_energy_pj(p) for p in distinct}
    add_energy = {p: device.energy.op_energy_pj("add", p) for p in distinct}
    peak = np.array([peaks[p] for p in precisions], dtype=float)
    level_index = {lv.name.lower(): v for v, lv in enumerate(levels)}
    for key, values in (overrides or {}).items():
        if key == "peak_ops_per_s":
            peak = np.broadcast_to(np.asarray(values, dtype=float), (count,)).copy()
            continue
        level, _, field = key.partition(".")
        if level.lower() not in level_index or field not in columns:
            raise SimulatorError(
                f"cannot override {key!r} on device {device.name!r}: expected peak_ops_per_s or "
                f"<level>.<field> with level in {[lv.name for lv in levels]} and field in {list(columns)}")
        columns[field][:, level_index[level.lower()]] = values
    return HardwareArrays(
        level_names=tuple(lv.name for lv in levels),
        stores_weights=tuple("weights" in lv.stores for lv in levels),
        stores_activations=tuple("activations" in lv.stores for lv in levels),
        peak_ops_per_s=peak,
        mac_energy_pj=np.array([mac_energy[p] for p in precisions]),
        op_energy_pj=np.array([add_energy[p] for p in precisions]),
        efficiency=None if ideal or device.efficiency is None else {
            name: (entry.compute_fraction, entry.bandwidth_fraction, entry.overhead_s)
            for name, entry in device.efficiency.classes.items()},
        **columns,
    )


@dataclass(frozen=True)
class MemoryCheck:
    """Whether what a memory level must hold fits in it: weights, peak activations, or both."""

    level: str
    holds: str
    required_bytes: int
    capacity_bytes: int

    @property
    def fits(self) -> bool:
        return self.required_bytes <= self.capacity_bytes

    def describe(self) -> str:
        verdict = "fits in" if self.fits else "does NOT fit in"
        return (f"{self.holds} need {format_bytes(self.required_bytes)} ({self.required_bytes:,} bytes), "
                f"{verdict} {self.level} of {format_bytes(self.capacity_bytes)} "
                f"({self.capacity_bytes:,} bytes)")


def memory_checks(workload: Workload, hardware: HardwareArrays, batch: np.ndarray, weight_bits: np.ndarray,
                  activation_bits: np.ndarray) -> list[tuple[int, str, np.ndarray]]:
    """``(level, what, required bytes per configuration)``: weights in the weight store, peak
    activations in the activation store, summed when they share a level."""
    weights = np.ceil(workload.params * weight_bits / BITS_PER_BYTE)
    activations = np.ceil(batch * workload.peak_activations * activation_bits / BITS_PER_BYTE)
    if hardware.weight_store == hardware.activation_store:
        return [(hardware.weight_store, "weights + peak activations", weights + activations)]
    return [(hardware.weight_store, "weights", weights),
            (hardware.activation_store, "peak activations", activations)]


@dataclass(frozen=True)
class LayerResult:
    """One layer on one device at one configuration (SI units)."""

    name: str
    kind: str
    macs: int
    ops: float
    bytes_moved: float
    arithmetic_intensity: float
    t_compute_s: float
    t_memory_s: float
    latency_s: float
    bound: str
    energy_j: float
    level_bytes: dict[str, float]


@dataclass(frozen=True)
class SimulationResult:
    """A network on a device: totals, per-layer results and memory checks (SI units)."""

    network: str
    device: str
    batch: int
    precision: str
    weight_precision: str
    activation_precision: str
    counts: NetworkCounts
    layers: tuple[LayerResult, ...]
    model_size_bytes: int
    t_compute_s: float
    t_memory_s: float
    latency_s: float
    energy_breakdown_j: dict[str, float]
    memory: tuple[MemoryCheck, ...]

    @property
    def throughput_per_s(self) -> float:
        """Samples per second: ``batch / latency``."""
        return self.batch / self.latency_s

    @property
    def energy_j(self) -> float:
        """Compute plus every memory level, added in that order (as sweeps add them)."""
        return _sequential_sum(self.energy_breakdown_j.values())

    @property
    def energy_per_sample_j(self) -> float:
        return self.energy_j / self.batch

    @property
    def bound(self) -> str:
        """``memory`` if memory-bound layers take most of the latency, else ``compute``."""
        return "memory" if self.memory_bound_fraction > 0.5 else "compute"

    @property
    def fits(self) -> bool:
        return all(check.fits for check in self.memory)

    @property
    def memory_bound_fraction(self) -> float:
        """Share of the latency spent in memory-bound layers."""
        memory_s = _sequential_sum(layer.latency_s for layer in self.layers if layer.bound == "memory")
        return memory_s / self.latency_s

    def level_bytes(self) -> dict[str, float]:
        """Bytes crossing each memory level, summed over layers."""
        return {level: sum(layer.level_bytes[level] for layer in self.layers)
                for level in self.layers[0].level_bytes}

    def layers_frame(self) -> pd.DataFrame:
        """One row per layer (SI units), with a ``bytes_<level>`` column per memory level."""
        rows = []
        for layer in self.layers:
            row = {key: value for key, value in vars(layer).items() if key != "level_bytes"}
            row.update({f"bytes_{level}": value for level, value in layer.level_bytes.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def _sequential_sum(values: Iterable[float]) -> float:
    """Left-to-right float sum, as NumPy's cumulative sums in sweeps (``sum`` may compensate)."""
    total = 0.0
    for value in values:
        total += value
    return total


def bound_names(timing: Timing) -> np.ndarray:
    """``(C, L)`` array of ``"memory"`` / ``"compute"``, or ``"none"`` for a layer with no work (a view)."""
    names = np.where(timing.memory_bound, "memory", "compute")
    return np.where(timing.latency_s == 0, "none", names)


@lru_cache(maxsize=64)
def simulated_graph(network: Network, fuse: bool) -> Network:
    """The graph that is simulated: the inference view unless ``fuse`` is false (cached)."""
    return inference_view(network) if fuse else network


@lru_cache(maxsize=64)
def simulated_workload(network: Network, fuse: bool) -> Workload:
    """The workload arrays of :func:`simulated_graph` (cached; shared by simulations and sweeps)."""
    return build_workload(simulated_graph(network, fuse), fuse=False)


def simulate(network: Network | str, device: Device | str, batch: int = 1, precision: str | None = None,
             weight_precision: str | None = None, activation_precision: str | None = None,
             fuse: bool = True, resolution: int | None = None, ideal: bool = False,
             overrides: Mapping[str, float] | None = None) -> SimulationResult:
    """Simulate ``network`` (a Network, a built-in name or an .onnx path) on ``device`` (a Device,
    a shipped name or a profile path) at ``batch`` samples.

    ``precision`` sets both weights and activations unless ``weight_precision`` or
    ``activation_precision`` say otherwise; arithmetic runs at the wider of the two. By default
    it is fp16, or the device's first precision when it has no fp16 (a CPU or microcontroller). ``fuse``
    (default) simulates the inference view, with BatchNorm and activations folded. ``ideal``
    ignores a calibrated efficiency model in the device profile (the pure roofline).
    ``overrides`` changes device fields for a what-if, in SI units, with the keys of
    :func:`hardware_arrays` (e.g. ``{"dram.bandwidth_bytes_per_s": 409.6e9}``).
    """
    check_batch(batch)
    if isinstance(network, str):
        network = build_network(network, resolution, batch)
    if isinstance(device, str):
        device = resolve_device(device)
    if precision is None:
        precision = "fp16" if "fp16" in device.precisions else device.precisions[0]
    weight_precision = weight_precision or precision
    activation_precision = activation_precision or precision
    compute = compute_precision(weight_precision, activation_precision)
    device.peak_for(compute)
    workload = simulated_workload(network, fuse)
    hardware = hardware_arrays(device, [compute], ideal=ideal,
                               overrides={key: np.array([value], dtype=float)
                                          for key, value in (overrides or {}).items()})
    batches = np.array([batch], dtype=float)
    weight_bits = np.array([bits_of(weight_precision)], dtype=float)
    activation_bits = np.array([bits_of(activation_precision)], dtype=float)
    timing = roofline_timing(workload, hardware, batches, weight_bits, activation_bits)
    energy = layer_energy(workload, hardware, timing, batches)
    checks = memory_checks(workload, hardware, batches, weight_bits, activation_bits)
    return SimulationResult(
        network=network.name,
        device=device.name,
        batch=batch,
        precision=compute,
        weight_precision=weight_precision,
        activation_precision=activation_precision,
        counts=count_network(simulated_graph(network, fuse), batch),
        layers=_layer_results(workload, hardware, timing, energy, batch),
        model_size_bytes=int(np.ceil(workload.params * weight_bits[0] / BITS_PER_BYTE)),
        t_compute_s=float(timing.t_compute_s[0].sum()),
        t_memory_s=float(timing.t_memory_s[0].sum()),
        latency_s=float(timing.latency_s[0].sum()),
        energy_breakdown_j=energy_breakdown(hardware, energy)[0],
        memory=tuple(MemoryCheck(hardware.level_names[v], what, int(required[0]),
                                 int(hardware.capacity_bytes[0, v])) for v, what, required in checks),
    )


def energy_breakdown(hardware: HardwareArrays, energy: Energy) -> list[dict[str, float]]:
    """Per configuration: ``{"compute": J, <level>: J, ...}`` summed over layers."""
    compute = energy.compute_j.sum(axis=1)
    levels = energy.level_j.sum(axis=2)
    return [{"compute": float(compute[c]), **{name: float(levels[c, v])
                                              for v, name in enumerate(hardware.level_names)}}
            for c in range(len(compute))]


def _layer_results(workload: Workload, hardware: HardwareArrays, timing: Timing, energy: Energy,
                   batch: int) -> tuple[LayerResult, ...]:
    bounds = bound_names(timing)[0]
    bytes_moved = timing.bytes_moved[0]
    total_energy = energy.total_j[0]
    results = []
    for i, name in enumerate(workload.names):
        ops = float(timing.ops[0, i])
        results.append(LayerResult(
            name=name,
            kind=workload.kinds[i],
            macs=workload.layer_macs[i] * batch,
            ops=ops,
            bytes_moved=float(bytes_moved[i]),
            arithmetic_intensity=ops / bytes_moved[i] if bytes_moved[i] else 0.0,
            t_compute_s=float(timing.t_compute_s[0, i]),
            t_memory_s=float(timing.t_memory_s[0, i]),
            latency_s=float(timing.latency_s[0, i]),
            bound=str(bounds[i]),
            energy_j=float(total_energy[i]),
            level_bytes={lv: float(timing.level_bytes[0, v, i]) for v, lv in enumerate(hardware.level_names)},
        ))
    return tuple(results)
