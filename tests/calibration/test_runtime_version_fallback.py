"""A runtime version with no rows (in a fit) or no file (in the product) takes the factors of the
newest covered version of the same runtime at or below it, else the bare device (issue 19).

The time split holds out every X-CUBE-AI 9.0 row and no training row is 9.0: the fold must read 9.0
with 8.1's fitted factors, not with factor 1 (the bare board, X-CUBE-AI 7.3's kernels). In the
product, ``DEVICE@x-cube-ai-10.0`` (no such file) must read x-cube-ai-9.0's file, say so, and quote
the class's time-split band."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simulator.accuracy import load_measurements, row_device
from simulator.calibration import crossval
from simulator.calibration.cv_model import predict_stack, runtime_factor, stack
from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.hardware import error_band as error_band_module
from simulator.hardware.loader import resolve_device, resolve_runtime
from simulator.hardware.runtime import version_key

BOARD = "nucleo-l4r5zi"
CLASSES = ("conv", "depthwise_conv", "gemm", "pointwise_conv", "matmul", "pool", "elementwise")


def test_versions_compare_numerically():
    assert version_key("9.0.0") == version_key("9.0") > version_key("8.1.0") > version_key("8.0.0") \
        > version_key("7.3.0")
    assert version_key("10.0") > version_key("9.0.0")        # not as strings: "10.0" < "9.0"
    assert version_key("0363956a") is None                    # a commit hash falls back to nothing


def test_a_missing_factor_is_the_newest_older_files_then_one():
    values = {"scale:x-cube-ai-8.1:conv": 1.10, "scale:x-cube-ai-8.1:gemm": 1.20}
    assert runtime_factor(values, "scale:x-cube-ai-9.0:conv") == 1.10
    assert runtime_factor(values, "scale:x-cube-ai-9.0:gemm") == 1.20
    assert runtime_factor(values, "scale:x-cube-ai-9.0:depthwise_conv") == 1.0   # 8.1 has none fitted
    assert runtime_factor({**values, "scale:x-cube-ai-9.0:conv": 1.36}, "scale:x-cube-ai-9.0:conv") == 1.36
    assert runtime_factor(values, "scale:x-cube-ai-8.1:depthwise_conv") == 1.0   # nothing older: bare
    assert runtime_factor({"scale:x-cube-ai-9.0:conv": 2.0}, "scale:x-cube-ai-8.1:conv") == 1.0  # newer: no


@pytest.fixture(scope="module")
def cases_90():
    selected = crossval.scope(load_measurements())
    rows = crossval.Scope(tuple((r, rt) for r, rt in selected.rows if rt == "x-cube-ai-9.0"), {})
    assert len(rows.rows) == 12          # the MLPerf Tiny v1.2 rows: the whole time-split test fold
    return crossval.build_cases(rows)


def test_the_time_split_fold_predicts_90_with_81s_fitted_factors(cases_90):
    """The 9.0 rows predicted with a fit that has 8.1 factors and no 9.0 factor equal the same rows
    predicted with the 9.0 factors written out as 8.1's values; and differ from factor 1."""
    family = cases_90[0].family
    base = {p.name: p.default for p in family.parameters}
    older = {"scale:x-cube-ai-8.1:conv": 1.3, "scale:x-cube-ai-8.1:depthwise_conv": 2.1,
             "scale:x-cube-ai-8.1:gemm": 1.2}
    data = stack(cases_90)
    names_90 = [n for n in data.scale_names if n.startswith("scale:x-cube-ai-9.0:")]
    assert names_90
    as_81 = {n: older[n.replace("9.0", "8.1")] for n in names_90}
    tile, buffer = next(iter(family.tiles)), next(iter(family.buffers))
    inherited = predict_stack(data, {**base, **older}, tile, buffer)
    written = predict_stack(data, {**base, **older, **as_81}, tile, buffer)
    bare = predict_stack(data, {**base, **older, **dict.fromkeys(names_90, 1.0)}, tile, buffer)
    np.testing.assert_allclose(inherited, written, rtol=1e-12)
    assert np.all(inherited < bare)      # factors above 1 on the compute fraction: faster than the bare board


def fractions(device: str) -> dict[str, float]:
    model = resolve_device(device).efficiency
    return {c: model.for_class(c).compute_fraction for c in CLASSES}


def test_an_unlisted_version_reads_the_newest_file_at_or_below_it():
    bare = fractions(BOARD)
    for name, file in (("x-cube-ai-10.0", "x-cube-ai-9.0"), ("x-cube-ai-9.1.2", "x-cube-ai-9.0"),
                       ("x-cube-ai-8.5", "x-cube-ai-8.1")):
        scale = resolve_runtime(file).compute_scale
        got = fractions(f"{BOARD}@{name}")
        for cls in ("conv", "depthwise_conv", "gemm"):      # the profile's fraction times the file's factor
            assert got[cls] == pytest.approx(bare[cls] * scale[cls], rel=1e-12)
        assert resolve_device(f"{BOARD}@{name}").name == f"{BOARD}@{name}"
    assert fractions(f"{BOARD}@x-cube-ai-7.0") == bare          # older than every file: the bare board
    assert fractions(f"{BOARD}@x-cube-ai-8.0.0") == bare        # 8.1 is newer than 8.0: not borrowed


def test_an_unknown_runtime_or_device_is_still_refused():
    with pytest.raises(SimulatorError, match=r"unknown runtime 'x-cube-ia-10\.0'"):
        resolve_device(f"{BOARD}@x-cube-ia-10.0")
    with pytest.raises(SimulatorError, match=r"did you mean 'x-cube-ai-9\.0'"):  # 9.0 misspelt
        resolve_device(f"{BOARD}@x-cube-ai-9")
    with pytest.raises(SimulatorError, match="not for device 'stm32h743'"):
        resolve_device("stm32h743@x-cube-ai-10.0")


def test_dataset_rows_of_an_unlisted_version_read_the_newest_older_file():
    row = {"device": BOARD, "runtime": "X-CUBE-AI", "table": "mcu"}
    assert row_device({**row, "runtime_version": "10.0.0"}) == (f"{BOARD}@x-cube-ai-9.0", True)
    assert row_device({**row, "runtime_version": "8.5.1"}) == (f"{BOARD}@x-cube-ai-8.1", True)
    assert row_device({**row, "runtime_version": "8.0.0"}) == (BOARD, True)
    assert row_device({**row, "runtime_version": "9.0.0"}) == (f"{BOARD}@x-cube-ai-9.0", True)


LODO = {"device_class": "microcontroller", "protocol": "leave-one-device-out", "n": 70,
        "within_20_share": 0.3, "median_abs_error": 0.3, "p90_abs_error": 0.63}
SPLIT = {"device_class": "microcontroller", "protocol": "time-split", "n": 12,
         "within_20_share": 0.25, "median_abs_error": 0.41, "p90_abs_error": 0.77}
BANDS = {"classes": {"microcontroller": LODO}, "time_split_classes": {"microcontroller": SPLIT},
         "devices": {BOARD: "microcontroller"}}


def test_a_borrowed_version_quotes_the_time_split_band_and_says_which_file(monkeypatch, capsys):
    monkeypatch.setattr(error_band_module, "_bands", lambda: BANDS)
    own = error_band_module.error_band(f"{BOARD}@x-cube-ai-9.0")
    assert own.protocol == "leave-one-device-out" and own.runtime_note is None
    band = error_band_module.error_band(f"{BOARD}@x-cube-ai-10.0")
    assert band.protocol == "time-split" and band.median_abs_error == 0.41
    assert "runtime x-cube-ai-10.0 has no file: using x-cube-ai-9.0's" in band.describe()
    args = ["simulate", "ds_cnn_kws", "--device", f"{BOARD}@x-cube-ai-10.0"]
    assert main([*args, "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)["totals"]["expected_error_band"]
    assert record["protocol"] == "time-split" and record["median_abs_error"] == 0.41
    assert "using x-cube-ai-9.0's" in record["runtime_note"]
    assert main([*args, "--summary"]) == 0
    out = capsys.readouterr().out
    assert "±41%" in out and "(time-split)" in out and "has no file: using x-cube-ai-9.0's" in out


def test_error_bands_write_the_time_split_figures_beside_the_device_held_out_ones():
    table = pd.DataFrame([
        {"scope": "class", "name": "microcontroller", "protocol": p, "n": n, "within_20": w,
         "median_abs_error": m, "p90_abs_error": q}
        for p, n, w, m, q in (("leave-one-device-out", 70, 21, 0.30, 0.63), ("time-split", 12, 3, 0.28, 0.66),
                              ("in-sample", 70, 60, 0.10, 0.21))])
    bands = crossval.error_bands(table)
    assert bands["classes"]["microcontroller"]["protocol"] == "leave-one-device-out"
    split = bands["time_split_classes"]["microcontroller"]
    assert (split["protocol"], split["n"], split["within_20_share"], split["median_abs_error"]) == \
        ("time-split", 12, 0.25, 0.28)
