"""Fitting a family's figures (:mod:`simulator.calibration.cv_model`) to dataset rows, numpy only.

The objective, on the rows given (every row of a training fold, whatever its ``role``):

``Σ_rows log²(predicted / measured) + PRIOR_WEIGHT · Σ_parameters (z − z_default)²``

where ``z`` is a figure's unconstrained coordinate (:meth:`~simulator.calibration.cv_model.Parameter.value`
maps it into the figure's physical range, so every trial is clamped there). The weak prior keeps a
figure that the rows cannot determine (a runtime with no row in the fold, a memory-bound share on
compute-bound rows) at its documented default instead of wherever the search stopped. The continuous
figures are fitted by Levenberg–Marquardt with a forward-difference Jacobian: first at the family
grid's first tile and buffer share (from the defaults, and from each start of a figure that has
``starts``: a power limit's energy, which changes nothing where the limit does not bind; the lowest
objective is kept), then from those figures a few steps at
every grid point, and the best :data:`REFINED` of those to convergence; the lowest objective wins,
the first in rank on a tie. Deterministic: no random start, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.calibration.cv_model import (
    Parameter,
    RowCase,
    Stack,
    device_parameter,
    predict_stack,
    runtime_parameters,
    stack,
)

#: weight of the prior that holds an undetermined figure at its default (per squared coordinate; small
#: beside a row's squared log error, so that determined figures move by well under 1%)
PRIOR_WEIGHT = 1e-6
#: Levenberg–Marquardt: iterations per grid point, finite-difference step on the coordinates
MAX_ITERATIONS = 40
STEP = 1e-5
#: every grid point (tile, buffer share) gets SHORT_ITERATIONS; the REFINED best are fitted to the end
SHORT_ITERATIONS = 5
REFINED = 4


@dataclass(frozen=True)
class Fit:
    """A family's fitted figures: ``values`` by parameter name, the grid's ``tile`` and
    ``buffer_fraction``, the objective and the rows it was fitted on."""

    family: str
    values: Mapping[str, float]
    tile: int | None
    buffer_fraction: float | None
    objective: float
    row_ids: tuple[str, ...]

    def predict(self, data: Stack) -> np.ndarray:
        """Expected values of the rows in ``data`` (of this family)."""
        return predict_stack(data, self.values, self.tile, self.buffer_fraction)

    def predict_cases(self, cases: Sequence[RowCase]) -> np.ndarray:
        """Expected values of ``cases`` (of this family), in their order."""
        return self.predict(stack(cases))


def parameters_for(cases: Sequence[RowCase]) -> tuple[Parameter, ...]:
    """The family's figures, and the factors of every runtime the cases name."""
    family = cases[0].family
    names = {s.split(":")[1] for c in cases for s in c.scales if s is not None}
    factors = {p.name: p for runtime in sorted(names) for p in runtime_parameters(runtime).values()}
    devices = sorted({c.device for c in cases}) if family.device_factor else []
    return (family.parameters + tuple(factors[name] for name in sorted(factors))
            + tuple(device_parameter(d) for d in devices))


def levenberg_marquardt(residuals, z: np.ndarray,
                         iterations: int = MAX_ITERATIONS) -> tuple[np.ndarray, float]:
    """Minimize ``Σ residuals(z)²`` from ``z`` in at most ``iterations`` steps; returns the best ``z``
    and its objective."""
    r = residuals(z)
    cost = float(r @ r)
    damping = 1e-3
    for _ in range(iterations):
        jacobian = np.empty((len(r), len(z)))
        for j in range(len(z)):
            step = z.copy()
            step[j] += STEP
            jacobian[:, j] = (residuals(step) - r) / STEP
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ r
        improved = False
        while damping < 1e8:
            delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), -gradient)
            trial = z + delta
            r_trial = residuals(trial)
            trial_cost = float(r_trial @ r_trial)
            if trial_cost < cost:
                converged = cost - trial_cost < 1e-9 * (1 + cost)
                z, r, cost, damping, improved = trial, r_trial, trial_cost, max(damping / 10, 1e-9), True
                break
            damping *= 10
        if not improved or converged:
            break
    return z, cost


def starting_points(parameters: Sequence[Parameter], prior: np.ndarray) -> list[np.ndarray]:
    """The prior with one figure moved to each of its :attr:`~simulator.calibration.cv_model.Parameter.starts`
    (a figure without a gradient on one side of a threshold: a power limit that does not bind at the
    default), in the parameters' order."""
    points = []
    for j, p in enumerate(parameters):
        for value in p.starts:
            point = prior.copy()
            point[j] = p.coordinate(value)
            points.append(point)
    return points


def fit_family(cases: Sequence[RowCase]) -> Fit:
    """Fit one family's figures to ``cases`` (every case counts; none is held out here)."""
    if not cases:
        raise ValueError("fit_family needs at least one row")
    data = stack(cases)
    parameters = parameters_for(cases)
    prior = np.array([p.coordinate(p.default) for p in parameters])
    weight = np.sqrt(PRIOR_WEIGHT)

    def values(z: np.ndarray) -> dict[str, float]:
        return {p.name: p.value(float(x)) for p, x in zip(parameters, z, strict=True)}

    def objective(tile, buffer):
        def residuals(x: np.ndarray) -> np.ndarray:
            predicted = predict_stack(data, values(x), tile, buffer)
            return np.concatenate([np.log(predicted) - data.log_measured, weight * (x - prior)])
        return residuals

    grid = [(tile, buffer) for tile in data.family.tiles for buffer in data.family.buffers]
    z, cost = levenberg_marquardt(objective(*grid[0]), prior.copy())
    for start in starting_points(parameters, prior):  # a threshold figure: from each of its starts too
        found, trial = levenberg_marquardt(objective(*grid[0]), start)
        if trial < cost - 1e-12:
            z, cost = found, trial
    # every grid point fitted briefly from there, ranked, and the best few fitted to convergence
    short = {point: levenberg_marquardt(objective(*point), z.copy(), SHORT_ITERATIONS) for point in grid}
    ranked = sorted(grid, key=lambda point: short[point][1])
    best = None
    for tile, buffer in ranked[:REFINED]:
        found, cost = levenberg_marquardt(objective(tile, buffer), short[tile, buffer][0])
        if best is None or cost < best[1] - 1e-12:
            best = (found, cost, tile, buffer)
    z, cost, tile, buffer = best
    return Fit(data.family.name, values(z), tile, buffer, cost, tuple(c.id for c in cases))


def default_fit(cases: Sequence[RowCase]) -> Fit:
    """The family's documented defaults, for a fold that leaves it no row: a device predicted from
    its data sheet alone (the first tile, the whole buffer)."""
    parameters = parameters_for(cases)
    family = cases[0].family
    return Fit(family.name, {p.name: p.default for p in parameters}, family.tiles[0], family.buffers[0],
               float("nan"), ())
