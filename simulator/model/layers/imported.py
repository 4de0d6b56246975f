"""Layer kinds for imported (ONNX) operators that have no kind of their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.model.layers.base import (
    Layer,
    Shape,
    layer_kind,
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

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"Unsupported:{self.op}"

    @property
    def arity(self) -> int:  # type: ignore[override]
        return self.num_inputs

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.output

