"""Fitting a kernel class's efficiency to measured times: fractions of peak and bandwidth, overhead.

The calibrated time model of :mod:`simulator.engine.efficiency` for one layer is

``t = max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s``

where ``T_compute`` and ``T_memory`` are the layer's times on the ideal roofline.
:func:`fit_kernel_efficiency` fits the three parameters to measured times by least squares on
``log t`` (relative errors: a 10 µs kernel counts as much as a 100 ms one), with NumPy only:
Nelder-Mead (:func:`nelder_mead`) from the three best points of a coarse grid. The fractions are
searched through a logistic, so that they stay in (0, 1), and the overhead through ``exp``. A weak
prior (:data:`PRIOR_WEIGHT` times the squared log of each fraction) pulls a fraction that the data
cannot determine, e.g. ``bandwidth_fraction`` of a class that is always compute-bound, towards 1
(the ideal roofline) instead of leaving it wherever the search stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import KernelEfficiency

#: weight of the prior that pulls an undetermined fraction towards 1 (squared log fraction)
PRIOR_WEIGHT = 1e-4


def _latency_s(t_compute_s: np.ndarray, t_memory_s: np.ndarray, compute_fraction: float,
               bandwidth_fraction: float, overhead_s: float) -> np.ndarray:
    return np.maximum(t_compute_s / compute_fraction, t_memory_s / bandwidth_fraction) + overhead_s


def modelled_latency_s(t_compute_s: np.ndarray, t_memory_s: np.ndarray,
                       efficiency: KernelEfficiency) -> np.ndarray:
    """``max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s`` [s], the
    calibrated time of :func:`simulator.engine.timing.roofline_timing` from a layer's ideal times."""
    return _latency_s(np.asarray(t_compute_s), np.asarray(t_memory_s), efficiency.compute_fraction,
                      efficiency.bandwidth_fraction, efficiency.overhead_s)


def _unpack(x: np.ndarray) -> tuple[float, float, float]:
    logistic = 1.0 / (1.0 + np.exp(-np.clip(x[:2], -40, 40)))
    return float(logistic[0]), float(logistic[1]), float(np.exp(np.clip(x[2], -40, 5)))


def nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 0.5, iterations: int = 2000,
                tolerance: float = 1e-12) -> np.ndarray:
    """Minimizes ``f`` by the Nelder-Mead simplex method (standard coefficients 1, 2, 1/2, 1/2)."""
    simplex = np.vstack([x0, x0 + step * np.eye(len(x0))])
    values = np.array([f(x) for x in simplex])
    for _ in range(iterations):
        order = np.argsort(values)
        simplex, values = simplex[order], values[order]
        if values[-1] - values[0] < tolerance:
            break
        centroid = simplex[:-1].mean(axis=0)
        reflected = centroid + (centroid - simplex[-1])
        f_reflected = f(reflected)
        if f_reflected < values[0]:
            expanded = centroid + 2 * (centroid - simplex[-1])
            f_expanded = f(expanded)
            simplex[-1], values[-1] = (expanded, f_expanded) if f_expanded < f_reflected else (reflected,
                                                                                              f_reflected)
        elif f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            f_contracted = f(contracted)
            if f_contracted < values[-1]:
                simplex[-1], values[-1] = contracted, f_contracted
            else:
                simplex[1:] = simplex[0] + 0.5 * (simplex[1:] - simplex[0])
                values[1:] = [f(x) for x in simplex[1:]]
    return simplex[np.argmin(values)]


def fit_kernel_efficiency(t_compute_s: Sequence[float], t_memory_s: Sequence[float],
                          measured_s: Sequence[float]) -> KernelEfficiency:
    """Least-squares fit of :func:`modelled_latency_s` to measured times, on ``log t``."""
    t_compute, t_memory, measured = (np.asarray(values, dtype=float)
                                     for values in (t_compute_s, t_memory_s, measured_s))
    if len(measured) == 0 or not (measured > 0).all():
        raise SimulatorError("fitting needs at least one case, with measured times greater than 0 s")

    def loss(x: np.ndarray) -> float:
        compute_fraction, bandwidth_fraction, overhead_s = _unpack(x)
        model = _latency_s(t_compute, t_memory, compute_fraction, bandwidth_fraction, overhead_s)
        prior = PRIOR_WEIGHT * (math.log(compute_fraction) ** 2 + math.log(bandwidth_fraction) ** 2)
        return float(np.mean(np.log(model / measured) ** 2)) + prior

    logit = [math.log(p / (1 - p)) for p in (0.05, 0.2, 0.5, 0.9)]
    grid = [np.array([c, b, math.log(o)]) for c in logit for b in logit for o in (1e-7, 1e-6, 1e-5, 1e-4)]
    starts = sorted(grid, key=loss)[:3]
    best = min((nelder_mead(loss, start) for start in starts), key=loss)
    compute_fraction, bandwidth_fraction, overhead_s = _unpack(best)
    return KernelEfficiency(compute_fraction=min(compute_fraction, 1.0),
                            bandwidth_fraction=min(bandwidth_fraction, 1.0),
                            overhead_s=overhead_s if overhead_s > 1e-9 else 0.0)
