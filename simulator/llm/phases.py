"""Prefill and decode as workloads of the engine, and the generation summed in closed form.

* **Prefill** of ``P`` prompt tokens for ``B`` sequences: the network of :mod:`simulator.llm.network`
  with ``tokens = P``, ``cached = 0``: every projection and MLP a GEMM over ``B·P`` tokens, causal
  attention over the prompt (the lower triangle, :class:`~simulator.model.layers.CausalAttention`), the
  K and V of the prompt written to the cache, the LM head on the last token. It yields the first token.
* **Decode step** at context ``c``: ``tokens = 1`` over ``c`` cached tokens: GEMMs over ``B`` tokens
  (weights read once per step), attention reading ``c`` cached keys and values and writing one.
* **Generation** of ``G`` output tokens: the first from prefill, then ``G − 1`` decode steps at
  ``c = P … P+G−2``. Every per-layer quantity of a step is affine in ``c`` (MACs, element-wise ops
  and KV traffic of attention; nothing else depends on it), so each layer's time is the maximum of
  affine functions of ``c`` (compute, each memory level) plus constants (overhead, all-reduce).
  :func:`sum_max_affine` sums that exactly over the integers, splitting at the crossovers.

Workload fields replaced on the engine's :func:`~simulator.engine.workload.build_workload` output:
``kv_elements`` (attention: ``2·KV·hd·(c + T)`` per sequence; MLA: the latent's ``(r + dr)·(c + T)``;
slopes in ``c`` the difference of two built networks, :func:`context_slopes`), mixture-of-experts
fields (the experts' weights are read per expert the batch's tokens touch), ``allreduce_elements``
(tensor parallelism: ``T·d`` after each node the builder marks, :func:`~simulator.llm.network.build_pass`)
and a declared weight read (the LM head's ``V·d``,
:meth:`~simulator.model.layers.LMHead.weight_read_elements`: a tied head owns no parameters but streams
the matrix). The token embedding's
traffic is the kind's own (:meth:`~simulator.model.layers.Embedding.gathered_weight_elements`: ``T·d``
rows per sequence, as in every network), kept at the head precision like its table.
Arrays that vary by configuration (context, head precision) are ``(C, L)`` and broadcast in the engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator

import numpy as np

from simulator.engine.evaluate import Evaluation, evaluate
from simulator.engine.totals import summed_fields
from simulator.engine.workload import Workload, build_workload
from simulator.hardware.device import Device
from simulator.llm.config import LLMConfig
from simulator.llm.network import build_network, build_pass
from simulator.llm.precision import HEAD_BITS
from simulator.model.layers import CausalAttention, Embedding, LatentAttention, LMHead, MoEExperts

#: the layer kinds that read a KV cache of ``cached_tokens`` positions
ATTENTION = (CausalAttention, LatentAttention)


@dataclasses.dataclass(frozen=True, eq=False)
class PhaseWorkload:
    """A phase's workload at ``c = 0`` and the per-layer slopes in ``c`` (per sequence)."""

    workload: Workload
    d_macs: np.ndarray
    d_ops: np.ndarray
    d_kv: np.ndarray
    head_mask: np.ndarray  # layers whose weights stay at HEAD_BITS (embedding, LM head)
    context_cap: np.ndarray | None = None  # a sliding-window layer's W − 1: its cost stops growing in c


def _base_name(name: str) -> str:
    return name.split("+")[0]


@functools.lru_cache(maxsize=256)
def phase_workload(cfg: LLMConfig, tokens: int, tp: int = 1, cached: int = 0) -> PhaseWorkload:
    """The workload of ``tokens`` new tokens per sequence on one of ``tp`` devices over ``cached``
    tokens in the cache (default ``c = 0``, the base of the slopes), one entry per layer of the built
    network (:func:`grouped_phase` keeps one per distinct layer). A layer kind whose weight traffic is
    not its parameters declares it (``weight_read_elements``: the LM head's ``V·d``, tied or not)."""
    sharded = build_pass(cfg, tokens, cached, tp)
    network = sharded.network
    base = build_workload(network)
    names = [_base_name(n) for n in base.names]
    kinds = _layers_of(network, base.names)
    kv = _kv_elements(kinds, tokens)
    d_macs, d_ops, d_kv = context_slopes(cfg, tokens, tp)
    weights = base.weight_elements.copy()
    experts = np.zeros(base.layers)
    moe: MoEExperts | None = None
    for i, layer in enumerate(kinds):
        if hasattr(layer, "weight_read_elements"):
            weights[i] = float(layer.weight_read_elements())
        elif isinstance(layer, MoEExperts):
            weights[i], experts[i], moe = 0.0, float(layer.expert_params), layer
    head_mask = np.array([isinstance(k, Embedding | LMHead) for k in kinds])
    allreduce = None
    if tp > 1:
        allreduce = np.array(
            [float(tokens * cfg.hidden_size) if n in sharded.allreduce_after else 0.0 for n in names]
        )
    workload = dataclasses.replace(
        base,
        weight_elements=weights,
        kv_elements=kv,
        allreduce_elements=allreduce,
        expert_weight_elements=experts if moe else None,
        num_experts=moe.num_experts if moe else 0,
        experts_per_token=moe.top_k if moe else 0,
        routed_tokens_per_sample=tokens if moe else 0,
    )
    caps = [k.window - 1 if isinstance(k, CausalAttention) and k.window else np.inf for k in kinds]
    context_cap = np.array(caps, dtype=float) if np.isfinite(caps).any() else None
    return PhaseWorkload(workload, d_macs, d_ops, d_kv, head_mask, context_cap)


#: switches every :func:`run_phase` to one evaluation per group of identical layers (the default);
#: :func:`per_layer_evaluation` turns it off for a block of code (the equality tests, the benchmarks'
#: baseline)
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


@contextlib.contextmanager
def per_layer_evaluation() -> Iterator[None]:
    """Within the block, :func:`run_phase` evaluates every layer (:data:`GROUPED` off): the reference
    that the grouped evaluation is tested and timed against."""
    global GROUPED
    before, GROUPED = GROUPED, False
    try:
        yield
    finally:
        GROUPED = before


def kernels_per_step(cfg: LLMConfig, tokens: int = 1, tp: int = 1) -> int:
    """Kernels one forward pass of ``tokens`` per sequence launches on one of ``tp`` devices, counted
    from the built network: each layer's own (:meth:`~simulator.model.layers.Layer.kernel_count`: one
    per projection, norm, element-wise step, a fused attention kernel; none for a view), plus one
    NCCL kernel per all-reduce under tensor parallelism. Llama-2-7B: 11 per decoder layer (two norms,
    qkv, rope, attention, o_proj, add, gate_up, swiglu, down, add) × 32 + embedding, final norm and
    LM head = 355. The expected model charges each the profile's ``kernel_overhead_s`` (its launch)."""
    workload = phase_workload(cfg, tokens, tp).workload
    kernels = workload.kernels
    launched = int(np.sum(kernels)) if kernels is not None else workload.layers
    reduced = workload.allreduce_elements
    allreduces = 0 if reduced is None else int(np.count_nonzero(reduced))
    return launched + allreduces


def _layers_of(network, names: tuple[str, ...]) -> list:
    """The layer kind of each workload entry (a fused entry ``a+b`` is its first node's)."""
    nodes = {node.name: node.layer for node in network.nodes}
    return [nodes[_base_name(n)] for n in names]


def _kv_elements(kinds: list, tokens: int) -> np.ndarray:
    """KV-cache elements each entry reads and writes per sequence: the attention kind's own
    ``kv_cache_elements`` (``2·KV·hd·(c + T)``; MLA's latent ``(r + dr)·(c + T)``), 0 elsewhere."""
    return np.array([float(k.kv_cache_elements(tokens)) if isinstance(k, ATTENTION) else 0.0 for k in kinds])


@functools.lru_cache(maxsize=256)
def context_slopes(cfg: LLMConfig, tokens: int, tp: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-entry MACs, element-wise ops and KV elements per cached token (per sequence): the
    difference of two built networks, the pass at ``c = 1`` less the pass at ``c = 0``
    (:func:`build_network`, :func:`~simulator.engine.workload.build_workload`). Every count is affine
    in ``c`` (each attention kind's own formula, so grouped-query, windowed and latent attention need no
    case here; nothing else depends on ``c``), so this slope gives the pass at any context below a
    window (a windowed layer's slope stops at ``c = W − 1``: :attr:`PhaseWorkload.context_cap`)."""
    at0 = build_workload(build_network(cfg, tokens, 0, tp))
    net1 = build_network(cfg, tokens, 1, tp)
    at1 = build_workload(net1)
    if at1.names != at0.names:  # the cache changes costs only, never the graph
        raise AssertionError(f"{cfg.name}: the passes at c = 0 and c = 1 differ in layers")
    kv0 = _kv_elements(_layers_of(build_network(cfg, tokens, 0, tp), at0.names), tokens)
    kv1 = _kv_elements(_layers_of(net1, at1.names), tokens)
    return (np.asarray(at1.macs - at0.macs, dtype=float),
            np.asarray(at1.elementwise_ops - at0.elementwise_ops, dtype=float),
            kv1 - kv0)


def at_context(phase: PhaseWorkload, context: np.ndarray, weight_bits: np.ndarray) -> Workload:
    """The workload with ``context[k]`` cached tokens for configuration ``k``: ``(C, L)`` arrays."""
    w = phase.workload
    c = np.asarray(context, dtype=float)[:, None]
    if phase.context_cap is not None:  # a decode step's query sees min(c + 1, W) keys of a windowed layer
        c = np.minimum(c, phase.context_cap[None, :])
    head_scale = np.where(phase.head_mask[None, :], HEAD_BITS / np.asarray(weight_bits)[:, None], 1.0)
    return dataclasses.replace(
        w,
        macs=w.macs + c * phase.d_macs,
        elementwise_ops=w.elementwise_ops + c * phase.d_ops,
        kv_elements=w.kv_elements + c * phase.d_kv,
        weight_elements=w.weight_elements * head_scale,
        gathered_weight_elements=None if w.gathered_weight_elements is None
        else w.gathered_weight_elements * head_scale,
    )


def run_phase(
    cfg: LLMConfig,
    device: Device,
    tokens: int,
    tp: int,
    context: np.ndarray,
    batch: np.ndarray,
    compute: list[str],
    weight_bits: np.ndarray,
    activation_bits: np.ndarray,
    kv_bits: np.ndarray,
    ideal: bool,
    link: dict[str, np.ndarray] | None,
    grouped: bool | None = None,
    cached: int = 0,
) -> Evaluation:
    """One forward pass of ``tokens`` per sequence at ``context`` cached tokens, for C configurations;
    on a device with a ``gemv_bandwidth_fraction`` the projections (GEMM class) stream their weights at
    that share of bandwidth, in prefill and decode alike (:func:`decode_device`). ``cached``: the
    network is built at that context and ``context`` counts the cached tokens beyond it (the slopes
    carry the rest: ``cached = c`` with ``context = 0`` evaluates the network built at ``c`` itself).

    ``grouped`` (default: :data:`GROUPED`, true): the engine evaluates one layer per group of identical
    layers (:func:`grouped_phase`) and the result is a :class:`GroupedEvaluation`, whose totals weigh each
    group by its size and whose per-layer arrays expand on first access; false: every layer is evaluated."""
    if grouped is None:
        grouped = GROUPED
    phase, groups = (grouped_phase(cfg, tokens, tp, cached) if grouped
                     else (phase_workload(cfg, tokens, tp, cached), None))
    ev = evaluate(
        at_context(phase, context, weight_bits),
        device if ideal else decode_device(device),
        compute,
        batch,
        weight_bits,
        activation_bits,
        ideal=ideal,
        kv_bits=kv_bits,
        link=link if tp > 1 else None,
        micro_batching=False,
    )
    return ev if groups is None else GroupedEvaluation.of(ev, groups)


@functools.lru_cache(maxsize=64)
def decode_device(device: Device) -> Device:
    """``device`` with its ``gemm`` class's bandwidth fraction replaced by the efficiency model's
    ``gemv_bandwidth_fraction``: the share of bandwidth the LLM runtime's projection kernels stream
    their weights at. A single-row Linear (batch-1 decode) is a GEMV, memory-bound, so its time is
    ``weight bytes / (bandwidth · fraction)`` through the same roofline as every memory-bound kernel;
    the runtime runs its small-M GEMMs (a 128-token prompt, a decode batch) with the same kernels, so
    the fraction applies to every LLM phase (where a GEMM is compute-bound it does not matter). The
    device unchanged without that field (its ``gemm`` class, or the class it falls back to, applies)."""
    eff = device.efficiency
    if eff is None or eff.gemv_bandwidth_fraction is None:
        return device
    gemm = eff.for_class("gemm").model_copy(update={"bandwidth_fraction": eff.gemv_bandwidth_fraction})
    efficiency = eff.model_copy(update={"classes": {**eff.classes, "gemm": gemm}})
    return device.model_copy(update={"efficiency": efficiency})


def components(ev: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """``(K, C, L)`` times that the roofline maximizes (compute, then each memory level) and the
    ``(C, L)`` constant added to the maximum (kernel overhead and all-reduce time).

    Of a :class:`GroupedEvaluation`: ``(K, C, G)`` and ``(C, G)``, one column per group of ``m``
    identical layers holding ``m`` times one layer's times. A sum over the columns is then the sum over
    the layers, also of ``max_k`` of the lines and of :func:`sum_max_affine` (``max_k m·y_k = m·max_k y_k``
    for ``m > 0``), and which line is the maximum does not change."""
    if isinstance(ev, GroupedEvaluation):
        lines, constant = components(ev.per_group)
        return lines * ev.groups.multiplicity, constant * ev.groups.multiplicity
    t = ev.timing
    lines = np.concatenate([t.t_compute_s[None], np.moveaxis(t.t_level_s, 1, 0)], axis=0)
    constant = t.latency_s - lines.max(axis=0)
    return lines, constant


def sum_max_affine(y0: np.ndarray, y1: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``Σ_{x=0}^{n-1} max_k (y0_k + s_k·x)`` with ``s_k = (y1_k − y0_k)/(n − 1)``, exactly.

    ``y0, y1``: ``(K, ...)`` values of K affine functions at the first and last point; ``n``: points
    (broadcast against ``...``; ``n = 1`` gives ``max y0``, ``n = 0`` gives 0). The upper envelope of
    K lines is convex and piecewise linear with breaks among the pairwise crossovers; between two
    consecutive breaks one line is the maximum, and its sum over the integers there is an arithmetic
    series.
    """
    n = np.broadcast_to(np.asarray(n, dtype=float), y0.shape[1:])
    span = np.maximum(n - 1, 1.0)
    slope = (y1 - y0) / span
    k = y0.shape[0]
    breaks = [np.zeros_like(n), n - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for a in range(k):
            for b in range(a + 1, k):
                x = (y0[b] - y0[a]) / (slope[a] - slope[b])
                breaks.append(np.where(np.isfinite(x), np.clip(x, 0, n - 1), 0.0))
    bounds = np.sort(np.stack(breaks), axis=0)  # (S + 1, ...)
    total = np.zeros_like(n)
    for m in range(bounds.shape[0] - 1):
        lo, hi = bounds[m], bounds[m + 1]
        first = (
            np.ceil(lo) if m == 0 else np.floor(lo) + 1
        )  # integers in (lo, hi] (m > 0), [lo, hi] (m = 0)
        last = np.floor(hi)
        count = np.maximum(last - first + 1, 0)
        mid = (lo + hi) / 2
        active = (y0 + slope * mid).argmax(axis=0)
        a0 = np.take_along_axis(y0, active[None], 0)[0]
        s = np.take_along_axis(slope, active[None], 0)[0]
        total = total + count * a0 + s * count * (first + last) / 2
    return np.where(n > 0, total, 0.0)
