"""A network's per-layer quantities as NumPy arrays, computed once and reused by every simulation.

Everything here is per sample and hardware-independent; :mod:`simulator.engine.timing` scales it by
the batch and bit widths of each configuration. The one hardware-dependent decision prepared
here is *activation residency*: which tensors can stay in an on-chip buffer.

Residency rule: a tensor's memory stays on chip if, at every step of its lifetime, all activations
alive then fit in the on-chip level; otherwise it is written to the activation store (DRAM) by its
producer and read back from there by each consumer. The network's input and outputs always live
in the activation store. With ``n`` samples at ``b`` bits and a buffer of ``C`` bytes, a tensor
stays on chip when its largest live set ``L`` (elements per sample) satisfies ``n·L·b/8 <= C``,
so the rule reduces to comparing ``L`` with the budget ``C / (n·b/8)``. Sorting the distinct
``L`` turns it into a step function of the budget, precomputed here as ``spilled_elements``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.errors import SimulatorError
from simulator.model.counts import analyze
from simulator.model.fusion import inference_view, simulated_graph
from simulator.model.graph import Network
from simulator.model.layers import elements


@dataclass(frozen=True, eq=False)
class Workload:
    """Per-layer, per-sample arrays of one network (in execution order), as float64.

    ``activation_elements[i]``: elements layer ``i`` reads and writes (views move nothing).
    ``spilled_elements[k, i]``: of those, the elements that live in the activation store when the
    residency budget lies between ``spill_thresholds[k-1]`` and ``spill_thresholds[k]``
    (row 0: nothing resident; row ``K``: every tensor that can be resident is).
    """

    network: str
    input_shape: tuple[int, ...]
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    efficiency_classes: tuple[str, ...]
    macs: np.ndarray
    elementwise_ops: np.ndarray
    weight_elements: np.ndarray
    activation_elements: np.ndarray
    spill_thresholds: np.ndarray
    spilled_elements: np.ndarray
    live_elements: np.ndarray
    layer_macs: tuple[int, ...]
    params: int
    peak_activations: int
    #: per layer, per sample: elements of the layer's output (0 for a view, which runs no kernel);
    #: the efficiency model's fill of a parallel device counts thread blocks over them
    output_elements: np.ndarray | None = None
    #: per layer, per sample: score elements a materialized attention writes (0 when fused)
    score_elements: np.ndarray | None = None
    #: per layer: kernels it launches (0 for a view), each paying the per-kernel overhead
    kernels: np.ndarray | None = None
    #: how attention executes: ``fused`` or ``materialized`` (:func:`build_workload`)
    attention: str = "fused"
    #: per layer, per sample: KV-cache elements read and written (an LLM's decode and prefill);
    #: they live in the activation store at the KV precision and are never resident on chip
    kv_elements: np.ndarray | None = None
    #: per layer: elements of ONE expert's weights (mixture of experts; ``weight_elements`` then
    #: holds only the dense part), with ``num_experts`` experts, ``experts_per_token`` routed per
    #: token and ``routed_tokens_per_sample`` tokens routed per sample
    expert_weight_elements: np.ndarray | None = None
    num_experts: int = 0
    experts_per_token: int = 0
    routed_tokens_per_sample: int = 0
    #: per layer, per sample: activation elements the layer all-reduces across tensor-parallel
    #: devices (an :class:`~simulator.model.layers.AllReduce` node's ``allreduce_elements``; None
    #: when the network has none)
    allreduce_elements: np.ndarray | None = None
    #: per layer, per sample: weight elements a gather reads (an Embedding's looked-up rows, its
    #: ``gathered_weight_elements``); such a layer's ``weight_elements`` is 0, since it never reads
    #: its whole table. Read from the weight store at the weights' precision, times the batch
    gathered_weight_elements: np.ndarray | None = None

    @property
    def layers(self) -> int:
        return len(self.names)

    def expected_experts(self, batch: np.ndarray) -> np.ndarray:
        """Expected distinct experts a batch's tokens touch: ``E·(1 − (1 − k/E)^T)`` with
        ``T = batch · routed_tokens_per_sample`` (every token routes to ``k`` of ``E`` experts,
        independently and uniformly); 1 token gives ``k``, many tokens tend to ``E``."""
        if not self.num_experts:
            return np.zeros_like(batch, dtype=float)
        e, k = float(self.num_experts), float(self.experts_per_token)
        return e * (1.0 - (1.0 - k / e) ** (batch * self.routed_tokens_per_sample))

    def spilled_for_budget(self, budget_elements: np.ndarray) -> np.ndarray:
        """``(configs, layers)`` activation-store elements for per-sample budgets ``(configs,)``."""
        segment = np.searchsorted(self.spill_thresholds, budget_elements, side="right")
        return self.spilled_elements[segment]


ATTENTION_MODES = ("fused", "materialized")
#: per score element, an unfused attention writes the scores, the softmax reads them and writes
#: the probabilities, and ``P V`` reads those
MATERIALIZED_ACCESSES = 4


def build_workload(network: Network, fuse: bool = True, attention: str = "fused") -> Workload:
    """The arrays of ``network`` (its inference view unless ``fuse`` is false).

    ``attention``: how attention layers execute. ``fused`` (a FlashAttention-style kernel): the
    score matrix never leaves the chip. ``materialized`` (an unfused runtime): the ``N × M`` score
    matrix of each head (the kind's ``score_elements``) is written, read by the softmax, written
    again and read by ``P V``: :data:`MATERIALIZED_ACCESSES` accesses per element, in three
    kernels; the traffic reaches the activation store when the batch's scores do not fit the
    on-chip buffer (:func:`simulator.engine.timing.level_bytes`).
    """
    if attention not in ATTENTION_MODES:
        raise SimulatorError(f"attention must be one of {', '.join(ATTENTION_MODES)}, got {attention!r}")
    if fuse:
        network = inference_view(network)
    nodes = network.nodes
    analysis = analyze(network)
    costs, storage, lifetimes = analysis.costs, analysis.storage, analysis.lifetimes
    owners = list(lifetimes)
    column = {owner: i for i, owner in enumerate(owners)}
    traffic = np.zeros((len(nodes), len(owners)))  # elements each layer reads/writes in each tensor
    for i, node in enumerate(nodes):
        if node.is_view:
            continue
        for tensor, shape in zip(node.inputs, node.input_shapes, strict=True):
            traffic[i, column[storage[tensor]]] += elements(shape)
        traffic[i, column[storage[node.name]]] += elements(node.output_shape)

    live = np.array(analysis.live, dtype=np.float64)
    pinned = {storage[t] for t in (*network.outputs, "input")}
    largest_live = np.array([np.inf if owner in pinned else float(np.max(live[start:end + 1]))
                             for owner, (start, end, _) in lifetimes.items()])
    # the distinct values, ascending (np.unique's result; np.unique would import numpy.ma, a tenth of
    # a command's start-up)
    finite = np.sort(largest_live[np.isfinite(largest_live)])
    thresholds = finite[np.concatenate(([True], finite[1:] != finite[:-1]))] if len(finite) else finite
    # row k: tensors whose largest live set exceeds the k-th threshold are spilled
    bounds = np.concatenate(([-np.inf], thresholds))
    gathered = np.array([float(node.layer.gathered_weight_elements(node.input_shapes))
                         if hasattr(node.layer, "gathered_weight_elements") else 0.0 for node in nodes])
    spilled_mask = largest_live[None, :] > bounds[:, None]
    reduced = np.array([float(node.layer.allreduce_elements(node.input_shapes))
                        if hasattr(node.layer, "allreduce_elements") else 0.0 for node in nodes])
    return Workload(
        network=network.name,
        input_shape=network.input_shape,
        names=tuple(node.name for node in nodes),
        kinds=tuple(node.kind for node in nodes),
        efficiency_classes=tuple(node.layer.efficiency_class_for(node.input_shapes) for node in nodes),
        macs=np.array([c.macs for c in costs], dtype=np.float64),
        elementwise_ops=np.array([c.elementwise_ops for c in costs], dtype=np.float64),
        weight_elements=np.array([0.0 if gathered[i] else c.params for i, c in enumerate(costs)],
                                 dtype=np.float64),
        gathered_weight_elements=gathered if gathered.any() else None,
        allreduce_elements=reduced if reduced.any() else None,
        activation_elements=traffic.sum(axis=1),
        spill_thresholds=thresholds,
        spilled_elements=spilled_mask.astype(np.float64) @ traffic.T,
        live_elements=live,
        output_elements=np.array([0.0 if node.is_view else float(elements(node.output_shape))
                                  for node in nodes]),
        score_elements=np.array([float(node.layer.score_elements(node.input_shapes))
                                 if attention == "materialized" and hasattr(node.layer, "score_elements")
                                 else 0.0 for node in nodes]),
        kernels=np.array([float(node.layer.kernel_count(attention == "materialized")) for node in nodes]),
        attention=attention,
        layer_macs=tuple(c.macs for c in costs),
        params=sum(c.params for c in costs),
        peak_activations=int(np.max(live)),
    )


@lru_cache(maxsize=64)
def simulated_workload(network: Network, fuse: bool, attention: str = "fused") -> Workload:
    """The workload of :func:`~simulator.model.fusion.simulated_graph` (cached: shared by
    simulations and sweeps of one network)."""
    return build_workload(simulated_graph(network, fuse), fuse=False, attention=attention)
