"""The vectorized cost engine: a network's per-layer arrays on a device, for many configurations.

* :mod:`~simulator.engine.workload`: per-layer, per-sample arrays of a network and the residency
  of its activations (what stays on chip);
* :mod:`~simulator.engine.configs`: the device's figures per configuration
  (:class:`~simulator.engine.configs.HardwareArrays`), with what-if overrides (their grammar lives
  here, once);
* :mod:`~simulator.engine.efficiency`: the efficiency model (fractions of peak and bandwidth per
  kernel class, the fill of a parallel device, overheads) that turns the ideal bound into an
  expected time;
* :mod:`~simulator.engine.timing`: traffic per memory level and the roofline times;
* :mod:`~simulator.engine.energy`: energy from operation and data-movement counts;
* :mod:`~simulator.engine.evaluate`: all of it for a block of configurations, with totals; both
  :func:`simulator.simulation.simulate` (one configuration) and :func:`simulator.sweeps.sweep` call it.

Arrays are ``(configs, layers)`` or ``(configs, levels, layers)``, in SI units.
"""
