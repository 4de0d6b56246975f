"""Recurrent layers: one ``torch.nn.LSTM`` layer over a sequence ``(L, input_size) -> (L, hidden_size)``.

The kind with its builder method, its ONNX writer (the standard ``LSTM`` operator) and the reader of
that operator (one forward direction with its biases, no peepholes, the default activations). Cost
formula: :mod:`simulator.model.formulas`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
)
from simulator.model.layers.imported import unsupported
from simulator.model.layers.tensor import Reshape

if TYPE_CHECKING:
    from simulator.model.graph import Node


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


@onnx_writer(LSTM)
def write_lstm(g: Any, node: Node) -> None:
    """ONNX ``LSTM`` on the sequence-first ``(L, N, n)`` (``Transpose``; ONNX Runtime runs only ``layout``
    0), ``W`` ``(1, 4h, n)``, ``R`` ``(1, 4h, h)``, ``B`` ``(1, 8h)`` (the input and recurrent biases), zero
    initial states; its ``Y`` ``(L, 1, N, h)`` ``Squeeze``d and transposed back to ``(N, L, h)``. ONNX
    orders the gates i, o, f, c (PyTorch i, f, g, o): the same counts."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    n = node.input_shapes[0][1]
    h = layer.hidden_size
    std = g.fan_in_std(h)
    weights = [g.param(f"{name}.weight_ih", (1, 4 * h, n), std),
               g.param(f"{name}.weight_hh", (1, 4 * h, h), std), g.param(f"{name}.bias", (1, 8 * h), std)]
    steps_first = g.op("Transpose", [x], f"{name}/sequence_first", perm=[1, 0, 2])
    y = g.op("LSTM", [steps_first, *weights], f"{name}/Y", hidden_size=h)
    y = g.op("Squeeze", [y, g.const(f"{name}/direction_axis", [1])], f"{name}/Y_squeezed")
    g.op("Transpose", [y], name, perm=[1, 0, 2])


@onnx_reader("LSTM", makes=LSTM)
def read_lstm(t: Any, node: Any) -> None:
    """One forward ``LSTM`` with learned ``W``, ``R`` and ``B`` and only ``Y`` used: an :class:`LSTM` layer
    (``hidden_size`` from ``R``); a reverse or bidirectional one, peepholes, initial states or sequence
    lengths given, other activations or clipping, or a missing bias: Unsupported (not counted)."""
    inputs = list(node.input) + [""] * (8 - len(node.input))
    x, w, r, b = inputs[:4]
    plain = (not any(inputs[4:]) and all(t.is_learned(p) for p in (w, r, b) if p) and bool(b)
             and t.attribute(node, "direction", b"forward") in (b"forward", "forward")
             and t.attribute(node, "activations") is None and t.attribute(node, "clip") is None
             and not t.attribute(node, "input_forget", 0)
             and not any(out and t.is_used(out) for out in node.output[1:]))
    if not plain or not node.output[0] or len(t.full(r)) != 3 or t.full(r)[0] != 1:
        unsupported(t, node)
        return
    # X is (L, N, n) with layout 0, (N, L, n) with 1; Y (L, 1, N, h) or (N, L, 1, h): one sequence of L
    # steps per sample either way, which a fixed batch of 1 may leave as a (L, 1, n) sample: viewed as (L, n)
    full = t.full(x)
    steps, features = (full[1], full[2]) if t.attribute(node, "layout", 0) else (full[0], full[2])
    source = t.net(x)
    if t.builder.shape(source) != (steps, features):
        source = t.builder.add(Reshape((steps, features)), source, name=t.unique(f"{node.output[0]}.steps"))
    layer = t.builder.add(LSTM(t.full(r)[2], steps), source, name=t.unique(t.param_name(w) or node.output[0]))
    expected = t.sample(node.output[0]).shape
    if t.builder.shape(layer) != expected:
        layer = t.builder.add(Reshape(expected), layer, name=t.unique(f"{node.output[0]}.reshape"))
    t.tensors[node.output[0]] = layer
