"""Hardware-independent counts of a network at a batch size: the lecture's efficiency metrics.

* ``params`` and ``macs``/``flops`` per layer and in total (formulas in :mod:`simulator.model.formulas`).
* ``total_activations``: elements of every activation tensor the network creates, the input
  included, as in the lecture's AlexNet table (932,264). In-place layers (``ReLU(inplace=True)``,
  ``out += identity``) and views (Flatten, Reshape) create no tensor and add nothing.
* ``peak_activations``: the largest number of activation elements alive at one step of the
  execution order. While a layer runs, its inputs and its output are alive, and so is every tensor
  that a later layer still reads (a residual's skip tensor) and the network's outputs. For a chain
  this is the lecture's ``max(input + output)`` (AlexNet: 150,528 + 290,400 = 440,928).

Every count except ``params`` scales linearly with the batch: shapes are per sample and the
batch multiplies at the end, in exact Python integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from simulator.errors import InvalidTypeError, SimulatorError
from simulator.model.formulas import LayerCost, layer_cost
from simulator.model.graph import INPUT, Network, storage_of
from simulator.model.layers import Shape, elements


def check_batch(batch: int) -> int:
    """Validates a batch size (an int of at least 1) at the boundary."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SimulatorError(f"batch size must be an integer of at least 1, got {batch!r}")
    return batch


@dataclass(frozen=True)
class LayerCounts:
    """Counts of one layer at a batch size. ``output_elements`` includes the batch."""

    name: str
    kind: str
    output_shape: Shape
    params: int
    macs: int
    flops: int
    output_elements: int
    allocates: bool


@dataclass(frozen=True)
class NetworkCounts:
    """Counts of a whole network at a batch size; totals are sums over ``layers``."""

    network: str
    batch: int
    input_shape: Shape
    layers: tuple[LayerCounts, ...]
    total_activations: int
    peak_activations: int

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    def __repr__(self) -> str:
        """One line for a notebook (the dataclass repr would print every layer)."""
        shape = "x".join(map(str, self.input_shape))
        return (f"<NetworkCounts {self.network}, batch {self.batch}, input {shape}: {self.params:,} params, "
                f"{self.macs:,} MACs, {len(self.layers)} layers>")

    def to_frame(self):
        """The layer table as a pandas DataFrame: ``layer``, ``kind``, ``output_shape``, ``params``,
        ``macs``, ``flops``, ``new_activations`` (elements; 0 for in-place layers and views)."""
        import pandas as pd

        return pd.DataFrame(
            [{"layer": layer.name, "kind": layer.kind, "output_shape": "x".join(map(str, layer.output_shape)),
              "params": layer.params, "macs": layer.macs, "flops": layer.flops,
              "new_activations": layer.output_elements if layer.allocates else 0} for layer in self.layers],
            columns=["layer", "kind", "output_shape", "params", "macs", "flops", "new_activations"])


@dataclass(frozen=True, eq=False)
class NetworkAnalysis:
    """The one pass over a network that every count and simulation shares (per sample, cached).

    ``costs``: each node's :class:`~simulator.model.formulas.LayerCost`; ``storage``: tensor ->
    the tensor owning its memory; ``lifetimes``: owner -> (first step, last step, elements);
    ``live``: elements alive while each node runs; ``total_activations``: elements of every tensor
    created, the input included.
    """

    costs: tuple[LayerCost, ...]
    storage: dict[str, str]
    lifetimes: dict[str, tuple[int, int, int]]
    live: tuple[int, ...]
    total_activations: int

    @property
    def peak_activations(self) -> int:
        return max(self.live)


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check_whole_counts(network: Network, costs: tuple[LayerCost, ...]) -> None:
    """Counts are Python ints: every dimension of the input and of each layer's output an int of at
    least 1, every layer's params, MACs and element-wise operations an int of at least 0. A float, a
    bool or a negative number (a network built with ``num_classes=2.5`` or ``-1``) is a
    SimulatorError naming the layer, instead of a fractional or negative count."""
    if not all(_whole(size, 1) for size in network.input_shape):
        raise SimulatorError(f"network {network.name!r}: input shape {network.input_shape} must be whole "
                             "numbers of at least 1")
    for node, cost in zip(network.nodes, costs, strict=True):
        figures = {"params": cost.params, "MACs": cost.macs, "element-wise ops": cost.elementwise_ops}
        bad = next(((what, v) for what, v in figures.items() if not _whole(v, 0)), None)
        if bad is not None or not all(_whole(size, 1) for size in node.output_shape):
            detail = f"{bad[0]} {bad[1]!r}" if bad is not None else f"output shape {node.output_shape}"
            raise SimulatorError(f"network {network.name!r}, layer {node.name!r} ({node.kind}): {detail}; "
                                 "counts and dimensions must be whole numbers (dimensions at least 1): "
                                 "is a parameter of the network fractional, negative or a bool?")


@lru_cache(maxsize=128)
def analyze(network: Network) -> NetworkAnalysis:
    """Costs, storage, lifetimes and liveness of ``network``, computed once per network (cached);
    counts that are not whole numbers are refused (:func:`check_whole_counts`)."""
    costs = tuple(layer_cost(node.layer, node.input_shapes, node.output_shape) for node in network.nodes)
    check_whole_counts(network, costs)
    lifetimes = storage_lifetimes(network)
    total = elements(network.input_shape) + sum(
        elements(node.output_shape) for node in network.nodes if node.allocates)
    return NetworkAnalysis(costs, storage_of(network), lifetimes, tuple(_live(network, lifetimes)), total)


def layer_costs(network: Network) -> list[LayerCost]:
    """Per-sample cost of every node, in execution order."""
    return list(analyze(network).costs)


def storage_lifetimes(network: Network) -> dict[str, tuple[int, int, int]]:
    """``owner -> (first step, last step, per-sample elements)`` of every activation tensor's memory.

    A tensor's memory (shared by its views and in-place updates) is alive from the step that
    creates it (the input from the start) to the last step that reads it or any alias of it;
    network outputs stay alive to the end.
    """
    storage = storage_of(network)
    steps = len(network.nodes)
    shapes = {INPUT: network.input_shape} | {node.name: node.output_shape for node in network.nodes}
    birth = {INPUT: 0} | {node.name: step for step, node in enumerate(network.nodes) if node.allocates}
    death = dict(birth)
    for step, node in enumerate(network.nodes):
        for tensor in node.inputs:
            death[storage[tensor]] = max(death[storage[tensor]], step)
    for tensor in network.outputs:
        death[storage[tensor]] = steps - 1
    return {owner: (birth[owner], death[owner], elements(shapes[owner])) for owner in birth}


def live_activations(network: Network) -> list[int]:
    """Activation elements alive (per sample) while each node runs, in execution order."""
    return list(analyze(network).live)


def _live(network: Network, lifetimes: dict[str, tuple[int, int, int]]) -> list[int]:
    delta = [0] * (len(network.nodes) + 1)
    for start, end, size in lifetimes.values():
        delta[start] += size
        delta[end + 1] -= size
    live, alive = [], 0
    for change in delta[:-1]:
        alive += change
        live.append(alive)
    return live


def count_network(network: Network, batch: int = 1) -> NetworkCounts:
    """Counts of ``network`` at ``batch`` samples (exact ints)."""
    if not isinstance(network, Network):
        raise InvalidTypeError(f"count_network() takes a Network (build one from a name with "
                               f"simulator.catalog.build_network or use simulator.count), got {network!r}")
    check_batch(batch)
    analysis = analyze(network)
    layers = tuple(
        LayerCounts(
            name=node.name,
            kind=node.kind,
            output_shape=(batch, *node.output_shape),
            params=cost.params,
            macs=cost.macs * batch,
            flops=cost.flops * batch,
            output_elements=elements(node.output_shape) * batch,
            allocates=node.allocates,
        )
        for node, cost in zip(network.nodes, analysis.costs, strict=True)
    )
    return NetworkCounts(network.name, batch, (batch, *network.input_shape), layers,
                         analysis.total_activations * batch, analysis.peak_activations * batch)
