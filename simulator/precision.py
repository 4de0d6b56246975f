"""Numeric precisions: their names and widths, the bits each stream stores, and the precision the
arithmetic runs at. The one home of these rules; the CNN and the LLM paths both call them
(:mod:`simulator.llm.precision` only chooses which names each LLM stream accepts).

* Names and nominal widths: :data:`PRECISION_BITS` (``fp32`` 32 … ``int4`` 4).
* Stored bits per stream: activations and the KV cache at the nominal width; weights at the nominal
  width, plus, where the weights are quantized in groups (the LLM weight-only formats, AWQ/GPTQ's group
  of :data:`GROUP_SIZE` 128), one 16-bit scale per group for the integer formats:
  ``int8`` ``8 + 16/128 = 8.125``, ``int4`` ``4 + 16/128 = 4.125`` (:func:`weight_bits`). CNN weights
  carry one scale per output channel (TensorRT, TFLite): negligible, the nominal width.
* Arithmetic: :func:`compute_precision`, the wider of the weights' and the activations' (ties: the
  activations'), for every path.

Bytes are always ``elements * bits / 8``, so sub-byte precisions (int4) work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import SimulatorError, UnknownNameError

if TYPE_CHECKING:  # annotations only: numpy.typing is not imported at run time (start-up, issue 21)
    from numpy.typing import ArrayLike

PRECISION_BITS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}


def normalize(precision: object, argument: str = "precision") -> str:
    """A precision name in the simulator's spelling (lower case: ``"FP16"`` is ``"fp16"``); a name that
    is not a string is an error naming ``argument``, an unknown name one with close matches."""
    if not isinstance(precision, str):
        raise SimulatorError(f"{argument} must be a precision name such as 'fp16' (one of "
                             f"{', '.join(PRECISION_BITS)}), got {type(precision).__name__} {precision!r}")
    name = precision.strip().lower()
    if name not in PRECISION_BITS:
        raise UnknownNameError("precision", name, PRECISION_BITS)
    return name


def bits_of(precision: str) -> int:
    """Width of ``precision`` in bits; unknown names raise with close matches."""
    if not isinstance(precision, str):
        normalize(precision)
    if precision not in PRECISION_BITS:
        raise UnknownNameError("precision", precision, PRECISION_BITS)
    return PRECISION_BITS[precision]


#: weights per 16-bit scale of group-quantized integer weights (AWQ/GPTQ's group size 128)
GROUP_SIZE = 128
SCALE_BITS = 16
#: the formats whose group-quantized weights carry a scale per group (fp8 has one per tensor: negligible)
GROUP_SCALED = ("int8", "int4")


def weight_bits(precision: str, group_scales: bool = False) -> float:
    """Stored bits per weight: the nominal width, plus ``SCALE_BITS / GROUP_SIZE`` (0.125) for an integer
    format quantized in groups (``group_scales``: the LLM weight-only formats; int4 4.125, int8 8.125)."""
    bits = float(bits_of(precision))
    return bits + SCALE_BITS / GROUP_SIZE if group_scales and precision in GROUP_SCALED else bits


def compute_precision(weight_precision: str, activation_precision: str) -> str:
    """The precision the arithmetic runs at: the wider of the two operands' nominal precisions, for the
    CNN and the LLM paths alike.

    Narrower weights are dequantized into the activations' format before the multiply: int8 or int4
    weights with fp16 activations (W8A16, W4A16: AWQ's and TensorRT-LLM's weight-only kernels) compute
    in fp16, int4 weights with int8 activations in int8; W8A8 (fp8 or int8 both) in 8 bits. On a tie
    (fp16 vs bf16, fp8 vs int8) the activations' precision wins. Wider weights than activations (fp16
    weights with fp8 activations) compute at the weights' width: the multiply needs both operands in
    one format, and a runtime does not requantize the weights on every pass.
    """
    if bits_of(weight_precision) > bits_of(activation_precision):
        return weight_precision
    return activation_precision


BITS_PER_BYTE = 8


def storage_bytes(elements: ArrayLike, bits: ArrayLike) -> np.ndarray:
    """Bytes to store ``elements`` values of ``bits`` each: ``ceil(elements · bits / 8)`` (int4 works).

    The one place a model size or a capacity requirement is computed; arrays broadcast.
    """
    return np.ceil(np.multiply(elements, bits) / BITS_PER_BYTE)
