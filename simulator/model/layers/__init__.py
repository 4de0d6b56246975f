"""Layer kinds and their shape inference.

Every layer is a small frozen dataclass holding its hyper-parameters. ``output_shape`` maps the
*per-sample* input shapes (the batch dimension is never part of a shape here: every count scales
linearly with the batch, see :mod:`simulator.model.counts`) to the per-sample output shape, and raises
:class:`ShapeError` naming the dimension and the reason when the input is impossible. The layer's
name is added by the graph builder.

Shapes follow PyTorch's layout without the batch: ``(C, L)`` for 1-D convolution, ``(C, H, W)``
for 2-D, ``(..., features)`` for Linear, ``(tokens, embed_dim)`` for attention.

Cost formulas (params, MACs, element-wise operations) live in :mod:`simulator.model.formulas`.
Every kind registers itself in :data:`LAYER_KINDS` when its class is defined, with its traits
(:class:`Layer`) and builder methods (:data:`BUILDER_METHODS`) beside it.
"""

from simulator.model.layers.base import (
    BUILDER_METHODS,
    LAYER_KINDS,
    Layer,
    Shape,
    adaptive_windows,
    broadcast_shapes,
    elements,
    window_output_size,
)
from simulator.model.layers.compute import AdaptivePool, Conv, Linear, MatMul, MultiheadSelfAttention, Pool
from simulator.model.layers.elementwise import (
    ACTIVATIONS,
    Activation,
    Add,
    BatchNorm,
    GroupNorm,
    LayerNorm,
    Mul,
    Softmax,
)
from simulator.model.layers.fused import Fused
from simulator.model.layers.imported import GenericOp, Unsupported
from simulator.model.layers.tensor import (
    ClassToken,
    Concat,
    Flatten,
    Permute,
    PositionalEmbedding,
    Reshape,
    SelectToken,
)

__all__ = [
    "ACTIVATIONS", "BUILDER_METHODS", "LAYER_KINDS", "Activation", "AdaptivePool", "Add",
    "BatchNorm", "ClassToken", "Concat", "Conv", "Flatten", "Fused", "GenericOp", "GroupNorm", "Layer",
    "LayerNorm",
    "Linear", "MatMul", "Mul", "MultiheadSelfAttention", "Permute", "Pool", "PositionalEmbedding", "Reshape",
    "SelectToken", "Shape", "Softmax", "Unsupported", "adaptive_windows", "broadcast_shapes", "elements",
    "window_output_size",
]
