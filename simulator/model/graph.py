"""Networks as directed acyclic graphs of layers over named tensors.

Each :class:`Node` applies one layer to named input tensors and produces one tensor named after
the node. Nodes are stored in execution order, which is the order they were added: a node may
only read tensors that already exist, so the order is always topological. Shapes are per sample
(no batch dimension) and inferred as nodes are added, so an impossible shape is reported at the
layer that causes it.

Build a network with :class:`NetworkBuilder`::

    net = NetworkBuilder("tiny", input_shape=(3, 32, 32))
    x = net.conv2d(net.input, 16, kernel_size=3, padding=1)
    x = net.relu(x, inplace=True)
    y = net.linear(net.flatten(x), 10)
    network = net.build()
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.errors import GraphError, ShapeError
from simulator.model.layers import (
    INPLACE_CAPABLE,
    VIEW_LAYERS,
    Activation,
    AdaptivePool,
    Add,
    BatchNorm,
    ClassToken,
    Concat,
    Conv,
    Flatten,
    GroupNorm,
    Layer,
    LayerNorm,
    Linear,
    MatMul,
    Mul,
    MultiheadSelfAttention,
    Permute,
    Pool,
    PositionalEmbedding,
    Reshape,
    SelectToken,
    Shape,
    Softmax,
)

INPUT = "input"


@dataclass(frozen=True)
class Node:
    """One layer applied to named tensors; its output tensor carries the node's name.

    ``inplace`` nodes overwrite their first input (``nn.ReLU(inplace=True)``, ``out += identity``)
    and view nodes (Flatten, Reshape, ...) alias it: neither creates a new activation tensor.
    """

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    inplace: bool = False

    @property
    def is_view(self) -> bool:
        return isinstance(self.layer, VIEW_LAYERS)

    @property
    def allocates(self) -> bool:
        """Whether the node creates a new activation tensor."""
        return not (self.inplace or self.is_view)

    @property
    def kind(self) -> str:
        return self.layer.display_kind


@dataclass(frozen=True)
class Network:
    """An immutable layer graph: nodes in execution order, one per-sample input, named outputs."""

    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]

    def shape_of(self, tensor: str) -> Shape:
        if tensor == INPUT:
            return self.input_shape
        for node in self.nodes:
            if node.name == tensor:
                return node.output_shape
        raise GraphError(f"network {self.name!r} has no tensor {tensor!r}")


def _pair(value: int | tuple[int, ...], dims: int) -> Shape:
    return (value,) * dims if isinstance(value, int) else tuple(value)


class NetworkBuilder:
    """Adds layers one at a time, inferring shapes, and returns an immutable :class:`Network`."""

    def __init__(self, name: str, input_shape: Shape):
        if any(d < 1 for d in input_shape):
            raise ShapeError(f"network {name!r}: input shape {tuple(input_shape)} has a dimension below 1")
        self.name = name
        self.input_shape = tuple(input_shape)
        self.input = INPUT
        self._nodes: list[Node] = []
        self._shapes: dict[str, Shape] = {INPUT: self.input_shape}
        self._counts: dict[str, int] = {}

    def shape(self, tensor: str) -> Shape:
        """Per-sample shape of an existing tensor."""
        return self._shapes[tensor]

    def add(self, layer: Layer, *inputs: str, name: str | None = None, inplace: bool = False) -> str:
        """Appends ``layer`` applied to ``inputs`` and returns the name of its output tensor."""
        if name is None:
            base = layer.kind.lower()
            self._counts[base] = self._counts.get(base, 0) + 1
            name = f"{base}{self._counts[base]}"
        if name in self._shapes:
            raise GraphError(f"network {self.name!r}: duplicate layer name {name!r}")
        for tensor in inputs:
            if tensor not in self._shapes:
                raise GraphError(f"network {self.name!r}, layer {name!r}: unknown input tensor {tensor!r}")
        if layer.arity is not None and len(inputs) != layer.arity:
            raise GraphError(f"network {self.name!r}, layer {name!r}: {layer.kind} takes {layer.arity} "
                             f"input(s), got {len(inputs)}")
        if layer.arity is None and len(inputs) < 2:
            raise GraphError(f"network {self.name!r}, layer {name!r}: {layer.kind} takes two or more inputs")
        input_shapes = tuple(self._shapes[t] for t in inputs)
        try:
            output_shape = layer.output_shape(input_shapes)
        except ShapeError as error:
            raise ShapeError(f"network {self.name!r}, layer {name!r} ({layer.kind}, input "
                             f"{' and '.join(map(str, input_shapes))}): {error}") from None
        if inplace and (not isinstance(layer, INPLACE_CAPABLE) or output_shape != input_shapes[0]):
            raise GraphError(f"network {self.name!r}, layer {name!r}: {layer.kind} cannot run in place "
                             f"on input {input_shapes[0]} giving {output_shape}")
        self._nodes.append(Node(name, layer, tuple(inputs), input_shapes, output_shape, inplace))
        self._shapes[name] = output_shape
        return name

    def build(self, outputs: tuple[str, ...] | list[str] | None = None) -> Network:
        """The finished network; ``outputs`` default to the last node's tensor."""
        if not self._nodes:
            raise GraphError(f"network {self.name!r} has no layers")
        outputs = tuple(outputs) if outputs else (self._nodes[-1].name,)
        for tensor in outputs:
            if tensor not in self._shapes:
                raise GraphError(f"network {self.name!r}: unknown output tensor {tensor!r}")
        network = Network(self.name, self.input_shape, tuple(self._nodes), outputs)
        _check_inplace_safety(network)
        return network

    # Convenience constructors, named and shaped as in PyTorch.

    def linear(self, x: str, out_features: int, bias: bool = True, name: str | None = None) -> str:
        return self.add(Linear(out_features, bias=bias), x, name=name)

    def conv(self, x: str, out_channels: int, kernel_size: int | Shape, stride: int | Shape = 1,
             padding: int | Shape = 0, dilation: int | Shape = 1, groups: int = 1, bias: bool = True,
             dims: int = 2, name: str | None = None) -> str:
        layer = Conv(out_channels, _pair(kernel_size, dims), _pair(stride, dims), _pair(padding, dims),
                     _pair(dilation, dims), groups, bias)
        return self.add(layer, x, name=name)

    def conv1d(self, x: str, out_channels: int, kernel_size: int, **options) -> str:
        return self.conv(x, out_channels, kernel_size, dims=1, **options)

    def conv2d(self, x: str, out_channels: int, kernel_size: int | Shape, **options) -> str:
        return self.conv(x, out_channels, kernel_size, dims=2, **options)

    def pool(self, x: str, mode: str, kernel_size: int | Shape, stride: int | Shape | None = None,
             padding: int | Shape = 0, dilation: int | Shape = 1, ceil_mode: bool = False, dims: int = 2,
             name: str | None = None) -> str:
        stride = kernel_size if stride is None else stride
        layer = Pool(mode, _pair(kernel_size, dims), _pair(stride, dims), _pair(padding, dims),
                     _pair(dilation, dims), ceil_mode)
        return self.add(layer, x, name=name)

    def max_pool2d(self, x: str, kernel_size: int, stride: int | None = None, padding: int = 0,
                   **options) -> str:
        return self.pool(x, "max", kernel_size, stride, padding, **options)

    def avg_pool2d(self, x: str, kernel_size: int, stride: int | None = None, padding: int = 0,
                   **options) -> str:
        return self.pool(x, "avg", kernel_size, stride, padding, **options)

    def adaptive_avg_pool2d(self, x: str, output_size: int | Shape, name: str | None = None) -> str:
        return self.add(AdaptivePool("avg", _pair(output_size, 2)), x, name=name)

    def batch_norm(self, x: str, name: str | None = None, inplace: bool = False) -> str:
        return self.add(BatchNorm(self.shape(x)[0]), x, name=name, inplace=inplace)

    def layer_norm(self, x: str, normalized_shape: int | Shape | None = None, name: str | None = None) -> str:
        shape = (self.shape(x)[-1],) if normalized_shape is None else _pair(normalized_shape, 1)
        return self.add(LayerNorm(shape), x, name=name)

    def group_norm(self, x: str, num_groups: int, name: str | None = None) -> str:
        return self.add(GroupNorm(num_groups, self.shape(x)[0]), x, name=name)

    def activation(self, x: str, function: str, inplace: bool = False, name: str | None = None) -> str:
        return self.add(Activation(function), x, name=name, inplace=inplace)

    def relu(self, x: str, inplace: bool = False, name: str | None = None) -> str:
        return self.activation(x, "relu", inplace, name)

    def relu6(self, x: str, inplace: bool = False, name: str | None = None) -> str:
        return self.activation(x, "relu6", inplace, name)

    def gelu(self, x: str, name: str | None = None) -> str:
        return self.activation(x, "gelu", name=name)

    def softmax(self, x: str, dim: int = -1, name: str | None = None) -> str:
        return self.add(Softmax(dim), x, name=name)

    def add_(self, *tensors: str, inplace: bool = False, name: str | None = None) -> str:
        """Element-wise sum (``inplace=True`` is ``out += other`` into the first operand)."""
        return self.add(Add(), *tensors, name=name, inplace=inplace)

    def mul(self, *tensors: str, inplace: bool = False, name: str | None = None) -> str:
        return self.add(Mul(), *tensors, name=name, inplace=inplace)

    def flatten(self, x: str, start_dim: int = 0, end_dim: int = -1, name: str | None = None) -> str:
        return self.add(Flatten(start_dim, end_dim), x, name=name)

    def reshape(self, x: str, shape: Shape, name: str | None = None) -> str:
        return self.add(Reshape(tuple(shape)), x, name=name)

    def permute(self, x: str, dims: Shape, name: str | None = None) -> str:
        return self.add(Permute(tuple(dims)), x, name=name)

    def concat(self, *tensors: str, dim: int = 0, name: str | None = None) -> str:
        return self.add(Concat(dim), *tensors, name=name)

    def matmul(self, a: str, b: str, name: str | None = None) -> str:
        return self.add(MatMul(), a, b, name=name)

    def self_attention(self, x: str, num_heads: int, name: str | None = None) -> str:
        return self.add(MultiheadSelfAttention(self.shape(x)[-1], num_heads), x, name=name)

    def class_token(self, x: str, name: str | None = None) -> str:
        return self.add(ClassToken(self.shape(x)[-1]), x, name=name)

    def positional_embedding(self, x: str, name: str | None = None) -> str:
        return self.add(PositionalEmbedding(*self.shape(x)), x, name=name)

    def select_token(self, x: str, index: int = 0, name: str | None = None) -> str:
        return self.add(SelectToken(index), x, name=name)


def _check_inplace_safety(network: Network) -> None:
    """An in-place node must be the last reader of the tensor it overwrites (else results are wrong)."""
    last_read: dict[str, int] = {}
    for step, node in enumerate(network.nodes):
        for tensor in node.inputs:
            last_read[tensor] = step
    storage = storage_of(network)
    created = {INPUT: -1} | {node.name: step for step, node in enumerate(network.nodes)}
    for step, node in enumerate(network.nodes):
        if not node.inplace:
            continue
        overwritten = storage[node.inputs[0]]
        for tensor, owner in storage.items():
            if owner == overwritten and created[tensor] < step and last_read.get(tensor, -1) > step:
                raise GraphError(f"network {network.name!r}: in-place layer {node.name!r} overwrites tensor "
                                 f"{tensor!r}, which a later layer still reads")


def storage_of(network: Network) -> dict[str, str]:
    """Maps every tensor to the tensor that owns its memory (views and in-place outputs share it)."""
    storage = {INPUT: INPUT}
    for node in network.nodes:
        storage[node.name] = storage[node.inputs[0]] if not node.allocates else node.name
    return storage
