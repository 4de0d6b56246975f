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

The pass's workload and its slopes: :mod:`simulator.llm.workload`; repeated layers evaluated once:
:mod:`simulator.llm.groups`.
"""

from __future__ import annotations

import functools

import numpy as np

from simulator.engine.evaluate import Evaluation, evaluate
from simulator.hardware.device import Device
from simulator.llm.config import LLMConfig
from simulator.llm.groups import (
    PER_LAYER_FIELDS,
    PHASE_PER_LAYER_FIELDS,
    WHOLE_NETWORK_FIELDS,
    GroupedEvaluation,
    LayerGroups,
    grouped_phase,
    grouping_on,
    layer_groups,
    per_layer_evaluation,
)
from simulator.llm.workload import (
    ATTENTION,
    PhaseWorkload,
    at_context,
    context_slopes,
    kernels_per_step,
    phase_workload,
)

#: what callers import from here: the pass's workload (:mod:`simulator.llm.workload`), the grouping
#: (:mod:`simulator.llm.groups`) and the evaluation and generation sum (this module)
__all__ = [
    "ATTENTION", "PER_LAYER_FIELDS", "PHASE_PER_LAYER_FIELDS", "WHOLE_NETWORK_FIELDS", "GroupedEvaluation",
    "LayerGroups", "PhaseWorkload", "at_context", "components", "context_slopes", "grouped_phase",
    "kernels_per_step", "layer_groups", "llm_device", "per_layer_evaluation", "phase_workload",
    "run_phase", "sum_max_affine",
]


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
    """One forward pass of ``tokens`` per sequence at ``context`` cached tokens, for C configurations.
    A decode pass's projections (one row per sequence) run as the ``gemv`` kernel class
    (:func:`simulator.model.layers.base.projection_class`: a profile's ``[efficiency.gemv]``, else its
    ``gemm`` entry), a prefill's as ``gemm``; with an ``llm_compute_fraction`` the GEMM-like kernels
    compute at that share of the peak, in prefill and decode alike (:func:`llm_device`). ``cached``: the
    network is built at that context and ``context`` counts the cached tokens beyond it (the slopes
    carry the rest: ``cached = c`` with ``context = 0`` evaluates the network built at ``c`` itself).

    ``grouped`` (default: :data:`simulator.llm.groups.GROUPED`, true): the engine evaluates one layer per
    group of identical layers (:func:`grouped_phase`) and the result is a :class:`GroupedEvaluation`, whose
    totals weigh each group by its size and whose per-layer arrays expand on first access; false: every
    layer is evaluated."""
    if grouped is None:
        grouped = grouping_on()
    phase, layer_sets = (grouped_phase(cfg, tokens, tp, cached) if grouped
                         else (phase_workload(cfg, tokens, tp, cached), None))
    ev = evaluate(
        at_context(phase, context, weight_bits),
        device if ideal else llm_device(device),
        compute,
        batch,
        weight_bits,
        activation_bits,
        ideal=ideal,
        kv_bits=kv_bits,
        link=link if tp > 1 else None,
        micro_batching=False,
    )
    return ev if layer_sets is None else GroupedEvaluation.of(ev, layer_sets)


@functools.lru_cache(maxsize=64)
def llm_device(device: Device) -> Device:
    """``device`` as an LLM pass runs on it: with ``llm_compute_fraction`` the ``gemm`` and ``attention``
    classes (the runtime's projections and fused attention; ``gemv`` and ``matmul`` follow ``gemm``
    unless they give a compute fraction of their own, which the figure then replaces too) compute at
    that share of the dense tensor peak: ``ops / (peak · fill · fraction)``, the time of a compute-bound
    pass (a prefill, a large decode batch), in place of the CNN runtime's fraction the classes hold
    otherwise. A runtime file's factor on the ``gemm`` class is already on it
    (:func:`simulator.hardware.runtime.with_runtime`). The device unchanged without the field.

    The decode projections' share of bandwidth is no edit here: it is the ``gemv`` kernel class's
    entry (``[efficiency.gemv] bandwidth_fraction``), which a decode pass's Linear runs as
    (:func:`simulator.model.layers.base.projection_class`). ``llm_compute_fraction`` stays an edit: it is
    a property of the LLM serving runtime's GEMMs (TensorRT-LLM's, TinyChat's) in prefill and decode
    alike, while a prefill's projections are the same ``gemm`` kernel class as a CNN's or BERT's Linear
    (the class cannot tell the workloads apart); a runtime file (:mod:`simulator.hardware.runtime`)
    would need the LLM entry points to choose one implicitly and hold the figure as a ratio to the CNN
    fit's fraction, which moves with every CNN refit."""
    eff = device.efficiency
    if eff is None or eff.llm_compute_fraction is None:
        return device
    classes = dict(eff.classes)
    for name in ("gemm", "gemv", "attention"):
        if name == "gemv" and "compute_fraction" not in getattr(classes.get(name), "model_fields_set", ()):
            continue  # no compute fraction of its own: gemm's, set here
        entry = classes[name] if name in classes else eff.for_class(name)
        classes[name] = entry.model_copy(update={"compute_fraction": eff.llm_compute_fraction})
    efficiency = eff.model_copy(update={"classes": classes})
    return device.model_copy(update={"efficiency": efficiency})


def components(ev: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """``(K, C, L)`` times that the roofline maximizes (compute, then each memory level) and the
    ``(C, L)`` constant added to the maximum (kernel overhead and the link level's all-reduce time,
    :func:`simulator.engine.timing.link_time_s`: added, not overlapped, so not a line here).

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
