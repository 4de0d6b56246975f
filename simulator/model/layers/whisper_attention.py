"""Self-attention without a key bias (Whisper's ``WhisperAttention``: q, v, out with bias, k without).

The kind with its builder method. It has no ONNX writer (the attention writer and reader carry a key
bias, so no round trip could keep the count): export refuses it in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.model.layers.base import builder_method, layer_kind
from simulator.model.layers.compute import MultiheadSelfAttention


@layer_kind
@dataclass(frozen=True)
class NoKeyBiasSelfAttention(MultiheadSelfAttention):
    """:class:`MultiheadSelfAttention` on ``(L, E)`` whose key projection has no bias, as
    ``WhisperAttention`` (``k_proj = nn.Linear(E, E, bias=False)``): a key bias adds the same amount to
    every score of a query, which the softmax removes, so the model drops it. Shapes, fused or
    materialized scores and kernels as the parent's; its formula counts three biases, not four."""

    exportable: ClassVar[bool] = False


@builder_method("self_attention_no_key_bias", makes=NoKeyBiasSelfAttention)
def self_attention_no_key_bias(net, x: str, num_heads: int, name: str | None = None) -> str:
    """Whisper's self-attention on ``(L, E)``: q, v, out with bias, k without, ``num_heads`` heads."""
    return net.add(NoKeyBiasSelfAttention(net.shape(x)[-1], num_heads), x, name=name)
