"""Microcontroller energy out of sample: each measured energy per inference predicted from the
cross-validated latency of the same run and the board's power from its data sheet, nothing fitted on
the energy rows.

``E = P_static(V) · t + E_dynamic``, so the board's modelled average power is ``P_static + E_dynamic / t``:

* ``t`` [s]: the out-of-sample prediction of the row's latency partner under the protocol
  (:func:`latency_partner`: the latency row of the same run, from
  :func:`simulator.calibration.crossval.cross_validate`, or ``shipped``'s prediction);
* ``P_static(V)`` [W]: the profile's ``static_power_w``, the data sheet's run power at the clock less
  the part the energy model prices as dynamic (hardware_profiles/nucleo-*.toml, ``static_power_source``),
  at the row's supply ``V`` (the simulator's ``supply_voltage_v`` override on a board with a linear
  regulator: ``P · V / V_profile``; behind an SMPS the profile states no [supply] and the power holds);
* ``E_dynamic`` [J]: the simulator's dynamic energy of the network on the board (each MAC and each
  memory access times its energy, :mod:`simulator.engine.energy`), at the same supply. It is counts
  times energies: no latency and no fitted figure in it.

The rows are MLPerf Tiny's energy-mode results (EEMBC EnergyRunner, energy at the DUT's supply,
``energy_per_sample_j`` in ``mcu.csv``); each names its supply and clock in ``power_mode``. An energy row
whose latency partner is not cross-validated (a runtime without a runtime file, e.g. ONNC: bound only)
is counted, not predicted (:func:`energy_errors`). The lines are reported per device class
(``microcontroller energy``) and per device (``BOARD (energy)``) in
:func:`simulator.calibration.crossval.summary`'s columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

METRIC = "energy_per_sample_j"
DEVICE_CLASS = "microcontroller energy"
#: the metric of the run whose latency the energy is predicted from
LATENCY_METRIC = "latency_s"
#: the fields a latency partner shares with its energy row (the same run: board, network, runtime)
SAME_RUN = ("device", "network", "precision", "batch", "runtime", "runtime_version")


@dataclass(frozen=True)
class BoardEnergy:
    """What the board draws on one row's run, from its profile: ``static_power_w`` [W] at the row's
    supply and the network's ``dynamic_energy_j`` [J] per inference."""

    static_power_w: float
    dynamic_energy_j: float


def predict_energy_j(latency_s: float, board: BoardEnergy) -> float:
    """``P_static · t + E_dynamic`` [J]: the static power over the predicted latency plus the dynamic
    energy (= ``t`` times the modelled average power ``P_static + E_dynamic / t``)."""
    return board.static_power_w * latency_s + board.dynamic_energy_j


def latency_partner(row: Mapping[str, str], by_id: Mapping[str, Mapping[str, str]]) -> str | None:
    """The id of the latency row of ``row``'s run: the dataset names it as the energy row with its
    last ``energy`` replaced by ``latency`` (``…-x-cube-ai730-energy`` → ``…-x-cube-ai730-latency``,
    ``…-onnc-energy-2`` → ``…-onnc-latency-2``), and it must be the same run (:data:`SAME_RUN`).
    None when there is no such row."""
    head, found, tail = row["id"].rpartition("energy")
    partner = by_id.get(f"{head}latency{tail}") if found else None
    if partner is None or partner["metric"] != LATENCY_METRIC:
        return None
    if any(partner.get(key, "") != row.get(key, "") for key in SAME_RUN):
        return None
    return partner["id"]


def board_energy(row: Mapping[str, str]) -> BoardEnergy:
    """The board's static power and the network's dynamic energy on ``row``'s run, from the shipped
    profile (the runtime file's device where one covers the row) at the supply the row states."""
    from simulator.accuracy import row_device, row_overrides
    from simulator.hardware.loader import resolve_device
    from simulator.simulation import simulate

    device = resolve_device(row_device(dict(row))[0])
    result = simulate(row["network"], device, batch=int(row["batch"]), precision=row["precision"],
                      overrides=row_overrides(dict(row), device))
    return BoardEnergy(result.static_power_w, result.dynamic_energy_j)


def energy_rows(rows: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The energy rows of the boards of a microcontroller family (the MLPerf Tiny boards)."""
    return [row for row in rows if row.get("metric") == METRIC and _microcontroller(row)]


def _microcontroller(row: Mapping[str, str]) -> bool:
    from simulator.calibration.cv_model import family_of

    family = family_of(row["device"]) if row.get("table") != "llm" else None
    return family is not None and family.device_class == "microcontroller"


def energy_errors(rows: Sequence[Mapping[str, str]], latency: Mapping[str, Mapping[str, float]]
                  ) -> tuple[pd.DataFrame, int]:
    """One line per (energy row, protocol) whose latency partner ``latency[protocol]`` predicts:
    id, device, device_class, protocol, measured, expected, error = expected / measured − 1; and the
    number of energy rows with no cross-validated partner. ``rows``: the dataset (every table)."""
    by_id = {row["id"]: row for row in rows}
    lines, boards, unpredicted = [], {}, 0
    for row in energy_rows(rows):
        partner = latency_partner(row, by_id)
        if partner is None or not any(partner in values for values in latency.values()):
            unpredicted += 1
            continue
        key = (row["device"], row["runtime"], row["runtime_version"], row["network"], row["precision"],
               row["batch"], row.get("power_mode", ""))
        if key not in boards:
            boards[key] = board_energy(row)
        for protocol, values in latency.items():
            if partner in values:
                expected = predict_energy_j(values[partner], boards[key])
                measured = float(row["value"])
                lines.append({"id": row["id"], "device": f"{row['device']} (energy)",
                              "device_class": DEVICE_CLASS, "protocol": protocol, "measured": measured,
                              "expected": expected, "error": expected / measured - 1})
    return pd.DataFrame(lines), unpredicted


def summary(errors: pd.DataFrame, protocols: Sequence[str], out_of_sample: Sequence[str]) -> pd.DataFrame:
    """The class line, then one line per board, per protocol: ``n``, rows within ±10% and ±20%, the
    median and the 90th percentile of |error| (the columns of ``crossval.summary``)."""
    if errors.empty:
        return pd.DataFrame()
    from simulator.calibration.crossval import summary_lines

    groups = [("class", DEVICE_CLASS, errors.device_class == DEVICE_CLASS)]
    groups += [("device", name, errors.device == name) for name in sorted(set(errors.device))]
    return summary_lines(errors, groups, protocols, out_of_sample)


def energy_lines(rows: Sequence[Mapping[str, str]], latency: Mapping[str, Mapping[str, float]]
                 ) -> pd.DataFrame:
    """The summary lines of the energy rows of ``rows`` from the latency predictions ``latency``
    (``protocol -> {row id: latency_s}``, as ``crossval.run`` computes them): what ``roofline accuracy
    --cv`` appends to its table."""
    from simulator.calibration.crossval import OUT_OF_SAMPLE

    errors, _ = energy_errors(rows, latency)
    return summary(errors, list(latency), OUT_OF_SAMPLE)


def with_energy_lines(table: pd.DataFrame, rows: Sequence[Mapping[str, str]],
                      latency: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """``table`` (``crossval.summary``'s lines) followed by :func:`energy_lines` (unchanged when
    ``rows`` hold no energy row the latency predictions reach): ``crossval.run``'s hook."""
    lines = energy_lines(rows, latency)
    return table if lines.empty else pd.concat([table, lines], ignore_index=True)


def run(rows: Iterable[Mapping[str, str]] | None = None,
        protocols: Sequence[str] = ("leave-one-device-out", "in-sample")) -> tuple[pd.DataFrame, int]:
    """The energy lines on their own: the latency cross-validation of the microcontroller rows of
    ``rows`` (default: the dataset) under ``protocols``, then :func:`energy_errors` and
    :func:`summary`; and the count of energy rows not predicted. A family's fits see only its own
    rows, so the microcontroller rows alone give the latency predictions ``crossval.run`` gives."""
    from simulator.accuracy import load_measurements
    from simulator.calibration import crossval

    rows = list(rows if rows is not None else load_measurements())
    unknown = [p for p in protocols if p not in crossval.PROTOCOLS]
    if unknown:
        from simulator.errors import SimulatorError

        raise SimulatorError(f"unknown protocol {unknown[0]!r}; valid: {', '.join(crossval.PROTOCOLS)}")
    selected = crossval.scope([row for row in rows if _microcontroller(row)])
    cases = crossval.build_cases(selected)
    by_id = {row["id"]: row for row, _ in selected.rows}
    latency = crossval.cross_validate(cases, by_id, [p for p in protocols if p != "shipped"])
    if "shipped" in protocols:
        latency["shipped"] = crossval.shipped_predictions(selected)
    latency = {p: latency[p] for p in protocols}
    errors, unpredicted = energy_errors(rows, latency)
    return summary(errors, list(protocols), crossval.OUT_OF_SAMPLE), unpredicted
