"""The fused layer of the inference view: a kernel with the layers folded into its epilogue.

Fused exists only in the inference view (:mod:`simulator.model.fusion`), which makes it: no
builder method, ONNX writer or reader (``exportable = False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.model.layers.base import Layer, Shape, layer_kind


@layer_kind
@dataclass(frozen=True)
class Fused(Layer):
    """A convolution, linear or element-wise layer with the layers folded into it (``epilogue``)."""

    base: Layer
    epilogue: tuple[Layer, ...]
    #: per-sample output shapes of the epilogue layers, for their costs
    epilogue_shapes: tuple[Shape, ...]
    #: operands of each epilogue layer (1, or 2 for a residual add whose second operand is an
    #: extra input of the fused node); empty means one each
    epilogue_operands: tuple[int, ...] = ()
    exportable: ClassVar[bool] = False
    made_by: ClassVar[str | None] = "inference view"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.base.kind

    @property
    def display_kind(self) -> str:
        return self.base.display_kind

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.base.output_shape(inputs[:len(inputs) - self.extra_inputs])

    @property
    def extra_inputs(self) -> int:
        """Inputs read by the epilogue (a residual add's other operand), after the base layer's."""
        return sum(operands - 1 for operands in self.epilogue_operands)

    @property
    def efficiency_class(self) -> str:  # type: ignore[override]
        """A fused layer runs as its base kernel."""
        return self.base.efficiency_class

    def efficiency_class_for(self, inputs: tuple[Shape, ...]) -> str:
        """The base kernel's class on the base layer's inputs (the epilogue's extra operands after)."""
        return self.base.efficiency_class_for(inputs[:len(inputs) - self.extra_inputs])
