"""The kinds of a diffusion UNet (diffusers' ``UNet2DConditionModel``, Stable Diffusion XL).

* :class:`ConditioningInput`: a per-sample conditioning tensor the network is given beside its
  latent (the text encoders' ``(77, 2048)`` hidden states, the ``(1, 320)`` sinusoidal timestep
  features, the ``(1, 2816)`` pooled text and size features): no parameters, no operations; it
  writes its tensor once, as the pipeline hands it over.
* :class:`CrossAttention`: diffusers' ``Attention`` with ``cross_attention_dim``: queries from the
  image tokens, keys and values from the context tokens.
* :class:`OutBiasSelfAttention`: diffusers' ``Attention`` without ``cross_attention_dim`` (``attn1``):
  q, k, v without bias, the output projection with one.
* :class:`GEGLU`: ``hidden · gelu(gate)`` on the feed-forward's fused ``(tokens, 2·I)`` projection.

Each has its ONNX writer: a conditioning input is a graph input after the network's own (named after
the layer; the reader takes every graph input after the first back as one), the others standard
operators that read back with the same params, MACs and
operations (:func:`write_cross_attention`, :func:`write_geglu`; the self-attention through
:func:`~simulator.model.layers.compute.write_self_attention`). Formulas: :mod:`simulator.model.formulas`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    gated_halves_output,
    layer_kind,
    onnx_writer,
)
from simulator.model.layers.compute import MultiheadSelfAttention, write_self_attention
from simulator.model.layers.elementwise import write_gelu

if TYPE_CHECKING:
    from simulator.model.graph import Node


@layer_kind
@dataclass(frozen=True)
class ConditioningInput(Layer):
    """A conditioning tensor of ``shape`` per sample, given to the network beside its input (which
    this layer reads only to hang in the graph): ``what`` names it (``encoder_hidden_states``)."""

    shape: Shape
    what: str
    kind: ClassVar[str] = "ConditioningInput"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        if not self.shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in self.shape):
            raise ShapeError(f"{self.what}: shape {self.shape!r} must be positive integers")
        return tuple(self.shape)


@layer_kind
@dataclass(frozen=True)
class CrossAttention(Layer):
    """Cross-attention on image tokens ``(T, E)`` and context tokens ``(L, D_c)`` -> ``(T, E)``.

    diffusers ``Attention(query_dim=E, cross_attention_dim=D_c, heads=h, dim_head=E/h)``:
    ``to_q`` ``E -> E``, ``to_k`` and ``to_v`` ``D_c -> E`` (no biases), per-head ``softmax(Q Kᵀ) V``
    over the ``L`` context tokens, ``to_out.0`` ``E -> E`` with a bias."""

    embed_dim: int
    num_heads: int
    context_dim: int
    kind: ClassVar[str] = "CrossAttention"
    arity: ClassVar[int | None] = 2
    efficiency_class: ClassVar[str] = "attention"
    projection_kernels: ClassVar[int] = 3  # q, the packed k and v, the output

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        query, context = inputs
        _check_rank(query, 2, "(tokens, embed_dim)")
        _check_rank(context, 2, "(context tokens, context_dim)")
        if query[1] != self.embed_dim:
            raise ShapeError(f"embed_dim: expects {self.embed_dim}, got {query[1]}")
        if context[1] != self.context_dim:
            raise ShapeError(f"context_dim: expects {self.context_dim}, got {context[1]}")
        if self.embed_dim % self.num_heads:
            raise ShapeError(f"embed_dim {self.embed_dim} is not divisible by num_heads={self.num_heads}")
        return query

    def score_elements(self, inputs: tuple[Shape, ...]) -> int:
        """Per-sample scores an unfused execution materializes: ``heads·T·L``."""
        return self.num_heads * inputs[0][0] * inputs[1][0]


@layer_kind
@dataclass(frozen=True)
class OutBiasSelfAttention(MultiheadSelfAttention):
    """:class:`MultiheadSelfAttention` on ``(L, E)`` whose q, k, v projections have no bias and whose
    output projection has one (diffusers' ``Attention``, ``bias=False``, ``out_bias=True``)."""

    kind: ClassVar[str] = "Attention"


@layer_kind
@dataclass(frozen=True)
class GEGLU(Layer):
    """``hidden · gelu(gate)`` on a fused ``(tokens, 2·I)`` projection -> ``(tokens, I)`` (diffusers'
    ``GEGLU``: ``hidden, gate = proj(x).chunk(2, dim=-1)``)."""

    kind: ClassVar[str] = "GEGLU"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return gated_halves_output(inputs, "hidden and gate")


# Builder methods (``NetworkBuilder.<name>``).


@builder_method("conditioning_input", makes=ConditioningInput)
def conditioning_input(net, shape: Shape, what: str, name: str | None = None) -> str:
    """A per-sample conditioning tensor of ``shape`` beside the network's input."""
    return net.add(ConditioningInput(tuple(shape), what), net.input, name=name)


@builder_method("cross_attention", makes=CrossAttention)
def cross_attention(net, x: str, context: str, num_heads: int, name: str | None = None) -> str:
    """Queries from ``x`` ``(T, E)``, keys and values from ``context`` ``(L, D_c)``."""
    return net.add(CrossAttention(net.shape(x)[-1], num_heads, net.shape(context)[-1]), x, context, name=name)


@builder_method("self_attention_out_bias", makes=OutBiasSelfAttention)
def self_attention_out_bias(net, x: str, num_heads: int, name: str | None = None) -> str:
    """diffusers' self-attention on ``(L, E)``: q, k, v without bias, the output with one."""
    return net.add(OutBiasSelfAttention(net.shape(x)[-1], num_heads), x, name=name)


@builder_method("geglu", makes=GEGLU)
def geglu(net, x: str, name: str | None = None) -> str:
    return net.add(GEGLU(), x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


@onnx_writer(ConditioningInput)
def write_conditioning_input(g: Any, node: Node) -> None:
    """A graph input named after the layer, of the layer's per-sample shape and the network's batch."""
    g.graph_input(node.name, node.layer.shape)


@onnx_writer(OutBiasSelfAttention)
def write_attention_out_bias(g: Any, node: Node) -> None:
    """:func:`~simulator.model.layers.compute.write_self_attention` with the output projection's bias only."""
    write_self_attention(g, node, ("out_proj",))


@onnx_writer(CrossAttention)
def write_cross_attention(g: Any, node: Node) -> None:
    """``to_q`` ``MatMul`` on the image tokens, ``to_k`` and ``to_v`` ``MatMul`` on the context (no biases),
    ``Reshape``/``Transpose`` to heads, ``MatMul(Q, Kᵀ)``, ``Mul`` by ``1/√d``, ``Softmax``, ``MatMul(·, V)``,
    back to ``(T, E)``, ``to_out`` ``MatMul`` + ``Add`` (its bias)."""
    layer, name, (x, context) = node.layer, node.name, node.inputs
    (tokens, embed), (context_tokens, context_dim) = node.input_shapes
    heads = layer.num_heads
    head_dim = embed // heads

    def heads_of(source: str, rows: int, fan_in: int, part: str, perm: list[int]) -> str:
        weight = g.param(f"{name}.{part}.weight", (fan_in, embed), g.fan_in_std(fan_in))
        projected = g.op("MatMul", [source, weight], f"{name}/{part}")
        return g.op("Transpose", [g.reshape(projected, (rows, heads, head_dim), f"{name}/{part}_heads")],
                    f"{name}/{part}_t", perm=perm)

    q = heads_of(x, tokens, embed, "to_q", [0, 2, 1, 3])                         # (N, h, T, d)
    k = heads_of(context, context_tokens, context_dim, "to_k", [0, 2, 3, 1])     # (N, h, d, L)
    v = heads_of(context, context_tokens, context_dim, "to_v", [0, 2, 1, 3])     # (N, h, L, d)
    scores = g.op("MatMul", [q, k], f"{name}/scores")
    scaled = g.op("Mul", [scores, g.const(f"{name}/scale", 1.0 / math.sqrt(head_dim))], f"{name}/scaled")
    weights = g.op("Softmax", [scaled], f"{name}/softmax", axis=-1)
    merged = g.op("Transpose", [g.op("MatMul", [weights, v], f"{name}/context")], f"{name}/context_t",
                  perm=[0, 2, 1, 3])
    merged = g.reshape(merged, (tokens, embed), f"{name}/merged")
    out = g.op("MatMul", [merged, g.param(f"{name}.to_out.0.weight", (embed, embed), g.fan_in_std(embed))],
               f"{name}/to_out")
    g.op("Add", [out, g.param(f"{name}.to_out.0.bias", (embed,), g.fan_in_std(embed))], name)


@onnx_writer(GEGLU)
def write_geglu(g: Any, node: Node) -> None:
    """``Slice`` the fused projection into ``hidden`` (first half) and ``gate`` (second half), GELU of the
    gate (:func:`~simulator.model.layers.elementwise.write_gelu`), ``Mul``."""
    name, (x,) = node.name, node.inputs
    features = node.input_shapes[0][-1]
    half = features // 2

    def part(start: int, end: int, label: str) -> str:
        bounds = [g.const(f"{name}/{label}_start", [start]), g.const(f"{name}/{label}_end", [end])]
        return g.op("Slice", [x, *bounds, g.const(f"{name}/{label}_axis", [2])], f"{name}/{label}")

    gate = write_gelu(g, part(half, features, "gate"), f"{name}/gelu")
    g.op("Mul", [part(0, half, "hidden"), gate], name)
