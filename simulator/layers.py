"""Layer kinds and their shape inference.

Every layer is a small frozen dataclass holding its hyper-parameters. ``output_shape`` maps the
*per-sample* input shapes (the batch dimension is never part of a shape here: every count scales
linearly with the batch, see :mod:`simulator.counts`) to the per-sample output shape, and raises
:class:`ShapeError` naming the dimension and the reason when the input is impossible. The layer's
name is added by the graph builder.

Shapes follow PyTorch's layout without the batch: ``(C, L)`` for 1-D convolution, ``(C, H, W)``
for 2-D, ``(..., features)`` for Linear, ``(tokens, embed_dim)`` for attention.

Cost formulas (params, MACs, element-wise operations) live in :mod:`simulator.formulas`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError

Shape = tuple[int, ...]


def elements(shape: Shape) -> int:
    """Number of elements of a shape (an exact Python int)."""
    return math.prod(shape)


def window_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, dim: str,
                       ceil_mode: bool = False) -> int:
    """Output length of a sliding window (convolution or pooling), as in the lecture and PyTorch.

    ``out = floor((in + 2p - d(k-1) - 1) / s) + 1``; with ``d = 1`` this is the lecture's
    ``(h_i + 2p - k_h) / s + 1``. With ``ceil_mode`` the division rounds up, but the last window
    must start inside the input or left padding (PyTorch's rule).
    """
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    if room < 0:
        raise ShapeError(
            f"{dim}: input {size} + 2×{padding} padding is smaller than the "
            f"{'dilated ' if dilation > 1 else ''}kernel {span}"
        )
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _check_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"expects a {what} input of {rank} dimensions per sample, got shape {shape}")


def _spatial_output(shape: Shape, kernel: Shape, stride: Shape, padding: Shape, dilation: Shape,
                    ceil_mode: bool = False) -> Shape:
    names = ("height", "width") if len(kernel) == 2 else ("length",)
    return tuple(
        window_output_size(size, k, s, p, d, name, ceil_mode)
        for size, k, s, p, d, name in zip(shape, kernel, stride, padding, dilation, names, strict=True)
    )


class Layer:
    """Base of all layer kinds. ``kind`` is the display name used in tables and charts."""

    kind: ClassVar[str] = "Layer"
    #: number of inputs the layer takes; None means two or more
    arity: ClassVar[int | None] = 1

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        raise NotImplementedError

    @property
    def display_kind(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Linear(Layer):
    """Fully-connected layer ``y = W x + b`` on the last dimension (``W: (out, in)``)."""

    out_features: int
    in_features: int | None = None
    bias: bool = True
    kind: ClassVar[str] = "Linear"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not shape:
            raise ShapeError("expects at least one dimension (features)")
        if self.in_features is not None and shape[-1] != self.in_features:
            raise ShapeError(f"features: expects {self.in_features} input features, got {shape[-1]}")
        return (*shape[:-1], self.out_features)


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

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Conv{len(self.kernel_size)}d"

    @property
    def display_kind(self) -> str:
        return ("DWConv" if self.groups > 1 and self.groups == self.out_channels else "Conv") + (
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


def adaptive_windows(size: int, out: int) -> list[int]:
    """Window lengths of adaptive pooling: window i spans ``[floor(i*in/out), ceil((i+1)*in/out))``."""
    return [-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)]


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


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Batch normalization over channels (dimension 0 of the per-sample shape)."""

    num_features: int
    affine: bool = True

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "BatchNorm"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not shape or shape[0] != self.num_features:
            raise ShapeError(f"channels: expects {self.num_features} channels, got shape {shape}")
        return shape


@dataclass(frozen=True)
class LayerNorm(Layer):
    """Layer normalization over the trailing ``normalized_shape`` dimensions."""

    normalized_shape: Shape
    affine: bool = True
    kind: ClassVar[str] = "LayerNorm"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        n = len(self.normalized_shape)
        if tuple(shape[-n:]) != self.normalized_shape:
            raise ShapeError(f"trailing dimensions {shape[-n:]} differ from normalized_shape "
                             f"{self.normalized_shape}")
        return shape


@dataclass(frozen=True)
class GroupNorm(Layer):
    """Group normalization: channels split into ``num_groups`` groups, each normalized separately."""

    num_groups: int
    num_channels: int
    affine: bool = True
    kind: ClassVar[str] = "GroupNorm"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not shape or shape[0] != self.num_channels:
            raise ShapeError(f"channels: expects {self.num_channels} channels, got shape {shape}")
        if self.num_channels % self.num_groups:
            raise ShapeError(f"channels: {self.num_channels} channels are not divisible by "
                             f"num_groups={self.num_groups}")
        return shape


ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "hardswish", "sigmoid", "tanh")
_ACTIVATION_KINDS = {"relu": "ReLU", "relu6": "ReLU6", "gelu": "GELU", "silu": "SiLU",
                     "hardswish": "Hardswish", "sigmoid": "Sigmoid", "tanh": "Tanh"}


@dataclass(frozen=True)
class Activation(Layer):
    """Element-wise non-linearity; ``function`` is one of :data:`ACTIVATIONS`."""

    function: str

    @property
    def kind(self) -> str:  # type: ignore[override]
        return _ACTIVATION_KINDS[self.function]

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return inputs[0]


@dataclass(frozen=True)
class Softmax(Layer):
    """Softmax along dimension ``dim`` of the per-sample shape."""

    dim: int = -1
    kind: ClassVar[str] = "Softmax"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not -len(shape) <= self.dim < len(shape):
            raise ShapeError(f"dim {self.dim} is out of range for shape {shape}")
        return shape


def broadcast_shapes(shapes: tuple[Shape, ...]) -> Shape:
    """NumPy broadcasting of per-sample shapes (trailing dimensions aligned)."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        sizes = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        if len(sizes) > 1:
            raise ShapeError(f"shapes {' and '.join(map(str, shapes))} do not broadcast "
                             f"(dimension {i}: sizes {sorted(sizes)})")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


@dataclass(frozen=True)
class Add(Layer):
    """Element-wise sum of two or more tensors (NumPy broadcasting), e.g. a residual connection."""

    kind: ClassVar[str] = "Add"
    arity: ClassVar[int | None] = None

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return broadcast_shapes(inputs)


@dataclass(frozen=True)
class Mul(Layer):
    """Element-wise product of two or more tensors (NumPy broadcasting), e.g. squeeze-excitation."""

    kind: ClassVar[str] = "Mul"
    arity: ClassVar[int | None] = None

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return broadcast_shapes(inputs)


@dataclass(frozen=True)
class Flatten(Layer):
    """Flattens dimensions ``start_dim..end_dim`` of the per-sample shape (a view, no copy)."""

    start_dim: int = 0
    end_dim: int = -1
    kind: ClassVar[str] = "Flatten"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        return (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])


@dataclass(frozen=True)
class Reshape(Layer):
    """Reshape to ``shape`` (per sample; one ``-1`` allowed). A view, no copy."""

    shape: Shape
    kind: ClassVar[str] = "Reshape"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        total = elements(shape)
        known = math.prod(d for d in self.shape if d != -1)
        if list(self.shape).count(-1) > 1:
            raise ShapeError(f"target {self.shape} has more than one -1")
        if -1 in self.shape:
            if known == 0 or total % known:
                raise ShapeError(f"cannot reshape {shape} ({total} elements) to {self.shape}")
            return tuple(total // known if d == -1 else d for d in self.shape)
        if known != total:
            raise ShapeError(f"cannot reshape {shape} ({total} elements) to {self.shape} ({known} elements)")
        return self.shape


@dataclass(frozen=True)
class Permute(Layer):
    """Reorders the per-sample dimensions (``Transpose``). Treated as a view, as in PyTorch."""

    dims: Shape
    kind: ClassVar[str] = "Permute"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if sorted(self.dims) != list(range(len(shape))):
            raise ShapeError(f"dims {self.dims} are not a permutation of the {len(shape)} dimensions "
                             f"of {shape}")
        return tuple(shape[d] for d in self.dims)


@dataclass(frozen=True)
class Concat(Layer):
    """Concatenation along ``dim`` of the per-sample shapes (a new tensor)."""

    dim: int = 0
    kind: ClassVar[str] = "Concat"
    arity: ClassVar[int | None] = None

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        first = inputs[0]
        dim = self.dim % len(first)
        for other in inputs[1:]:
            if len(other) != len(first) or any(
                    a != b for i, (a, b) in enumerate(zip(first, other, strict=True)) if i != dim):
                raise ShapeError(f"shapes {first} and {other} differ outside the concatenation "
                                 f"dim {self.dim}")
        return (*first[:dim], sum(s[dim] for s in inputs), *first[dim + 1:])


@dataclass(frozen=True)
class MatMul(Layer):
    """Matrix product of two activations ``(..., m, k) @ (..., k, n) -> (..., m, n)``."""

    kind: ClassVar[str] = "MatMul"
    arity: ClassVar[int | None] = 2

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        a, b = inputs
        if len(a) < 2 or len(b) < 2:
            raise ShapeError(f"expects two operands of at least 2 dimensions, got {a} and {b}")
        if a[-1] != b[-2]:
            raise ShapeError(f"inner dimensions differ: {a} @ {b} ({a[-1]} != {b[-2]})")
        return (*broadcast_shapes((a[:-2], b[:-2])), a[-2], b[-1])


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

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(tokens, embed_dim)")
        if shape[1] != self.embed_dim:
            raise ShapeError(f"embed_dim: expects {self.embed_dim}, got {shape[1]}")
        if self.embed_dim % self.num_heads:
            raise ShapeError(f"embed_dim {self.embed_dim} is not divisible by num_heads={self.num_heads}")
        return shape


@dataclass(frozen=True)
class ClassToken(Layer):
    """Prepends a learned class token to a ``(L, E)`` sequence (ViT): ``(L, E) -> (L+1, E)``."""

    embed_dim: int
    kind: ClassVar[str] = "ClassToken"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(tokens, embed_dim)")
        if shape[1] != self.embed_dim:
            raise ShapeError(f"embed_dim: expects {self.embed_dim}, got {shape[1]}")
        return (shape[0] + 1, shape[1])


@dataclass(frozen=True)
class PositionalEmbedding(Layer):
    """Adds a learned positional embedding of shape ``(L, E)`` to the sequence."""

    seq_len: int
    embed_dim: int
    kind: ClassVar[str] = "PosEmbedding"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if shape != (self.seq_len, self.embed_dim):
            raise ShapeError(f"expects a sequence of shape {(self.seq_len, self.embed_dim)}, got {shape}")
        return shape


@dataclass(frozen=True)
class SelectToken(Layer):
    """Takes token ``index`` of a ``(L, E)`` sequence (``x[:, 0]`` in ViT): a view."""

    index: int = 0
    kind: ClassVar[str] = "SelectToken"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if len(shape) < 2 or not -shape[0] <= self.index < shape[0]:
            raise ShapeError(f"cannot take token {self.index} of shape {shape}")
        return shape[1:]


@dataclass(frozen=True)
class GenericOp(Layer):
    """An imported (ONNX) operator with no layer kind of its own, costed per element.

    ``ops = ops_per_element · max(elements(first input), elements(output))``: element-wise math
    with constant operands (``x·c``, ``x+c``, ``√x``, ``erf x``: 1), reductions (per input
    element) and pure data movement (Slice, Pad, Expand: 0). ``params`` counts a learned constant
    operand (a scale, a bias, an embedding table). The output shape is the source graph's.
    """

    op: str
    output: Shape
    num_inputs: int = 1
    ops_per_element: int = 1
    params: int = 0

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.op

    @property
    def arity(self) -> int:  # type: ignore[override]
        return self.num_inputs

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.output


@dataclass(frozen=True)
class Unsupported(Layer):
    """An imported operator the simulator has no formula for: it costs nothing and is always reported.

    It passes its first input through as a view with the source graph's output shape (no time, no
    energy, no new tensor), so the rest of the network still simulates; ``source`` names the
    operator's node in the source graph.
    """

    op: str
    output: Shape
    num_inputs: int = 1
    source: str = ""

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Unsupported:{self.op}"

    @property
    def arity(self) -> int:  # type: ignore[override]
        return self.num_inputs

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.output


#: Layers whose output is a view of their input: no new tensor, no data movement.
VIEW_LAYERS: tuple[type[Layer], ...] = (Flatten, Reshape, Permute, SelectToken, Unsupported)
#: Layers that may run in place (output overwrites the first input), as ``nn.ReLU(inplace=True)``.
INPLACE_CAPABLE: tuple[type[Layer], ...] = (Activation, Add, Mul, BatchNorm)

ALL_LAYER_KINDS: tuple[type[Layer], ...] = (
    Linear, Conv, Pool, AdaptivePool, BatchNorm, LayerNorm, GroupNorm, Activation, Softmax, Add, Mul,
    Flatten, Reshape, Permute, Concat, MatMul, MultiheadSelfAttention, ClassToken, PositionalEmbedding,
    SelectToken, GenericOp, Unsupported,
)
