r"""The ONNX forms of the LLM kinds that :mod:`simulator.model.layers.llm_export` writes, read back as
those kinds (registered in :data:`simulator.onnx.patterns.MATCHERS`), so that an exported LLM pass
counts as the built network: parameters, MACs and element-wise operations.

* RMSNorm: ``Pow(x, 2)`` → ``ReduceMean`` (last axis) → ``Add(eps)`` → ``Sqrt`` → ``Div(x, ·)`` →
  ``Mul(γ)``, per group of features between two ``Reshape`` nodes (a per-head norm);
* RoPE: a ``Concat`` of Q and K, each ``Slice`` → ``Reshape`` to heads → ``x·cos + Concat(-x₂, x₁)·sin``
  → ``Reshape``, and the V ``Slice`` of the same tensor, in that order;
* CausalAttention: Q, K and V ``Slice``\ d from one QKV tensor to ``(N, KV, H/KV, T, hd)`` and
  ``(N, KV, 1, S, hd)`` (K and V after cached ones through a ``Concat``), ``MatMul`` → ``Mul(1/√hd)``
  [→ ``Add`` of a constant mask] → ``Softmax`` → ``MatMul(·, V)`` → ``Transpose`` → ``Reshape``,
  where the mask hides exactly what :class:`~simulator.model.layers.CausalAttention` does (later keys;
  with a window, those ``W`` or more before): counted as the causal kernel, the pairs the mask keeps.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.model.layers import CausalAttention, RMSNorm, RotaryEmbedding
from simulator.model.layers.llm_export import causal_mask
from simulator.onnx.graph_index import GraphIndex, Match, reduce_axes
from simulator.onnx.shapes import attribute


def rms_norm(g: GraphIndex, i: int) -> Match | None:
    square = g.produced_by(g.nodes[i].input[0], "Pow")
    if square is None or not g.only_read_by(g.nodes[i].input[0], i):
        return None
    x = g.nodes[square].input[0]
    rank = len(g.facts.shapes.get(x, ()))
    if x in g.facts.constants or not g.is_scalar(g.nodes[square].input[1], 2.0) or reduce_axes(g, i) != (
            rank - 1,):
        return None
    epsilon = g.sole_reader(g.nodes[i].output[0], "Add")
    root = None if epsilon is None else g.sole_reader(g.nodes[epsilon].output[0], "Sqrt")
    divide = None if root is None else g.sole_reader(g.nodes[root].output[0], "Div")
    if divide is None or list(g.nodes[divide].input) != [x, g.nodes[root].output[0]]:
        return None
    dim = g.facts.shapes[x][-1]
    output, tail = g.affine_tail(g.nodes[divide].output[0], dim)
    if len(tail) != 1:   # γ and no β: RMSNorm; β too, or no γ: another norm
        return None
    nodes, source = {square, i, epsilon, root, divide, *tail}, x
    before = g.produced_by(x, "Reshape")
    if rank == 4 and before is not None and sorted(g.readers.get(x, [])) == sorted({square, divide}):
        after = g.sole_reader(output, "Reshape")
        source = g.nodes[before].input[0]
        if after is None or g.facts.shapes.get(g.nodes[after].output[0]) != g.facts.shapes.get(source):
            return None
        nodes, output = nodes | {before, after}, g.nodes[after].output[0]
    if len(g.facts.shapes.get(source, ())) != 3 or source in g.facts.constants:
        return None
    gamma = g.other(min(tail), g.nodes[divide].output[0])
    return Match(RMSNorm(dim), source, output, frozenset(nodes), (gamma,) if gamma else ())


def _walk(g: GraphIndex, tensor: str, reader: int, steps: list[tuple[str, list[int] | None]],
          nodes: set[int]) -> tuple[str, int] | None:
    """Back from ``tensor`` (read by node ``reader`` alone) through ``steps`` (operator, Transpose perm
    or None), each output read by the next node alone; the walked nodes join ``nodes``."""
    for op_type, perm in steps:
        index = g.feeding(tensor, op_type, reader)
        if index is None or (perm is not None and list(attribute(g.nodes[index], "perm", [])) != perm):
            return None
        nodes.add(index)
        tensor, reader = g.nodes[index].input[0], index
    return tensor, reader


def _sliced(g: GraphIndex, tensor: str, reader: int, steps: list[tuple[str, list[int] | None]],
            nodes: set[int]) -> tuple[str, int, int] | None:
    """:func:`_walk` through ``steps`` to a ``Slice`` on the last axis: its input and its bounds."""
    walked = _walk(g, tensor, reader, [*steps, ("Slice", None)], nodes)
    if walked is None:
        return None
    bounds = _bounds(g, walked[1])
    return None if bounds is None else (walked[0], *bounds)


def _bounds(g: GraphIndex, index: int) -> tuple[int, int] | None:
    """``(start, end)`` of the ``Slice`` node ``index`` on the last axis of a 3-D tensor, else None."""
    given = g.nodes[index].input[1:4]
    values = [g.facts.value(name) if name in g.facts.constants else None for name in given]
    if len(values) != 3 or any(v is None or v.size != 1 for v in values):
        return None
    if int(values[2].item()) not in (-1, 2):
        return None
    return int(values[0].item()), int(values[1].item())


#: Q, K and V from the fused QKV to their attention layouts (last step first)
_QUERY_STEPS = [("Transpose", [0, 2, 3, 1, 4]), ("Reshape", None)]
_KEY_STEPS = [("Transpose", [0, 1, 2, 4, 3]), ("Reshape", None)]
_NEW_HEADS_STEPS = [("Transpose", [0, 2, 1, 3]), ("Reshape", None)]


def _keys_or_values(g: GraphIndex, tensor: str, reader: int, steps: list[tuple[str, list[int] | None]],
                    nodes: set[int]) -> tuple[str, int, int] | None:
    """K or V back to its Slice of QKV, through a ``Concat`` after the cached ones if there is one."""
    walked = _walk(g, tensor, reader, steps, nodes)
    if walked is None:
        return None
    tensor, reader = walked
    concat = g.feeding(tensor, "Concat", reader)
    if concat is not None:
        if len(g.nodes[concat].input) != 2 or g.nodes[concat].input[0] in g.facts.constants:
            return None
        nodes.add(concat)
        tensor, reader = g.nodes[concat].input[1], concat
    return _sliced(g, tensor, reader, _NEW_HEADS_STEPS, nodes)


def causal_attention(g: GraphIndex, i: int) -> Match | None:
    nodes, scores = {i}, g.nodes[i].input[0]
    add = g.feeding(scores, "Add", i)
    mask = None
    if add is not None:
        mask = next((t for t in g.nodes[add].input if t in g.facts.constants), None)
        nodes.add(add)
        scores = g.other(add, mask) if mask is not None else None
    scale = None if scores is None else g.feeding(scores, "Mul", add if add is not None else i)
    factor = None if scale is None else next((t for t in g.nodes[scale].input if g.scalar(t) is not None),
                                             None)
    product = None if factor is None else g.feeding(g.other(scale, factor), "MatMul", scale)
    weighted = g.sole_reader(g.nodes[i].output[0], "MatMul")
    if product is None or weighted is None or g.nodes[weighted].input[0] != g.nodes[i].output[0]:
        return None
    merged = g.sole_reader(g.nodes[weighted].output[0], "Transpose")
    output = None if merged is None else g.sole_reader(g.nodes[merged].output[0], "Reshape")
    if output is None or list(attribute(g.nodes[merged], "perm", [])) != [0, 3, 1, 2, 4]:
        return None
    nodes |= {scale, product, weighted, merged, output}
    q, keys = g.nodes[product].input
    values = g.nodes[weighted].input[1]
    found = [_sliced(g, q, product, _QUERY_STEPS, nodes),
             _keys_or_values(g, keys, product, _KEY_STEPS, nodes),
             _keys_or_values(g, values, weighted, [("Reshape", None)], nodes)]
    q_shape, v_shape = g.facts.shapes.get(q, ()), g.facts.shapes.get(values, ())
    if None in found or len({source for source, _, _ in found}) != 1 or len(q_shape) != 5 != len(v_shape):
        return None
    x = found[0][0]
    _, kv_heads, group, tokens, head_dim = q_shape
    heads, keys_seen = kv_heads * group, v_shape[3]
    spans = [(start, end) for _, start, end in found]
    width = head_dim * kv_heads
    if spans != [(0, heads * head_dim), (heads * head_dim, heads * head_dim + width),
                 (heads * head_dim + width, heads * head_dim + 2 * width)] or keys_seen < tokens:
        return None
    if not math.isclose(g.scalar(factor), 1 / math.sqrt(head_dim), rel_tol=1e-3):
        return None
    given = np.zeros((tokens, keys_seen), np.float32) if mask is None else g.facts.value(mask)
    if given is None:
        return None
    given = np.broadcast_to(given, (*given.shape[:-2], tokens, keys_seen)).reshape(-1, tokens, keys_seen)[0]
    for window in (0, int((given == 0).sum(axis=1).max())):
        layer = CausalAttention(heads, kv_heads, head_dim, keys_seen - tokens, window)
        if np.array_equal(np.isinf(causal_mask(np, layer, tokens)), np.isinf(given)):
            return Match(layer, x, g.nodes[output].output[0], frozenset(nodes))
    return None


def _rotated_heads(g: GraphIndex, tensor: str, reader: int,
                   nodes: set[int]) -> tuple[str, int, int, int] | None:
    """One rotated part of a RoPE back to its Slice of the input: ``Reshape`` ← ``Add`` of ``Mul(h,
    cos)`` and ``Mul(Concat(Neg(h[.., half:]), h[.., :half]), sin)`` ← ``h`` = ``Reshape`` ← ``Slice``;
    the input, the Slice's bounds and the head size."""
    back = g.feeding(tensor, "Reshape", reader)
    total = None if back is None else g.feeding(g.nodes[back].input[0], "Add", back)
    if total is None:
        return None
    products = [g.feeding(t, "Mul", total) for t in g.nodes[total].input]
    if None in products:
        return None
    heads = {t for p in products for t in g.nodes[p].input if t not in g.facts.constants}
    rotated = [t for p in products for t in g.nodes[p].input
               if t in heads and g.produced_by(t, "Concat") is not None and g.only_read_by(t, p)]
    if len(heads) != 2 or len(rotated) != 1:
        return None
    (per_head,) = heads - set(rotated)
    turn = g.produced_by(rotated[0], "Concat")
    negated, first = g.nodes[turn].input if len(g.nodes[turn].input) == 2 else (None, None)
    neg = None if negated is None else g.feeding(negated, "Neg", turn)
    halves = [g.feeding(first, "Slice", turn), None if neg is None else g.feeding(g.nodes[neg].input[0],
                                                                               "Slice", neg)]
    if None in halves or any(g.nodes[h].input[0] != per_head for h in halves):
        return None
    if sorted(g.readers.get(per_head, [])) != sorted({*halves, *(p for p in products
                                                                 if per_head in g.nodes[p].input)}):
        return None
    split = g.produced_by(per_head, "Reshape")
    part = None if split is None else g.feeding(g.nodes[split].input[0], "Slice", split)
    shape = g.facts.shapes.get(per_head, ())
    if part is None or len(shape) != 4:
        return None
    bounds = _bounds(g, part)
    if bounds is None:
        return None
    nodes |= {back, total, *products, turn, neg, *halves, split, part}
    return g.nodes[part].input[0], *bounds, shape[-1]


def rotary_embedding(g: GraphIndex, i: int) -> Match | None:
    node = g.nodes[i]
    if len(node.input) != 3 or attribute(node, "axis", 0) not in (-1, 2):
        return None
    nodes = {i}
    q, k = (_rotated_heads(g, t, i, nodes) for t in node.input[:2])
    value = g.feeding(node.input[2], "Slice", i)
    v = None if value is None else (g.nodes[value].input[0], *(_bounds(g, value) or (None, None)))
    if q is None or k is None or v is None or None in v or not q[0] == k[0] == v[0]:
        return None
    x, head_dim = q[0], q[3]
    features = g.facts.shapes.get(x, ())[-1:]
    if not (q[1] == 0 and q[2] == k[1] and k[2] == v[1] and (v[2],) == features and k[3] == head_dim
            and (v[2] - k[2]) == (k[2] - k[1]) and not q[2] % head_dim and not (k[2] - k[1]) % head_dim):
        return None
    nodes.add(value)
    layer = RotaryEmbedding(q[2] // head_dim, (k[2] - k[1]) // head_dim, head_dim)
    return Match(layer, x, node.output[0], frozenset(nodes))
