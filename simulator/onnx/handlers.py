"""How each ONNX operator becomes a layer: the handlers of :class:`simulator.onnx.reader.Translator`.

Each handler maps one node onto the translator's network builder. Parameters follow from the
mapped layers' formulas (initializer shapes); a learned floating-point constant operand of a
GenericOp (a scale, a bias, an embedding table; not a scalar) counts as its parameters.

======================  ===================================================================
ONNX operator           layer
======================  ===================================================================
Conv                    Conv (1-D/2-D; asymmetric or ``SAME`` padding: an explicit Pad
                        (data movement) and an unpadded Conv, so MACs stay exact)
Gemm, MatMul(x, W)      Linear (``transB``; a following ``Add`` of a bias constant folds in)
MatMul(x, y)            MatMul (two activations: attention's ``Q·K^T`` and ``A·V``)
BatchNormalization      BatchNorm
LayerNormalization      LayerNorm (and the ReduceMean/Sub/Pow/Sqrt/Div pattern)
GroupNormalization      GroupNorm; InstanceNormalization: GroupNorm with one channel per group
Relu, Sigmoid, Tanh,    Activation (relu, sigmoid, tanh, hardswish, gelu; Clip(0, 6) is relu6,
HardSwish, Gelu, Clip   Mul(x, Sigmoid(x)) silu, the Erf form of GELU gelu)
Max/AveragePool         Pool (explicit Pad when asymmetric); GlobalAverage/MaxPool: AdaptivePool
Softmax, LogSoftmax     Softmax
Add/Sum, Mul            Add, Mul (two activations); with a constant: PositionalEmbedding when
                        the constant is a learned ``(L, E)`` table, else GenericOp
Concat                  Concat; with one learned token: ClassToken
Gather (scalar index)   SelectToken on the first per-sample axis (``x[:, 0]``), else GenericOp
Reshape, Flatten,       Reshape/Flatten/Permute views (none when the per-sample shape is unchanged)
Squeeze, Unsqueeze,
Transpose
Identity, Dropout,      no node: the output is the input (Q/DQ: precision is the simulation's)
Cast, (De)QuantizeLinear
element-wise math       GenericOp, :data:`ELEMENTWISE_OPS` operations per element
data movement           GenericOp with no arithmetic (:data:`DATA_MOVEMENT_OPS`)
anything else           Unsupported: zero cost, listed by
                        :func:`simulator.onnx.reader.unsupported_operators` and warned about
                        (:class:`~simulator.onnx.reader.UnsupportedOperatorWarning`), never silent
======================  ===================================================================

Nodes whose outputs are all constant (``Constant``, ``Shape``, ``Gather`` on shapes, ...) are
plumbing: folded, no layer. Nothing runs in place (ONNX tensors are single-assignment). Conv and
pools over three spatial dimensions, ConvTranspose, Einsum, recurrent and control-flow operators
and other domains' operators (``com.microsoft``, custom) are Unsupported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import onnx

from simulator.model.layers import (
    Activation,
    AdaptivePool,
    Add,
    BatchNorm,
    ClassToken,
    Concat,
    Conv,
    Flatten,
    GenericOp,
    GroupNorm,
    Layer,
    LayerNorm,
    Linear,
    MatMul,
    Mul,
    Permute,
    Pool,
    PositionalEmbedding,
    SelectToken,
    Shape,
    Softmax,
    Unsupported,
)
from simulator.onnx.shapes import attribute

if TYPE_CHECKING:
    from simulator.onnx.reader import Translator

#: operators without a layer kind, with their operations per element (a transcendental is one)
ELEMENTWISE_OPS: dict[str, int] = {
    **dict.fromkeys(("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Sqrt", "Exp", "Log", "Erf",
                     "Neg", "Abs", "Reciprocal", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign", "Equal",
                     "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Where",
                     "ThresholdedRelu", "CumSum", "ArgMax", "ArgMin", "TopK"), 1),
    # reductions: one operation per input element
    **dict.fromkeys(("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                     "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum"), 1),
    "Clip": 2,          # min and max
    "LeakyRelu": 2,     # compare, multiply
    "PRelu": 2,         # compare, multiply by the learned slope
    "Elu": 3,           # exp, subtract, multiply
    "Softplus": 3,      # exp, add, log
    "Softsign": 3,      # abs, add, divide
    "HardSigmoid": 3,   # multiply-add, clip
    "Selu": 4,          # Elu and a scale
    "Celu": 4,
    "Mish": 5,          # x · tanh(softplus(x))
    "LpNormalization": 3,
    "MeanVarianceNormalization": 5,
    "LRN": 5,           # square, window sum, scale, power, divide
}
#: operators that only move data: no arithmetic (the time model still counts their bytes)
DATA_MOVEMENT_OPS = frozenset((
    "Slice", "Gather", "GatherElements", "GatherND", "Pad", "Tile", "Expand", "Split", "Concat",
    "DepthToSpace", "SpaceToDepth", "ScatterND", "ScatterElements", "Compress", "NonZero", "OneHot",
    "Trilu", "ReverseSequence", "Upsample",
))
#: operators whose output is their input for counting purposes
PASS_THROUGH_OPS = frozenset(("Identity", "Dropout", "Cast", "CastLike", "QuantizeLinear",
                              "DequantizeLinear"))
VIEW_OPS = frozenset(("Reshape", "Flatten", "Squeeze", "Unsqueeze"))


def param_name(tensor: str) -> str | None:
    """``layer1.0.conv1`` from ``layer1.0.conv1.weight``; None for generated names (``onnx::MatMul_7``)."""
    for suffix in (".weight", ".bias", "_weight", "_bias"):
        if tensor.endswith(suffix) and "::" not in tensor:
            return tensor[: -len(suffix)]
    return None


Handler = Callable[["Translator", onnx.NodeProto], None]


def _generic(t: Translator, node: onnx.NodeProto, ops_per_element: int,
             kind: Callable[..., Layer] | None = None) -> None:
    """One GenericOp (or Unsupported) per used output, reading the node's activation inputs."""
    acts = t.acts(node)
    params = sum(t.param_size(name) for name in node.input if name and t.is_const(name))
    for k, out in enumerate(node.output):
        if not out or t.is_const(out) or (k and not t.g.readers.get(out) and out not in t.g.outputs):
            continue
        if kind is None:
            layer = GenericOp(node.op_type, t.sample(out).shape, len(acts), ops_per_element,
                              0 if k else params)
        else:
            layer = kind(node.op_type, t.sample(out).shape, len(acts), node.name or node.output[0])
        t.add(layer, acts, out)


def unsupported(t: Translator, node: onnx.NodeProto) -> None:
    _generic(t, node, 0, Unsupported)


def _elementwise(t: Translator, node: onnx.NodeProto) -> None:
    _generic(t, node, ELEMENTWISE_OPS[node.op_type])


def _data_movement(t: Translator, node: onnx.NodeProto) -> None:
    _generic(t, node, 0)


def _pass_through(t: Translator, node: onnx.NodeProto) -> None:
    t.alias(node.output[0], t.acts(node)[0])


def _views(t: Translator, node: onnx.NodeProto) -> None:
    x, out = t.acts(node)[0], node.output[0]
    flat = t.sample(out).shape == (math.prod(t.sample(x).shape),) and t.sample(x).dropped
    t.view(x, out, Flatten() if node.op_type == "Flatten" and flat else None)


def _transpose(t: Translator, node: onnx.NodeProto) -> None:
    x, out = node.input[0], node.output[0]
    rank = len(t.full(x))
    perm = attribute(node, "perm") or list(reversed(range(rank)))
    source, target = t.sample(x), t.sample(out)
    skip = target.batch_axis if target.dropped else None
    dims = [source.axis(p, rank) for j, p in enumerate(perm) if j != skip]
    if None in dims or sorted(dims) != list(range(len(source.shape))) or (
            tuple(source.shape[d] for d in dims) != target.shape):
        t.view(x, out)  # the batch moves: same elements, a view in our memory model
    elif dims == sorted(dims):
        t.alias(out, x)
    else:
        t.add(Permute(tuple(dims)), [x], out)


def _activation(function: str) -> Handler:
    return lambda t, node: t.add(Activation(function), t.acts(node)[:1], node.output[0])


def _clip(t: Translator, node: onnx.NodeProto) -> None:
    if len(node.input) > 1:
        low, high = (t.value(node.input[k]) if len(node.input) > k else None for k in (1, 2))
    else:
        low, high = attribute(node, "min"), attribute(node, "max")
    if len(t.acts(node)) == 1 and low == 0 and high in (6, None):
        t.add(Activation("relu6" if high == 6 else "relu"), t.acts(node), node.output[0])
    else:
        _elementwise(t, node)


def _pads(t: Translator, node: onnx.NodeProto, x: str, kernel: Shape, stride: Shape,
          dilation: Shape) -> tuple[Shape, Shape]:
    """Begin and end padding per spatial dimension (``auto_pad`` resolved as ONNX defines it)."""
    dims = len(kernel)
    auto = attribute(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        sizes = t.full(x)[2:]
        total = [max((-(-s // st) - 1) * st + (k - 1) * d + 1 - s, 0)
                 for s, k, st, d in zip(sizes, kernel, stride, dilation, strict=True)]
        small, large = tuple(p // 2 for p in total), tuple(p - p // 2 for p in total)
        return (small, large) if auto == "SAME_UPPER" else (large, small)
    if auto == "VALID":
        return (0,) * dims, (0,) * dims
    pads = tuple(attribute(node, "pads", [0] * 2 * dims))
    return pads[:dims], pads[dims:]


def _window(t: Translator, node: onnx.NodeProto, x: str, kernel: Shape):
    dims = len(kernel)
    stride = tuple(attribute(node, "strides", [1] * dims))
    dilation = tuple(attribute(node, "dilations", [1] * dims))
    begin, end = _pads(t, node, x, kernel, stride, dilation)
    return stride, dilation, begin, end


def _conv(t: Translator, node: onnx.NodeProto) -> None:
    x, weight = node.input[0], node.input[1]
    if t.is_const(x) or not t.is_const(weight) or len(t.full(weight)) not in (3, 4):
        unsupported(t, node)  # dynamic weights or 3-D convolution
        return
    shape = t.full(weight)
    kernel = tuple(attribute(node, "kernel_shape", shape[2:]))
    stride, dilation, begin, end = _window(t, node, x, kernel)
    if begin != end:
        x, begin = t.pad(x, begin, end), (0,) * len(kernel)
    bias = len(node.input) > 2 and bool(node.input[2])
    layer = Conv(shape[0], kernel, stride, begin, dilation, attribute(node, "group", 1), bias)
    t.add(layer, [x], node.output[0], param_name(weight))


def _pool(t: Translator, node: onnx.NodeProto) -> None:
    x = node.input[0]
    kernel = tuple(attribute(node, "kernel_shape"))
    if len(kernel) not in (1, 2):
        unsupported(t, node)
        return
    stride, dilation, begin, end = _window(t, node, x, kernel)
    if begin != end or any(p > k // 2 for p, k in zip(begin, kernel, strict=True)):
        x, begin = t.pad(x, begin, end), (0,) * len(kernel)
    mode = "max" if node.op_type == "MaxPool" else "avg"
    ceil_mode = bool(attribute(node, "ceil_mode", 0))
    t.add(Pool(mode, kernel, stride, begin, dilation, ceil_mode), [x], node.output[0])


def _global_pool(t: Translator, node: onnx.NodeProto) -> None:
    spatial = len(t.full(node.input[0])) - 2
    mode = "max" if node.op_type == "GlobalMaxPool" else "avg"
    t.add(AdaptivePool(mode, (1,) * spatial), [node.input[0]], node.output[0])


def _gemm(t: Translator, node: onnx.NodeProto) -> None:
    a, b = node.input[0], node.input[1]
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if t.is_const(a) or not t.is_const(b) or attribute(node, "transA", 0) or (bias and not t.is_const(bias)):
        unsupported(t, node)
        return
    out_features = t.full(b)[0 if attribute(node, "transB", 0) else 1]
    hint = param_name(b) or (param_name(bias) if bias else None)
    t.add(Linear(out_features, bias=bias is not None), [a], node.output[0], hint)


def _matmul(t: Translator, node: onnx.NodeProto) -> None:
    a, b = node.input
    if not t.is_const(a) and not t.is_const(b):
        t.add(MatMul(), [a, b], node.output[0])
    elif not t.is_const(a) and len(t.full(b)) == 2:
        t.add(Linear(t.full(b)[1], bias=False), [a], node.output[0], param_name(b))
    else:
        unsupported(t, node)  # a constant left operand or batched constant weights


def _add(t: Translator, node: onnx.NodeProto) -> None:
    acts = t.acts(node)
    if len(acts) >= 2:
        t.add(Add(), acts, node.output[0])
        return
    (x,), constants = acts, [name for name in node.input if name and t.is_const(name)]
    shape = t.sample(x).shape
    if (len(constants) == 1 and len(shape) == 2 and t.param_size(constants[0])
            and t.full(constants[0]) in ((1, *shape), shape)):
        t.add(PositionalEmbedding(*shape), [x], node.output[0], param_name(constants[0]) or constants[0])
    elif node.op_type == "Sum" and not constants:
        t.alias(node.output[0], x)
    else:
        _generic(t, node, 1)


def _mul(t: Translator, node: onnx.NodeProto) -> None:
    acts = t.acts(node)
    if len(acts) >= 2:
        t.add(Mul(), acts, node.output[0])
    else:
        _elementwise(t, node)


def _concat(t: Translator, node: onnx.NodeProto) -> None:
    acts, out = t.acts(node), node.output[0]
    constants = [name for name in node.input if name and t.is_const(name)]
    axis = t.sample(acts[0]).axis(attribute(node, "axis"), len(t.full(out)))
    shape = t.sample(out).shape
    if axis is None:
        unsupported(t, node)  # concatenating samples
    elif not constants and len(acts) == 1:
        t.alias(out, acts[0])
    elif not constants:
        t.add(Concat(axis), acts, out)
    elif len(acts) == 1 and len(constants) == 1 and len(shape) == 2 and axis == 0 and (
            constants[0] in t.facts.learned and t.full(constants[0])[attribute(node, "axis")] == 1):
        t.add(ClassToken(shape[1]), acts, out)
    else:
        _data_movement(t, node)


def _gather(t: Translator, node: onnx.NodeProto) -> None:
    data, indices = node.input[0], node.input[1]
    index = t.facts.value(indices) if t.is_const(indices) and not t.is_const(data) else None
    if index is not None and index.ndim == 0:
        source = t.sample(data)
        if source.axis(attribute(node, "axis", 0), len(t.full(data))) == 0 and len(source.shape) >= 2:
            t.add(SelectToken(int(index)), [data], node.output[0])
            return
    _data_movement(t, node)


def _normalization(t: Translator, node: onnx.NodeProto) -> None:
    x, scale = node.input[0], node.input[1]
    affine = scale in t.facts.learned
    channels = t.full(x)[1] if len(t.full(x)) > 1 else 0
    if node.op_type == "BatchNormalization":
        layer: Layer = BatchNorm(channels, affine)
    elif node.op_type == "LayerNormalization":
        axis = attribute(node, "axis", -1) % len(t.full(x))
        layer = LayerNorm(tuple(t.full(x)[axis:]), affine)
    elif node.op_type == "GroupNormalization":
        layer = GroupNorm(attribute(node, "num_groups"), channels, affine)
    else:  # InstanceNormalization: one channel per group
        layer = GroupNorm(channels, channels, affine)
    t.add(layer, [x], node.output[0], param_name(scale))


def _softmax(t: Translator, node: onnx.NodeProto) -> None:
    x = node.input[0]
    default = -1 if t.opset >= 13 else 1
    dim = t.sample(x).axis(attribute(node, "axis", default), len(t.full(x)))
    if dim is None:
        unsupported(t, node)  # softmax across samples
    else:
        t.add(Softmax(dim), [x], node.output[0])


def _resize(t: Translator, node: onnx.NodeProto) -> None:
    mode = attribute(node, "mode", b"nearest")
    # nearest: a copy; (bi)linear and cubic: about three lerps of two operations per output
    _generic(t, node, 0 if mode in (b"nearest", "nearest") else 6)


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(ELEMENTWISE_OPS, _elementwise),
    **dict.fromkeys(DATA_MOVEMENT_OPS, _data_movement),
    **dict.fromkeys(PASS_THROUGH_OPS, _pass_through),
    **dict.fromkeys(VIEW_OPS, _views),
    **dict.fromkeys(("BatchNormalization", "LayerNormalization", "GroupNormalization",
                     "InstanceNormalization"), _normalization),
    **dict.fromkeys(("MaxPool", "AveragePool"), _pool),
    **dict.fromkeys(("GlobalAveragePool", "GlobalMaxPool"), _global_pool),
    **dict.fromkeys(("Softmax", "LogSoftmax"), _softmax),
    "Relu": _activation("relu"), "Sigmoid": _activation("sigmoid"), "Tanh": _activation("tanh"),
    "HardSwish": _activation("hardswish"), "Gelu": _activation("gelu"), "Clip": _clip,
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "Add": _add, "Sum": _add, "Mul": _mul,
    "Concat": _concat, "Gather": _gather, "Transpose": _transpose, "Resize": _resize,
}
