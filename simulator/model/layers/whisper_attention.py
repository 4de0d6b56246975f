"""Self-attention without a key bias (Whisper's ``WhisperAttention``: q, v, out with bias, k without).

The kind with its builder method and its ONNX writer (the self-attention operators without the key
projection's ``Add``; they read back as Linear layers, three with a bias, and the attention's parts:
the same params, MACs and operations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.model.layers.base import builder_method, layer_kind, onnx_writer
from simulator.model.layers.compute import MultiheadSelfAttention, write_self_attention

if TYPE_CHECKING:
    from simulator.model.graph import Node


@layer_kind
@dataclass(frozen=True)
class NoKeyBiasSelfAttention(MultiheadSelfAttention):
    """:class:`MultiheadSelfAttention` on ``(L, E)`` whose key projection has no bias, as
    ``WhisperAttention`` (``k_proj = nn.Linear(E, E, bias=False)``): a key bias adds the same amount to
    every score of a query, which the softmax removes, so the model drops it. Shapes, fused or
    materialized scores and kernels as the parent's; its formula counts three biases, not four."""


@builder_method("self_attention_no_key_bias", makes=NoKeyBiasSelfAttention)
def self_attention_no_key_bias(net, x: str, num_heads: int, name: str | None = None) -> str:
    """Whisper's self-attention on ``(L, E)``: q, v, out with bias, k without, ``num_heads`` heads."""
    return net.add(NoKeyBiasSelfAttention(net.shape(x)[-1], num_heads), x, name=name)


@onnx_writer(NoKeyBiasSelfAttention)
def write_attention_no_key_bias(g: Any, node: Node) -> None:
    """:func:`~simulator.model.layers.compute.write_self_attention` with biases on q, v and out, not k."""
    write_self_attention(g, node, ("q_proj", "v_proj", "out_proj"))
