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

import functools
from dataclasses import dataclass

from simulator.errors import GraphError, ShapeError
from simulator.model.layers import BUILDER_METHODS, Layer, Shape

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
        return self.layer.is_view

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

    def __hash__(self) -> int:
        """The fields' hash, computed once: the caches keyed on a network (its inference view, its
        counts, its workload) would otherwise hash every node on every lookup."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.name, self.input_shape, self.nodes, self.outputs))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, object]:
        # a string's hash differs between processes: a pickled network recomputes its own
        return {key: value for key, value in self.__dict__.items() if key != "_hash"}

    def shape_of(self, tensor: str) -> Shape:
        if tensor == INPUT:
            return self.input_shape
        for node in self.nodes:
            if node.name == tensor:
                return node.output_shape
        raise GraphError(f"network {self.name!r} has no tensor {tensor!r}")


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
        if inplace and (not layer.inplace_capable or output_shape != input_shapes[0]):
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

    # Builder methods (conv2d, relu, linear, ...) are registered by each layer kind beside its
    # definition (:func:`simulator.model.layers.base.builder_method`).

    def __getattr__(self, name: str):
        method = BUILDER_METHODS.get(name)
        if method is None:
            raise AttributeError(f"{type(self).__name__!r} has no attribute or builder method {name!r}")
        return functools.partial(method, self)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *BUILDER_METHODS})


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
