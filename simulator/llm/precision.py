"""Which precisions each LLM stream accepts: weights, activations and the KV cache, kept apart.

The widths, the group-scale rule and the compute-precision rule are :mod:`simulator.precision`'s, the
same as every network's; this module only names the LLM choices and the LLM-specific defaults.

* Weights: ``fp16``/``bf16`` (16 bits), ``fp8`` (8 bits, one per-tensor scale: negligible), ``int8`` and
  ``int4`` group-quantized (AWQ/GPTQ), with a 16-bit scale per group of 128 weights:
  ``8.125`` and ``4.125`` bits per weight (:func:`simulator.precision.weight_bits` with group scales).
  The token embedding and the LM head stay at 16 bits (AWQ does not quantize them; TensorRT-LLM's FP8
  recipe excludes ``lm_head``).
* Activations: ``fp16``/``bf16`` or ``fp8`` (W8A8 FP8) or ``int8`` (W8A8, SmoothQuant).
* KV cache: ``fp16``/``bf16``, ``fp8`` or ``int8`` (per-head scales not counted).
* Arithmetic: :func:`simulator.precision.compute_precision`, the wider of the two (W4A16 and W8A16
  compute in fp16, W8A8 FP8 in fp8, W8A8 INT8 in int8).
"""

from __future__ import annotations

from simulator.errors import UnknownNameError
from simulator.precision import PRECISION_BITS, compute_precision
from simulator.precision import weight_bits as stored_weight_bits

WEIGHT_PRECISIONS = ("fp16", "bf16", "fp8", "int8", "int4")
ACTIVATION_PRECISIONS = ("fp16", "bf16", "fp8", "int8")
KV_PRECISIONS = ("fp16", "bf16", "fp8", "int8")
#: stored bits per weight, group scales included (int4: 4.125)
WEIGHT_BITS: dict[str, float] = {p: stored_weight_bits(p, group_scales=True) for p in WEIGHT_PRECISIONS}
ACTIVATION_BITS: dict[str, float] = {p: float(PRECISION_BITS[p]) for p in ACTIVATION_PRECISIONS}
KV_BITS: dict[str, float] = {p: float(PRECISION_BITS[p]) for p in KV_PRECISIONS}
#: the embedding and LM head stay at this width whatever the weights' precision
HEAD_BITS = float(PRECISION_BITS["fp16"])


def weight_bits(precision: str) -> float:
    """Stored bits per weight, group scales included (int4: 4.125)."""
    if not isinstance(precision, str) or precision not in WEIGHT_BITS:
        raise UnknownNameError("weight precision", str(precision), WEIGHT_BITS)
    return WEIGHT_BITS[precision]


def activation_bits(precision: str) -> float:
    if not isinstance(precision, str) or precision not in ACTIVATION_BITS:
        raise UnknownNameError("activation precision", str(precision), ACTIVATION_BITS)
    return ACTIVATION_BITS[precision]


def kv_bits(precision: str) -> float:
    if not isinstance(precision, str) or precision not in KV_BITS:
        raise UnknownNameError("KV-cache precision", str(precision), KV_BITS)
    return KV_BITS[precision]


def llm_compute_precision(weight_precision: str, activation_precision: str) -> str:
    """The precision the arithmetic runs at, after checking both names are LLM choices: the one rule of
    :func:`simulator.precision.compute_precision` (the wider of the two; ties: the activations')."""
    weight_bits(weight_precision)
    activation_bits(activation_precision)
    return compute_precision(weight_precision, activation_precision)


def default_activation_precision(weight_precision: str) -> str:
    """fp8 weights come with fp8 activations (W8A8, TensorRT-LLM's FP8); every other format computes
    in fp16 (bf16 weights in bf16)."""
    return {"fp8": "fp8", "bf16": "bf16"}.get(weight_precision, "fp16")
