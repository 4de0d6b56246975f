"""Recurrent layers: one ``torch.nn.LSTM`` layer over a sequence ``(L, input_size) -> (L, hidden_size)``.

The kind with its builder method. It has no ONNX writer (the reader has no ``LSTM`` operator, so no
round trip could keep the counts): export refuses it in one line. Cost formula:
:mod:`simulator.model.formulas`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import Layer, Shape, _check_rank, builder_method, layer_kind


@layer_kind
@dataclass(frozen=True)
class LSTM(Layer):
    """One unidirectional ``nn.LSTM`` layer (PyTorch's gate order i, f, g, o; two bias vectors).

    Per step ``t``: ``gates = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh`` (``4h`` rows), ``i, f, o =
    σ(·)``, ``g = tanh(·)``, ``c_t = f⊙c_{t−1} + i⊙g``, ``h_t = o⊙tanh(c_t)``. The steps depend on
    each other: a roofline sums their work, and the layer launches one kernel per step (``steps``, the
    sequence length it was built for), each paying the runtime's per-kernel cost, as cuDNN's and the
    reference decoder's step-by-step execution does. The weights are read once for the layer (they
    stay on chip from step to step), a lower bound where they do not fit there.
    """

    hidden_size: int
    steps: int
    kind: ClassVar[str] = "LSTM"
    efficiency_class: ClassVar[str] = "gemm"
    exportable: ClassVar[bool] = False

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(steps, features)")
        if self.hidden_size < 1:
            raise ShapeError(f"hidden_size must be at least 1, got {self.hidden_size}")
        if shape[0] != self.steps:
            raise ShapeError(f"steps: built for {self.steps} steps, got a sequence of {shape[0]}")
        return (shape[0], self.hidden_size)

    def kernel_count(self, materialized: bool) -> int:
        """One kernel per time step: step ``t`` needs ``h_{t−1}``."""
        return self.steps


@builder_method("lstm", makes=LSTM)
def lstm(net, x: str, hidden_size: int, name: str | None = None) -> str:
    """``nn.LSTM(input_size, hidden_size)`` (one layer) over the ``(steps, input_size)`` sequence ``x``."""
    return net.add(LSTM(hidden_size, net.shape(x)[0]), x, name=name)
