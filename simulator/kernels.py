"""Kernel classes: how a layer executes, for the efficiency model of a device.

Each layer kind names the class of kernel it runs as (:attr:`simulator.model.layers.Layer.
efficiency_class`); a device profile's ``[efficiency.<class>]`` tables give each class's
achievable fractions of peak and bandwidth and its overheads (:mod:`simulator.engine.efficiency`).
Classes without an entry use ``default``.
"""

#: every class a layer may run as, plus ``default`` (the entry used for a class a profile lacks)
EFFICIENCY_CLASSES = ("conv", "depthwise_conv", "gemm", "attention", "elementwise", "default")

#: Output elements one thread block computes, per class, for the fill (wave) model of a parallel
#: device (:mod:`simulator.engine.efficiency`): a 128 × 128 output tile for GEMM-like kernels
#: (CUTLASS's and cuDNN's common threadblock tile), 256 threads × 8 outputs for depthwise and
#: element-wise kernels. A profile may set its own (``[efficiency] tile_outputs``).
TILE_OUTPUTS = {"conv": 16384, "gemm": 16384, "attention": 16384, "depthwise_conv": 2048,
                "elementwise": 2048, "default": 2048}
