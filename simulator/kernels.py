"""Kernel classes: how a layer executes, for the efficiency model of a device.

Each layer kind names the class of kernel it runs as (:attr:`simulator.model.layers.Layer.
efficiency_class`); a device profile's ``[efficiency.<class>]`` tables give each class's
achievable fractions of peak and bandwidth and its overheads (:mod:`simulator.engine.efficiency`).
Classes without an entry use ``default``.
"""

#: every class a layer may run as, plus ``default`` (the entry used for a class a profile lacks)
EFFICIENCY_CLASSES = ("conv", "pointwise_conv", "depthwise_conv", "gemm", "gemv", "matmul", "attention",
                      "elementwise", "global_pool", "default")

#: Classes that refine another one, and the class they refine: ``pointwise_conv`` (1x1, groups 1)
#: is a ``conv``, ``matmul`` (a product of two activations, e.g. attention's ``Q Kᵀ`` and ``A V``)
#: a ``gemm``, ``gemv`` (a weight-streaming projection of one row per sequence: an LLM decode step's
#: Linear, a GEMV at batch 1 and a GEMM of ``batch`` rows otherwise; see
#: :meth:`simulator.model.layers.Linear.efficiency_class_for`) a ``gemm``, ``global_pool`` (pooling
#: to one value per channel, squeeze-excitation's squeeze) an ``elementwise`` layer. A profile without
#: an entry for a refined class uses the entry of the class it refines (and so on), and ``default``
#: only after that (:func:`class_lookup`): a profile written before the refinement existed predicts
#: exactly as before. A refined class's entry may name only the figures that differ (``[efficiency.gemv]
#: bandwidth_fraction``): the others are those of the class it refines
#: (:meth:`simulator.hardware.device.EfficiencyModel.for_class`).
CLASS_FALLBACK = {"pointwise_conv": "conv", "matmul": "gemm", "gemv": "gemm", "global_pool": "elementwise"}


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
#: element-wise kernels. A profile may set its own (``[efficiency] tile_outputs``). A refined class
#: without an entry here takes the tile of the class it refines (:func:`class_lookup`): ``gemv`` has
#: none of its own, so a decode projection fills the machine as the ``gemm`` kernel it was modelled
#: as before the class existed (the fill derates only the compute time, and a GEMV is memory-bound).
TILE_OUTPUTS = {"conv": 16384, "gemm": 16384, "attention": 16384, "depthwise_conv": 2048,
                "elementwise": 2048, "default": 2048}
