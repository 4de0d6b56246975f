"""The efficiency model: from the ideal roofline bound to an expected time, per kernel class.

A pure roofline assumes every kernel reaches the device's peak and full bandwidth. Real kernels
reach a fraction of each that depends mostly on the kind of kernel, plus a fixed launch overhead.
A device profile may carry, per class, ``compute_fraction``, ``bandwidth_fraction`` and
``overhead_s`` (:class:`simulator.hardware.device.KernelEfficiency`) for the class a layer runs as
(its kind's ``efficiency_class``, :data:`simulator.kernels.EFFICIENCY_CLASSES`); then

``latency = max(ops / (peak · compute_fraction), bytes / (bandwidth · bandwidth_fraction)) + overhead_s``

for every layer that does work (views cost nothing). Classes without an entry use ``default``,
and without that the ideal roofline (fractions 1, no overhead). :func:`expected_latency_s` is that
formula, the one both :func:`simulator.engine.timing.roofline_timing` and the calibration's fit
(:mod:`simulator.calibration.fit`) evaluate.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simulator.kernels import EFFICIENCY_CLASSES

__all__ = ["EFFICIENCY_CLASSES", "expected_latency_s"]


def expected_latency_s(t_compute_s: ArrayLike, t_memory_s: ArrayLike, compute_fraction: ArrayLike,
                       bandwidth_fraction: ArrayLike, overhead_s: ArrayLike) -> np.ndarray:
    """Calibrated latency of a layer [s] from its times on the ideal roofline [s]:

    ``max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s``

    where ``T_compute = ops / peak`` and ``T_memory`` the slowest memory level's ``bytes /
    bandwidth``. A layer with no work (a view, ``T_compute = T_memory = 0``) gets no overhead. The
    arguments broadcast against each other; fractions 1 and overhead 0 give the ideal roofline.
    """
    latency = np.maximum(np.divide(t_compute_s, compute_fraction), np.divide(t_memory_s, bandwidth_fraction))
    return latency + np.where(latency > 0, overhead_s, 0.0)
