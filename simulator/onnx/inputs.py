"""The graph inputs of an ONNX model, for :func:`simulator.onnx.reader.import_onnx`.

The first graph input that is not an initializer is the network input; its first dimension is the
batch (symbolic or fixed) and every other dimension must be fixed. Any later ones (a diffusion UNet's
text states, an embedding bag's indices: :meth:`simulator.onnx.writer.OnnxGraph.graph_input`) are
conditioning inputs beside it, with the same batch, which the reader makes
:class:`~simulator.model.layers.ConditioningInput` layers.
"""

from __future__ import annotations

import onnx

from simulator.errors import SimulatorError
from simulator.model.layers import Shape


def _real_inputs(model: onnx.ModelProto, name: str) -> list[onnx.ValueInfoProto]:
    """The graph inputs that are not initializers: at least one."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    if not inputs:
        raise SimulatorError(f"ONNX model {name!r} has no inputs; the simulator takes one network input "
                             f"(and any conditioning inputs after it)")
    return inputs


def network_input(model: onnx.ModelProto, name: str) -> tuple[onnx.ValueInfoProto, bool, Shape]:
    """The network input (the first real graph input), whether its batch is symbolic, and its other
    dimensions."""
    return _input_dims(_real_inputs(model, name)[0], name)


def conditioning_inputs(model: onnx.ModelProto, name: str, symbolic: bool,
                        model_batch: int) -> list[tuple[onnx.ValueInfoProto, Shape]]:
    """The graph inputs after the first (a diffusion UNet's text states, a bag's indices), each a
    per-sample tensor beside the network input with its per-sample dimensions: its batch must be the
    network input's (symbolic with it, or the same fixed size)."""
    extras = []
    for value in _real_inputs(model, name)[1:]:
        _, extra_symbolic, rest = _input_dims(value, name)
        extra_batch = value.type.tensor_type.shape.dim[0].dim_value
        if extra_symbolic != symbolic or (not symbolic and extra_batch != model_batch):
            theirs = "symbolic" if extra_symbolic else extra_batch
            ours = "symbolic" if symbolic else model_batch
            raise SimulatorError(f"ONNX model {name!r}: input {value.name!r} has batch {theirs}, the network "
                                 f"input {ours}; every input must share the batch")
        extras.append((value, rest))
    return extras


def _input_dims(value: onnx.ValueInfoProto, name: str) -> tuple[onnx.ValueInfoProto, bool, Shape]:
    """``value``, whether its batch (dimension 0) is symbolic, and its other dimensions: each fixed, at
    least 1."""
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape") or not tensor_type.shape.dim:
        raise SimulatorError(f"ONNX model {name!r}: input {value.name!r} has no shape")
    dims = tensor_type.shape.dim
    for axis, dim in enumerate(dims):
        if dim.HasField("dim_value") and dim.dim_value < 1:
            raise SimulatorError(f"ONNX model {name!r}: input {value.name!r} dimension {axis} has size "
                                 f"{dim.dim_value}; every dimension must be at least 1")
    for axis, dim in enumerate(dims[1:], start=1):
        if not dim.HasField("dim_value"):
            raise SimulatorError(
                f"ONNX model {name!r}: input {value.name!r} dimension {axis} is symbolic "
                f"({dim.dim_param or '?'!r}); only the batch (dimension 0) may be, export with fixed sizes")
    symbolic = not dims[0].HasField("dim_value") or dims[0].dim_value < 1
    return value, symbolic, tuple(d.dim_value for d in dims[1:])
