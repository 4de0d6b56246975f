"""Writing a network as a runnable ONNX model with random weights of the right shapes.

:func:`to_onnx` builds the model in memory and :func:`export_onnx` writes it. Every layer kind
maps to standard ONNX operators that ONNX Runtime runs, named after the layer: a layer's output
tensor carries the layer's name, its parameters are initializers ``<layer>.weight`` and
``<layer>.bias`` (plus BatchNorm's running statistics), and the initializers hold exactly the
layer's parameters, so that :func:`simulator.onnx.reader.import_onnx` gives back the same parameter
and MAC counts. Structural constants (shapes, axes, scalars) are ``Constant`` nodes.

==========================  =============================================================
layer kind                  ONNX operators
==========================  =============================================================
Linear                      ``Gemm`` (transB) on ``(N, C)``; ``MatMul`` + ``Add`` on higher ranks
Conv                        ``Conv`` (groups, dilations, pads, strides)
Pool                        ``MaxPool`` / ``AveragePool`` (ceil_mode; avg dilation needs opset 19)
AdaptivePool                ``GlobalAveragePool`` / ``GlobalMaxPool`` for output 1, else a pool
                            with kernel = stride = input / output (an error when not divisible)
BatchNorm                   ``BatchNormalization`` (running mean 0, variance 1)
LayerNorm                   ``LayerNormalization``
GroupNorm                   ``GroupNormalization`` (opset >= 21, per-channel affine), else
                            ``Reshape`` + ``InstanceNormalization`` + ``Reshape`` + ``Mul`` + ``Add``
Activation                  ``Relu``, ``Clip(0, 6)``, ``Gelu`` (opset >= 20) or its erf form,
                            ``Sigmoid`` + ``Mul`` (SiLU), ``HardSwish``, ``Sigmoid``, ``Tanh``
Softmax, MatMul, Concat     ``Softmax``, ``MatMul``, ``Concat``
Add, Mul                    ``Add`` / ``Sum`` (three or more operands), ``Mul`` (chained)
Flatten, Reshape, Permute   ``Flatten`` (everything after the batch) or ``Reshape``, ``Transpose``
MultiheadSelfAttention      Q, K, V projections (``MatMul`` + ``Add``), ``Reshape``/``Transpose`` to
                            heads, ``MatMul`` Q·K^T, ``Mul`` by 1/sqrt(d), ``Softmax``, ``MatMul`` A·V,
                            ``Transpose``/``Reshape``, output projection
ClassToken                  ``Expand`` of the token over the batch + ``Concat`` on the token axis
PositionalEmbedding         ``Add`` of the embedding
SelectToken                 ``Gather`` on the token axis
==========================  =============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simulator.errors import SimulatorError
from simulator.model.graph import INPUT, Network, Node
from simulator.model.layers import (
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
    Softmax,
)

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ModuleNotFoundError as error:  # an optional extra
    raise SimulatorError("ONNX export needs the optional 'onnx' package: "
                         "pip install 'roofline-simulator[onnx]'") from error

#: the oldest opset with LayerNormalization; Gelu and per-channel GroupNormalization come later
MIN_OPSET = 17
GELU_OPSET = 20
GROUP_NORM_OPSET = 21
AVG_POOL_DILATION_OPSET = 19
NORM_EPSILON = 1e-5
#: protobuf cannot serialize a model over 2 GiB: larger weights go to an external data file
MAX_INLINE_BYTES = 1_800_000_000
SYMBOLIC_BATCH = "batch"


class _Graph:
    """The ONNX nodes and initializers of a network being written, with its random weights."""

    def __init__(self, batch: int | None, seed: int, weights: bool):
        self.batch_dim: int | str = SYMBOLIC_BATCH if batch is None else batch
        self.rng = np.random.default_rng(seed)
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []

    def op(self, op_type: str, inputs: list[str], output: str, **attributes) -> str:
        """Appends one node named after its output tensor and returns that tensor's name."""
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output

    def param(self, name: str, shape: tuple[int, ...], std: float, mean: float = 0.0) -> str:
        """A learned parameter: normal ``(mean, std)`` values, or shape only without ``weights``."""
        if not self.weights:
            tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
        else:
            values = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std) + np.float32(mean)
            tensor = numpy_helper.from_array(values, name)
        self.initializers.append(tensor)
        return name

    def buffer(self, name: str, values: np.ndarray) -> str:
        """A non-learned initializer (BatchNorm running statistics)."""
        self.initializers.append(numpy_helper.from_array(values.astype(np.float32), name))
        return name

    def const(self, name: str, values) -> str:
        """A structural constant (shape, axis, scalar) as a ``Constant`` node."""
        array = np.asarray(values)
        array = array.astype(np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32)
        return self.op("Constant", [], name, value=numpy_helper.from_array(array, name))

    def reshape(self, x: str, shape: tuple[int, ...], output: str) -> str:
        """Reshape keeping the batch (``0`` copies it) to the per-sample ``shape``."""
        return self.op("Reshape", [x, self.const(f"{output}/shape", [0, *shape])], output)

    def batch_shape(self, x: str, rest: tuple[int, ...], output: str) -> str:
        """The 1-D shape ``(batch of x, *rest)``, for Expand over a possibly symbolic batch."""
        batch = self.op("Shape", [x], f"{output}/batch", start=0, end=1)
        return self.op("Concat", [batch, self.const(f"{output}/rest", list(rest))], output, axis=0)


Emitter = Callable[[_Graph, Node, int], None]
EMITTERS: dict[type[Layer], Emitter] = {}


def _emits(kind: type[Layer]) -> Callable[[Emitter], Emitter]:
    def register(function: Emitter) -> Emitter:
        EMITTERS[kind] = function
        return function
    return register


def _fan_in_std(fan_in: int) -> float:
    """He-style scale ``1/sqrt(fan_in)``, so that random activations stay finite through deep nets."""
    return 1.0 / math.sqrt(max(fan_in, 1))


def _axis(dim: int) -> int:
    """A per-sample dimension as an axis of the batched tensor (negative axes are unchanged)."""
    return dim if dim < 0 else dim + 1


@_emits(Linear)
def _linear(g: _Graph, node: Node, opset: int) -> None:
    (x,), (shape,), name = node.inputs, node.input_shapes, node.name
    c_in, c_out = shape[-1], node.layer.out_features
    std = _fan_in_std(c_in)
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


@_emits(Conv)
def _conv(g: _Graph, node: Node, opset: int) -> None:
    layer, name = node.layer, node.name
    c_in = node.input_shapes[0][0]
    weight_shape = (layer.out_channels, c_in // layer.groups, *layer.kernel_size)
    std = _fan_in_std(math.prod(weight_shape[1:]))
    inputs = [node.inputs[0], g.param(f"{name}.weight", weight_shape, std)]
    if layer.bias:
        inputs.append(g.param(f"{name}.bias", (layer.out_channels,), std))
    g.op("Conv", inputs, name, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
         pads=list(layer.padding) * 2, dilations=list(layer.dilation), group=layer.groups)


def _pool(g: _Graph, x: str, name: str, mode: str, kernel: tuple[int, ...], stride: tuple[int, ...],
          padding: tuple[int, ...], dilation: tuple[int, ...], ceil_mode: bool, opset: int) -> None:
    attributes = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2,
                      ceil_mode=int(ceil_mode))
    if mode == "max":
        g.op("MaxPool", [x], name, dilations=list(dilation), **attributes)
        return
    if any(d != 1 for d in dilation):
        if opset < AVG_POOL_DILATION_OPSET:
            raise SimulatorError(f"layer {name!r}: a dilated average pool needs opset >= "
                                 f"{AVG_POOL_DILATION_OPSET}, got opset {opset}")
        attributes["dilations"] = list(dilation)
    g.op("AveragePool", [x], name, count_include_pad=1, **attributes)


@_emits(Pool)
def _pool_layer(g: _Graph, node: Node, opset: int) -> None:
    layer = node.layer
    _pool(g, node.inputs[0], node.name, layer.mode, layer.kernel_size, layer.stride, layer.padding,
          layer.dilation, layer.ceil_mode, opset)


@_emits(AdaptivePool)
def _adaptive_pool(g: _Graph, node: Node, opset: int) -> None:
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
    _pool(g, node.inputs[0], name, layer.mode, kernel, kernel, (0,) * len(kernel), ones, False, opset)


def _affine_inputs(g: _Graph, name: str, shape: tuple[int, ...], affine: bool) -> list[str]:
    """Scale and bias: learned parameters, or constant ones and zeros without ``affine``."""
    if affine:
        return [g.param(f"{name}.weight", shape, 0.1, mean=1.0), g.param(f"{name}.bias", shape, 0.1)]
    return [g.const(f"{name}/ones", np.ones(shape)), g.const(f"{name}/zeros", np.zeros(shape))]


@_emits(BatchNorm)
def _batchnorm(g: _Graph, node: Node, opset: int) -> None:
    channels, name = node.layer.num_features, node.name
    inputs = [node.inputs[0], *_affine_inputs(g, name, (channels,), node.layer.affine),
              g.buffer(f"{name}.running_mean", np.zeros(channels)),
              g.buffer(f"{name}.running_var", np.ones(channels))]
    g.op("BatchNormalization", inputs, name, epsilon=NORM_EPSILON)


@_emits(LayerNorm)
def _layernorm(g: _Graph, node: Node, opset: int) -> None:
    layer = node.layer
    inputs = [node.inputs[0], *_affine_inputs(g, node.name, layer.normalized_shape, layer.affine)]
    g.op("LayerNormalization", inputs, node.name, axis=-len(layer.normalized_shape), epsilon=NORM_EPSILON)


@_emits(GroupNorm)
def _groupnorm(g: _Graph, node: Node, opset: int) -> None:
    layer, name, (x,), (shape,) = node.layer, node.name, node.inputs, node.input_shapes
    if opset >= GROUP_NORM_OPSET:
        inputs = [x, *_affine_inputs(g, name, (layer.num_channels,), layer.affine)]
        g.op("GroupNormalization", inputs, name, num_groups=layer.num_groups, epsilon=NORM_EPSILON)
        return
    # GroupNormalization before opset 21 has a per-group affine, unlike PyTorch's: decompose
    groups = g.reshape(x, (layer.num_groups, -1), f"{name}/groups")
    ones = np.ones(layer.num_groups)
    normalized = g.op("InstanceNormalization",
                      [groups, g.const(f"{name}/ones", ones), g.const(f"{name}/zeros", 0 * ones)],
                      f"{name}/normalized", epsilon=NORM_EPSILON)
    if not layer.affine:
        g.reshape(normalized, shape, name)
        return
    restored = g.reshape(normalized, shape, f"{name}/restored")
    per_channel = (layer.num_channels,) + (1,) * (len(shape) - 1)
    scaled = g.op("Mul", [restored, g.param(f"{name}.weight", per_channel, 0.1, mean=1.0)], f"{name}/scaled")
    g.op("Add", [scaled, g.param(f"{name}.bias", per_channel, 0.1)], name)


@_emits(Activation)
def _activation(g: _Graph, node: Node, opset: int) -> None:
    (x,), name, function = node.inputs, node.name, node.layer.function
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish"}
    if function in simple:
        g.op(simple[function], [x], name)
    elif function == "relu6":
        g.op("Clip", [x, g.const(f"{name}/min", 0.0), g.const(f"{name}/max", 6.0)], name)
    elif function == "silu":
        g.op("Mul", [x, g.op("Sigmoid", [x], f"{name}/sigmoid")], name)
    elif function == "gelu" and opset >= GELU_OPSET:
        g.op("Gelu", [x], name)
    elif function == "gelu":  # 0.5·x·(1 + erf(x/√2)), as torch.onnx writes it
        scaled = g.op("Div", [x, g.const(f"{name}/sqrt2", math.sqrt(2.0))], f"{name}/div")
        erf = g.op("Erf", [scaled], f"{name}/erf")
        shifted = g.op("Add", [erf, g.const(f"{name}/one", 1.0)], f"{name}/add")
        product = g.op("Mul", [x, shifted], f"{name}/mul")
        g.op("Mul", [product, g.const(f"{name}/half", 0.5)], name)
    else:
        raise SimulatorError(f"layer {name!r}: no ONNX mapping for activation {function!r}")


@_emits(Softmax)
def _softmax(g: _Graph, node: Node, opset: int) -> None:
    g.op("Softmax", list(node.inputs), node.name, axis=_axis(node.layer.dim))


@_emits(Add)
def _add(g: _Graph, node: Node, opset: int) -> None:
    g.op("Add" if len(node.inputs) == 2 else "Sum", list(node.inputs), node.name)


@_emits(Mul)
def _mul(g: _Graph, node: Node, opset: int) -> None:
    product = node.inputs[0]
    for i, other in enumerate(node.inputs[1:], start=2):
        product = g.op("Mul", [product, other], node.name if i == len(node.inputs) else f"{node.name}/{i}")


@_emits(Flatten)
def _flatten(g: _Graph, node: Node, opset: int) -> None:
    rank = len(node.input_shapes[0])
    if node.layer.start_dim % rank == 0 and node.layer.end_dim % rank == rank - 1:
        g.op("Flatten", [node.inputs[0]], node.name, axis=1)
    else:
        g.reshape(node.inputs[0], node.output_shape, node.name)


@_emits(Reshape)
def _reshape(g: _Graph, node: Node, opset: int) -> None:
    g.reshape(node.inputs[0], node.output_shape, node.name)


@_emits(Permute)
def _permute(g: _Graph, node: Node, opset: int) -> None:
    g.op("Transpose", [node.inputs[0]], node.name, perm=[0, *(d + 1 for d in node.layer.dims)])


@_emits(Concat)
def _concat(g: _Graph, node: Node, opset: int) -> None:
    rank = len(node.input_shapes[0])
    g.op("Concat", list(node.inputs), node.name, axis=node.layer.dim % rank + 1)


@_emits(MatMul)
def _matmul(g: _Graph, node: Node, opset: int) -> None:
    g.op("MatMul", list(node.inputs), node.name)


@_emits(MultiheadSelfAttention)
def _attention(g: _Graph, node: Node, opset: int) -> None:
    """``softmax(Q K^T / sqrt(d)) V`` per head, with Q, K, V and output projections (with biases)."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    tokens, embed = node.input_shapes[0]
    heads = layer.num_heads
    head_dim = embed // heads
    std = _fan_in_std(embed)

    def projection(part: str, source: str, output: str) -> str:
        product = g.op("MatMul", [source, g.param(f"{name}.{part}.weight", (embed, embed), std)],
                       f"{output}/matmul" if layer.bias else output)
        if not layer.bias:
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


@_emits(ClassToken)
def _class_token(g: _Graph, node: Node, opset: int) -> None:
    (x,), name, embed = node.inputs, node.name, node.layer.embed_dim
    token = g.param(f"{name}.weight", (1, 1, embed), 0.02)
    expanded = g.op("Expand", [token, g.batch_shape(x, (1, embed), f"{name}/shape")], f"{name}/expanded")
    g.op("Concat", [expanded, x], name, axis=1)


@_emits(PositionalEmbedding)
def _positional(g: _Graph, node: Node, opset: int) -> None:
    layer = node.layer
    g.op("Add", [node.inputs[0], g.param(f"{node.name}.weight", (1, layer.seq_len, layer.embed_dim), 0.02)],
         node.name)


@_emits(SelectToken)
def _select_token(g: _Graph, node: Node, opset: int) -> None:
    index = g.const(f"{node.name}/index", node.layer.index)
    g.op("Gather", [node.inputs[0], index], node.name, axis=1)


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
    g = _Graph(batch, seed, weights)
    for node in network.nodes:
        try:
            emit = EMITTERS[type(node.layer)]
        except KeyError:
            raise SimulatorError(f"layer {node.name!r}: no ONNX mapping for layer kind "
                                 f"{type(node.layer).__name__} (available: "
                                 f"{', '.join(sorted(k.__name__ for k in EMITTERS))})") from None
        emit(g, node, opset)
    dtype = TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes, network.name,
        [helper.make_tensor_value_info(INPUT, dtype, [g.batch_dim, *network.input_shape])],
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
