"""Repeated layers of an LLM pass evaluated once: the layers grouped by their signature (every per-layer
input of the engine), one evaluation per group, totals weighed by the group sizes and per-layer arrays
expanded on demand (:class:`GroupedEvaluation`). A transformer block's kernels repeat per decoder layer
(Llama-2-7B: 355 entries, 14 groups).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator

import numpy as np

from simulator.engine.evaluate import Evaluation
from simulator.engine.totals import summed_fields
from simulator.llm.config import LLMConfig
from simulator.llm.workload import PhaseWorkload, phase_workload

#: switches every :func:`~simulator.llm.phases.run_phase` to one evaluation per group of identical layers
#: (the default); :func:`per_layer_evaluation` turns it off for a block of code (the equality tests, the
#: benchmarks' baseline)
GROUPED = True

#: Workload fields with one entry per layer (on the last axis): a group keeps its first layer's
PER_LAYER_FIELDS = (
    "names", "kinds", "efficiency_classes", "layer_macs", "macs", "elementwise_ops", "weight_elements",
    "activation_elements", "spilled_elements", "output_elements", "score_elements", "kernels",
    "kv_elements", "expert_weight_elements", "allreduce_elements", "gathered_weight_elements",
)
#: Workload fields that describe the whole network, the same with or without grouping
WHOLE_NETWORK_FIELDS = (
    "network", "input_shape", "spill_thresholds", "live_elements", "params", "peak_activations",
    "attention", "num_experts", "experts_per_token", "routed_tokens_per_sample",
)
#: PhaseWorkload fields with one entry per layer (beside the workload's)
PHASE_PER_LAYER_FIELDS = ("d_macs", "d_ops", "d_kv", "head_mask", "context_cap")
#: names and layer_macs label a layer (a name differs per block; layer_macs restates macs): not compared
_UNCOMPARED = ("names", "layer_macs")


@dataclasses.dataclass(frozen=True, eq=False)
class LayerGroups:
    """Layers of a phase grouped by their signature: every per-layer input of the engine
    (:data:`PER_LAYER_FIELDS` but the names, :data:`PHASE_PER_LAYER_FIELDS`). The engine computes each
    layer's figures from its own column of these and from per-configuration arrays only (the residency
    budget is per configuration, the layer's column of ``spilled_elements`` per layer), so layers with
    equal signatures have equal figures: ``L`` layers, ``G`` groups."""

    first: np.ndarray         # (G,) index of each group's first layer, ascending
    multiplicity: np.ndarray  # (G,) layers in each group (float, a weight)
    inverse: np.ndarray       # (L,) each layer's group


def layer_groups(phase: PhaseWorkload) -> LayerGroups:
    """Group ``phase``'s layers by signature, keyed on the exact bytes of each layer's values: a
    transformer block's 11 kernels repeat per decoder layer (Llama: 355 entries, 14 groups); a
    sliding-window or a mixture-of-experts layer differs in its cap or its expert weights, so Gemma-2's
    alternating and DeepSeek's first dense layers fall into groups of their own."""
    w = phase.workload
    columns = [np.asarray(getattr(w, name), dtype=float).reshape(-1, w.layers)
               for name in PER_LAYER_FIELDS
               if name not in _UNCOMPARED and name not in ("kinds", "efficiency_classes")
               and getattr(w, name) is not None]
    columns += [np.asarray(getattr(phase, name), dtype=float).reshape(-1, w.layers)
                for name in PHASE_PER_LAYER_FIELDS if getattr(phase, name) is not None]
    values = np.ascontiguousarray(np.vstack(columns).T)  # (L, F)
    index: dict[tuple, int] = {}
    first, inverse, counts = [], [], []
    for i in range(w.layers):
        key = (w.kinds[i], w.efficiency_classes[i], values[i].tobytes())
        g = index.setdefault(key, len(first))
        if g == len(first):
            first.append(i)
            counts.append(0)
        counts[g] += 1
        inverse.append(g)
    return LayerGroups(np.array(first), np.array(counts, dtype=float), np.array(inverse))


@functools.lru_cache(maxsize=256)
def grouped_phase(cfg: LLMConfig, tokens: int, tp: int = 1,
                  cached: int = 0) -> tuple[PhaseWorkload, LayerGroups]:
    """:func:`phase_workload` with one entry per group of identical layers (:func:`layer_groups`),
    and the groups; the whole-network fields (parameters, peak activations, residency thresholds)
    unchanged."""
    phase = phase_workload(cfg, tokens, tp, cached)
    groups = layer_groups(phase)
    keep = groups.first
    w = phase.workload
    changes = {}
    for name in PER_LAYER_FIELDS:
        value = getattr(w, name)
        if isinstance(value, tuple):
            changes[name] = tuple(value[i] for i in keep)
        elif value is not None:
            changes[name] = value[..., keep]
    per_layer = {name: getattr(phase, name)[keep] for name in PHASE_PER_LAYER_FIELDS
                 if getattr(phase, name) is not None}
    return dataclasses.replace(phase, workload=dataclasses.replace(w, **changes), **per_layer), groups


class _Expanded:
    """The per-layer view of a per-group :class:`~simulator.engine.timing.Timing` or
    :class:`~simulator.engine.energy.Energy`: an attribute (a field or a property) read from the
    per-group object and, when its last axis is the groups', expanded to the layers on first access."""

    def __init__(self, per_group: object, groups: LayerGroups) -> None:
        self._per_group = per_group
        self._groups = groups

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._per_group, name)
        if isinstance(value, np.ndarray) and value.ndim >= 2 and value.shape[-1] == len(self._groups.first):
            value = np.take(value, self._groups.inverse, axis=-1)
        self.__dict__[name] = value
        return value


@dataclasses.dataclass(frozen=True, eq=False)
class GroupedEvaluation(Evaluation):
    """An :class:`~simulator.engine.evaluate.Evaluation` of a phase computed one layer per group of
    identical layers. ``totals`` weigh each group's figures by its size (``Σ_g m_g·x_g = Σ_layers x``,
    equal to the per-layer sums up to rounding: tests/llm/test_repeated_blocks.py); ``timing`` and
    ``energy`` are the per-layer views (:class:`_Expanded`), the layer order of the built network;
    ``per_group`` the engine's own evaluation of one layer per group."""

    groups: LayerGroups
    per_group: Evaluation

    @classmethod
    def of(cls, ev: Evaluation, groups: LayerGroups) -> GroupedEvaluation:
        """``ev`` (of :func:`grouped_phase`'s workload) with totals summed over the layers, the sums
        of :func:`~simulator.engine.evaluate.evaluate` with each group's column weighted by its size."""
        m, t, e = groups.multiplicity, ev.timing, ev.energy
        latency_s = t.latency_s @ m
        memory_bound_s = np.where(t.memory_bound, t.latency_s, 0.0) @ m
        compute_j = e.compute_j @ m
        level_j = e.level_j @ m
        static_j = e.static_j @ m
        totals = dataclasses.replace(
            ev.totals,
            t_compute_s=t.t_compute_s @ m,
            t_memory_s=t.t_memory_s @ m,
            t_comm_s=None if t.t_comm_s is None else t.t_comm_s @ m,
            **summed_fields(ev.batch, latency_s, memory_bound_s, compute_j, level_j, static_j),
        )
        return cls(ev.hardware, _Expanded(t, groups), _Expanded(e, groups), ev.batch, ev.memory_checks,
                   totals, groups, ev)


def grouping_on() -> bool:
    """Whether :func:`~simulator.llm.phases.run_phase` groups identical layers now (:data:`GROUPED`)."""
    return GROUPED


@contextlib.contextmanager
def per_layer_evaluation() -> Iterator[None]:
    """Within the block, :func:`~simulator.llm.phases.run_phase` evaluates every layer (:data:`GROUPED`
    off): the reference that the grouped evaluation is tested and timed against."""
    global GROUPED
    before, GROUPED = GROUPED, False
    try:
        yield
    finally:
        GROUPED = before
