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
(:class:`Layer`), builder methods (:data:`BUILDER_METHODS`), ONNX writer (:data:`ONNX_WRITERS`) and
the readers of the ONNX operators that make it (:data:`ONNX_READERS`) beside it, in its module. The
kinds a CNN uses are imported with this package, the others (:data:`LAZY`) on first use; a registry
loads every kind module (:func:`~simulator.model.layers.base.load_kinds`) before it lists its entries
or when a lookup misses:

* :mod:`~simulator.model.layers.base`: shapes, :class:`Layer`, the registries and their decorators;
* :mod:`~simulator.model.layers.compute`: Linear, Conv, Pool, AdaptivePool, MatMul, attention;
* :mod:`~simulator.model.layers.elementwise`: normalizations, activations, Softmax, Add, Mul;
* :mod:`~simulator.model.layers.tensor`: views, Concat and the ViT token layers;
* :mod:`~simulator.model.layers.imported`: GenericOp and Unsupported, and the reading of ONNX
  operators that make no other kind;
* :mod:`~simulator.model.layers.attention`: ReLU linear attention (EfficientViT);
* :mod:`~simulator.model.layers.resize`: Resize (interpolation) and Pad (zero padding);
* :mod:`~simulator.model.layers.transformer`: SegFormer's and SAM's attention, imported Einsum;
* :mod:`~simulator.model.layers.embedding`: table lookups (BERT's embeddings);
* :mod:`~simulator.model.layers.llm`: the LLM kinds (RMSNorm, RoPE, CausalAttention, LatentAttention, SwiGLU,
  MoEExperts, LMHead);
* :mod:`~simulator.model.layers.llm_export`: the ONNX writers of the LLM kinds;
* :mod:`~simulator.model.layers.collective`: AllReduce (tensor-parallel devices' ring all-reduce);
* :mod:`~simulator.model.layers.embedding_bag`: pooled lookups (DLRM's EmbeddingBag);
* :mod:`~simulator.model.layers.conv3d`: Conv3d and ConvTranspose3d on ``(C, D, H, W)`` (3D-UNet);
* :mod:`~simulator.model.layers.lstm`: one LSTM layer over a sequence (RNN-T);
* :mod:`~simulator.model.layers.matrix_decomposition`: NMF2D and LayerScale (SegNeXt);
* :mod:`~simulator.model.layers.whisper_attention`: self-attention without a key bias (Whisper);
* :mod:`~simulator.model.layers.diffusion`: a diffusion UNet's conditioning input, cross-attention,
  self-attention with an output bias only, GEGLU (Stable Diffusion XL);
* :mod:`~simulator.model.layers.shared`: SharedConv (a convolution running another's weights);
* :mod:`~simulator.model.layers.fused`: the inference view's Fused.
"""

from importlib import import_module

from simulator.model.layers.base import (
    BUILDER_METHODS,
    LAYER_KINDS,
    ONNX_READERS,
    ONNX_WRITERS,
    PRODUCERS,
    Layer,
    Shape,
    adaptive_windows,
    broadcast_shapes,
    elements,
    window_output_size,
)
from simulator.model.layers.collective import AllReduce, ring_link_elements
from simulator.model.layers.compute import AdaptivePool, Conv, Linear, MatMul, MultiheadSelfAttention, Pool
from simulator.model.layers.elementwise import (
    ACTIVATIONS,
    Activation,
    Add,
    BatchNorm,
    GroupNorm,
    LayerNorm,
    LayerNorm2d,
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

#: the kinds (and names) a command loads only when it uses them (a CNN uses none), by their module:
#: ``from simulator.model.layers import RMSNorm`` imports :mod:`~simulator.model.layers.llm` then
#: (:func:`__getattr__`); the registries load every kind module before they list their entries
LAZY = {
    "ReLULinearAttention": "attention",
    "Conv3d": "conv3d", "ConvTranspose3d": "conv3d",
    "GEGLU": "diffusion", "ConditioningInput": "diffusion", "CrossAttention": "diffusion",
    "OutBiasSelfAttention": "diffusion",
    "Embedding": "embedding",
    "EmbeddingBag": "embedding_bag",
    "CausalAttention": "llm", "LatentAttention": "llm", "LMHead": "llm", "MoEExperts": "llm",
    "RMSNorm": "llm", "RotaryEmbedding": "llm", "SwiGLU": "llm",
    "LSTM": "lstm",
    "NMF2D": "matrix_decomposition", "LayerScale": "matrix_decomposition",
    "RESIZE_MODES": "resize", "Pad": "resize", "Resize": "resize",
    "SharedConv": "shared",
    "Einsum": "transformer", "SpatialReductionAttention": "transformer", "WindowedAttention": "transformer",
    "NoKeyBiasSelfAttention": "whisper_attention",
}


def __getattr__(name: str):
    """The kinds of :data:`LAZY`, imported from their module on first use (a registry lookup that misses
    loads the rest, e.g. the LLM kinds' ONNX writers in :mod:`~simulator.model.layers.llm_export`)."""
    module = LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ACTIVATIONS", "BUILDER_METHODS", "GEGLU", "LAYER_KINDS", "LSTM", "NMF2D", "ONNX_READERS", "ONNX_WRITERS",
    "PRODUCERS",
    "RESIZE_MODES", "Activation", "AdaptivePool", "Add", "AllReduce", "BatchNorm", "CausalAttention",
    "ClassToken",
    "Concat", "ConditioningInput", "Conv", "Conv3d", "ConvTranspose3d", "CrossAttention", "Einsum",
    "Embedding", "EmbeddingBag", "Flatten",
    "Fused", "GenericOp", "GroupNorm", "LMHead",
    "LatentAttention", "Layer", "LayerNorm", "LayerNorm2d", "LayerScale", "Linear", "MatMul", "MoEExperts",
    "Mul",
    "MultiheadSelfAttention", "NoKeyBiasSelfAttention", "OutBiasSelfAttention", "Pad",
    "Permute", "Pool", "PositionalEmbedding", "RMSNorm", "ReLULinearAttention", "Reshape", "Resize",
    "RotaryEmbedding", "SelectToken", "Shape", "SharedConv", "Softmax", "SpatialReductionAttention", "SwiGLU",
    "Unsupported", "WindowedAttention", "adaptive_windows", "broadcast_shapes", "elements",
    "ring_link_elements",
    "window_output_size"
]
