"""Kernel classes: how a layer executes, for the efficiency model of a device.

Each layer kind names the class of kernel it runs as (:attr:`simulator.model.layers.Layer.
efficiency_class`); a device profile's ``[efficiency.<class>]`` tables give each class's
achievable fractions of peak and bandwidth and its overheads (:mod:`simulator.engine.efficiency`).
Classes without an entry use ``default``.
"""

#: every class a layer may run as, plus ``default`` (the entry used for a class a profile lacks)
EFFICIENCY_CLASSES = ("conv", "depthwise_conv", "gemm", "attention", "elementwise", "default")
