"""Reading an ONNX model as a :class:`~simulator.model.graph.Network` with per-sample shapes.

:func:`import_onnx` takes a path or an ``onnx.ModelProto``. Shapes come from the graph
(:mod:`simulator.onnx.shapes`: constant folding of shape computations plus ONNX's per-operator
shape inference, at the model's batch or, for a symbolic batch, at ``batch``), multi-node patterns
from :mod:`simulator.onnx.patterns`, and each remaining node maps to layers through its operator's
reader, registered beside the layer kind it makes (:data:`simulator.model.layers.ONNX_READERS`,
:func:`simulator.model.layers.base.onnx_reader`); this module owns the walk over the graph and
:class:`Translator`, the API the readers map nodes through. Parameters follow from the mapped
layers' formulas (initializer shapes), so an exported built-in network, or a ``torch.onnx`` export
of its torchvision twin with BatchNorm kept (``do_constant_folding=False``), reads back with the
same parameters and MACs. A learned floating-point constant operand of a GenericOp (a scale, a
bias, an embedding table; not a scalar) counts as its parameters.

======================  ===================================================================
ONNX operator           layer (reader in :mod:`simulator.model.layers`)
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
Resize, Upsample        Resize (nearest, bilinear, bicubic on ``(N, C, H, W)``), else GenericOp
Pad                     Pad (constant zeros), else GenericOp (data movement)
Add/Sum, Mul            Add, Mul (two activations); with a constant: PositionalEmbedding when
                        the constant is a learned ``(L, E)`` table, else GenericOp
Concat                  Concat; with one learned token: ClassToken
Gather (scalar index)   SelectToken on the first per-sample axis (``x[:, 0]``), else GenericOp
Gather(table, ids)      Embedding (a learned 2-D table at indices that depend on the input)
Gather(W, ids) →        EmbeddingBag (the pattern: a learned table, ``ids`` ``(N, lookups)``,
ReduceSum/ReduceMean    summed or averaged over the lookups)
LSTM                    LSTM (one forward direction with its biases, only ``Y`` used), else
                        Unsupported
Einsum (``a,b->c``)     Einsum: ``|output| · Π contracted sizes`` MACs; a learned operand (or the
                        table a Gather expanded it from) as its parameters
Reshape, Flatten,       Reshape/Flatten/Permute views (none when the per-sample shape is unchanged)
Squeeze, Unsqueeze,
Transpose
Identity, Dropout,      no node: the output is the input (Q/DQ: precision is the simulation's)
Cast, (De)QuantizeLinear
element-wise math       GenericOp, :data:`~simulator.model.layers.imported.ELEMENTWISE_OPS`
                        operations per element
data movement           GenericOp with no arithmetic
                        (:data:`~simulator.model.layers.imported.DATA_MOVEMENT_OPS`)
anything else           Unsupported: zero cost, its shape from the graph, listed by
                        :func:`unsupported_operators` and warned about
                        (:class:`UnsupportedOperatorWarning`), never silent
======================  ===================================================================

Nodes whose outputs are all constant (``Constant``, ``Shape``, ``Gather`` on shapes, ...) are
plumbing: folded, no layer. Nothing runs in place (ONNX tensors are single-assignment). The first
graph input is the network input; every other one (a diffusion UNet's text states, an embedding
bag's indices) is a :class:`~simulator.model.layers.ConditioningInput` beside it, with the same batch.
Conv and pools over three spatial dimensions, ConvTranspose, Einsum with ellipsis, recurrent
operators other than a plain LSTM and other domains' operators (``com.microsoft``, custom) are
Unsupported. Before any of this, the graph's structure is checked (:mod:`simulator.onnx.structure`):
a tensor written twice, a cycle, an input nothing writes, control flow (``If``, ``Loop``, ``Scan``) or
an opset outside the supported range is refused; nodes out of topological order are read in order.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from pathlib import Path

from simulator.errors import GraphError, ShapeError, SimulatorError
from simulator.model.counts import check_batch
from simulator.model.graph import INPUT, Network, NetworkBuilder
from simulator.model.layers import ONNX_READERS, Layer, Pad, Reshape, Shape, Unsupported
from simulator.model.layers.imported import read_operator, unsupported

try:
    import onnx
except ModuleNotFoundError as error:  # an optional extra
    raise SimulatorError("reading ONNX models needs the optional 'onnx' package: "
                         "pip install 'roofline-simulator[onnx]'") from error

from simulator.onnx.inputs import conditioning_inputs, network_input
from simulator.onnx.patterns import GraphIndex, Match, find_patterns
from simulator.onnx.shapes import FLOAT_TYPES, GraphFacts, Layout, Layouts, attribute, propagate
from simulator.onnx.structure import check_opset, describe, in_order


def param_name(tensor: str) -> str | None:
    """``layer1.0.conv1`` from ``layer1.0.conv1.weight``; None for generated names (``onnx::MatMul_7``)."""
    for suffix in (".weight", ".bias", "_weight", "_bias"):
        if tensor.endswith(suffix) and "::" not in tensor:
            return tensor[: -len(suffix)]
    return None


def is_standard(node: onnx.NodeProto) -> bool:
    """Whether ``node`` is an operator of the default ONNX domain (not ``com.microsoft``, custom)."""
    return node.domain in ("", "ai.onnx")

class UnsupportedOperatorWarning(UserWarning):
    """An imported model has operators the simulator cannot count (they cost zero, as reported)."""


class Translator:
    """Maps the nodes of one graph, in order, onto a :class:`NetworkBuilder`.

    The ONNX readers of the layer kinds (:data:`simulator.model.layers.ONNX_READERS`) see the graph
    only through this object's methods (tensors, shapes, constants, attributes) and add layers with
    :meth:`add`, :meth:`alias`, :meth:`view` and :meth:`pad`.
    """

    def __init__(self, name: str, input_name: str, g: GraphIndex, layout: Layouts,
                 matches: dict[int, Match], opset: int, conditioning: tuple[str, ...] = ()):
        self.g, self.facts, self.layout, self.matches, self.opset = g, g.facts, layout, matches, opset
        self.skipped = {i for last, match in matches.items() for i in match.nodes if i != last}
        self.builder = NetworkBuilder(name, layout[input_name].shape)
        self.tensors = {input_name: INPUT}
        self.used_names = {INPUT}
        self.node: onnx.NodeProto | None = None
        for extra in conditioning:  # the other graph inputs: ConditioningInput layers beside the input
            self.tensors[extra] = self.builder.conditioning_input(layout[extra].shape, extra,
                                                                  name=self.unique(extra))

    def run(self, graph: onnx.GraphProto) -> Network:
        for i, node in enumerate(self.g.nodes):
            self.node = node
            outputs = [out for out in node.output if out]
            if i in self.skipped or all(out in self.facts.constants for out in outputs):
                continue  # inside a pattern, or plumbing folded to constants
            if i in self.matches:
                match = self.matches[i]
                hint = next((n for n in map(param_name, match.names) if n), None)
                self.add(match.layer, [match.source], match.output, hint)
                continue
            (ONNX_READERS.get(node.op_type, read_operator) if is_standard(node) else unsupported)(self, node)
        outputs = [out.name for out in graph.output if out.name not in self.facts.constants]
        return self.builder.build([self.net(out) for out in outputs])

    # Tensors.

    def where(self) -> str:
        return f"{self.node.name or self.node.output[0]!r} ({self.node.op_type})"

    def is_const(self, tensor: str) -> bool:
        return tensor in self.facts.constants

    def acts(self, node: onnx.NodeProto) -> list[str]:
        """The node's inputs that depend on the network input, in order."""
        return [name for name in node.input if name and name not in self.facts.constants]

    def net(self, tensor: str) -> str:
        try:
            return self.tensors[tensor]
        except KeyError:
            raise GraphError(f"ONNX tensor {tensor!r} (read by node {self.where()}) comes from no mapped "
                             f"node; is the graph topologically sorted?") from None

    def full(self, tensor: str) -> Shape:
        return self.facts.shapes[tensor]

    def sample(self, tensor: str) -> Layout:
        try:
            return self.layout[tensor]
        except KeyError:
            raise ShapeError(f"ONNX node {self.where()}: the shape of tensor {tensor!r} is unknown") from None

    def param_size(self, tensor: str) -> int:
        """Elements of a learned floating-point constant operand (a scale, a bias, a table), else 0."""
        if tensor not in self.facts.learned or self.facts.types.get(tensor) not in FLOAT_TYPES:
            return 0
        size = math.prod(self.facts.shapes.get(tensor, ()))
        return size if size > 1 else 0

    def value(self, tensor: str) -> float | None:
        """A constant scalar (or one-element tensor) as a float, else None."""
        value = self.facts.value(tensor) if tensor and self.is_const(tensor) else None
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    def constant(self, tensor: str):
        """The folded value of a constant tensor (a NumPy array), or None when it is not known."""
        return self.facts.value(tensor)

    def is_learned(self, tensor: str) -> bool:
        """Whether ``tensor`` is a learned initializer (a weight), not a computed constant."""
        return tensor in self.facts.learned

    def is_used(self, tensor: str) -> bool:
        """Whether a node or the graph's outputs read ``tensor``."""
        return bool(self.g.readers.get(tensor)) or tensor in self.g.outputs

    @staticmethod
    def attribute(node: onnx.NodeProto, name: str, default=None):
        """The value of a node attribute, or ``default`` (:func:`simulator.onnx.shapes.attribute`)."""
        return attribute(node, name, default)

    @staticmethod
    def param_name(tensor: str) -> str | None:
        """The layer name a parameter tensor's name gives (:func:`param_name`), or None."""
        return param_name(tensor)

    # Network nodes.

    def unique(self, hint: str) -> str:
        base = hint.lstrip("/") or "node"
        name, count = base, 1
        while name in self.used_names:
            count += 1
            name = f"{base}_{count}"
        self.used_names.add(name)
        return name

    def add(self, layer: Layer, inputs: list[str], output: str, hint: str | None = None) -> None:
        """Adds ``layer`` reading ONNX tensors ``inputs``; its output stands for ONNX tensor ``output``."""
        if output in self.facts.guessed and not isinstance(layer, Unsupported):
            raise ShapeError(f"ONNX node {self.where()}: ONNX shape inference cannot tell the shape of "
                             f"{output!r}")
        name = self.unique(hint or self.node.name or output)
        expected = self.sample(output).shape
        try:
            out = self.builder.add(layer, *(self.net(t) for t in inputs), name=name)
        except ShapeError as error:
            raise ShapeError(f"ONNX node {self.where()}: {error}") from None
        got = self.builder.shape(out)
        if got != expected:
            if math.prod(got) != math.prod(expected):
                raise ShapeError(f"ONNX node {self.where()}: the simulator's {layer.kind} gives per-sample "
                                 f"shape {got}, the model {expected}")
            out = self.builder.add(Reshape(expected), out, name=self.unique(f"{name}.reshape"))
        self.tensors[output] = out

    def alias(self, output: str, source: str) -> None:
        self.tensors[output] = self.net(source)

    def view(self, source: str, output: str, layer: Layer | None = None) -> None:
        """A view: nothing when the per-sample shape is unchanged, else ``layer`` or a Reshape."""
        if self.sample(source).shape == self.sample(output).shape:
            self.alias(output, source)
        else:
            self.add(layer or Reshape(self.sample(output).shape), [source], output)

    def pad(self, x: str, begin: Shape, end: Shape) -> str:
        """An explicit zero Pad of the spatial dimensions of ``x`` (data movement); returns its tensor."""
        shape = self.sample(x).shape
        padded = (*shape[:1], *(s + b + e for s, b, e in zip(shape[1:], begin, end, strict=True)))
        pseudo = f"{self.node.output[0]}#pad"
        self.layout[pseudo] = Layout(padded, 0, True)
        self.add(Pad(tuple(begin), tuple(end)), [x], pseudo, f"{self.node.name or pseudo}.pad")
        return pseudo


def _load(source: str | Path | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "onnx_model"
    path = Path(source)
    if not path.is_file():
        raise SimulatorError(f"ONNX model {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise SimulatorError(f"ONNX model {str(path)!r} is an empty file (0 bytes)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf's DecodeError and friends
        raise SimulatorError(f"cannot read ONNX model {str(path)!r}: {error}") from None
    if not model.graph.node and not model.graph.input:
        raise SimulatorError(f"{str(path)!r} holds no ONNX graph (no nodes, no inputs): is it an ONNX model?")
    return model, path.stem


def _check_weights(graph: onnx.GraphProto, facts: GraphFacts, name: str) -> None:
    """Shapes from the graph must agree with the initializers: a Conv's input channels with its
    weight's (times the groups), a Gemm's or MatMul's inner dimension with its constant matrix's, a
    BatchNormalization's channels with its scale's. A disagreement is an error naming the node (the
    parameters are counted from the initializers, so they must be the ones the graph uses)."""
    def shape(tensor: str) -> tuple[int, ...] | None:
        return facts.shapes.get(tensor) if tensor else None

    guessed: set[str] = set()  # tensors after another domain's operator, whose shapes are passed through
    custom: Counter[str] = Counter()
    for i, node in enumerate(graph.node):
        where = f"ONNX model {name!r}: node {describe(node, i)}"
        inputs, standard = list(node.input), is_standard(node)
        if not standard or guessed & set(inputs):
            guessed.update(out for out in node.output if out)
        if not standard:
            custom[f"{node.domain}.{node.op_type}"] += 1
        if len(inputs) < 2 or not standard:
            continue
        if inputs[0] in guessed:
            where += (" after operators ONNX has no shapes for ("
                      + ", ".join(f"{op} x{n}" for op, n in custom.items())
                      + "; a runtime-optimized model? import the model as exported)")
        x, w = shape(inputs[0]), shape(inputs[1])
        if x is None or w is None or inputs[0] in facts.constants or inputs[1] not in facts.constants:
            continue
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv" and len(x) >= 2 and len(w) >= 2:
            group = int(attributes.get("group", 1))
            if x[1] != w[1] * group:
                raise ShapeError(f"{where}: its input has {x[1]} channels but its weight {inputs[1]!r} "
                                 f"{list(w)} expects {w[1] * group} ({w[1]} per group x {group} groups)")
        elif node.op_type == "Gemm" and len(x) == 2 and len(w) == 2:
            inner_x = x[0] if attributes.get("transA", 0) else x[1]
            inner_w = w[1] if attributes.get("transB", 0) else w[0]
            if inner_x != inner_w:
                raise ShapeError(f"{where}: its input has {inner_x} features but its weight {inputs[1]!r} "
                                 f"{list(w)} expects {inner_w}")
        elif node.op_type == "MatMul" and len(x) >= 1 and len(w) >= 2 and x[-1] != w[-2]:
            raise ShapeError(f"{where}: its input's last dimension is {x[-1]} but its weight {inputs[1]!r} "
                             f"{list(w)} expects {w[-2]}")
        elif node.op_type == "BatchNormalization" and len(x) >= 2 and len(w) == 1 and x[1] != w[0]:
            raise ShapeError(f"{where}: its input has {x[1]} channels but its scale {inputs[1]!r} has {w[0]}")


def _check_outputs(graph: onnx.GraphProto, facts: GraphFacts, second: GraphFacts | None, name: str) -> None:
    """A graph output declared with a shape must have that shape: its rank, and every fixed
    dimension except those that follow the batch (a symbolic batch's, found by propagating at two
    batch sizes). A symbolic or unknown dimension, or no declared shape at all, agrees with any."""
    for out in graph.output:
        declared = out.type.tensor_type.shape.dim if out.type.tensor_type.HasField("shape") else ()
        inferred = facts.shapes.get(out.name)
        if not declared or inferred is None or out.name in facts.constants:
            continue
        other = second.shapes.get(out.name, ()) if second is not None else ()
        follows_batch = {i for i, (a, b) in enumerate(zip(inferred, other, strict=False)) if a != b}
        fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in declared]
        disagree = [i for i, (size, got) in enumerate(zip(fixed, inferred, strict=False))
                    if size is not None and i not in follows_batch and size != got]
        if len(fixed) != len(inferred) or disagree:
            written = [size if size is not None else (d.dim_param or "?")
                       for size, d in zip(fixed, declared, strict=True)]
            raise ShapeError(f"ONNX model {name!r}: output {out.name!r} is declared with shape {written} but "
                             f"the graph computes {list(inferred)}")


def import_onnx(source: str | Path | onnx.ModelProto, batch: int = 1) -> Network:
    """The network of an ONNX model (a path or a ``ModelProto``), per sample.

    The batch is the input's first dimension: a symbolic one is resolved to ``batch`` (per-sample
    shapes come from propagating at ``batch`` and ``batch + 1``); a fixed one ``B`` is the model's
    and shapes are divided by it. Operators without a mapping become :class:`Unsupported` layers
    (zero cost, shapes from the graph) and are warned about with :class:`UnsupportedOperatorWarning`.
    """
    check_batch(batch)
    model, name = _load(source)
    opset = check_opset(model, name)
    model = in_order(model, name)
    value, symbolic, rest = network_input(model, name)
    elem_type = value.type.tensor_type.elem_type
    model_batch = batch if symbolic else value.type.tensor_type.shape.dim[0].dim_value
    extras = conditioning_inputs(model, name, symbolic, model_batch)

    def facts_at(size: int) -> GraphFacts:
        others = tuple((extra.name, (size, *extra_rest), extra.type.tensor_type.elem_type)
                       for extra, extra_rest in extras)
        return propagate(model.graph, model.opset_import, value.name, (size, *rest), elem_type, others)

    facts = facts_at(model_batch)
    _check_weights(model.graph, facts, name)
    second = facts_at(model_batch + 1) if symbolic else None
    _check_outputs(model.graph, facts, second, name)
    layout = Layouts(facts, second)
    index = GraphIndex(model.graph, facts)
    network = Translator(name, value.name, index, layout, find_patterns(index), opset,
                         tuple(extra.name for extra, _ in extras)).run(model.graph)
    unsupported = unsupported_operators(network)
    if unsupported:
        warnings.warn(describe_unsupported(unsupported), UnsupportedOperatorWarning, stacklevel=2)
    return network


def unsupported_operators(network: Network) -> dict[str, int]:
    """``{operator: number of source nodes}`` of the network's :class:`Unsupported` layers."""
    sources = {(node.layer.op, node.layer.source) for node in network.nodes
               if isinstance(node.layer, Unsupported)}
    return dict(sorted(Counter(op for op, _ in sources).items()))


def describe_unsupported(counts: dict[str, int]) -> str:
    """``unsupported ONNX operators (not counted): Einsum ×2, Foo ×1``."""
    listed = ", ".join(f"{op} ×{count}" for op, count in counts.items())
    return f"unsupported ONNX operators (not counted): {listed}"

