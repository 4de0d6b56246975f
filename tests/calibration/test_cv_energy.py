"""Microcontroller energy out of sample (simulator.calibration.cv_energy): E = P_static · t + E_dynamic,
with t the cross-validated latency of the same run and P_static the data sheet's, nothing fitted on the
energy rows."""

from __future__ import annotations

import pytest

from simulator.calibration import cv_energy
from simulator.calibration.cv_energy import BoardEnergy, latency_partner, predict_energy_j


def _row(id_, metric, value, device="nucleo-u575zi-q", **extra):
    return {"id": id_, "metric": metric, "value": str(value), "device": device, "network": "resnet8_cifar10",
            "precision": "int8", "batch": "1", "runtime": "X-CUBE-AI", "runtime_version": "7.3.0",
            "power_mode": "1.8V / SMPS, 160.0 MHz", "table": "mcu", **extra}


def test_energy_is_static_power_over_the_latency_plus_the_dynamic_energy():
    # 20.56 mW for 0.132 s = 2.71392 mJ, plus 19.3 uJ of MACs and accesses = 2.73322 mJ
    board = BoardEnergy(static_power_w=20.56e-3, dynamic_energy_j=19.3e-6)
    assert predict_energy_j(0.132, board) == pytest.approx(2.71392e-3 + 19.3e-6)
    # the modelled average power, static + dynamic / t, times t is the same figure
    assert predict_energy_j(0.132, board) == pytest.approx((20.56e-3 + 19.3e-6 / 0.132) * 0.132)


def test_the_latency_partner_is_the_same_run_named_latency():
    energy = _row("tiny-u575-resnet8-xcubeai730-energy", "energy_per_sample_j", 3.642e-3)
    latency = _row("tiny-u575-resnet8-xcubeai730-latency", "latency_s", 0.139704)
    second = _row("tiny-l4r5-ds_cnn-onnc-energy-2", "energy_per_sample_j", 4.7e-3)
    second_latency = _row("tiny-l4r5-ds_cnn-onnc-latency-2", "latency_s", 0.0936)
    other_board = _row("tiny-u575-resnet8-xcubeai730-latency", "latency_s", 0.1, device="nucleo-l4r5zi")
    by_id = {r["id"]: r for r in (energy, latency, second, second_latency)}
    assert latency_partner(energy, by_id) == latency["id"]
    assert latency_partner(second, by_id) == second_latency["id"]
    assert latency_partner(energy, {**by_id, latency["id"]: other_board}) is None  # another run
    assert latency_partner(energy, {energy["id"]: energy}) is None


def test_a_hand_computed_row_and_its_summary(monkeypatch):
    # two energy rows of one board; their latency partners predicted 0.1 s and 0.2 s out of sample
    monkeypatch.setattr(cv_energy, "board_energy", lambda row: BoardEnergy(0.02, 1e-4))
    rows = [_row("a-energy", "energy_per_sample_j", 2.0e-3), _row("a-latency", "latency_s", 0.11),
            _row("b-energy", "energy_per_sample_j", 5.0e-3), _row("b-latency", "latency_s", 0.21),
            _row("c-energy", "energy_per_sample_j", 1e-3)]           # no latency partner: not predicted
    latency = {"leave-one-device-out": {"a-latency": 0.1, "b-latency": 0.2}}
    errors, unpredicted = cv_energy.energy_errors(rows, latency)
    assert unpredicted == 1
    by_id = errors.set_index("id")
    # a: 0.02 W x 0.1 s + 0.1 mJ = 2.1 mJ against 2.0 mJ measured: +5%
    assert by_id.loc["a-energy", "expected"] == pytest.approx(2.1e-3)
    assert by_id.loc["a-energy", "error"] == pytest.approx(0.05)
    # b: 0.02 W x 0.2 s + 0.1 mJ = 4.1 mJ against 5.0 mJ: -18%
    assert by_id.loc["b-energy", "error"] == pytest.approx(4.1 / 5.0 - 1)
    table = cv_energy.summary(errors, ["leave-one-device-out"], ["leave-one-device-out"])
    line = table[table.scope == "class"].iloc[0]
    assert line["name"] == "microcontroller energy" and line["n"] == 2
    assert (line.within_10, line.within_20) == (1, 2)
    assert line.median_abs_error == pytest.approx((0.05 + 0.18) / 2)
    assert list(table[table.scope == "device"].name) == ["nucleo-u575zi-q (energy)"]
    # crossval.run's hook: the latency summary, then these two lines; nothing added without energy rows
    latency_lines = table.iloc[:0]
    assert len(cv_energy.with_energy_lines(latency_lines, rows, latency)) == 2
    assert cv_energy.with_energy_lines(latency_lines, rows[1::2], latency) is latency_lines


def test_the_board_power_is_the_data_sheets_at_the_rows_supply():
    # U575 behind its SMPS: 3.0 V x 7.15 mA less the loop's (3 x 1.0 + 0.1) pJ x 1.8 x 160 MHz, at any VDD
    u575 = cv_energy.board_energy(_row("u-energy", "energy_per_sample_j", 1e-3))
    assert u575.static_power_w == pytest.approx(3.0 * 7.15e-3 - 3.1e-12 * 1.8 * 160e6, rel=2e-3)
    assert 0 < u575.dynamic_energy_j < 1e-4   # ResNet-8's 12.5 M MACs at well under 10 pJ each
    # L4R5 behind its LDO: 1.8 V x 100 uA/MHz x 120 MHz less 3.1 pJ x 2.9 x 120 MHz, drawn at 3.0 V
    l4r5 = cv_energy.board_energy(_row("l-energy", "energy_per_sample_j", 1e-3, device="nucleo-l4r5zi",
                                       power_mode="3.0V / Dual Bank Mode Activated, 120.0 MHz"))
    at_1v8 = 1.8 * 100e-6 * 120 - 3.1e-12 * 2.9 * 120e6
    assert l4r5.static_power_w == pytest.approx(at_1v8 * 3.0 / 1.8, rel=2e-3)


def test_no_energy_row_moves_a_prediction():
    # the energy rows only score: doubling every measured energy leaves every expected value as it was
    from simulator.accuracy import load_measurements

    rows = [row for row in load_measurements() if cv_energy._microcontroller(row)]
    doubled = [{**row, "value": str(2 * float(row["value"]))} if row["metric"] == cv_energy.METRIC else row
               for row in rows]
    latency = {"in-sample": {row["id"]: 0.1 for row in rows if row["metric"] == "latency_s"}}
    first, unpredicted = cv_energy.energy_errors(rows, latency)
    second, _ = cv_energy.energy_errors(doubled, latency)
    assert len(first) >= 40 and unpredicted == 0  # every energy row of the three boards has its latency row
    assert list(first.expected) == list(second.expected)
    assert set(first.device) == {"nucleo-h7a3zi-q (energy)", "nucleo-l4r5zi (energy)",
                                 "nucleo-u575zi-q (energy)"}
