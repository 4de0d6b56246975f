"""The shipped profiles' fitted figures: every family of the expected model fitted on EVERY row of the
dataset, by the code of ``roofline accuracy --cv``'s in-sample protocol, and turned into the
``[efficiency]`` figures and runtime factors the profiles hold (``python tools/fit_profiles.py``
writes and checks them).

The fit (:func:`fit_dataset`) is :func:`simulator.calibration.crossval.fit_or_default` on each
family's cases, with every row of the family in scope (:func:`simulator.calibration.crossval.scope`)
as its training set: the ``role`` column is never read. The CNN families
(:data:`~simulator.calibration.cv_model.FAMILIES`) give each member device, and each profile that
inherits the family through ``extends``, an :class:`~simulator.hardware.device.EfficiencyModel`
(:func:`~simulator.calibration.cv_model.efficiency_model`; the per-kernel overhead of an Orin module
read at its own clock), and each shipped runtime its ``compute_scale`` (``scale:RUNTIME:CLASS``).
The LLM families (:data:`~simulator.calibration.cv_llm.LLM_FAMILIES`) give their devices'
``step_overhead_s``, ``gemv_bandwidth_fraction`` (the ``[efficiency.gemv]`` table's
``bandwidth_fraction``, :data:`~simulator.calibration.cv_llm.LLM_FIGURES`) and ``llm_compute_fraction``;
their rows are simulated with the profiles' kernel figures, so they are fitted after those are written
(:func:`fit_llm_families`).

Which rows inform a figure (:func:`informing_rows`): those whose prediction moves by at least
:data:`MOVED` (relative) when a continuous figure moves by :data:`STEP` of its range (of its log
range for a figure searched on a log scale; towards the other end where that would leave the
range), or changes at all at the neighbouring values of a grid (the tile, the buffer share).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.calibration.cv_fit import Fit, parameters_for
from simulator.calibration.cv_llm import LLM_FAMILIES, LLMCase, LLMFit, predict_llm
from simulator.calibration.cv_model import FAMILIES, Family, RowCase, efficiency_model, family_of, stack
from simulator.hardware.device import EfficiencyModel

#: the share of a figure's range it is moved by when asking which rows depend on it
STEP = 0.1
#: a row informs a figure when that move changes its prediction by at least this share
MOVED = 1e-3


def moved(parameter, value: float) -> float:
    """``value`` moved by :data:`STEP` of ``parameter``'s (log) range, towards the far end of it."""
    if parameter.log:
        factor = (parameter.high / parameter.low) ** STEP
        return value * factor if value * factor <= parameter.high else value / factor
    step = STEP * (parameter.high - parameter.low)
    return value + step if value + step <= parameter.high else value - step


@dataclass(frozen=True)
class DatasetFit:
    """The fits of every family on all its rows, with the rows behind them (by id)."""

    fits: Mapping[str, Fit]            # CNN family name -> fit
    llm_fits: Mapping[str, LLMFit]     # LLM family name -> fit
    cases: Mapping[str, Sequence[RowCase | LLMCase]]  # family name -> its cases
    rows: Mapping[str, Mapping[str, str]]             # row id -> row


def source_key(row: Mapping[str, str]) -> str:
    """The publication a row comes from: its ``source`` up to the path (repository and commit)."""
    return row["source"].split(":")[0].split(" ")[0].rstrip(",")


def cnn_cases(rows: Sequence[Mapping[str, str]] | None = None):
    """The scope and the cases of every dataset row in scope, and the rows by id."""
    from simulator.accuracy import load_measurements
    from simulator.calibration.crossval import scope

    rows = list(rows if rows is not None else load_measurements())
    selected = scope(rows)
    by_id = {row["id"]: row for row, _ in selected.rows}
    cnn = [(row, runtime) for row, runtime in selected.rows if row["table"] != "llm"]
    llm = [(row, runtime) for row, runtime in selected.rows if row["table"] == "llm"]
    return selected, by_id, cnn, llm


def fit_cnn_families(rows: Sequence[Mapping[str, str]] | None = None) -> DatasetFit:
    """Every CNN family fitted on all its rows in scope (the in-sample protocol's fit)."""
    from simulator.calibration.crossval import Scope, build_cases, fit_or_default

    _, by_id, cnn, _ = cnn_cases(rows)
    cases = build_cases(Scope(tuple(cnn), {}))
    fits, members = {}, {}
    for family in FAMILIES:
        mine = [c for c in cases if c.family is family]
        if mine:
            fits[family.name] = fit_or_default(mine, mine)
            members[family.name] = mine
    return DatasetFit(fits, {}, members, by_id)


def fit_llm_families(base: DatasetFit, rows: Sequence[Mapping[str, str]] | None = None) -> DatasetFit:
    """``base`` with every LLM family fitted on all its rows (simulated on the profiles as loaded)."""
    from simulator.calibration.crossval import Scope, build_cases, fit_or_default

    _, by_id, _, llm = cnn_cases(rows)
    cases = build_cases(Scope(tuple(llm), {}))
    fits, members = {}, dict(base.cases)
    for family in LLM_FAMILIES:
        mine = [c for c in cases if c.family is family]
        if mine:
            fits[family.name] = fit_or_default(mine, mine)
            members[family.name] = mine
    return DatasetFit(base.fits, fits, members, {**base.rows, **by_id})


def fit_dataset(rows: Sequence[Mapping[str, str]] | None = None) -> DatasetFit:
    """Every family fitted on all its rows (the LLM rows on the profiles as they are loaded now)."""
    return fit_llm_families(fit_cnn_families(rows), rows)


def _family(name: str) -> Family:
    return next(f for f in FAMILIES if f.name == name)


def device_models(fit: DatasetFit) -> dict[str, EfficiencyModel]:
    """``device -> [efficiency]`` for every shipped device in a fitted CNN family (members and
    profiles that ``extends`` one), the per-kernel overhead at the device's own clock (checked to be
    the same at every precision the device has a peak for)."""
    from simulator.hardware.loader import available_devices, resolve_device

    out = {}
    for name in sorted(available_devices()):
        family = family_of(name)
        if family is None or family.name not in fit.fits:
            continue
        result = fit.fits[family.name]
        device = resolve_device(name)
        models = [efficiency_model(family, result.values, result.tile, result.buffer_fraction, device, p)
                  for p in sorted(device.peak_ops_per_s)]
        overheads = {m.kernel_overhead_s for m in models}
        if max(overheads) - min(overheads) > 1e-12 * max(max(overheads), 1e-30):
            raise ValueError(f"{name}: the per-kernel overhead differs between precisions: "
                             f"{sorted(overheads)}")
        out[name] = models[0]
    return out


def runtime_scales(fit: DatasetFit) -> dict[str, dict[str, float]]:
    """``runtime -> {class: factor}`` for every shipped runtime a CNN fit gives factors for."""
    from simulator.hardware.loader import resolve_runtime

    out: dict[str, dict[str, float]] = {}
    for result in fit.fits.values():
        for name, value in result.values.items():
            if not name.startswith("scale:"):
                continue
            _, runtime, cls = name.split(":")
            classes = resolve_runtime(runtime).compute_scale
            targets = list(classes) if cls == "all" else [cls]
            out.setdefault(runtime, {}).update(dict.fromkeys(targets, value))
    return out


def llm_terms(fit: DatasetFit) -> dict[str, dict[str, float]]:
    """``device -> {step_overhead_s, gemv_bandwidth_fraction, llm_compute_fraction}`` for every device
    an LLM family lists (a profile that ``extends`` one inherits them); where each lives in a profile:
    :data:`~simulator.calibration.cv_llm.LLM_FIGURES` (the GEMV share in ``[efficiency.gemv]``)."""
    out = {}
    for family in LLM_FAMILIES:
        if family.name in fit.llm_fits:
            for device in family.devices:
                out[device] = dict(fit.llm_fits[family.name].values)
    return out


def _log_predict_cnn(cases, values, tile, buffer) -> np.ndarray:
    from simulator.calibration.cv_model import predict_stack

    return np.log(predict_stack(stack(cases), values, tile, buffer))


def _neighbours(grid: tuple, value) -> list:
    i = grid.index(value)
    return [grid[j] for j in (i - 1, i + 1) if 0 <= j < len(grid)]


def informing_rows(fit: DatasetFit) -> dict[str, dict[str, tuple[str, ...]]]:
    """``family -> {figure: ids of the rows it informs}`` (module docstring), for every fitted figure
    of every family (the grid's ``tile`` and ``buffer_fraction`` included for a GPU family)."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, result in fit.fits.items():
        cases = list(fit.cases[name])
        ids = np.array([c.id for c in cases])
        base = _log_predict_cnn(cases, result.values, result.tile, result.buffer_fraction)
        figures = {}
        for parameter in parameters_for(cases):
            trial = {**result.values, parameter.name: moved(parameter, result.values[parameter.name])}
            after = _log_predict_cnn(cases, trial, result.tile, result.buffer_fraction)
            figures[parameter.name] = tuple(ids[np.abs(np.expm1(after - base)) >= MOVED])
        family = _family(name)
        if family.parallel:
            for figure, grid, current in (("tile", family.tiles, result.tile),
                                          ("buffer_fraction", family.buffers, result.buffer_fraction)):
                changed = np.zeros(len(cases), bool)
                for other in _neighbours(grid, current):
                    point = (other, result.buffer_fraction) if figure == "tile" else (result.tile, other)
                    changed |= np.abs(_log_predict_cnn(cases, result.values, *point) - base) > 1e-9
                figures[figure] = tuple(ids[changed])
        out[name] = figures
    for name, result in fit.llm_fits.items():
        cases = list(fit.cases[name])
        ids = np.array([c.id for c in cases])
        base = np.log(predict_llm(cases, result.values))
        figures = {}
        for parameter in next(f for f in LLM_FAMILIES if f.name == name).parameters:
            trial = {**result.values, parameter.name: moved(parameter, result.values[parameter.name])}
            after = np.log(predict_llm(cases, trial))
            figures[parameter.name] = tuple(ids[np.abs(np.expm1(after - base)) >= MOVED])
        out[name] = figures
    return out


def sources_of(ids: Sequence[str], rows: Mapping[str, Mapping[str, str]]) -> tuple[str, ...]:
    """The distinct publications (:func:`source_key`) of the rows ``ids``, sorted."""
    return tuple(sorted({source_key(rows[i]) for i in ids}))


def median_abs_error(fit: DatasetFit, name: str) -> float:
    """The family's in-sample median |predicted / measured − 1| on its rows."""
    cases = list(fit.cases[name])
    result = fit.fits.get(name) or fit.llm_fits[name]
    predicted = result.predict_cases(cases)
    return float(np.median([abs(p / c.measured - 1) for p, c in zip(predicted, cases, strict=True)]))


def significant(value: float, digits: int = 12) -> str:
    """``value`` with ``digits`` significant digits, as the profiles write a fitted figure."""
    if value == 0 or not math.isfinite(value):
        return repr(float(value))
    text = f"{value:.{digits}g}"
    return text if any(ch in text for ch in ".en") else f"{text}.0"
