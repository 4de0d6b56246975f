"""A pass of an LLM as the engine's workload: the built network's arrays with the LLM's fields, and the
per-layer slopes in the cached context that the generation sums (:mod:`simulator.llm.phases`).

Workload fields replaced on the engine's :func:`~simulator.engine.workload.build_workload` output:
``kv_elements`` (attention: ``2·KV·hd·(c + T)`` per sequence; MLA: the latent's ``(r + dr)·(c + T)``;
slopes in ``c`` the difference of two built networks, :func:`context_slopes`), mixture-of-experts
fields (the experts' weights are read per expert the batch's tokens touch) and a declared weight read
(the LM head's ``V·d``, :meth:`~simulator.model.layers.LMHead.weight_read_elements`: a tied head owns
no parameters but streams the matrix). The token embedding's traffic is the kind's own
(:meth:`~simulator.model.layers.Embedding.gathered_weight_elements`: ``T·d`` rows per sequence, as in
every network), kept at the head precision like its table. The tensor-parallel link traffic is a
kind's own too: each :class:`~simulator.model.layers.AllReduce` node the builder adds under ``tp > 1``
declares the ``T·d`` elements it all-reduces (the engine's ``allreduce_elements``). Arrays that vary by
configuration (context, head precision) are ``(C, L)`` and broadcast in the engine.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from simulator.engine.workload import Workload, build_workload
from simulator.llm.config import LLMConfig
from simulator.llm.network import build_network
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
    network = build_network(cfg, tokens, cached, tp)
    base = build_workload(network)
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
    workload = dataclasses.replace(
        base,
        weight_elements=weights,
        kv_elements=kv,
        expert_weight_elements=experts if moe else None,
        num_experts=moe.num_experts if moe else 0,
        experts_per_token=moe.top_k if moe else 0,
        routed_tokens_per_sample=tokens if moe else 0,
    )
    caps = [k.window - 1 if isinstance(k, CausalAttention) and k.window else np.inf for k in kinds]
    context_cap = np.array(caps, dtype=float) if np.isfinite(caps).any() else None
    return PhaseWorkload(workload, d_macs, d_ops, d_kv, head_mask, context_cap)


def kernels_per_step(cfg: LLMConfig, tokens: int = 1, tp: int = 1) -> int:
    """Kernels one forward pass of ``tokens`` per sequence launches on one of ``tp`` devices, counted
    from the built network: each layer's own (:meth:`~simulator.model.layers.Layer.kernel_count`: one
    per projection, norm, element-wise step, a fused attention kernel; none for a view), plus one
    NCCL kernel per :class:`~simulator.model.layers.AllReduce` node under tensor parallelism (a view,
    so none of the layers' own: its launch is in the link cost). Llama-2-7B: 11 per decoder layer (two norms,
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
