"""Multi-node ONNX patterns that are one layer: found before :mod:`simulator.onnx.reader` maps nodes.

Exporters decompose some layers into several operators. Each pattern below is recognized from an
anchor node and becomes one layer, emitted at the pattern's last node and reading the pattern's
input; the other nodes are skipped. Every intermediate tensor must be read only inside the pattern.

==============  =====================================================================
pattern         ONNX nodes (``c`` a constant)
==============  =====================================================================
Linear          ``MatMul(x, W)`` + ``Add(·, b)``, ``W`` a 2-D constant, ``b`` of ``W``'s columns
GELU            ``Div(x, √2)`` (or ``Mul(x, 1/√2)``) → ``Erf`` → ``Add(·, 1)`` → ``Mul(x, ·)`` →
                ``Mul(·, 0.5)`` (or ``Mul(Mul(x, 0.5), ·)``), as ``torch.onnx`` writes ``nn.GELU``
SiLU            ``Mul(x, Sigmoid(x))``
Hardswish       ``Mul(x, HardSigmoid(x))`` with alpha 1/6, beta 0.5
LayerNorm       ``ReduceMean`` → ``Sub`` → ``Pow(·, 2)`` → ``ReduceMean`` → ``Add(eps)`` → ``Sqrt`` →
                ``Div`` [→ ``Mul(γ)`` → ``Add(β)``] over trailing axes (older exports)
GroupNorm       ``Reshape(N, G, -1)`` → ``InstanceNormalization`` → ``Reshape`` back
                [→ ``Mul(γ)`` → ``Add(β)``] (:mod:`simulator.onnx.writer` before opset 21)
EmbeddingBag    ``Gather(W, ids)`` → ``ReduceSum``/``ReduceMean`` over the lookups (axis 1, keepdims 0),
                ``W`` a learned 2-D table, ``ids`` ``(N, lookups)`` from the input (a bag's indices)
RMSNorm, RoPE,  the forms :mod:`simulator.model.layers.llm_export` writes (:mod:`simulator.onnx.llm_patterns`)
CausalAttention
==============  =====================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simulator.model.layers import Activation, EmbeddingBag, GroupNorm, LayerNorm, Linear
from simulator.onnx.graph_index import GraphIndex, Match, reduce_axes
from simulator.onnx.llm_patterns import causal_attention, rms_norm, rotary_embedding
from simulator.onnx.shapes import attribute

__all__ = ["MATCHERS", "GraphIndex", "Match", "find_patterns"]


def _linear(g: GraphIndex, i: int) -> Match | None:
    x, weight = g.nodes[i].input
    if x in g.facts.constants or weight not in g.facts.constants or len(g.facts.shapes[weight]) != 2:
        return None
    out_features = g.facts.shapes[weight][1]
    add = g.sole_reader(g.nodes[i].output[0], "Add")
    bias = g.other(add, g.nodes[i].output[0]) if add is not None else None
    if bias is None or g.constant_size(bias) != out_features or g.facts.shapes[bias][-1:] != (out_features,):
        return None
    return Match(Linear(out_features, bias=True), x, g.nodes[add].output[0], frozenset({i, add}),
                 (weight, bias))


def _gelu(g: GraphIndex, i: int) -> Match | None:
    scaled = g.nodes[i].input[0]
    first = g.produced_by(scaled, "Div", "Mul")
    if first is None or g.sole_reader(scaled, "Erf") != i:
        return None
    node = g.nodes[first]
    x = node.input[0] if node.input[0] not in g.facts.constants else node.input[1]
    factor = g.other(first, x)
    if not g.is_scalar(factor, math.sqrt(2.0) if node.op_type == "Div" else math.sqrt(0.5)):
        return None
    add = g.sole_reader(g.nodes[i].output[0], "Add")
    if add is None or not g.is_scalar(g.other(add, g.nodes[i].output[0]), 1.0):
        return None
    shifted = g.nodes[add].output[0]
    mul = g.sole_reader(shifted, "Mul")
    if mul is None:
        return None
    partner = g.other(mul, shifted)
    nodes = {first, i, add, mul}
    if partner == x:  # (x · (1 + erf)) · 0.5
        half = g.sole_reader(g.nodes[mul].output[0], "Mul")
        if half is None or not g.is_scalar(g.other(half, g.nodes[mul].output[0]), 0.5):
            return None
        nodes.add(half)
        output = g.nodes[half].output[0]
    else:  # (x · 0.5) · (1 + erf)
        halved = g.produced_by(partner, "Mul")
        if halved is None or g.sole_reader(partner, "Mul") != mul or not g.is_scalar(g.other(halved, x), 0.5):
            return None
        nodes.add(halved)
        output = g.nodes[mul].output[0]
    return Match(Activation("gelu"), x, output, frozenset(nodes))


def _gated(function: str) -> Callable[[GraphIndex, int], Match | None]:
    """``Mul(x, gate(x))``: SiLU for Sigmoid, Hardswish for HardSigmoid(alpha 1/6, beta 0.5)."""
    def match(g: GraphIndex, i: int) -> Match | None:
        node = g.nodes[i]
        if node.op_type == "HardSigmoid" and not (
                math.isclose(attribute(node, "alpha", 0.2), 1 / 6, rel_tol=1e-3)
                and math.isclose(attribute(node, "beta", 0.5), 0.5)):
            return None
        x, gate = node.input[0], node.output[0]
        mul = g.sole_reader(gate, "Mul")
        if mul is None or g.other(mul, gate) != x:
            return None
        return Match(Activation(function), x, g.nodes[mul].output[0], frozenset({i, mul}))
    return match


def _layernorm(g: GraphIndex, i: int) -> Match | None:
    x, mean = g.nodes[i].input[0], g.nodes[i].output[0]
    axes = reduce_axes(g, i)
    rank = len(g.facts.shapes.get(x, ()))
    if axes is None or axes != tuple(range(rank - len(axes), rank)):
        return None
    sub = g.sole_reader(mean, "Sub")
    if sub is None or list(g.nodes[sub].input) != [x, mean]:
        return None
    centered = g.nodes[sub].output[0]
    readers = g.readers.get(centered, [])
    square = next((r for r in readers if g.nodes[r].op_type in ("Pow", "Mul")), None)
    divide = next((r for r in readers if g.nodes[r].op_type == "Div"), None)
    if len(readers) != 2 or square is None or divide is None or centered in g.outputs:
        return None
    if not (g.is_scalar(g.other(square, centered), 2.0) if g.nodes[square].op_type == "Pow"
            else list(g.nodes[square].input) == [centered, centered]):
        return None
    variance = g.sole_reader(g.nodes[square].output[0], "ReduceMean")
    if variance is None or reduce_axes(g, variance) != axes:
        return None
    epsilon = g.sole_reader(g.nodes[variance].output[0], "Add")
    root = None if epsilon is None else g.sole_reader(g.nodes[epsilon].output[0], "Sqrt")
    if root is None or g.sole_reader(g.nodes[root].output[0], "Div") != divide:
        return None
    if list(g.nodes[divide].input) != [centered, g.nodes[root].output[0]]:
        return None
    normalized = g.facts.shapes[x][-len(axes):]
    output, tail = g.affine_tail(g.nodes[divide].output[0], int(np.prod(normalized)))
    nodes = {i, sub, square, variance, epsilon, root, divide, *tail}
    return Match(LayerNorm(tuple(normalized), affine=bool(tail)), x, output, frozenset(nodes))


def _groupnorm(g: GraphIndex, i: int) -> Match | None:
    grouped = g.nodes[i].input[0]
    before = g.produced_by(grouped, "Reshape")
    if before is None or g.sole_reader(grouped, "InstanceNormalization") != i:
        return None
    x = g.nodes[before].input[0]
    shape, groups_shape = g.facts.shapes.get(x, ()), g.facts.shapes.get(grouped, ())
    after = g.sole_reader(g.nodes[i].output[0], "Reshape")
    if len(shape) < 3 or len(groups_shape) != 3 or after is None or x in g.facts.constants:
        return None
    if g.facts.shapes.get(g.nodes[after].output[0]) != shape:
        return None
    output, tail = g.affine_tail(g.nodes[after].output[0], shape[1])
    layer = GroupNorm(groups_shape[1], shape[1], affine=bool(tail))
    return Match(layer, x, output, frozenset({before, i, after, *tail}))


def _embedding_bag(g: GraphIndex, i: int) -> Match | None:
    table, ids = g.nodes[i].input[:2]
    shape, ids_shape = g.facts.shapes.get(table), g.facts.shapes.get(ids)
    if (table not in g.facts.learned or ids in g.facts.constants or shape is None or len(shape) != 2
            or ids_shape is None or len(ids_shape) != 2 or attribute(g.nodes[i], "axis", 0) != 0):
        return None
    reduce = g.sole_reader(g.nodes[i].output[0], "ReduceSum", "ReduceMean")
    if reduce is None or attribute(g.nodes[reduce], "keepdims", 1) != 0:
        return None
    node = g.nodes[reduce]
    axes = attribute(node, "axes") if len(node.input) < 2 else g.facts.value(node.input[1])
    if axes is None or [int(a) % 3 for a in np.asarray(axes).reshape(-1)] != [1]:
        return None
    bag = EmbeddingBag(shape[0], shape[1], ids_shape[1], "mean" if node.op_type == "ReduceMean" else "sum")
    return Match(bag, ids, node.output[0], frozenset({i, reduce}), (table,))


def _reduce_mean(g: GraphIndex, i: int) -> Match | None:
    """A LayerNorm from its first ReduceMean, else an RMSNorm from its only one."""
    return _layernorm(g, i) or rms_norm(g, i)


#: anchor operator -> matcher; a matcher returns None when the nodes around the anchor differ
MATCHERS: dict[str, Callable[[GraphIndex, int], Match | None]] = {
    "MatMul": _linear,
    "Erf": _gelu,
    "Sigmoid": _gated("silu"),
    "HardSigmoid": _gated("hardswish"),
    "ReduceMean": _reduce_mean,
    "Softmax": causal_attention,
    "Concat": rotary_embedding,
    "InstanceNormalization": _groupnorm,
    "Gather": _embedding_bag,
}


def find_patterns(g: GraphIndex) -> dict[int, Match]:
    """Non-overlapping matches, keyed by the index of each pattern's last node."""
    claimed: set[int] = set()
    matches: dict[int, Match] = {}
    for i, node in enumerate(g.nodes):
        matcher = MATCHERS.get(node.op_type)
        if matcher is None or i in claimed:
            continue
        match = matcher(g, i)
        if match is None or match.nodes & claimed:
            continue
        claimed |= match.nodes
        matches[max(match.nodes)] = match
    return matches
