"""The model of a network and its costs, independent of any hardware.

* :mod:`~simulator.model.layers`: layer kinds, their shape inference and their traits (one module
  per family of kinds; a kind is declared once, where it is defined);
* :mod:`~simulator.model.formulas`: the per-layer cost formulas (params, MACs, element-wise ops);
* :mod:`~simulator.model.graph`: networks as layer graphs, and the builder;
* :mod:`~simulator.model.fusion`: the inference view (BatchNorm and activations folded);
* :mod:`~simulator.model.counts`: per-layer counts and activation liveness, computed in one pass;
* :mod:`~simulator.model.registry`: built-in networks registered by name.
"""
