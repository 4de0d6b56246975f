"""Kernel classes: how a layer executes, for the efficiency model of a device.

Each layer kind names the class of kernel it runs as (:attr:`simulator.model.layers.Layer.
efficiency_class`); a device profile's ``[efficiency.<class>]`` tables give each class's
achievable fractions of peak and bandwidth and its overheads (:mod:`simulator.engine.efficiency`).
Classes without an entry use ``default``.
"""

#: every class a layer may run as, plus ``default`` (the entry used for a class a profile lacks)
EFFICIENCY_CLASSES = ("conv", "pointwise_conv", "depthwise_conv", "gemm", "matmul", "attention",
                      "elementwise", "global_pool", "default")

#: Classes that refine another one, and the class they refine: ``pointwise_conv`` (1x1, groups 1)
#: is a ``conv``, ``matmul`` (a product of two activations, e.g. attention's ``Q Kᵀ`` and ``A V``)
#: a ``gemm``, ``global_pool`` (pooling to one value per channel, squeeze-excitation's squeeze) an
#: ``elementwise`` layer. A profile without an entry for a refined class uses the entry of the class
#: it refines (and so on), and ``default`` only after that (:func:`class_lookup`): a profile written
#: before the refinement existed predicts exactly as before.
CLASS_FALLBACK = {"pointwise_conv": "conv", "matmul": "gemm", "global_pool": "elementwise"}


def class_lookup(table, efficiency_class: str, missing=None):
    """The entry of ``table`` (a mapping by class) for ``efficiency_class``: its own, else that of the
    class it refines (:data:`CLASS_FALLBACK`, followed to the end), else ``table["default"]``, else
    ``missing``."""
    cls: str | None = efficiency_class
    while cls is not None:
        if cls in table:
            return table[cls]
        cls = CLASS_FALLBACK.get(cls)
    return table.get("default", missing)

#: Output elements one thread block computes, per class, for the fill (wave) model of a parallel
#: device (:mod:`simulator.engine.efficiency`): a 128 × 128 output tile for GEMM-like kernels
#: (CUTLASS's and cuDNN's common threadblock tile), 256 threads × 8 outputs for depthwise and
#: element-wise kernels. A profile may set its own (``[efficiency] tile_outputs``).
TILE_OUTPUTS = {"conv": 16384, "gemm": 16384, "attention": 16384, "depthwise_conv": 2048,
                "elementwise": 2048, "default": 2048}
