"""ONNX writers of the LLM kinds (:mod:`simulator.model.layers.llm`), in standard opset-17 operators.

One forward pass of ``T`` new tokens per sequence after ``c`` cached ones, as
:func:`simulator.llm.network.build_network` builds it:

* :class:`RMSNorm`: ``x / Sqrt(ReduceMean(Pow(x, 2)) + eps) · γ`` (``Pow``, ``ReduceMean``, ``Add``,
  ``Sqrt``, ``Div``, ``Mul``; per group of ``dim`` features through ``Reshape`` for a per-head norm);
* :class:`RotaryEmbedding`: Q and K ``Slice``d from the fused QKV, ``x·cos + rotate_half(x)·sin``
  (``Slice``, ``Neg``, ``Concat``, ``Mul``, ``Add``) with ``cos``/``sin`` constants of the positions
  ``c … c+T-1`` (``θ_i = 10000^(-2i/hd)``, Llama's half-split rotation), V passed through ``Concat``;
* :class:`CausalAttention`: ``Softmax(Q Kᵀ / √hd + mask) V`` with the KV heads shared by groups of
  ``H/KV`` query heads through ``MatMul`` broadcasting (no copy), the ``c`` cached keys and values as
  graph inputs ``<name>.past_key`` / ``<name>.past_value`` of shape ``(KV, c, hd)`` concatenated before
  the new ones, and a constant ``-inf`` mask over the keys a query does not see (later positions; with a
  sliding window, those ``W`` or more before it);
* :class:`SwiGLU`: ``gate · Sigmoid(gate) · up`` on the two ``Slice``d halves;
* :class:`LMHead`: ``MatMul`` by ``<name>.weight`` ``(d, V)`` (``+ <name>.bias``), the last token
  ``Slice``d first when ``last_only``; a tied head multiplies by ``Transpose`` of the token embedding's
  table (its one initializer, no copy), which the reader of ``MatMul`` here takes back as a tied
  :class:`LMHead` (no parameters of its own), as SharedConv's reader does for a reused Conv weight.

Counting the written model back (:func:`simulator.onnx.reader.import_onnx`) gives the built network's
parameters, MACs and element-wise operations: :mod:`simulator.onnx.llm_patterns` reads these forms
back as the kinds (the attention as the causal kernel, the pairs its mask keeps, not the ``T × S``
square the ``MatMul`` computes before the mask hides the rest).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simulator.model.layers.base import NORM_EPSILON, onnx_reader, onnx_writer, take_over_reader
from simulator.model.layers.compute import Linear, MatMul
from simulator.model.layers.compute import read_matmul as read_plain_matmul
from simulator.model.layers.llm import CausalAttention, LMHead, RMSNorm, RotaryEmbedding, SwiGLU

if TYPE_CHECKING:
    from simulator.model.graph import Node

#: RoPE's base (``rope_theta``; Llama 2's, the default of transformers' LlamaConfig): angles only,
#: which no count depends on
ROPE_THETA = 10000.0
#: the first opset whose ReduceMean takes its axes as an input
REDUCE_AXES_INPUT_OPSET = 18


def _slice(g: Any, x: str, start: int, end: int, axis: int, output: str) -> str:
    """``x[..., start:end, ...]`` along the batched ``axis``."""
    bounds = [g.const(f"{output}/start", [start]), g.const(f"{output}/end", [end]),
              g.const(f"{output}/axis", [axis])]
    return g.op("Slice", [x, *bounds], output)


def _reduce_mean_last(g: Any, x: str, output: str) -> str:
    if g.opset >= REDUCE_AXES_INPUT_OPSET:
        return g.op("ReduceMean", [x, g.const(f"{output}/axes", [-1])], output, keepdims=1)
    return g.op("ReduceMean", [x], output, axes=[-1], keepdims=1)


@onnx_writer(RMSNorm)
def write_rms_norm(g: Any, node: Node) -> None:
    """``Pow``, ``ReduceMean`` (last axis), ``Add`` ε, ``Sqrt``, ``Div``, ``Mul`` by ``<name>.weight``
    (``dim``); features in groups of ``dim`` are ``Reshape``d to ``(T, F/dim, dim)`` and back."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    tokens, features = node.input_shapes[0]
    grouped = features != layer.dim
    source = g.reshape(x, (tokens, features // layer.dim, layer.dim), f"{name}/groups") if grouped else x
    square = g.op("Pow", [source, g.const(f"{name}/two", 2.0)], f"{name}/square")
    mean = _reduce_mean_last(g, square, f"{name}/mean")
    root = g.op("Sqrt", [g.op("Add", [mean, g.const(f"{name}/eps", NORM_EPSILON)], f"{name}/var_eps")],
                f"{name}/rms")
    normalized = g.op("Div", [source, root], f"{name}/normalized")
    gamma = g.param(f"{name}.weight", (layer.dim,), 0.02, mean=1.0)
    scaled = g.op("Mul", [normalized, gamma], f"{name}/scaled" if grouped else name)
    if grouped:
        g.reshape(scaled, (tokens, features), name)


def _cached_tokens(g: Any, tensor: str) -> int:
    """The cache length ``c`` of the attention that reads ``tensor`` (0 when none does)."""
    for node in g.network_nodes:
        if tensor in node.inputs and isinstance(node.layer, CausalAttention):
            return node.layer.cached_tokens
    return 0


@onnx_writer(RotaryEmbedding)
def write_rotary_embedding(g: Any, node: Node) -> None:
    """Q and K ``Slice``d from QKV and ``Reshape``d to heads, ``x·cos + Concat(-x₂, x₁)·sin`` (constant
    ``cos``/``sin`` of positions ``c … c+T-1``), ``Concat`` of the rotated Q, K and the untouched V."""
    import numpy as np  # only the ONNX writer needs arrays: counting a network never loads numpy

    layer, name, (x,) = node.layer, node.name, node.inputs
    tokens = node.input_shapes[0][0]
    hd, half = layer.head_dim, layer.head_dim // 2
    start = _cached_tokens(g, name)
    inverse = ROPE_THETA ** (-np.arange(half, dtype=np.float64) * 2.0 / hd)
    angles = np.arange(start, start + tokens, dtype=np.float64)[:, None] * inverse[None, :]
    angles = np.concatenate([angles, angles], axis=1)[:, None, :]  # (T, 1, hd): broadcast over heads
    cos = g.const(f"{name}/cos", np.cos(angles).astype(np.float32))
    sin = g.const(f"{name}/sin", np.sin(angles).astype(np.float32))
    q_end, k_end = layer.num_heads * hd, (layer.num_heads + layer.num_kv_heads) * hd
    features = node.input_shapes[0][1]

    def rotated(part: str, begin: int, end: int) -> str:
        heads = (end - begin) // hd
        per_head = g.reshape(_slice(g, x, begin, end, 2, f"{name}/{part}"), (tokens, heads, hd),
                             f"{name}/{part}_heads")
        first = _slice(g, per_head, 0, half, 3, f"{name}/{part}_x1")
        second = _slice(g, per_head, half, hd, 3, f"{name}/{part}_x2")
        turned = g.op("Concat", [g.op("Neg", [second], f"{name}/{part}_neg"), first],
                      f"{name}/{part}_rotate", axis=-1)
        summed = g.op("Add", [g.op("Mul", [per_head, cos], f"{name}/{part}_cos"),
                              g.op("Mul", [turned, sin], f"{name}/{part}_sin")], f"{name}/{part}_rope")
        return g.reshape(summed, (tokens, end - begin), f"{name}/{part}_out")

    parts = [rotated("q", 0, q_end), rotated("k", q_end, k_end),
             _slice(g, x, k_end, features, 2, f"{name}/v")]
    g.op("Concat", parts, name, axis=-1)


def causal_mask(np: Any, layer: CausalAttention, tokens: int) -> Any:
    """``(T, S)`` additive mask over the ``S = cached_read + T`` keys: 0 where query ``c + i`` sees key
    position ``p`` (``p <= c + i``, and ``c + i - p < W`` with a window), ``-inf`` elsewhere."""
    past = layer.cached_read()
    query = layer.cached_tokens + np.arange(tokens)[:, None]
    key = layer.cached_tokens - past + np.arange(past + tokens)[None, :]
    seen = key <= query
    if layer.window:
        seen &= query - key < layer.window
    return np.where(seen, 0.0, -np.inf).astype(np.float32)


@onnx_writer(CausalAttention)
def write_causal_attention(g: Any, node: Node) -> None:
    """Q ``(N, KV, H/KV, T, hd)``, K and V ``(N, KV, 1, S, hd)`` (``S = cached_read + T``: the cached
    keys and values are graph inputs ``(KV, cached_read, hd)`` ``Concat``ed before the new ones),
    ``MatMul``, ``Mul`` by ``1/√hd``, ``Add`` of the causal mask (when it hides anything), ``Softmax``,
    ``MatMul`` by V, ``Transpose``/``Reshape`` back to ``(T, H·hd)``."""
    import numpy as np

    layer, name, (x,) = node.layer, node.name, node.inputs
    tokens = node.input_shapes[0][0]
    heads, kv_heads, hd = layer.num_heads, layer.num_kv_heads, layer.head_dim
    group, past = heads // kv_heads, layer.cached_read()
    q_end, k_end = heads * hd, (heads + kv_heads) * hd
    q = g.reshape(_slice(g, x, 0, q_end, 2, f"{name}/q"), (tokens, kv_heads, group, hd), f"{name}/q_heads")
    q = g.op("Transpose", [q], f"{name}/q_t", perm=[0, 2, 3, 1, 4])              # (N, KV, G, T, hd)

    def keys_or_values(part: str, begin: int) -> str:
        new = g.reshape(_slice(g, x, begin, begin + kv_heads * hd, 2, f"{name}/{part}"),
                        (tokens, kv_heads, hd), f"{name}/{part}_heads")
        new = g.op("Transpose", [new], f"{name}/{part}_t", perm=[0, 2, 1, 3])   # (N, KV, T, hd)
        if past:
            cached = g.graph_input(f"{name}.past_{'key' if part == 'k' else 'value'}", (kv_heads, past, hd))
            new = g.op("Concat", [cached, new], f"{name}/{part}_all", axis=2)    # (N, KV, S, hd)
        return g.reshape(new, (kv_heads, 1, past + tokens, hd), f"{name}/{part}_shared")

    keys, values = keys_or_values("k", q_end), keys_or_values("v", k_end)
    keys = g.op("Transpose", [keys], f"{name}/k_T", perm=[0, 1, 2, 4, 3])        # (N, KV, 1, hd, S)
    scores = g.op("MatMul", [q, keys], f"{name}/scores")                         # (N, KV, G, T, S)
    scores = g.op("Mul", [scores, g.const(f"{name}/scale", 1.0 / math.sqrt(hd))], f"{name}/scaled")
    mask = causal_mask(np, layer, tokens)
    if np.isinf(mask).any():
        scores = g.op("Add", [scores, g.const(f"{name}/mask", mask)], f"{name}/masked")
    weights = g.op("Softmax", [scores], f"{name}/softmax", axis=-1)
    context = g.op("MatMul", [weights, values], f"{name}/context")               # (N, KV, G, T, hd)
    merged = g.op("Transpose", [context], f"{name}/context_t", perm=[0, 3, 1, 2, 4])
    g.reshape(merged, (tokens, heads * hd), name)


@onnx_writer(SwiGLU)
def write_swiglu(g: Any, node: Node) -> None:
    """``Slice`` the fused projection into ``gate`` (first half) and ``up`` (second half), SiLU of the
    gate (``Mul(gate, Sigmoid(gate))``), ``Mul`` by ``up``."""
    name, (x,) = node.name, node.inputs
    half = node.input_shapes[0][-1] // 2
    gate = _slice(g, x, 0, half, 2, f"{name}/gate")
    silu = g.op("Mul", [gate, g.op("Sigmoid", [gate], f"{name}/sigmoid")], f"{name}/silu")
    g.op("Mul", [silu, _slice(g, x, half, 2 * half, 2, f"{name}/up")], name)


def _token_table(g: Any) -> str | None:
    """The initializer of the token embedding (the table a tied head shares), if written."""
    for node in g.network_nodes:
        if type(node.layer).__name__ == "Embedding" and node.layer.source == "tokens":
            return f"{node.name}.weight"
    return None


@onnx_writer(LMHead)
def write_lm_head(g: Any, node: Node) -> None:
    """``Slice`` of the last token (``last_only``), ``MatMul`` by ``(d, V)`` weights (a tied head:
    ``Transpose`` of the token embedding's ``(V, d)`` table), ``Add`` of ``<name>.bias``."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    tokens = node.input_shapes[0][0]
    if layer.last_only and tokens > 1:
        x = _slice(g, x, tokens - 1, tokens, 1, f"{name}/last")
    table = _token_table(g) if layer.tied else None
    if table is not None:
        weight = g.op("Transpose", [table], f"{name}/tied_weight", perm=[1, 0])
    else:
        weight = g.param(f"{name}.weight", (layer.hidden_size, layer.vocab_size),
                         g.fan_in_std(layer.hidden_size))
    product = g.op("MatMul", [x, weight], f"{name}/matmul" if layer.bias else name)
    if layer.bias:
        g.op("Add", [product, g.param(f"{name}.bias", (layer.vocab_size,), g.fan_in_std(layer.hidden_size))],
             name)


# ``MatMul`` has one reader: this one, which reads a tied LM head (a MatMul by the transposed table that
# a Gather also reads) and hands every other MatMul to compute.read_matmul
take_over_reader("MatMul", read_plain_matmul, (MatMul, Linear))


@onnx_reader("MatMul", makes=(MatMul, Linear, LMHead))
def read_matmul(t: Any, node: Any) -> None:
    """A tied :class:`LMHead` for ``MatMul(x, Transpose(table))`` where a ``Gather`` also reads the 2-D
    learned ``table`` (the token embedding: its parameters are counted there, once); else
    :func:`simulator.model.layers.compute.read_matmul`."""
    x, weight = node.input
    transpose = t.g.produced_by(weight, "Transpose")
    table = t.g.nodes[transpose].input[0] if transpose is not None else None
    if (table is not None and not t.is_const(x) and t.is_learned(table) and len(t.full(table)) == 2
            and list(t.attribute(t.g.nodes[transpose], "perm", [1, 0])) == [1, 0]
            and any(t.g.nodes[i].op_type == "Gather" for i in t.g.readers.get(table, []))):
        rows, dim = t.full(table)
        t.add(LMHead(rows, dim, tied=True), [x], node.output[0])
        return
    read_plain_matmul(t, node)
