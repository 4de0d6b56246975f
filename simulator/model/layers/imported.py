"""Layer kinds for imported (ONNX) operators that have no kind of their own, and their readers.

GenericOp and Unsupported only stand for imported operators, so they have no builder method and no
ONNX writer (``exportable = False``). This module owns what the ONNX reader does with an operator
that makes no other kind: element-wise math (:data:`ELEMENTWISE_OPS`, a GenericOp costed per
element), data movement (:data:`DATA_MOVEMENT_OPS`, a GenericOp with no arithmetic), pass-through
(:data:`PASS_THROUGH_OPS`, no layer), and Unsupported for anything else (``Resize`` and ``Pad``:
:mod:`simulator.model.layers.resize`). They live
here rather than in :mod:`simulator.onnx` because the tables are GenericOp's cost data, and the
readers of other kinds fall back to :func:`generic` and :func:`unsupported`.
:func:`read_operator` is the reader of an operator with no registered reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from simulator.model.layers.base import (
    Layer,
    Shape,
    layer_kind,
    onnx_reader,
)


@layer_kind
@dataclass(frozen=True)
class GenericOp(Layer):
    """An imported (ONNX) operator with no layer kind of its own, costed per element.

    ``ops = ops_per_element · max(elements(first input), elements(output))``: element-wise math
    with constant operands (``x·c``, ``x+c``, ``√x``, ``erf x``: 1), reductions (per input
    element) and pure data movement (Slice, Pad, Expand: 0). ``params`` counts a learned constant
    operand (a scale, a bias, an embedding table). The output shape is the source graph's.
    """

    op: str
    output: Shape
    num_inputs: int = 1
    ops_per_element: int = 1
    params: int = 0
    exportable: ClassVar[bool] = False
    made_by: ClassVar[str | None] = "ONNX reader (element-wise math, data movement: read_operator)"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.op

    @property
    def arity(self) -> int:  # type: ignore[override]
        return self.num_inputs

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.output


@layer_kind
@dataclass(frozen=True)
class Unsupported(Layer):
    """An imported operator the simulator has no formula for: it costs nothing and is always reported.

    It passes its first input through as a view with the source graph's output shape (no time, no
    energy, no new tensor), so the rest of the network still simulates; ``source`` names the
    operator's node in the source graph.
    """

    op: str
    output: Shape
    num_inputs: int = 1
    source: str = ""
    is_view: ClassVar[bool] = True
    exportable: ClassVar[bool] = False
    made_by: ClassVar[str | None] = "ONNX reader (an operator with no mapping: read_operator)"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Unsupported:{self.op}"

    @property
    def arity(self) -> int:  # type: ignore[override]
        return self.num_inputs

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.output


# ONNX readers (:class:`simulator.onnx.reader.Translator`).

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
#: operators whose output is their input for counting purposes (Q/DQ: precision is the simulation's)
PASS_THROUGH_OPS = ("Identity", "Dropout", "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear")


def _per_output(t: Any, node: Any, make: Callable[[int, str], Layer]) -> None:
    """``make(k, out)`` for each used output ``k`` of the node, reading its activation inputs."""
    acts = t.acts(node)
    for k, out in enumerate(node.output):
        if not out or t.is_const(out) or (k and not t.is_used(out)):
            continue
        t.add(make(k, out), acts, out)


def generic(t: Any, node: Any, ops_per_element: int | None = None) -> None:
    """One GenericOp per used output: ``ops_per_element`` (default: the tables above; 0 for data
    movement), the node's learned floating-point constant operands (not scalars) as parameters."""
    ops = ELEMENTWISE_OPS.get(node.op_type, 0) if ops_per_element is None else ops_per_element
    params = sum(t.param_size(name) for name in node.input if name and t.is_const(name))
    arity = len(t.acts(node))
    _per_output(t, node, lambda k, out: GenericOp(node.op_type, t.sample(out).shape, arity, ops,
                                                  0 if k else params))


def unsupported(t: Any, node: Any) -> None:
    """One Unsupported layer per used output: zero cost, reported by the reader."""
    arity, source = len(t.acts(node)), node.name or node.output[0]
    _per_output(t, node, lambda k, out: Unsupported(node.op_type, t.sample(out).shape, arity, source))


def read_operator(t: Any, node: Any) -> None:
    """The reader of an operator with no registered reader: a GenericOp for element-wise math and
    data movement, else Unsupported."""
    if node.op_type in ELEMENTWISE_OPS or node.op_type in DATA_MOVEMENT_OPS:
        generic(t, node)
    else:
        unsupported(t, node)


@onnx_reader(*PASS_THROUGH_OPS)
def read_pass_through(t: Any, node: Any) -> None:
    """No layer: the output is the input."""
    t.alias(node.output[0], t.acts(node)[0])
