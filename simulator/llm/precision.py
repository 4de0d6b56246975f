"""LLM precisions, kept apart: weights, activations and the KV cache, and the precision the arithmetic
runs at. The one place these rules are stated.

* Weights: ``fp16``/``bf16`` (16 bits), ``fp8`` (8 bits, one per-tensor scale: negligible), ``int8`` and
  ``int4`` with a 16-bit scale per group of :data:`GROUP_SIZE` weights (AWQ/GPTQ's group 128):
  ``8 + 16/128 = 8.125`` and ``4 + 16/128 = 4.125`` bits per weight. The token embedding and the LM
  head stay at 16 bits (AWQ does not quantize them; TensorRT-LLM's FP8 recipe excludes ``lm_head``).
* Activations: ``fp16``/``bf16`` or ``fp8`` (W8A8 FP8) or ``int8`` (W8A8, SmoothQuant).
* KV cache: ``fp16``/``bf16``, ``fp8`` or ``int8`` (per-head scales not counted).
* Arithmetic: at the **activations'** precision. Quantized weights are dequantized into the
  activation format before the multiply (W4A16 and W8A16 compute in fp16, as AWQ's and TensorRT-LLM's
  weight-only kernels do); W8A8 FP8 computes in fp8 and W8A8 INT8 in int8.
"""

from __future__ import annotations

from simulator.errors import UnknownNameError

#: weights per 16-bit group scale of the integer formats
GROUP_SIZE = 128
SCALE_BITS = 16
WEIGHT_BITS: dict[str, float] = {
    "fp16": 16.0,
    "bf16": 16.0,
    "fp8": 8.0,
    "int8": 8 + SCALE_BITS / GROUP_SIZE,
    "int4": 4 + SCALE_BITS / GROUP_SIZE,
}
ACTIVATION_BITS: dict[str, float] = {"fp16": 16.0, "bf16": 16.0, "fp8": 8.0, "int8": 8.0}
KV_BITS: dict[str, float] = {"fp16": 16.0, "bf16": 16.0, "fp8": 8.0, "int8": 8.0}
#: the embedding and LM head stay at this width whatever the weights' precision
HEAD_BITS = 16.0


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
    """The precision the arithmetic runs at: the activations' (see the module docstring)."""
    weight_bits(weight_precision)
    activation_bits(activation_precision)
    return activation_precision


def default_activation_precision(weight_precision: str) -> str:
    """fp8 weights come with fp8 activations (W8A8, TensorRT-LLM's FP8); every other format computes
    in fp16 (bf16 weights in bf16)."""
    return {"fp8": "fp8", "bf16": "bf16"}.get(weight_precision, "fp16")
