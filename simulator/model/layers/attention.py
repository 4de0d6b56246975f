"""Attention cores beyond softmax attention: ReLU linear attention (EfficientViT's LiteMLA).

Each kind with its builder method and its ONNX writer; no single ONNX operator is one of these, so
an exported one reads back as its MatMul, Relu and element-wise parts (same params and MACs).

Every attention kind has ``score_elements(inputs)``: the per-sample elements of the attention-score
matrix that a *materialized* (unfused) execution writes to memory and reads back, for the
fused-versus-materialized traffic option (softmax attention: ``heads·L·L``, see
:class:`~simulator.model.layers.compute.MultiheadSelfAttention`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import Layer, Shape, _check_rank, builder_method, layer_kind, onnx_writer

if TYPE_CHECKING:
    from simulator.model.graph import Node

#: eps of the normalizer in mit-han-lab/efficientvit's LiteMLA (timm's efficientvit_mit uses 1e-5)
LITEMLA_EPS = 1.0e-15


@layer_kind
@dataclass(frozen=True)
class ReLULinearAttention(Layer):
    """LiteMLA's attention core on the multi-scale qkv tensor: ``(3·d·G, H, W) -> (d·G, H, W)``.

    ``G`` groups (LiteMLA: heads × (1 + number of aggregation scales)) of head dim ``d = head_dim``;
    within each group the channels are ``q, k, v`` (``d`` each) over ``N = H·W`` tokens.
    Linear form (mit-han-lab/efficientvit@de7d7733 ``efficientvit/models/nn/ops.py``
    ``LiteMLA.relu_linear_att``; timm ``efficientvit_mit.LiteMLA._attn``): ``q, k = ReLU(q), ReLU(k)``;
    ``v`` padded with a row of ones to ``(d+1, N)``; context ``vk = v kᵀ`` (``(d+1)×d``);
    ``out = vk q`` (``(d+1)×N``); ``out[:d] / (out[d] + eps)``. MACs ``2·G·N·d·(d+1)``: linear in N.

    ``quadratic_fallback`` (mit's code only, not timm's): when ``N <= d`` it computes
    ``relu_quadratic_att`` instead: ``att = kᵀ q`` (``N×N``), ``att / (Σ_rows att + eps)``,
    ``out = v att``; MACs ``2·G·d·N²``.
    """

    head_dim: int
    eps: float = LITEMLA_EPS
    quadratic_fallback: bool = False
    kind: ClassVar[str] = "ReLULinearAttention"
    efficiency_class: ClassVar[str] = "attention"

    def kernel_count(self, materialized: bool) -> int:
        """One fused kernel; unfused, the reference's steps each launch one (mit-han-lab/efficientvit
        ``LiteMLA.relu_linear_att``): the head-split reshape-transpose, ReLU on q and k, padding v
        with ones, ``v kᵀ``, ``(v kᵀ) q``, the normalizing division, and the transpose back: 7."""
        return 7 if materialized else 1

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 3, "(3·d·G, H, W)")
        if shape[0] % (3 * self.head_dim):
            raise ShapeError(f"channels: {shape[0]} is not a multiple of 3·head_dim = {3 * self.head_dim}")
        return (shape[0] // 3, *shape[1:])

    def groups(self, shape: Shape) -> int:
        """``G``: the number of (q, k, v) groups of ``head_dim`` channels each."""
        return shape[0] // (3 * self.head_dim)

    def is_quadratic(self, shape: Shape) -> bool:
        """Whether mit's fallback to quadratic attention applies (``H·W <= head_dim``)."""
        return self.quadratic_fallback and shape[1] * shape[2] <= self.head_dim

    def score_elements(self, inputs: tuple[Shape, ...]) -> int:
        """Per-sample elements of the attention "scores" an unfused execution materializes.

        Linear form: the ``(d+1)×d`` context ``v kᵀ`` per group, ``G·(d+1)·d`` (small; there is
        no ``N×N`` matrix). Quadratic fallback: the ``N×N`` matrix ``kᵀ q`` per group, ``G·N²``.
        """
        (shape,) = inputs
        g, d, n = self.groups(shape), self.head_dim, shape[1] * shape[2]
        return g * n * n if self.is_quadratic(shape) else g * (d + 1) * d


@builder_method("relu_linear_attention", makes=ReLULinearAttention)
def relu_linear_attention(net, x: str, head_dim: int, eps: float = LITEMLA_EPS,
                          quadratic_fallback: bool = False, name: str | None = None) -> str:
    return net.add(ReLULinearAttention(head_dim, eps, quadratic_fallback), x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


@onnx_writer(ReLULinearAttention)
def write_relu_linear_attention(g: Any, node: Node) -> None:
    """``Reshape`` to ``(N, G, 3d, HW)``, ``Slice`` q, k, v, ``Relu`` q and k; linear form: ``Pad``
    v with ones, ``MatMul(v, kᵀ)``, ``MatMul(·, q)``, ``Slice`` + ``Add(eps)`` + ``Div``; quadratic
    form: ``MatMul(kᵀ, q)``, ``ReduceSum`` + ``Add(eps)`` + ``Div``, ``MatMul(v, ·)``; ``Reshape`` back."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    shape = node.input_shapes[0]
    groups, d, tokens = layer.groups(shape), layer.head_dim, shape[1] * shape[2]
    qkv = g.reshape(x, (groups, 3 * d, tokens), f"{name}/groups")

    def part(source: str, start: int, end: int, label: str) -> str:
        return g.op("Slice", [source, g.const(f"{name}/{label}_start", [start]),
                              g.const(f"{name}/{label}_end", [end]), g.const(f"{name}/{label}_axis", [2])],
                    f"{name}/{label}")

    q = g.op("Relu", [part(qkv, 0, d, "q")], f"{name}/q_relu")
    k = g.op("Relu", [part(qkv, d, 2 * d, "k")], f"{name}/k_relu")
    v = part(qkv, 2 * d, 3 * d, "v")
    eps = g.const(f"{name}/eps", layer.eps)
    if layer.is_quadratic(shape):
        k_t = g.op("Transpose", [k], f"{name}/k_t", perm=[0, 1, 3, 2])
        att = g.op("MatMul", [k_t, q], f"{name}/scores")                                 # (G, N, N)
        total = g.op("ReduceSum", [att, g.const(f"{name}/sum_axis", [2])], f"{name}/sum", keepdims=1)
        shifted = g.op("Add", [total, eps], f"{name}/sum_eps")
        out = g.op("MatMul", [v, g.op("Div", [att, shifted], f"{name}/normalized")], f"{name}/context")
    else:
        padded = g.op("Pad", [v, g.const(f"{name}/pads", [0, 0, 0, 0, 0, 0, 1, 0]),
                              g.const(f"{name}/one", 1.0)], f"{name}/v_ones", mode="constant")
        k_t = g.op("Transpose", [k], f"{name}/k_t", perm=[0, 1, 3, 2])
        vk = g.op("MatMul", [padded, k_t], f"{name}/vk")                                 # (G, d+1, d)
        both = g.op("MatMul", [vk, q], f"{name}/vkq")                                    # (G, d+1, N)
        normalizer = g.op("Add", [part(both, d, d + 1, "den"), eps], f"{name}/den_eps")
        out = g.op("Div", [part(both, 0, d, "num"), normalizer], f"{name}/context")
    g.reshape(out, (groups * d, *shape[1:]), name)
