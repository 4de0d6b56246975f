"""Element-wise layers: normalizations, activations, softmax, add and multiply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    broadcast_shapes,
    builder_method,
    layer_kind,
    pair,
)


@layer_kind
@dataclass(frozen=True)
class BatchNorm(Layer):
    """Batch normalization over channels (dimension 0 of the per-sample shape)."""

    num_features: int
    affine: bool = True
    inplace_capable: ClassVar[bool] = True

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "BatchNorm"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not shape or shape[0] != self.num_features:
            raise ShapeError(f"channels: expects {self.num_features} channels, got shape {shape}")
        return shape


@layer_kind
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


@layer_kind
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


@layer_kind
@dataclass(frozen=True)
class Activation(Layer):
    """Element-wise non-linearity; ``function`` is one of :data:`ACTIVATIONS`."""

    function: str
    inplace_capable: ClassVar[bool] = True

    @property
    def kind(self) -> str:  # type: ignore[override]
        return _ACTIVATION_KINDS[self.function]

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return inputs[0]


@layer_kind
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


@layer_kind
@dataclass(frozen=True)
class Add(Layer):
    """Element-wise sum of two or more tensors (NumPy broadcasting), e.g. a residual connection."""

    kind: ClassVar[str] = "Add"
    arity: ClassVar[int | None] = None
    inplace_capable: ClassVar[bool] = True
    absorbs_activation: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return broadcast_shapes(inputs)


@layer_kind
@dataclass(frozen=True)
class Mul(Layer):
    """Element-wise product of two or more tensors (NumPy broadcasting), e.g. squeeze-excitation."""

    kind: ClassVar[str] = "Mul"
    arity: ClassVar[int | None] = None
    inplace_capable: ClassVar[bool] = True
    absorbs_activation: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return broadcast_shapes(inputs)


# Builder methods (``NetworkBuilder.<name>``), named as in PyTorch.


@builder_method("batch_norm")
def batch_norm(net, x: str, name: str | None = None, inplace: bool = False) -> str:
    return net.add(BatchNorm(net.shape(x)[0]), x, name=name, inplace=inplace)


@builder_method("layer_norm")
def layer_norm(net, x: str, normalized_shape: int | Shape | None = None, name: str | None = None) -> str:
    shape = (net.shape(x)[-1],) if normalized_shape is None else pair(normalized_shape, 1)
    return net.add(LayerNorm(shape), x, name=name)


@builder_method("group_norm")
def group_norm(net, x: str, num_groups: int, name: str | None = None) -> str:
    return net.add(GroupNorm(num_groups, net.shape(x)[0]), x, name=name)


@builder_method("activation")
def activation(net, x: str, function: str, inplace: bool = False, name: str | None = None) -> str:
    return net.add(Activation(function), x, name=name, inplace=inplace)


@builder_method("relu")
def relu(net, x: str, inplace: bool = False, name: str | None = None) -> str:
    return activation(net, x, "relu", inplace, name)


@builder_method("relu6")
def relu6(net, x: str, inplace: bool = False, name: str | None = None) -> str:
    return activation(net, x, "relu6", inplace, name)


@builder_method("gelu")
def gelu(net, x: str, name: str | None = None) -> str:
    return activation(net, x, "gelu", name=name)


@builder_method("softmax")
def softmax(net, x: str, dim: int = -1, name: str | None = None) -> str:
    return net.add(Softmax(dim), x, name=name)


@builder_method("add_")
def add_(net, *tensors: str, inplace: bool = False, name: str | None = None) -> str:
    """Element-wise sum (``inplace=True`` is ``out += other`` into the first operand)."""
    return net.add(Add(), *tensors, name=name, inplace=inplace)


@builder_method("mul")
def mul(net, *tensors: str, inplace: bool = False, name: str | None = None) -> str:
    return net.add(Mul(), *tensors, name=name, inplace=inplace)
