"""Layers with multiply-accumulates or windows: linear, convolution, pooling, matmul, attention.

Each kind with its builder methods, its ONNX writer and the readers of the ONNX operators that make it
(``Conv``; ``MaxPool``/``AveragePool``; ``GlobalAveragePool``/``GlobalMaxPool``; ``Gemm``; ``MatMul``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError, SimulatorError
from simulator.model.layers.base import (
    AVG_POOL_DILATION_OPSET,
    Layer,
    Shape,
    _check_rank,
    _spatial_output,
    broadcast_shapes,
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
    pair,
    projection_class,
)
from simulator.model.layers.imported import unsupported

if TYPE_CHECKING:
    from simulator.model.graph import Node


@layer_kind
@dataclass(frozen=True)
class Linear(Layer):
    """Fully-connected layer ``y = W x + b`` on the last dimension (``W: (out, in)``)."""

    out_features: int
    in_features: int | None = None
    bias: bool = True
    kind: ClassVar[str] = "Linear"
    absorbs_batchnorm: ClassVar[bool] = True
    absorbs_activation: ClassVar[bool] = True
    efficiency_class: ClassVar[str] = "gemm"

    def efficiency_class_for(self, inputs: tuple[Shape, ...]) -> str:
        """``gemv`` for one row per sequence (an LLM decode step's projection), else ``gemm``; a CNN
        head's feature vector stays ``gemm`` (:func:`~simulator.model.layers.base.projection_class`)."""
        return projection_class(inputs)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not shape:
            raise ShapeError("expects at least one dimension (features)")
        if self.in_features is not None and shape[-1] != self.in_features:
            raise ShapeError(f"features: expects {self.in_features} input features, got {shape[-1]}")
        return (*shape[:-1], self.out_features)


@layer_kind
@dataclass(frozen=True)
class Conv(Layer):
    """Convolution (1-D or 2-D by the length of ``kernel_size``), with groups and dilation.

    ``groups == in_channels == out_channels`` is a depthwise convolution.
    """

    out_channels: int
    kernel_size: Shape
    stride: Shape
    padding: Shape
    dilation: Shape
    groups: int = 1
    bias: bool = True
    in_channels: int | None = None
    absorbs_batchnorm: ClassVar[bool] = True
    absorbs_activation: ClassVar[bool] = True
    #: TensorRT and ONNX Runtime fuse a residual sum (and its activation) into the convolution
    absorbs_residual: ClassVar[bool] = True

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Conv{len(self.kernel_size)}d"

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.out_channels

    @property
    def efficiency_class(self) -> str:  # type: ignore[override]
        """``depthwise_conv``; ``pointwise_conv`` for a 1x1 kernel with groups 1 (a GEMM over the
        channels, thinner than a 3x3 one); else ``conv``."""
        if self.is_depthwise:
            return "depthwise_conv"
        if self.groups == 1 and all(k == 1 for k in self.kernel_size):
            return "pointwise_conv"
        return "conv"

    @property
    def display_kind(self) -> str:
        return ("DWConv" if self.is_depthwise else "Conv") + (
            f"{len(self.kernel_size)}d")

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        dims = len(self.kernel_size)
        _check_rank(shape, dims + 1, f"Conv{dims}d")
        c_in = shape[0]
        if self.in_channels is not None and c_in != self.in_channels:
            raise ShapeError(f"channels: expects {self.in_channels} input channels, got {c_in}")
        if c_in % self.groups:
            raise ShapeError(f"channels: {c_in} input channels are not divisible by groups={self.groups}")
        if self.out_channels % self.groups:
            raise ShapeError(
                f"channels: {self.out_channels} output channels are not divisible by groups={self.groups}")
        return (self.out_channels, *_spatial_output(
            shape[1:], self.kernel_size, self.stride, self.padding, self.dilation))


@layer_kind
@dataclass(frozen=True)
class Pool(Layer):
    """Max or average pooling over each channel independently (no parameters)."""

    mode: str  # "max" or "avg"
    kernel_size: Shape
    stride: Shape
    padding: Shape
    dilation: Shape
    ceil_mode: bool = False

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"{self.mode.capitalize()}Pool{len(self.kernel_size)}d"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, len(self.kernel_size) + 1, self.kind)
        for k, p in zip(self.kernel_size, self.padding, strict=True):
            if p > k // 2:
                raise ShapeError(f"padding {p} must be at most half the kernel size {k}")
        return (shape[0], *_spatial_output(
            shape[1:], self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode))


@layer_kind
@dataclass(frozen=True)
class AdaptivePool(Layer):
    """Adaptive max/average pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d)."""

    mode: str
    output_size: Shape

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Adaptive{self.mode.capitalize()}Pool{len(self.output_size)}d"

    @property
    def efficiency_class(self) -> str:  # type: ignore[override]
        """``global_pool`` to one value per channel (squeeze-excitation, the classifier's pool),
        a refinement of ``elementwise``; other output sizes stay ``elementwise``."""
        return "global_pool" if all(s == 1 for s in self.output_size) else "elementwise"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, len(self.output_size) + 1, self.kind)
        return (shape[0], *self.output_size)


@layer_kind
@dataclass(frozen=True)
class MatMul(Layer):
    """Matrix product of two activations ``(..., m, k) @ (..., k, n) -> (..., m, n)``."""

    kind: ClassVar[str] = "MatMul"
    arity: ClassVar[int | None] = 2
    #: batched products of activations (attention's ``Q Kᵀ`` and ``A V``): a refinement of ``gemm``
    efficiency_class: ClassVar[str] = "matmul"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        a, b = inputs
        if len(a) < 2 or len(b) < 2:
            raise ShapeError(f"expects two operands of at least 2 dimensions, got {a} and {b}")
        if a[-1] != b[-2]:
            raise ShapeError(f"inner dimensions differ: {a} @ {b} ({a[-1]} != {b[-2]})")
        return (*broadcast_shapes((a[:-2], b[:-2])), a[-2], b[-1])


@layer_kind
@dataclass(frozen=True)
class MultiheadSelfAttention(Layer):
    """Multi-head self-attention as ``torch.nn.MultiheadAttention(embed_dim, num_heads)`` on ``(L, E)``.

    Q, K, V projections, the per-head ``Q K^T`` and ``softmax(.) V`` matrix products, and the output
    projection, all inside one layer.
    """

    embed_dim: int
    num_heads: int
    bias: bool = True
    kind: ClassVar[str] = "Attention"
    efficiency_class: ClassVar[str] = "attention"
    projection_kernels: ClassVar[int] = 2  # the packed Q, K, V projection and the output one

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(tokens, embed_dim)")
        if shape[1] != self.embed_dim:
            raise ShapeError(f"embed_dim: expects {self.embed_dim}, got {shape[1]}")
        if self.embed_dim % self.num_heads:
            raise ShapeError(f"embed_dim {self.embed_dim} is not divisible by num_heads={self.num_heads}")
        return shape

    def score_elements(self, inputs: tuple[Shape, ...]) -> int:
        """Per-sample elements of the score matrix an unfused execution materializes: ``heads·L·L``
        (``softmax(Q Kᵀ)`` per head; a fused kernel such as FlashAttention never writes it)."""
        tokens = inputs[0][0]
        return self.num_heads * tokens * tokens


# Builder methods (``NetworkBuilder.<name>``), named and shaped as in PyTorch.


@builder_method("linear", makes=Linear)
def linear(net, x: str, out_features: int, bias: bool = True, name: str | None = None) -> str:
    return net.add(Linear(out_features, bias=bias), x, name=name)


@builder_method("conv", makes=Conv)
def conv(net, x: str, out_channels: int, kernel_size: int | Shape, stride: int | Shape = 1,
         padding: int | Shape = 0, dilation: int | Shape = 1, groups: int = 1, bias: bool = True,
         dims: int = 2, name: str | None = None) -> str:
    layer = Conv(out_channels, pair(kernel_size, dims), pair(stride, dims), pair(padding, dims),
                 pair(dilation, dims), groups, bias)
    return net.add(layer, x, name=name)


@builder_method("conv1d", makes=Conv)
def conv1d(net, x: str, out_channels: int, kernel_size: int, **options) -> str:
    return conv(net, x, out_channels, kernel_size, dims=1, **options)


@builder_method("conv2d", makes=Conv)
def conv2d(net, x: str, out_channels: int, kernel_size: int | Shape, **options) -> str:
    return conv(net, x, out_channels, kernel_size, dims=2, **options)


@builder_method("pool", makes=Pool)
def pool(net, x: str, mode: str, kernel_size: int | Shape, stride: int | Shape | None = None,
         padding: int | Shape = 0, dilation: int | Shape = 1, ceil_mode: bool = False, dims: int = 2,
         name: str | None = None) -> str:
    stride = kernel_size if stride is None else stride
    layer = Pool(mode, pair(kernel_size, dims), pair(stride, dims), pair(padding, dims),
                 pair(dilation, dims), ceil_mode)
    return net.add(layer, x, name=name)


@builder_method("max_pool2d", makes=Pool)
def max_pool2d(net, x: str, kernel_size: int, stride: int | None = None, padding: int = 0, **options) -> str:
    return pool(net, x, "max", kernel_size, stride, padding, **options)


@builder_method("avg_pool2d", makes=Pool)
def avg_pool2d(net, x: str, kernel_size: int, stride: int | None = None, padding: int = 0, **options) -> str:
    return pool(net, x, "avg", kernel_size, stride, padding, **options)


@builder_method("adaptive_avg_pool2d", makes=AdaptivePool)
def adaptive_avg_pool2d(net, x: str, output_size: int | Shape, name: str | None = None) -> str:
    return net.add(AdaptivePool("avg", pair(output_size, 2)), x, name=name)


@builder_method("matmul", makes=MatMul)
def matmul(net, a: str, b: str, name: str | None = None) -> str:
    return net.add(MatMul(), a, b, name=name)


@builder_method("self_attention", makes=MultiheadSelfAttention)
def self_attention(net, x: str, num_heads: int, name: str | None = None) -> str:
    return net.add(MultiheadSelfAttention(net.shape(x)[-1], num_heads), x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


@onnx_writer(Linear)
def write_linear(g: Any, node: Node) -> None:
    """``Gemm`` (transB) on ``(N, C)``; ``MatMul`` + ``Add`` on higher ranks."""
    (x,), (shape,), name = node.inputs, node.input_shapes, node.name
    c_in, c_out = shape[-1], node.layer.out_features
    std = g.fan_in_std(c_in)
    if len(shape) == 1:
        inputs = [x, g.param(f"{name}.weight", (c_out, c_in), std)]
        if node.layer.bias:
            inputs.append(g.param(f"{name}.bias", (c_out,), std))
        g.op("Gemm", inputs, name, transB=1)
        return
    # MatMul takes the weight as (in, out); the element count is the layer's
    product = g.op("MatMul", [x, g.param(f"{name}.weight", (c_in, c_out), std)],
                   f"{name}/matmul" if node.layer.bias else name)
    if node.layer.bias:
        g.op("Add", [product, g.param(f"{name}.bias", (c_out,), std)], name)


@onnx_writer(Conv)
def write_conv(g: Any, node: Node) -> None:
    """``Conv`` (groups, dilations, pads, strides)."""
    layer, name = node.layer, node.name
    c_in = node.input_shapes[0][0]
    weight_shape = (layer.out_channels, c_in // layer.groups, *layer.kernel_size)
    std = g.fan_in_std(math.prod(weight_shape[1:]))
    inputs = [node.inputs[0], g.param(f"{name}.weight", weight_shape, std)]
    if layer.bias:
        inputs.append(g.param(f"{name}.bias", (layer.out_channels,), std))
    g.op("Conv", inputs, name, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
         pads=list(layer.padding) * 2, dilations=list(layer.dilation), group=layer.groups)


def _write_pool(g: Any, x: str, name: str, mode: str, kernel: Shape, stride: Shape, padding: Shape,
                dilation: Shape, ceil_mode: bool) -> None:
    attributes = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2,
                      ceil_mode=int(ceil_mode))
    if mode == "max":
        g.op("MaxPool", [x], name, dilations=list(dilation), **attributes)
        return
    if any(d != 1 for d in dilation):
        if g.opset < AVG_POOL_DILATION_OPSET:
            raise SimulatorError(f"layer {name!r}: a dilated average pool needs opset >= "
                                 f"{AVG_POOL_DILATION_OPSET}, got opset {g.opset}")
        attributes["dilations"] = list(dilation)
    g.op("AveragePool", [x], name, count_include_pad=1, **attributes)


@onnx_writer(Pool)
def write_pool(g: Any, node: Node) -> None:
    """``MaxPool`` / ``AveragePool`` (ceil_mode; a dilated average pool needs opset 19)."""
    layer = node.layer
    _write_pool(g, node.inputs[0], node.name, layer.mode, layer.kernel_size, layer.stride, layer.padding,
                layer.dilation, layer.ceil_mode)


@onnx_writer(AdaptivePool)
def write_adaptive_pool(g: Any, node: Node) -> None:
    """``GlobalAveragePool`` / ``GlobalMaxPool`` for output 1, else a pool with kernel = stride =
    input / output (an error when not divisible)."""
    layer, name = node.layer, node.name
    sizes = node.input_shapes[0][1:]
    if all(out == 1 for out in layer.output_size):
        g.op("GlobalAveragePool" if layer.mode == "avg" else "GlobalMaxPool", [node.inputs[0]], name)
        return
    if any(size % out for size, out in zip(sizes, layer.output_size, strict=True)):
        raise SimulatorError(
            f"layer {name!r}: adaptive pooling from {sizes} to {layer.output_size} has unequal windows, "
            f"which no single ONNX pool expresses; export at a resolution where each input size is a "
            f"multiple of the output size (e.g. 224 for VGG)")
    kernel = tuple(size // out for size, out in zip(sizes, layer.output_size, strict=True))
    ones = (1,) * len(kernel)
    _write_pool(g, node.inputs[0], name, layer.mode, kernel, kernel, (0,) * len(kernel), ones, False)


@onnx_writer(MatMul)
def write_matmul(g: Any, node: Node) -> None:
    g.op("MatMul", list(node.inputs), node.name)


#: the projections of a self-attention layer, in ``nn.MultiheadAttention``'s naming
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


@onnx_writer(MultiheadSelfAttention)
def write_attention(g: Any, node: Node) -> None:
    """:func:`write_self_attention` with every projection's bias (none without ``bias``)."""
    write_self_attention(g, node, ATTENTION_PROJECTIONS if node.layer.bias else ())


def write_self_attention(g: Any, node: Node, biased: tuple[str, ...]) -> None:
    """``softmax(Q K^T / sqrt(d)) V`` per head, with Q, K, V and output projections; the projections
    named in ``biased`` (of :data:`ATTENTION_PROJECTIONS`) add a bias.

    Projections are ``MatMul`` (+ ``Add``); ``Reshape``/``Transpose`` to heads and back. The attention
    kinds whose projections carry only some biases (Whisper's, diffusers') write through this too.
    """
    layer, name, (x,) = node.layer, node.name, node.inputs
    tokens, embed = node.input_shapes[0]
    heads = layer.num_heads
    head_dim = embed // heads
    std = g.fan_in_std(embed)

    def projection(part: str, source: str, output: str) -> str:
        product = g.op("MatMul", [source, g.param(f"{name}.{part}.weight", (embed, embed), std)],
                       f"{output}/matmul" if part in biased else output)
        if part not in biased:
            return product
        return g.op("Add", [product, g.param(f"{name}.{part}.bias", (embed,), std)], output)

    def split_heads(part: str, perm: list[int]) -> str:
        projected = projection(f"{part}_proj", x, f"{name}/{part}")
        per_head = g.reshape(projected, (tokens, heads, head_dim), f"{name}/{part}_heads")
        return g.op("Transpose", [per_head], f"{name}/{part}_t", perm=perm)

    q = split_heads("q", [0, 2, 1, 3])       # (N, h, L, d)
    k = split_heads("k", [0, 2, 3, 1])       # (N, h, d, L)
    v = split_heads("v", [0, 2, 1, 3])       # (N, h, L, d)
    scores = g.op("MatMul", [q, k], f"{name}/scores")
    scaled = g.op("Mul", [scores, g.const(f"{name}/scale", 1.0 / math.sqrt(head_dim))], f"{name}/scaled")
    weights = g.op("Softmax", [scaled], f"{name}/softmax", axis=-1)
    context = g.op("MatMul", [weights, v], f"{name}/context")
    merged = g.op("Transpose", [context], f"{name}/context_t", perm=[0, 2, 1, 3])
    merged = g.reshape(merged, (tokens, embed), f"{name}/merged")
    projection("out_proj", merged, name)


# ONNX readers (:class:`simulator.onnx.reader.Translator`): ``t`` maps ONNX tensors onto the network.


def _pads(t: Any, node: Any, x: str, kernel: Shape, stride: Shape, dilation: Shape) -> tuple[Shape, Shape]:
    """Begin and end padding per spatial dimension (``auto_pad`` resolved as ONNX defines it)."""
    dims = len(kernel)
    auto = t.attribute(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        sizes = t.full(x)[2:]
        total = [max((-(-s // st) - 1) * st + (k - 1) * d + 1 - s, 0)
                 for s, k, st, d in zip(sizes, kernel, stride, dilation, strict=True)]
        small, large = tuple(p // 2 for p in total), tuple(p - p // 2 for p in total)
        return (small, large) if auto == "SAME_UPPER" else (large, small)
    if auto == "VALID":
        return (0,) * dims, (0,) * dims
    pads = tuple(t.attribute(node, "pads", [0] * 2 * dims))
    return pads[:dims], pads[dims:]


def _window(t: Any, node: Any, x: str, kernel: Shape) -> tuple[Shape, Shape, Shape, Shape]:
    dims = len(kernel)
    stride = tuple(t.attribute(node, "strides", [1] * dims))
    dilation = tuple(t.attribute(node, "dilations", [1] * dims))
    begin, end = _pads(t, node, x, kernel, stride, dilation)
    return stride, dilation, begin, end


@onnx_reader("Conv", makes=Conv)
def read_conv(t: Any, node: Any) -> None:
    """Conv (1-D/2-D); asymmetric or ``SAME`` padding: an explicit Pad (data movement) and an
    unpadded Conv, so MACs stay exact."""
    x, weight = node.input[0], node.input[1]
    if t.is_const(x) or not t.is_const(weight) or len(t.full(weight)) not in (3, 4):
        unsupported(t, node)  # dynamic weights or 3-D convolution
        return
    shape = t.full(weight)
    kernel = tuple(t.attribute(node, "kernel_shape", shape[2:]))
    stride, dilation, begin, end = _window(t, node, x, kernel)
    if begin != end:
        x, begin = t.pad(x, begin, end), (0,) * len(kernel)
    bias = len(node.input) > 2 and bool(node.input[2])
    layer = Conv(shape[0], kernel, stride, begin, dilation, t.attribute(node, "group", 1), bias)
    t.add(layer, [x], node.output[0], t.param_name(weight))


@onnx_reader("MaxPool", "AveragePool", makes=Pool)
def read_pool(t: Any, node: Any) -> None:
    """Pool (explicit Pad when asymmetric or wider than half the kernel)."""
    x = node.input[0]
    kernel = tuple(t.attribute(node, "kernel_shape"))
    if len(kernel) not in (1, 2):
        unsupported(t, node)
        return
    stride, dilation, begin, end = _window(t, node, x, kernel)
    if begin != end or any(p > k // 2 for p, k in zip(begin, kernel, strict=True)):
        x, begin = t.pad(x, begin, end), (0,) * len(kernel)
    mode = "max" if node.op_type == "MaxPool" else "avg"
    ceil_mode = bool(t.attribute(node, "ceil_mode", 0))
    t.add(Pool(mode, kernel, stride, begin, dilation, ceil_mode), [x], node.output[0])


@onnx_reader("GlobalAveragePool", "GlobalMaxPool", makes=AdaptivePool)
def read_global_pool(t: Any, node: Any) -> None:
    spatial = len(t.full(node.input[0])) - 2
    mode = "max" if node.op_type == "GlobalMaxPool" else "avg"
    t.add(AdaptivePool(mode, (1,) * spatial), [node.input[0]], node.output[0])


@onnx_reader("Gemm", makes=Linear)
def read_gemm(t: Any, node: Any) -> None:
    """Linear (``transB``); a constant ``A`` or dynamic ``B`` is Unsupported."""
    a, b = node.input[0], node.input[1]
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if t.is_const(a) or not t.is_const(b) or t.attribute(node, "transA", 0) or (
            bias and not t.is_const(bias)):
        unsupported(t, node)
        return
    out_features = t.full(b)[0 if t.attribute(node, "transB", 0) else 1]
    hint = t.param_name(b) or (t.param_name(bias) if bias else None)
    t.add(Linear(out_features, bias=bias is not None), [a], node.output[0], hint)


@onnx_reader("MatMul", makes=(MatMul, Linear))
def read_matmul(t: Any, node: Any) -> None:
    """MatMul of two activations (attention's ``Q·K^T`` and ``A·V``); Linear for ``MatMul(x, W)``."""
    a, b = node.input
    if not t.is_const(a) and not t.is_const(b):
        t.add(MatMul(), [a, b], node.output[0])
    elif not t.is_const(a) and len(t.full(b)) == 2:
        t.add(Linear(t.full(b)[1], bias=False), [a], node.output[0], t.param_name(b))
    else:
        unsupported(t, node)  # a constant left operand or batched constant weights
