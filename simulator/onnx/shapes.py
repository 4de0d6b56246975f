"""Shapes of every tensor of an ONNX graph at a concrete batch, and their per-sample layouts.

Used by :mod:`simulator.onnx.reader`. :func:`propagate` walks the nodes in their (topological)
order with the graph input's batch set to a number:

* a node whose inputs are all constant (initializers, ``Constant`` nodes, or the ``Shape`` of a
  tensor whose shape is known) is *plumbing*: it is folded with NumPy when it is one of
  :data:`FOLDERS` and its operands are small, so shape computations (``Shape → Gather → Concat →
  Reshape``, as ``torch.onnx`` writes them for a dynamic batch) resolve to numbers;
* every other node gets its output shapes from ONNX's own per-operator shape inference
  (``onnx.shape_inference.infer_node_outputs``), fed with the constant operands' values;
* an operator ONNX has no schema for (a custom domain) or cannot infer passes its first
  input's shape through, and its outputs are marked ``guessed`` (except :data:`SAME_SHAPE_OPS`,
  normalizations whose output has the input's shape, some without ONNX shape inference).

Shapes here include the batch. :class:`Layouts` turns them into per-sample shapes: with a symbolic
batch the graph is propagated at two batch sizes ``b`` and ``b + 1`` and the one dimension that
changes, from ``b·k`` to ``(b+1)·k``, holds the batch (dropped when ``k = 1``, else divided: ``k`` is
e.g. the heads of an attention whose reshape merged batch and heads). A model with a fixed batch
``B`` is read by rule: the batch is dimension 0, dropped when it equals ``B``, else divided by ``B``
(with ``B = 1`` every element count is exact either way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from simulator.errors import ShapeError
from simulator.model.layers import Shape

#: constants larger than this (elements) are never converted to NumPy (weights are not needed)
VALUE_LIMIT = 1 << 16
#: a constant node is folded only if its result has at most this many elements
FOLD_LIMIT = 1 << 22
#: operators whose first output has their first input's shape (some lack ONNX shape inference)
SAME_SHAPE_OPS = frozenset(("GroupNormalization", "MeanVarianceNormalization", "LpNormalization",
                            "InstanceNormalization", "BatchNormalization", "LayerNormalization"))
FLOAT_TYPES = frozenset((TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE))
#: plumbing that keeps a learned initializer learned (a weight cast, transposed, or expanded over the batch)
KEEPS_LEARNED = {"Identity", "Cast", "Transpose", "Reshape", "Unsqueeze", "Squeeze", "DequantizeLinear",
                 "Expand", "Tile"}


def attribute(node: onnx.NodeProto, name: str, default=None):
    """The value of a node attribute (ints, floats, lists, tensors as protos), or ``default``."""
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


@dataclass
class GraphFacts:
    """What :func:`propagate` learned about every tensor of one graph at one batch size."""

    batch: int
    shapes: dict[str, Shape] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    #: tensors that do not depend on the graph input
    constants: set[str] = field(default_factory=set)
    #: initializers (parameters) and their aliases
    learned: set[str] = field(default_factory=set)
    #: shapes passed through from the first input because inference could not tell
    guessed: set[str] = field(default_factory=set)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    protos: dict[str, TensorProto] = field(default_factory=dict)

    def value(self, name: str) -> np.ndarray | None:
        """The value of a small constant, or None (unknown, large, or stored without data)."""
        if name in self.values:
            return self.values[name]
        proto = self.protos.get(name)
        if proto is None or math.prod(proto.dims) > VALUE_LIMIT:
            return None
        try:
            array = numpy_helper.to_array(proto)
        except Exception:  # a weight stored without data or as external data
            return None
        self.values[name] = array
        return array


def _unary(function):
    return lambda node, args: [function(args[0])]


def _int_aware_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)
    return a / b


def _axes(node: onnx.NodeProto, args: list, position: int) -> list[int] | None:
    """Axes given as an attribute (older opsets) or as the input at ``position``."""
    axes = attribute(node, "axes")
    if axes is None and len(args) > position and args[position] is not None:
        axes = args[position].tolist()
    return None if axes is None else list(axes)


def _unsqueeze(node, args):
    data = args[0]
    rank = data.ndim + len(_axes(node, args, 1))
    for axis in sorted(a % rank for a in _axes(node, args, 1)):
        data = np.expand_dims(data, axis)
    return [data]


def _squeeze(node, args):
    axes = _axes(node, args, 1)
    return [np.squeeze(args[0], axis=None if axes is None else tuple(axes))]


def _slice(node, args):
    if len(args) >= 3:
        starts, ends = args[1].tolist(), args[2].tolist()
        axes = args[3].tolist() if len(args) > 3 and args[3] is not None else list(range(len(starts)))
        steps = args[4].tolist() if len(args) > 4 and args[4] is not None else [1] * len(starts)
    else:
        starts, ends = attribute(node, "starts"), attribute(node, "ends")
        axes, steps = attribute(node, "axes", list(range(len(starts)))), [1] * len(starts)
    index = [slice(None)] * args[0].ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[axis] = slice(start, end, step)
    return [args[0][tuple(index)]]


def _reshape(node, args):
    data, shape = args[0], [int(d) for d in args[1]]
    if not attribute(node, "allowzero", 0):
        shape = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [data.reshape(shape)]


def _constant_of_shape(node, args):
    proto = attribute(node, "value")
    fill = numpy_helper.to_array(proto).reshape(-1)[0] if proto is not None else np.float32(0)
    return [np.full(tuple(int(d) for d in args[0]), fill)]


def _expand(node, args):
    return [np.broadcast_to(args[0], np.broadcast_shapes(args[0].shape, tuple(int(d) for d in args[1])))]


def _variadic(function):
    def fold(node, args):
        result = args[0]
        for other in args[1:]:
            result = function(result, other)
        return [result]
    return fold


#: NumPy evaluation of the plumbing operators that compute shapes and small constants
FOLDERS = {
    "Identity": _unary(lambda x: x),
    "Cast": lambda node, args: [args[0].astype(helper.tensor_dtype_to_np_dtype(attribute(node, "to")))],
    "Gather": lambda node, args: [np.take(args[0], args[1], axis=attribute(node, "axis", 0))],
    "Concat": lambda node, args: [np.concatenate(args, axis=attribute(node, "axis"))],
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Slice": _slice,
    "Reshape": _reshape,
    "Flatten": lambda node, args: [args[0].reshape(
        int(np.prod(args[0].shape[:attribute(node, "axis", 1)])), -1)],
    "Transpose": lambda node, args: [np.transpose(args[0], attribute(node, "perm"))],
    "ConstantOfShape": _constant_of_shape,
    "Expand": _expand,
    "Tile": lambda node, args: [np.tile(args[0], args[1].tolist())],
    "Range": lambda node, args: [np.arange(args[0], args[1], args[2]).astype(args[0].dtype)],
    "Where": lambda node, args: [np.where(*args)],
    "Add": _variadic(np.add), "Sub": lambda node, args: [args[0] - args[1]],
    "Mul": _variadic(np.multiply), "Div": lambda node, args: [_int_aware_div(args[0], args[1])],
    "Mod": lambda node, args: [(np.fmod if attribute(node, "fmod", 0) else np.mod)(args[0], args[1])],
    "Pow": lambda node, args: [np.power(args[0], args[1]).astype(args[0].dtype)],
    "Max": _variadic(np.maximum), "Min": _variadic(np.minimum), "Sum": _variadic(np.add),
    "Equal": lambda node, args: [np.equal(args[0], args[1])],
    "Less": lambda node, args: [np.less(args[0], args[1])],
    "Greater": lambda node, args: [np.greater(args[0], args[1])],
    "And": lambda node, args: [np.logical_and(args[0], args[1])],
    "Or": lambda node, args: [np.logical_or(args[0], args[1])],
    "Not": _unary(np.logical_not), "Neg": _unary(np.negative), "Abs": _unary(np.abs),
    "Sqrt": _unary(np.sqrt), "Reciprocal": _unary(np.reciprocal), "Exp": _unary(np.exp),
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil),
}


@cache
def _schema(op_type: str, domain: str, opset: int) -> onnx.defs.OpSchema | None:
    try:
        return onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if attr.name == "value":
            return numpy_helper.to_array(value)
        if attr.name in ("value_float", "value_floats"):
            return np.asarray(value, dtype=np.float32)
        if attr.name in ("value_int", "value_ints"):
            return np.asarray(value, dtype=np.int64)
    raise ShapeError(f"ONNX Constant node {node.name!r} has no value attribute this importer reads "
                     f"({[a.name for a in node.attribute]})")


class _Propagation:
    def __init__(self, facts: GraphFacts, opsets: dict[str, int], opset_protos):
        self.facts, self.opsets, self.opset_protos = facts, opsets, opset_protos

    def record(self, name: str, shape: Shape | None, elem_type: int, constant: bool) -> None:
        if not name:
            return
        if shape is not None:
            self.facts.shapes[name] = tuple(int(d) for d in shape)
        self.facts.types[name] = elem_type or TensorProto.FLOAT
        if constant:
            self.facts.constants.add(name)

    def fold(self, node: onnx.NodeProto) -> bool:
        """Evaluates an all-constant node with NumPy; False if it cannot (unknown op or values)."""
        facts = self.facts
        if node.op_type == "Constant":
            results = [_constant_node_value(node)]
        else:
            if node.op_type not in FOLDERS:
                return False
            args = [facts.value(name) if name else None for name in node.input]
            if any(arg is None for name, arg in zip(node.input, args, strict=True) if name):
                return False
            try:
                results = FOLDERS[node.op_type](node, args)
            except Exception:  # left to shape inference
                return False
        if any(np.asarray(r).size > FOLD_LIMIT for r in results):
            return False
        for name, result in zip(node.output, results, strict=False):
            array = np.asarray(result)
            facts.values[name] = array
            self.record(name, array.shape, helper.np_dtype_to_tensor_dtype(array.dtype), True)
        return True

    def infer(self, node: onnx.NodeProto) -> list[tuple[Shape | None, int]] | None:
        """Output shapes and element types by ONNX's per-operator shape inference, or None.

        Constant operands that shape inference may read (integer shapes, axes, pads; small float
        scales) are passed with their values.
        """
        facts = self.facts
        schema = _schema(node.op_type, node.domain or "", self.opsets.get(node.domain or "", 1))
        if schema is None:
            return None
        types, data = {}, {}
        for name in node.input:
            if not name:
                continue
            elem_type = facts.types.get(name, TensorProto.FLOAT)
            types[name] = helper.make_tensor_type_proto(elem_type, facts.shapes.get(name))
            size = math.prod(facts.shapes.get(name, (VALUE_LIMIT,)))
            if name not in facts.constants or size > (8 if elem_type in FLOAT_TYPES else VALUE_LIMIT):
                continue
            value = facts.value(name)
            if value is not None:
                data[name] = numpy_helper.from_array(np.asarray(value), name)
        try:
            inferred = onnx.shape_inference.infer_node_outputs(
                schema, node, types, input_data=data, opset_imports=self.opset_protos)
        except Exception:  # an operator ONNX cannot infer with what is known
            return None
        results = []
        for name in node.output:
            tensor_type = inferred[name].tensor_type if name in inferred else None
            shape = None
            if tensor_type is not None and tensor_type.HasField("shape"):
                dims = tensor_type.shape.dim
                if all(d.HasField("dim_value") for d in dims):
                    shape = tuple(d.dim_value for d in dims)
            results.append((shape, tensor_type.elem_type if tensor_type is not None else 0))
        return results

    def visit(self, node: onnx.NodeProto) -> None:
        facts = self.facts
        inputs = [name for name in node.input if name]
        constant = all(name in facts.constants for name in inputs)
        if constant and self.fold(node):
            if node.op_type in KEEPS_LEARNED and inputs and inputs[0] in facts.learned:
                facts.learned.update(node.output)
            return
        if node.op_type in ("Shape", "Size") and inputs[0] in facts.shapes:
            shape = facts.shapes[inputs[0]]
            if node.op_type == "Size":
                value = np.array(int(np.prod(shape)), dtype=np.int64)
            else:
                value = np.array(shape[attribute(node, "start", 0):attribute(node, "end", len(shape))],
                                 dtype=np.int64)
            facts.values[node.output[0]] = value
            self.record(node.output[0], value.shape, TensorProto.INT64, True)
            return
        inferred = self.infer(node) or [(None, 0)] * len(node.output)
        for name, (shape, elem_type) in zip(node.output, inferred, strict=True):
            if shape is None and inputs and inputs[0] in facts.shapes:
                shape = facts.shapes[inputs[0]]
                if node.op_type not in SAME_SHAPE_OPS or name != node.output[0]:
                    facts.guessed.add(name)
                elem_type = elem_type or facts.types.get(inputs[0], TensorProto.FLOAT)
            self.record(name, shape, elem_type, constant)
        if constant and node.op_type in KEEPS_LEARNED and inputs and inputs[0] in facts.learned:
            facts.learned.update(node.output)


def propagate(graph: onnx.GraphProto, opset_imports, input_name: str, input_shape: Shape,
              input_type: int, extra_inputs: tuple[tuple[str, Shape, int], ...] = ()) -> GraphFacts:
    """Shapes, constants and small constant values of every tensor with the input at ``input_shape``
    (and the other graph inputs, ``(name, shape, element type)``, at theirs)."""
    facts = GraphFacts(batch=input_shape[0] if input_shape else 1)
    opsets = {(o.domain if o.domain != "ai.onnx" else ""): o.version for o in opset_imports}
    walker = _Propagation(facts, opsets, list(opset_imports))
    for init in graph.initializer:
        facts.protos[init.name] = init
        walker.record(init.name, tuple(init.dims), init.data_type, True)
        facts.learned.add(init.name)
    walker.record(input_name, input_shape, input_type, False)
    for name, shape, elem_type in extra_inputs:
        walker.record(name, shape, elem_type, False)
    for node in graph.node:
        walker.visit(node)
    return facts


@dataclass(frozen=True)
class Layout:
    """Where the batch sits in a tensor's shape, and the tensor's per-sample shape.

    ``batch_axis`` is the dimension of the batched shape that holds the batch (None: the tensor
    does not depend on it); ``dropped`` says that dimension is the batch alone and is absent from
    ``shape``, otherwise it holds the batch times ``shape[batch_axis]``.
    """

    shape: Shape
    batch_axis: int | None
    dropped: bool

    def axis(self, full_axis: int, full_rank: int) -> int | None:
        """The per-sample dimension of a batched-tensor axis; None for the dropped batch axis."""
        full_axis %= max(full_rank, 1)
        if not self.dropped or self.batch_axis is None or full_axis < self.batch_axis:
            return full_axis
        return None if full_axis == self.batch_axis else full_axis - 1


def _layout_symbolic(name: str, first: Shape, second: Shape, b1: int, b2: int) -> Layout:
    if len(first) != len(second):
        raise ShapeError(f"tensor {name!r}: its rank depends on the batch ({first} vs {second})")
    changed = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    if not changed:
        return Layout(first, None, False)
    axis = changed[0]
    per_sample = first[axis] // b1
    if len(changed) > 1 or first[axis] % b1 or second[axis] != per_sample * b2:
        raise ShapeError(f"tensor {name!r}: cannot find one batch dimension (shape {first} at batch {b1}, "
                         f"{second} at batch {b2})")
    if per_sample == 1:
        return Layout((*first[:axis], *first[axis + 1:]), axis, True)
    return Layout((*first[:axis], per_sample, *first[axis + 1:]), axis, False)


def _layout_fixed(name: str, shape: Shape, batch: int) -> Layout:
    if not shape:
        return Layout(shape, None, False)
    if shape[0] == batch:
        return Layout(shape[1:], 0, True)
    if shape[0] % batch == 0:
        return Layout((shape[0] // batch, *shape[1:]), 0, False)
    raise ShapeError(f"tensor {name!r} of shape {shape}: the model's fixed batch {batch} does not divide "
                     f"its first dimension; export the model with batch 1 or a symbolic batch")


class Layouts:
    """Per-sample layouts of the non-constant tensors, worked out on first use.

    ``second`` is the same graph propagated at another batch size (a symbolic batch), or None for
    a model with a fixed batch. A tensor whose batch cannot be located raises :class:`ShapeError`
    only if a layer reads or writes it; an unknown tensor raises ``KeyError``.
    """

    def __init__(self, facts: GraphFacts, second: GraphFacts | None):
        self.facts, self.second = facts, second
        self._known: dict[str, Layout] = {}

    def __getitem__(self, name: str) -> Layout:
        if name not in self._known:
            shape = self.facts.shapes.get(name)
            if shape is None or name in self.facts.constants:
                raise KeyError(name)
            if self.second is None:
                self._known[name] = _layout_fixed(name, shape, self.facts.batch)
            elif name in self.second.shapes:
                self._known[name] = _layout_symbolic(name, shape, self.second.shapes[name], self.facts.batch,
                                                     self.second.batch)
            else:
                raise KeyError(name)
        return self._known[name]

    def __setitem__(self, name: str, layout: Layout) -> None:
        self._known[name] = layout
