"""Layers with multiply-accumulates or windows: linear, convolution, pooling, matmul, attention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    _spatial_output,
    broadcast_shapes,
    builder_method,
    layer_kind,
    pair,
)


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

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Conv{len(self.kernel_size)}d"

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.out_channels

    @property
    def efficiency_class(self) -> str:  # type: ignore[override]
        return "depthwise_conv" if self.is_depthwise else "conv"

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
    efficiency_class: ClassVar[str] = "gemm"

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

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(tokens, embed_dim)")
        if shape[1] != self.embed_dim:
            raise ShapeError(f"embed_dim: expects {self.embed_dim}, got {shape[1]}")
        if self.embed_dim % self.num_heads:
            raise ShapeError(f"embed_dim {self.embed_dim} is not divisible by num_heads={self.num_heads}")
        return shape


# Builder methods (``NetworkBuilder.<name>``), named and shaped as in PyTorch.


@builder_method("linear")
def linear(net, x: str, out_features: int, bias: bool = True, name: str | None = None) -> str:
    return net.add(Linear(out_features, bias=bias), x, name=name)


@builder_method("conv")
def conv(net, x: str, out_channels: int, kernel_size: int | Shape, stride: int | Shape = 1,
         padding: int | Shape = 0, dilation: int | Shape = 1, groups: int = 1, bias: bool = True,
         dims: int = 2, name: str | None = None) -> str:
    layer = Conv(out_channels, pair(kernel_size, dims), pair(stride, dims), pair(padding, dims),
                 pair(dilation, dims), groups, bias)
    return net.add(layer, x, name=name)


@builder_method("conv1d")
def conv1d(net, x: str, out_channels: int, kernel_size: int, **options) -> str:
    return conv(net, x, out_channels, kernel_size, dims=1, **options)


@builder_method("conv2d")
def conv2d(net, x: str, out_channels: int, kernel_size: int | Shape, **options) -> str:
    return conv(net, x, out_channels, kernel_size, dims=2, **options)


@builder_method("pool")
def pool(net, x: str, mode: str, kernel_size: int | Shape, stride: int | Shape | None = None,
         padding: int | Shape = 0, dilation: int | Shape = 1, ceil_mode: bool = False, dims: int = 2,
         name: str | None = None) -> str:
    stride = kernel_size if stride is None else stride
    layer = Pool(mode, pair(kernel_size, dims), pair(stride, dims), pair(padding, dims),
                 pair(dilation, dims), ceil_mode)
    return net.add(layer, x, name=name)


@builder_method("max_pool2d")
def max_pool2d(net, x: str, kernel_size: int, stride: int | None = None, padding: int = 0, **options) -> str:
    return pool(net, x, "max", kernel_size, stride, padding, **options)


@builder_method("avg_pool2d")
def avg_pool2d(net, x: str, kernel_size: int, stride: int | None = None, padding: int = 0, **options) -> str:
    return pool(net, x, "avg", kernel_size, stride, padding, **options)


@builder_method("adaptive_avg_pool2d")
def adaptive_avg_pool2d(net, x: str, output_size: int | Shape, name: str | None = None) -> str:
    return net.add(AdaptivePool("avg", pair(output_size, 2)), x, name=name)


@builder_method("matmul")
def matmul(net, a: str, b: str, name: str | None = None) -> str:
    return net.add(MatMul(), a, b, name=name)


@builder_method("self_attention")
def self_attention(net, x: str, num_heads: int, name: str | None = None) -> str:
    return net.add(MultiheadSelfAttention(net.shape(x)[-1], num_heads), x, name=name)
