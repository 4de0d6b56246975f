"""What a simulation returns: per-layer and total results, memory checks, and the configuration;
:func:`layer_results` reads the per-layer results out of the engine's arrays.

Results carry everything their readers (the report, the charts, notebooks) need, so that none of
them recomputes an engine quantity: per layer, the time and energy at every memory level and what
binds it; in total, the configuration the result ran at (precision, batch, ideal or expected
model, fusion, overrides).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.errors import SimulatorError
from simulator.model.counts import NetworkCounts
from simulator.units import format_bytes, format_joules, format_seconds

if TYPE_CHECKING:  # pandas is imported where a frame is built: a command that prints text never loads it
    import pandas as pd

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
    energy; ``binding`` names what bounds the layer: ``compute``, a memory level, ``link`` (a tensor-parallel
    all-reduce whose link time exceeds its compute and memory times; ``bound`` is then ``link`` too), or
    ``none``.
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
    engine's own arrays, read, never recomputed (each array turned into Python floats in one call)."""
    timing, energy, names = evaluation.timing, evaluation.energy, evaluation.hardware.level_names
    per_layer = (timing.ops, timing.bytes_moved, timing.t_compute_s, timing.t_memory_s, timing.latency_s,
                 evaluation.bound, energy.total_j)
    # (layers, levels) rows: each layer's dicts zip the level names with its row
    per_level = (timing.level_bytes, timing.t_level_s, energy.level_j)
    columns = zip(workload.names, workload.kinds, workload.layer_macs, *(a[0].tolist() for a in per_layer),
                  *(a[0].T.tolist() for a in per_level), energy.compute_j[0].tolist(),
                  evaluation.binding[0].tolist(), strict=True)
    return tuple(
        LayerResult(name=name, kind=kind, macs=macs * batch, ops=ops, bytes_moved=moved,
                    arithmetic_intensity=ops / moved if moved else 0.0, t_compute_s=t_compute,
                    t_memory_s=t_memory, latency_s=latency, bound=str(bound), energy_j=energy_j,
                    level_bytes=dict(zip(names, level_bytes, strict=True)),
                    level_time_s=dict(zip(names, level_time, strict=True)),
                    level_energy_j=dict(zip(names, level_energy, strict=True)), compute_energy_j=compute_j,
                    binding=str(binding))
        for (name, kind, macs, ops, moved, t_compute, t_memory, latency, bound, energy_j, level_bytes,
             level_time, level_energy, compute_j, binding) in columns)


@dataclass(frozen=True)
class KindSummary:
    """The layers of one kind, summed: how many, their MACs, bytes moved, latency [s] and energy [J],
    and ``latency_share``, their latency over the latency of all layers (a fraction, 0..1)."""

    kind: str
    layers: int
    macs: int
    bytes_moved: int
    latency_s: float
    latency_share: float
    energy_j: float


def kind_summaries(layers: Sequence[LayerResult]) -> tuple[KindSummary, ...]:
    """``layers`` grouped by kind, the slowest kind first (ties: the kind met first).

    ``latency_share = Σ latency of the kind / Σ latency of all layers``; the engine's total latency
    is that sum, so the shares add up to 1. Energy is the sum of the layers' ``energy_j`` (whatever
    they count: arithmetic, data movement and, where the profile has one, their share of static power).
    """
    groups: dict[str, list[LayerResult]] = {}
    for layer in layers:
        groups.setdefault(layer.kind, []).append(layer)
    total_s = sum(layer.latency_s for layer in layers)
    summaries = [KindSummary(
        kind=kind, layers=len(members), macs=sum(m.macs for m in members),
        bytes_moved=_whole_bytes(sum(m.bytes_moved for m in members)),
        latency_s=sum(m.latency_s for m in members),
        latency_share=sum(m.latency_s for m in members) / total_s if total_s else 0.0,
        energy_j=sum(m.energy_j for m in members)) for kind, members in groups.items()]
    return tuple(sorted(summaries, key=lambda s: -s.latency_s))


def _whole_bytes(total: float) -> int:
    """A byte count as an int: whole bytes, rounded up (sub-byte elements fill a byte); the sum is
    first rounded to 6 decimals so float noise (``x.0000000001``) does not add a byte."""
    return math.ceil(round(total, 6))


def slowest_layers(layers: Sequence[LayerResult], n: int) -> tuple[LayerResult, ...]:
    """The ``n`` layers of largest latency, slowest first (ties keep the network's order)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SimulatorError(f"the number of slowest layers must be an integer of at least 1, got {n!r}")
    return tuple(sorted(layers, key=lambda layer: -layer.latency_s)[:n])


#: columns of :meth:`SimulationResult.to_frame` renamed from the LayerResult fields: units in the names
_FRAME_NAMES = {"name": "layer", "arithmetic_intensity": "arithmetic_intensity_ops_per_byte"}


#: the name of the static part of :attr:`SimulationResult.energy_breakdown_j` (static power × latency);
#: every other part (``compute``, one per memory level) is dynamic
STATIC_PART = "static"


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
    #: an LLM pass's KV cache held at its end, ``batch x kv_bytes_per_sequence`` [bytes] (0 otherwise)
    kv_cache_bytes: int = 0

    @property
    def throughput_per_s(self) -> float:
        """Samples per second: ``batch / latency``."""
        return self.batch / self.latency_s

    @property
    def energy_per_sample_j(self) -> float:
        return self.energy_j / self.batch

    @property
    def static_energy_j(self) -> float:
        """The static part of the energy: the profile's static power times the latency [J] (0 when
        the profile has none)."""
        return self.energy_breakdown_j.get(STATIC_PART, 0.0)

    @property
    def dynamic_energy_j(self) -> float:
        """The dynamic part: arithmetic plus the accesses of every memory level [J] (the total less
        the static part)."""
        return sum(j for part, j in self.energy_breakdown_j.items() if part != STATIC_PART)

    @property
    def average_power_w(self) -> float:
        """``energy_j / latency_s`` [W]: the average power while the batch runs."""
        return self.energy_j / self.latency_s if self.latency_s else 0.0

    @property
    def static_power_w(self) -> float:
        """The static power the energy was charged with: ``static_energy_j / latency_s`` [W] (the
        profile's static power, after any supply-voltage override)."""
        return self.static_energy_j / self.latency_s if self.latency_s else 0.0

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
        import pandas as pd

        return pd.DataFrame(rows)

    # notebook conveniences: a short repr, an HTML table, the layer table as a DataFrame, by kind

    def to_frame(self) -> pd.DataFrame:
        """The layer table, one row per layer in network order, units in the column names: ``layer``,
        ``kind``, ``macs``, ``ops``, ``bytes_moved``, ``arithmetic_intensity_ops_per_byte``,
        ``t_compute_s``, ``t_memory_s``, ``latency_s``, ``bound``, ``energy_j``,
        ``compute_energy_j``, ``binding``, and per memory level ``bytes_<level>``,
        ``time_<level>_s``, ``energy_<level>_j``."""
        return self.layers_frame().rename(columns=_FRAME_NAMES)

    def by_kind(self) -> pd.DataFrame:
        """The layers grouped by kind (:func:`kind_summaries`), the slowest kind first: index ``kind``,
        columns ``layers``, ``macs``, ``bytes_moved``, ``latency_s``, ``latency_share`` (0..1),
        ``energy_j``."""
        rows = [vars(s) for s in kind_summaries(self.layers)]
        columns = [f for f in KindSummary.__dataclass_fields__ if f != "kind"]
        import pandas as pd

        frame = pd.DataFrame(rows, columns=["kind", *columns])
        return frame.set_index("kind")

    def slowest_layers(self, n: int) -> tuple[LayerResult, ...]:
        """The ``n`` slowest layers, slowest first (:func:`slowest_layers`)."""
        return slowest_layers(self.layers, n)

    def _latency_text(self) -> str:
        if self.expected_model:
            return (f"latency {format_seconds(self.latency_s)} expected, "
                    f"{format_seconds(self.ideal_latency_s)} ideal")
        return f"latency {format_seconds(self.latency_s)} ideal"

    def __repr__(self) -> str:
        """One line: network, device, configuration, latency (expected and ideal), energy, bound, fit."""
        return (f"<SimulationResult {self.network} on {self.device}, batch {self.batch}, {self.precision}: "
                f"{self._latency_text()}, energy {format_joules(self.energy_j)}, {self.bound}-bound, "
                f"{'fits' if self.fits else 'does NOT fit'}>")

    def _repr_html_(self) -> str:
        """A small HTML table of the totals, for Jupyter (the layer table: :meth:`to_frame`)."""
        import html

        rows = [
            ("network", self.network), ("device", self.device), ("batch", str(self.batch)),
            ("precision", f"weights {self.weight_precision}, activations {self.activation_precision}"),
            (f"latency ({'expected' if self.expected_model else 'ideal'})", format_seconds(self.latency_s)),
            *([("latency (ideal bound)", format_seconds(self.ideal_latency_s))]
              if self.expected_model else []),
            ("throughput", f"{self.throughput_per_s:,.1f} samples/s"),
            ("energy", f"{format_joules(self.energy_j)} per batch"),
            ("bound", self.bound), ("fits", "yes" if self.fits else "NO"),
            ("layers", str(len(self.layers))),
        ]
        body = "".join(f"<tr><th style=\"text-align:left\">{html.escape(k)}</th>"
                       f"<td style=\"text-align:left\">{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table class=\"simulation-result\">{body}</table>"
