"""Writing a network as a runnable ONNX model with random weights of the right shapes.

:func:`to_onnx` builds the model in memory and :func:`export_onnx` writes it. This module owns the
model around the layers (inputs, outputs, opset, weights, external data) and :class:`OnnxGraph`,
the API the layers are written through; each layer kind's mapping to standard ONNX operators is its
ONNX writer, registered beside the kind (:func:`simulator.model.layers.base.onnx_writer`, e.g.
:func:`simulator.model.layers.compute.write_conv`), and the writers' docstrings say which operators.

A layer's output tensor carries the layer's name, its parameters are initializers ``<layer>.weight``
and ``<layer>.bias`` (plus BatchNorm's running statistics), and the initializers hold exactly the
layer's parameters, so that :func:`simulator.onnx.reader.import_onnx` gives back the same parameter
and MAC counts. Structural constants (shapes, axes, scalars) are ``Constant`` nodes. Every kind is
written, except those marked ``exportable = False`` (GenericOp, Unsupported, Fused). The network's
input is the first graph input; a conditioning tensor (a diffusion UNet's text states and time
features) or an embedding bag's indices are graph inputs after it (:meth:`OnnxGraph.graph_input`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simulator.errors import SimulatorError
from simulator.model.graph import INPUT, Network
from simulator.model.layers import ONNX_WRITERS

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ModuleNotFoundError as error:  # an optional extra
    raise SimulatorError("ONNX export needs the optional 'onnx' package: "
                         "pip install 'roofline-simulator[onnx]'") from error

#: the oldest opset with LayerNormalization; later operators' opsets: :mod:`simulator.model.layers.base`
MIN_OPSET = 17
#: protobuf cannot serialize a model over 2 GiB: larger weights go to an external data file
MAX_INLINE_BYTES = 1_800_000_000
SYMBOLIC_BATCH = "batch"


class OnnxGraph:
    """The ONNX nodes and initializers of a network being written, with its random weights.

    The layer kinds' ONNX writers (:data:`simulator.model.layers.ONNX_WRITERS`) write through this
    API only, so that the layer package never imports ``onnx``.
    """

    def __init__(self, batch: int | None, seed: int, weights: bool, opset: int):
        self.batch_dim: int | str = SYMBOLIC_BATCH if batch is None else batch
        self.rng = np.random.default_rng(seed)
        self.weights = weights
        #: the opset being written, for writers whose operators depend on it
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        #: graph inputs after the network's own, ``(name, per-sample shape, ONNX element type)``
        self.extra_inputs: list[tuple[str, tuple[int, ...], int]] = []
        #: the nodes of the network being written, for writers that depend on another layer (a rotary
        #: embedding's positions start after the cache of the attention reading it; a tied LM head
        #: multiplies by the token embedding's table)
        self.network_nodes: tuple = ()

    def op(self, op_type: str, inputs: list[str], output: str, **attributes) -> str:
        """Appends one node named after its output tensor and returns that tensor's name."""
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output

    def graph_input(self, name: str, shape: tuple[int, ...], integer: bool = False) -> str:
        """Another graph input of per-sample ``shape`` (float, or int64 indices with ``integer``), after
        the network's input and sharing its batch: a conditioning tensor, a bag's indices. The reader
        takes it back as a :class:`~simulator.model.layers.ConditioningInput`."""
        self.extra_inputs.append((name, tuple(shape), TensorProto.INT64 if integer else TensorProto.FLOAT))
        return name

    def param(self, name: str, shape: tuple[int, ...], std: float, mean: float = 0.0) -> str:
        """A learned parameter: normal ``(mean, std)`` values, or shape only without ``weights``."""
        if not self.weights:
            tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
        else:
            values = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std) + np.float32(mean)
            tensor = numpy_helper.from_array(values, name)
        self.initializers.append(tensor)
        return name

    @staticmethod
    def fan_in_std(fan_in: int) -> float:
        """He-style scale ``1/sqrt(fan_in)``, so that random activations stay finite through deep nets."""
        return 1.0 / math.sqrt(max(fan_in, 1))

    def buffer(self, name: str, shape: tuple[int, ...], value: float) -> str:
        """A non-learned initializer filled with ``value`` (BatchNorm running statistics)."""
        self.initializers.append(numpy_helper.from_array(np.full(shape, value, dtype=np.float32), name))
        return name

    def const(self, name: str, values) -> str:
        """A structural constant (shape, axis, scalar) as a ``Constant`` node."""
        array = np.asarray(values)
        array = array.astype(np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32)
        return self.op("Constant", [], name, value=numpy_helper.from_array(array, name))

    def filled(self, name: str, shape: tuple[int, ...], value: float) -> str:
        """A floating-point ``Constant`` of ``shape`` filled with ``value`` (ones, zeros)."""
        return self.const(name, np.full(shape, value, dtype=np.float32))

    def reshape(self, x: str, shape: tuple[int, ...], output: str) -> str:
        """Reshape keeping the batch (``0`` copies it) to the per-sample ``shape``."""
        return self.op("Reshape", [x, self.const(f"{output}/shape", [0, *shape])], output)

    def batch_shape(self, x: str, rest: tuple[int, ...], output: str) -> str:
        """The 1-D shape ``(batch of x, *rest)``, for Expand over a possibly symbolic batch."""
        batch = self.op("Shape", [x], f"{output}/batch", start=0, end=1)
        return self.op("Concat", [batch, self.const(f"{output}/rest", list(rest))], output, axis=0)

    @staticmethod
    def axis(dim: int) -> int:
        """A per-sample dimension as an axis of the batched tensor (negative axes are unchanged)."""
        return dim if dim < 0 else dim + 1


def _check_options(batch: int | None, opset: int) -> None:
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise SimulatorError(f"batch must be a positive integer or None (symbolic), got {batch!r}")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise SimulatorError(f"opset must be an integer from {MIN_OPSET} to {newest} (this onnx's newest), "
                             f"got {opset!r}")


def to_onnx(network: Network, batch: int | None = 1, opset: int = MIN_OPSET, seed: int = 0,
            weights: bool = True) -> onnx.ModelProto:
    """``network`` as an in-memory ONNX model with batch ``batch`` (None: a symbolic ``batch``).

    Weights are seeded normal values scaled by ``1/sqrt(fan_in)``; ``weights=False`` writes the
    parameter initializers with their shapes only, a model for analysis tools (and
    :func:`simulator.onnx.reader.import_onnx`) that ONNX Runtime cannot run.
    """
    _check_options(batch, opset)
    g = OnnxGraph(batch, seed, weights, opset)
    g.network_nodes = network.nodes
    for node in network.nodes:
        try:
            write = ONNX_WRITERS[type(node.layer)]
        except KeyError:
            raise SimulatorError(f"layer {node.name!r}: no ONNX mapping for layer kind "
                                 f"{type(node.layer).__name__} (available: "
                                 f"{', '.join(sorted(k.__name__ for k in ONNX_WRITERS))})") from None
        write(g, node)
    dtype = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(INPUT, dtype, [g.batch_dim, *network.input_shape])]
    inputs += [helper.make_tensor_value_info(name, elem_type, [g.batch_dim, *shape])
               for name, shape, elem_type in g.extra_inputs]
    graph = helper.make_graph(
        g.nodes, network.name,
        inputs,
        [helper.make_tensor_value_info(t, dtype, [g.batch_dim, *network.shape_of(t)])
         for t in network.outputs],
        g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="roofline-simulator",
                             ir_version=helper.find_min_ir_version_for(opsets))


def export_onnx(network: Network, path: str | Path, batch: int | None = 1, opset: int = MIN_OPSET,
                seed: int = 0, weights: bool = True) -> Path:
    """Writes :func:`to_onnx` of ``network`` to ``path`` and returns the path.

    Models whose weights exceed protobuf's 2 GiB limit keep them in ``<path>.data`` beside it.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise SimulatorError(f"cannot write {str(path)!r}: directory {str(path.parent)!r} does not exist")
    model = to_onnx(network, batch, opset, seed, weights)
    large = sum(len(t.raw_data) for t in model.graph.initializer) > MAX_INLINE_BYTES
    onnx.save_model(model, str(path), save_as_external_data=large, location=f"{path.name}.data")
    return path
