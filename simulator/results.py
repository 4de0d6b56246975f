"""What a simulation returns: per-layer and total results, memory checks, and the configuration;
:func:`layer_results` reads the per-layer results out of the engine's arrays.

Results carry everything their readers (the report, the charts, notebooks) need, so that none of
them recomputes an engine quantity: per layer, the time and energy at every memory level and what
binds it; in total, the configuration the result ran at (precision, batch, ideal or expected
model, fusion, overrides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from simulator.model.counts import NetworkCounts
from simulator.units import format_bytes

if TYPE_CHECKING:
    from simulator.engine.evaluate import Evaluation
    from simulator.engine.workload import Workload


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


@dataclass(frozen=True)
class LayerResult:
    """One layer on one device at one configuration (SI units).

    ``level_bytes``, ``level_time_s`` and ``level_energy_j`` map each memory level to the bytes that
    cross it, their time at its bandwidth (derated by the efficiency model, if any) and their
    energy; ``binding`` names what bounds the layer: ``compute``, a memory level, or ``none``.
    """

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
    level_time_s: dict[str, float] = field(default_factory=dict)
    level_energy_j: dict[str, float] = field(default_factory=dict)
    compute_energy_j: float = 0.0
    binding: str = ""


def layer_results(workload: Workload, evaluation: Evaluation, batch: int) -> tuple[LayerResult, ...]:
    """Configuration 0 of ``evaluation`` (of ``workload`` at ``batch`` samples), layer by layer: the
    engine's own arrays, read, never recomputed."""
    timing, energy, names = evaluation.timing, evaluation.energy, evaluation.hardware.level_names
    bounds, binding = evaluation.bound[0], evaluation.binding[0]
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
            level_bytes={lv: float(timing.level_bytes[0, v, i]) for v, lv in enumerate(names)},
            level_time_s={lv: float(timing.t_level_s[0, v, i]) for v, lv in enumerate(names)},
            level_energy_j={lv: float(energy.level_j[0, v, i]) for v, lv in enumerate(names)},
            compute_energy_j=float(energy.compute_j[0, i]),
            binding=str(binding[i]),
        ))
    return tuple(results)


@dataclass(frozen=True)
class SimulationResult:
    """A network on a device: totals, per-layer results and memory checks (SI units).

    The totals are the engine's own (:func:`simulator.engine.evaluate.evaluate`), never re-added
    from the layers here. ``ideal`` says whether the efficiency model was ignored, ``fused``
    whether the inference view was simulated, ``overrides`` the what-if figures it ran with (SI).
    """

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
    energy_j: float
    memory_bound_fraction: float
    bound: str
    ideal: bool = False
    fused: bool = True
    overrides: Mapping[str, float] = field(default_factory=dict)
    resolution: int | tuple[int, int] | None = None
    #: samples per pass when the engine ran the batch in micro-batches (= batch when it did not)
    micro_batch: int = 0
    #: how attention executed: ``fused`` or ``materialized``
    attention: str = "fused"
    #: the ideal roofline bound of the same configuration (= latency_s when ``ideal``)
    ideal_latency_s: float = 0.0
    #: whether the device has an efficiency model (else the expected value is the bound)
    expected_model: bool = False
    #: other keyword parameters of the network's function the result was built with
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def throughput_per_s(self) -> float:
        """Samples per second: ``batch / latency``."""
        return self.batch / self.latency_s

    @property
    def energy_per_sample_j(self) -> float:
        return self.energy_j / self.batch

    @property
    def fits(self) -> bool:
        return all(check.fits for check in self.memory)

    @property
    def level_names(self) -> tuple[str, ...]:
        """The device's memory levels, outermost first."""
        return tuple(self.layers[0].level_bytes) if self.layers else ()

    def level_bytes(self) -> dict[str, float]:
        """Bytes crossing each memory level, summed over layers."""
        return {level: sum(layer.level_bytes[level] for layer in self.layers) for level in self.level_names}

    def layers_frame(self) -> pd.DataFrame:
        """One row per layer (SI units), with ``bytes_<level>``, ``time_<level>_s`` and
        ``energy_<level>_j`` columns per memory level."""
        rows = []
        per_level = ("level_bytes", "level_time_s", "level_energy_j")
        for layer in self.layers:
            row = {key: value for key, value in vars(layer).items() if key not in per_level}
            row.update({f"bytes_{level}": value for level, value in layer.level_bytes.items()})
            row.update({f"time_{level}_s": value for level, value in layer.level_time_s.items()})
            row.update({f"energy_{level}_j": value for level, value in layer.level_energy_j.items()})
            rows.append(row)
        return pd.DataFrame(rows)
