"""Element-wise layers: normalizations, activations, softmax, add and multiply.

Each kind with its builder methods, its ONNX writer and the readers of the ONNX operators that make it
(``BatchNormalization``, ``LayerNormalization``, ``Group``/``InstanceNormalization``, ``Relu`` and the
other activations, ``Clip``, ``Softmax``/``LogSoftmax``, ``Add``/``Sum``, ``Mul``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError, SimulatorError
from simulator.model.layers.base import (
    GELU_OPSET,
    GROUP_NORM_OPSET,
    NORM_EPSILON,
    Layer,
    Shape,
    broadcast_shapes,
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
    pair,
)
from simulator.model.layers.imported import generic, unsupported
from simulator.model.layers.tensor import PositionalEmbedding

if TYPE_CHECKING:
    from simulator.model.graph import Node


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


@layer_kind
@dataclass(frozen=True)
class LayerNorm2d(Layer):
    """Channels-first layer normalization: over C at every position of a ``(C, H, W)`` tensor, with a
    per-channel affine (``efficientvit.models.nn.norm.LayerNorm2d``, SAM's ``LayerNorm2d``)."""

    num_channels: int
    affine: bool = True
    kind: ClassVar[str] = "LayerNorm2d"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if len(shape) < 2 or shape[0] != self.num_channels:
            raise ShapeError(f"channels: expects ({self.num_channels}, H, W), got shape {shape}")
        return shape


#: ``gelu_tanh`` is ``nn.GELU(approximate="tanh")``: ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``;
#: ``quick_gelu`` is OpenAI CLIP's ``QuickGELU``: ``x·σ(1.702·x)``
ACTIVATIONS = ("relu", "relu6", "gelu", "gelu_tanh", "quick_gelu", "silu", "hardswish", "sigmoid", "tanh")
_ACTIVATION_KINDS = {"relu": "ReLU", "relu6": "ReLU6", "gelu": "GELU", "gelu_tanh": "GELUTanh",
                     "quick_gelu": "QuickGELU", "silu": "SiLU",
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
    #: TensorRT's skipLayerNorm plugin and ONNX Runtime's SkipLayerNormalization fusion
    absorbs_norm: ClassVar[bool] = True

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


@builder_method("batch_norm", makes=BatchNorm)
def batch_norm(net, x: str, name: str | None = None, inplace: bool = False) -> str:
    return net.add(BatchNorm(net.shape(x)[0]), x, name=name, inplace=inplace)


@builder_method("layer_norm", makes=LayerNorm)
def layer_norm(net, x: str, normalized_shape: int | Shape | None = None, name: str | None = None) -> str:
    shape = (net.shape(x)[-1],) if normalized_shape is None else pair(normalized_shape, 1)
    return net.add(LayerNorm(shape), x, name=name)


@builder_method("group_norm", makes=GroupNorm)
def group_norm(net, x: str, num_groups: int, name: str | None = None) -> str:
    return net.add(GroupNorm(num_groups, net.shape(x)[0]), x, name=name)


@builder_method("layer_norm2d", makes=LayerNorm2d)
def layer_norm2d(net, x: str, name: str | None = None) -> str:
    return net.add(LayerNorm2d(net.shape(x)[0]), x, name=name)


@builder_method("activation", makes=Activation)
def activation(net, x: str, function: str, inplace: bool = False, name: str | None = None) -> str:
    return net.add(Activation(function), x, name=name, inplace=inplace)


@builder_method("relu", makes=Activation)
def relu(net, x: str, inplace: bool = False, name: str | None = None) -> str:
    return activation(net, x, "relu", inplace, name)


@builder_method("relu6", makes=Activation)
def relu6(net, x: str, inplace: bool = False, name: str | None = None) -> str:
    return activation(net, x, "relu6", inplace, name)


@builder_method("gelu", makes=Activation)
def gelu(net, x: str, name: str | None = None) -> str:
    return activation(net, x, "gelu", name=name)


@builder_method("softmax", makes=Softmax)
def softmax(net, x: str, dim: int = -1, name: str | None = None) -> str:
    return net.add(Softmax(dim), x, name=name)


@builder_method("add_", makes=Add)
def add_(net, *tensors: str, inplace: bool = False, name: str | None = None) -> str:
    """Element-wise sum (``inplace=True`` is ``out += other`` into the first operand)."""
    return net.add(Add(), *tensors, name=name, inplace=inplace)


@builder_method("mul", makes=Mul)
def mul(net, *tensors: str, inplace: bool = False, name: str | None = None) -> str:
    return net.add(Mul(), *tensors, name=name, inplace=inplace)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


def _affine_inputs(g: Any, name: str, shape: Shape, affine: bool) -> list[str]:
    """Scale and bias: learned parameters, or constant ones and zeros without ``affine``."""
    if affine:
        return [g.param(f"{name}.weight", shape, 0.1, mean=1.0), g.param(f"{name}.bias", shape, 0.1)]
    return [g.filled(f"{name}/ones", shape, 1.0), g.filled(f"{name}/zeros", shape, 0.0)]


@onnx_writer(BatchNorm)
def write_batchnorm(g: Any, node: Node) -> None:
    """``BatchNormalization`` (running mean 0, variance 1)."""
    channels, name = node.layer.num_features, node.name
    inputs = [node.inputs[0], *_affine_inputs(g, name, (channels,), node.layer.affine),
              g.buffer(f"{name}.running_mean", (channels,), 0.0),
              g.buffer(f"{name}.running_var", (channels,), 1.0)]
    g.op("BatchNormalization", inputs, name, epsilon=NORM_EPSILON)


@onnx_writer(LayerNorm)
def write_layernorm(g: Any, node: Node) -> None:
    """``LayerNormalization``."""
    layer = node.layer
    inputs = [node.inputs[0], *_affine_inputs(g, node.name, layer.normalized_shape, layer.affine)]
    g.op("LayerNormalization", inputs, node.name, axis=-len(layer.normalized_shape), epsilon=NORM_EPSILON)


@onnx_writer(LayerNorm2d)
def write_layernorm2d(g: Any, node: Node) -> None:
    """``Transpose`` channels last, ``LayerNormalization`` over them, ``Transpose`` back."""
    name, rank = node.name, len(node.input_shapes[0]) + 1
    last = g.op("Transpose", [node.inputs[0]], f"{name}/channels_last", perm=[0, *range(2, rank), 1])
    inputs = [last, *_affine_inputs(g, name, (node.layer.num_channels,), node.layer.affine)]
    normalized = g.op("LayerNormalization", inputs, f"{name}/normalized", axis=-1, epsilon=NORM_EPSILON)
    g.op("Transpose", [normalized], name, perm=[0, rank - 1, *range(1, rank - 1)])


@onnx_writer(GroupNorm)
def write_groupnorm(g: Any, node: Node) -> None:
    """``GroupNormalization`` (opset >= 21, per-channel affine), else ``Reshape`` +
    ``InstanceNormalization`` + ``Reshape`` + ``Mul`` + ``Add``."""
    layer, name, (x,), (shape,) = node.layer, node.name, node.inputs, node.input_shapes
    if g.opset >= GROUP_NORM_OPSET:
        inputs = [x, *_affine_inputs(g, name, (layer.num_channels,), layer.affine)]
        g.op("GroupNormalization", inputs, name, num_groups=layer.num_groups, epsilon=NORM_EPSILON)
        return
    # GroupNormalization before opset 21 has a per-group affine, unlike PyTorch's: decompose
    groups = g.reshape(x, (layer.num_groups, -1), f"{name}/groups")
    normalized = g.op("InstanceNormalization",
                      [groups, g.filled(f"{name}/ones", (layer.num_groups,), 1.0),
                       g.filled(f"{name}/zeros", (layer.num_groups,), 0.0)],
                      f"{name}/normalized", epsilon=NORM_EPSILON)
    if not layer.affine:
        g.reshape(normalized, shape, name)
        return
    restored = g.reshape(normalized, shape, f"{name}/restored")
    per_channel = (layer.num_channels,) + (1,) * (len(shape) - 1)
    scaled = g.op("Mul", [restored, g.param(f"{name}.weight", per_channel, 0.1, mean=1.0)], f"{name}/scaled")
    g.op("Add", [scaled, g.param(f"{name}.bias", per_channel, 0.1)], name)


#: QuickGELU's slope (openai/CLIP ``clip/model.py``: ``x * torch.sigmoid(1.702 * x)``)
QUICK_GELU_ALPHA = 1.702
#: activations that are one ONNX operator, both ways
_ACTIVATION_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish"}


@onnx_writer(Activation)
def write_activation(g: Any, node: Node) -> None:
    """``Relu``, ``Clip(0, 6)``, ``Gelu`` (opset >= 20; ``approximate="tanh"`` for gelu_tanh) or its
    erf (tanh) form, ``Sigmoid`` + ``Mul``
    (SiLU), ``Mul(x, Sigmoid(Mul(x, 1.702)))`` (QuickGELU), ``HardSwish``, ``Sigmoid``, ``Tanh``."""
    (x,), name, function = node.inputs, node.name, node.layer.function
    if function in _ACTIVATION_OPS:
        g.op(_ACTIVATION_OPS[function], [x], name)
    elif function == "relu6":
        g.op("Clip", [x, g.const(f"{name}/min", 0.0), g.const(f"{name}/max", 6.0)], name)
    elif function == "silu":
        g.op("Mul", [x, g.op("Sigmoid", [x], f"{name}/sigmoid")], name)
    elif function == "quick_gelu":  # x·σ(1.702·x)
        scaled = g.op("Mul", [x, g.const(f"{name}/alpha", QUICK_GELU_ALPHA)], f"{name}/scaled")
        g.op("Mul", [x, g.op("Sigmoid", [scaled], f"{name}/sigmoid")], name)
    elif function == "gelu":
        write_gelu(g, x, name)
    elif function == "gelu_tanh" and g.opset >= GELU_OPSET:
        g.op("Gelu", [x], name, approximate="tanh")
    elif function == "gelu_tanh":  # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as torch.onnx writes it
        cube = g.op("Mul", [x, g.op("Mul", [x, x], f"{name}/square")], f"{name}/cube")
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const(f"{name}/kappa", 0.044715)], f"{name}/scaled")],
                     f"{name}/inner")
        tanh = g.op("Tanh", [g.op("Mul", [inner, g.const(f"{name}/beta", math.sqrt(2.0 / math.pi))],
                                  f"{name}/beta_inner")], f"{name}/tanh")
        shifted = g.op("Add", [tanh, g.const(f"{name}/one", 1.0)], f"{name}/add")
        product = g.op("Mul", [x, shifted], f"{name}/mul")
        g.op("Mul", [product, g.const(f"{name}/half", 0.5)], name)
    else:
        raise SimulatorError(f"layer {name!r}: no ONNX mapping for activation {function!r}")


def write_gelu(g: Any, x: str, name: str) -> str:
    """GELU (erf) of tensor ``x`` into tensor ``name``: ``Gelu`` from opset 20, before it
    ``0.5·x·(1 + erf(x/√2))`` as torch.onnx writes it (read back as one GELU)."""
    if g.opset >= GELU_OPSET:
        return g.op("Gelu", [x], name)
    scaled = g.op("Div", [x, g.const(f"{name}/sqrt2", math.sqrt(2.0))], f"{name}/div")
    erf = g.op("Erf", [scaled], f"{name}/erf")
    shifted = g.op("Add", [erf, g.const(f"{name}/one", 1.0)], f"{name}/add")
    product = g.op("Mul", [x, shifted], f"{name}/mul")
    return g.op("Mul", [product, g.const(f"{name}/half", 0.5)], name)


@onnx_writer(Softmax)
def write_softmax(g: Any, node: Node) -> None:
    g.op("Softmax", list(node.inputs), node.name, axis=g.axis(node.layer.dim))


@onnx_writer(Add)
def write_add(g: Any, node: Node) -> None:
    """``Add``, or ``Sum`` of three or more operands."""
    g.op("Add" if len(node.inputs) == 2 else "Sum", list(node.inputs), node.name)


@onnx_writer(Mul)
def write_mul(g: Any, node: Node) -> None:
    """``Mul``, chained for three or more operands."""
    product = node.inputs[0]
    for i, other in enumerate(node.inputs[1:], start=2):
        product = g.op("Mul", [product, other], node.name if i == len(node.inputs) else f"{node.name}/{i}")


# ONNX readers (:class:`simulator.onnx.reader.Translator`): ``t`` maps ONNX tensors onto the network.
# Multi-node forms (the LayerNorm, GELU, SiLU, Hardswish and GroupNorm decompositions) are patterns
# of :mod:`simulator.onnx.patterns`, recognized before these run.


def _channels(t: Any, x: str) -> int:
    return t.full(x)[1] if len(t.full(x)) > 1 else 0


@onnx_reader("BatchNormalization", makes=BatchNorm)
def read_batchnorm(t: Any, node: Any) -> None:
    x, scale = node.input[0], node.input[1]
    t.add(BatchNorm(_channels(t, x), t.is_learned(scale)), [x], node.output[0], t.param_name(scale))


@onnx_reader("LayerNormalization", makes=LayerNorm)
def read_layernorm(t: Any, node: Any) -> None:
    x, scale = node.input[0], node.input[1]
    axis = t.attribute(node, "axis", -1) % len(t.full(x))
    layer = LayerNorm(tuple(t.full(x)[axis:]), t.is_learned(scale))
    t.add(layer, [x], node.output[0], t.param_name(scale))


@onnx_reader("GroupNormalization", "InstanceNormalization", makes=GroupNorm)
def read_groupnorm(t: Any, node: Any) -> None:
    """GroupNorm; InstanceNormalization is GroupNorm with one channel per group."""
    x, scale = node.input[0], node.input[1]
    channels = _channels(t, x)
    groups = t.attribute(node, "num_groups") if node.op_type == "GroupNormalization" else channels
    t.add(GroupNorm(groups, channels, t.is_learned(scale)), [x], node.output[0], t.param_name(scale))


@onnx_reader(*_ACTIVATION_OPS.values(), "Gelu", makes=Activation)
def read_activation(t: Any, node: Any) -> None:
    tanh = node.op_type == "Gelu" and t.attribute(node, "approximate", b"none") in (b"tanh", "tanh")
    function = ("gelu_tanh" if tanh else "gelu") if node.op_type == "Gelu" else next(
        f for f, op in _ACTIVATION_OPS.items() if op == node.op_type)
    t.add(Activation(function), t.acts(node)[:1], node.output[0])


@onnx_reader("Clip", makes=Activation)
def read_clip(t: Any, node: Any) -> None:
    """``Clip(0, 6)`` is relu6, ``Clip(0)`` relu; any other a GenericOp."""
    if len(node.input) > 1:
        low, high = (t.value(node.input[k]) if len(node.input) > k else None for k in (1, 2))
    else:
        low, high = t.attribute(node, "min"), t.attribute(node, "max")
    if len(t.acts(node)) == 1 and low == 0 and high in (6, None):
        t.add(Activation("relu6" if high == 6 else "relu"), t.acts(node), node.output[0])
    else:
        generic(t, node)


@onnx_reader("Softmax", "LogSoftmax", makes=Softmax)
def read_softmax(t: Any, node: Any) -> None:
    x = node.input[0]
    default = -1 if t.opset >= 13 else 1
    dim = t.sample(x).axis(t.attribute(node, "axis", default), len(t.full(x)))
    if dim is None:
        unsupported(t, node)  # softmax across samples
    else:
        t.add(Softmax(dim), [x], node.output[0])


@onnx_reader("Add", "Sum", makes=(Add, PositionalEmbedding))
def read_add(t: Any, node: Any) -> None:
    """Add of two or more activations; with a learned ``(L, E)`` constant a PositionalEmbedding;
    with another constant a GenericOp."""
    acts = t.acts(node)
    if len(acts) >= 2:
        t.add(Add(), acts, node.output[0])
        return
    (x,), constants = acts, [name for name in node.input if name and t.is_const(name)]
    shape = t.sample(x).shape
    if (len(constants) == 1 and len(shape) == 2 and t.param_size(constants[0])
            and t.full(constants[0]) in ((1, *shape), shape)):
        hint = t.param_name(constants[0]) or constants[0]
        t.add(PositionalEmbedding(*shape), [x], node.output[0], hint)
    elif node.op_type == "Sum" and not constants:
        t.alias(node.output[0], x)
    else:
        generic(t, node, 1)


@onnx_reader("Mul", makes=Mul)
def read_mul(t: Any, node: Any) -> None:
    """Mul of two or more activations; with a constant a GenericOp."""
    acts = t.acts(node)
    if len(acts) >= 2:
        t.add(Mul(), acts, node.output[0])
    else:
        generic(t, node)
