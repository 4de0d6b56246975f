"""Fitting one kernel class's efficiency to measured times: fractions of peak and bandwidth, overhead.

The model is the engine's own calibrated time,
:func:`simulator.engine.efficiency.expected_latency_s` of each case's ideal times:

``t = max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s``

where ``T_compute`` and ``T_memory`` [s] are the layer's times on the ideal roofline.
:func:`fit_kernel_efficiency` fits the three parameters by bounded nonlinear least squares
(``scipy.optimize.least_squares``, trust-region reflective; fractions in (0, 1], overhead ≥ 0) on
``log t``, so that errors are relative (a 10 µs kernel counts as much as a 100 ms one). It minimizes

``mean_i log²(t_i / measured_i) + PRIOR_WEIGHT · (log² compute_fraction + log² bandwidth_fraction)``

The weak prior pulls a fraction that the data cannot determine, e.g. ``bandwidth_fraction`` of a
class that is always compute-bound, towards 1 (the ideal roofline) instead of leaving it wherever
the search stopped. ``max`` makes the objective non-smooth at the ridge, so the fit starts from the
best few points of a coarse grid and keeps the best result.

Needs SciPy (the ``validate`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.engine.efficiency import expected_latency_s
from simulator.errors import SimulatorError
from simulator.hardware.device import KernelEfficiency

#: weight of the prior that pulls an undetermined fraction towards 1 (squared log fraction)
PRIOR_WEIGHT = 1e-4
#: the fractions' lower bound: above 0, which the profile format forbids
MIN_FRACTION = 1e-6
#: a fitted overhead below this is reported as none [s]
MIN_OVERHEAD_S = 1e-9
#: the search runs on the overhead in µs, so that all three parameters are of order 1
_OVERHEAD_SCALE_S = 1e-6
#: starts for each parameter (fractions; overhead [s]); the best STARTS grid points are refined
_GRID = ((0.05, 0.2, 0.5, 0.9), (0.05, 0.2, 0.5, 0.9), (1e-7, 1e-6, 1e-5, 1e-4))
STARTS = 3


def modelled_latency_s(t_compute_s: np.ndarray, t_memory_s: np.ndarray,
                       efficiency: KernelEfficiency) -> np.ndarray:
    """The calibrated time [s] of layers with ideal times ``t_compute_s``, ``t_memory_s`` [s] under
    ``efficiency``: :func:`~simulator.engine.efficiency.expected_latency_s`."""
    return expected_latency_s(np.asarray(t_compute_s, dtype=float), np.asarray(t_memory_s, dtype=float),
                              efficiency.compute_fraction, efficiency.bandwidth_fraction,
                              efficiency.overhead_s)


def _require_scipy_least_squares() -> Any:
    try:
        from scipy.optimize import least_squares
    except ModuleNotFoundError:
        raise SimulatorError("fitting the efficiency model needs SciPy: pip install 'scipy>=1.11' "
                             "(or the validate extra)") from None
    return least_squares


def fit_kernel_efficiency(t_compute_s: Sequence[float], t_memory_s: Sequence[float],
                          measured_s: Sequence[float]) -> KernelEfficiency:
    """Least-squares fit of :func:`modelled_latency_s` to ``measured_s`` [s], on ``log t``; see the
    module docstring for the objective and bounds."""
    t_compute, t_memory, measured = (np.asarray(values, dtype=float)
                                     for values in (t_compute_s, t_memory_s, measured_s))
    if len(measured) == 0 or not (measured > 0).all():
        raise SimulatorError("fitting needs at least one case, with measured times greater than 0 s")
    if not (t_compute.shape == t_memory.shape == measured.shape):
        raise SimulatorError(f"fitting needs as many ideal times as measured ones: {t_compute.size} compute, "
                             f"{t_memory.size} memory, {measured.size} measured")
    least_squares = _require_scipy_least_squares()
    data_weight = 1 / math.sqrt(len(measured))  # the sum of squares is the mean over cases
    prior_weight = math.sqrt(PRIOR_WEIGHT)
    log_measured = np.log(measured)

    def parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        compute, memory = t_compute / x[0], t_memory / x[1]
        model = expected_latency_s(t_compute, t_memory, x[0], x[1], x[2] * _OVERHEAD_SCALE_S)
        return compute, memory, model

    def residuals(x: np.ndarray) -> np.ndarray:
        model = parts(x)[2]
        return np.concatenate([data_weight * (np.log(model) - log_measured),
                               prior_weight * np.log(x[:2])])

    def jacobian(x: np.ndarray) -> np.ndarray:
        compute, memory, model = parts(x)
        compute_bound = compute >= memory
        rows = np.zeros((len(measured) + 2, 3))
        rows[:-2, 0] = np.where(compute_bound, -compute / x[0], 0.0) / model
        rows[:-2, 1] = np.where(compute_bound, 0.0, -memory / x[1]) / model
        rows[:-2, 2] = np.where(model > 0, _OVERHEAD_SCALE_S / model, 0.0)
        rows[:-2] *= data_weight
        rows[-2, 0], rows[-1, 1] = prior_weight / x[0], prior_weight / x[1]
        return rows

    def cost(x: np.ndarray) -> float:
        return float(np.sum(residuals(x) ** 2))

    grid = [np.array([c, b, o / _OVERHEAD_SCALE_S]) for c in _GRID[0] for b in _GRID[1] for o in _GRID[2]]
    bounds = ([MIN_FRACTION, MIN_FRACTION, 0.0], [1.0, 1.0, np.inf])
    fits = [least_squares(residuals, start, jac=jacobian, bounds=bounds, method="trf", xtol=1e-12, ftol=1e-12,
                          gtol=1e-12, max_nfev=2000)
            for start in sorted(grid, key=cost)[:STARTS]]
    best = min(fits, key=lambda result: cost(result.x)).x
    overhead_s = float(best[2]) * _OVERHEAD_SCALE_S
    return KernelEfficiency(compute_fraction=float(min(best[0], 1.0)),
                            bandwidth_fraction=float(min(best[1], 1.0)),
                            overhead_s=overhead_s if overhead_s > MIN_OVERHEAD_S else 0.0)
