"""Numeric precisions: their widths, and the precision arithmetic runs at.

Bytes are always ``elements * bits / 8``, so sub-byte precisions (int4) work.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simulator.errors import SimulatorError, UnknownNameError

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


def compute_precision(weight_precision: str, activation_precision: str) -> str:
    """The precision the arithmetic runs at: the wider of the two operands' precisions.

    int8 weights with fp16 activations (W8A16) are dequantized and multiplied in fp16; on a tie
    (fp16 vs bf16) the activations' precision wins.
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
