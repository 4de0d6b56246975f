"""Which efficiency class a layer belongs to, for the calibrated (non-ideal) time model.

A pure roofline assumes every kernel reaches the device's peak and full bandwidth. Real kernels
reach a fraction of each that depends mostly on the kind of kernel, plus a fixed launch overhead.
A device profile may carry, per class, ``compute_fraction``, ``bandwidth_fraction`` and
``overhead_s`` (:class:`simulator.hardware.KernelEfficiency`); then

``latency = max(ops / (peak · compute_fraction), bytes / (bandwidth · bandwidth_fraction)) + overhead_s``

for every layer that does work (views cost nothing). Classes without an entry use ``default``,
and without that the ideal roofline (fractions 1, no overhead).
"""

from __future__ import annotations

from simulator.model.layers import (
    Conv,
    Layer,
    Linear,
    MatMul,
    MultiheadSelfAttention,
)

EFFICIENCY_CLASSES = ("conv", "depthwise_conv", "gemm", "attention", "elementwise", "default")


def efficiency_class(layer: Layer) -> str:
    """``conv``, ``depthwise_conv``, ``gemm`` (linear, matmul), ``attention`` or ``elementwise``."""
    base = getattr(layer, "base", layer)  # a fused layer runs as its base kernel
    if isinstance(base, Conv):
        return "depthwise_conv" if base.groups > 1 and base.groups == base.out_channels else "conv"
    if isinstance(base, Linear | MatMul):
        return "gemm"
    if isinstance(base, MultiheadSelfAttention):
        return "attention"
    return "elementwise"
