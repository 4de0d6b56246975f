"""Predictions for the published LLM measurements in ``hardware_profiles/measurements/llm.csv``.

:func:`predict` takes one row (a dict of the CSV's columns) and returns the ideal roofline and the
expected value (the device's efficiency model, ``ideal=False``; equal to the ideal while a profile has
none) in the row's metric and unit: ``ttft_s`` (s), ``tpot_s`` (s) or ``output_tokens_per_s`` (tokens/s,
over all devices of the row).
"""

from __future__ import annotations

import csv
import importlib.resources
from pathlib import Path

from simulator.errors import SimulatorError
from simulator.llm.inference import simulate_llm

METRICS = ("ttft_s", "tpot_s", "output_tokens_per_s")


def measurements_path() -> Path:
    return Path(str(importlib.resources.files("simulator.hardware_profiles") / "measurements" / "llm.csv"))


def load_rows(path: str | Path | None = None) -> list[dict[str, str]]:
    with open(path or measurements_path(), newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def predict(row: dict) -> dict[str, float]:
    """``{"ideal": value, "expected": value}`` for one measurement row, in its metric and unit."""
    metric = row["metric"]
    if metric not in METRICS:
        raise SimulatorError(
            f"row {row.get('id')}: metric {metric!r} is not predicted; valid: {', '.join(METRICS)}"
        )
    out = {}
    for key, ideal in (("ideal", True), ("expected", False)):
        result = simulate_llm(
            row["network"],
            row["device"],
            int(row["batch"]),
            int(row["input_len"]),
            int(row["output_len"]),
            int(row["tp"]),
            int(row.get("pp") or 1),
            row["weight_precision"],
            row["activation_precision"],
            row["kv_precision"],
            ideal,
        )
        out[key] = float(result.metrics[metric][0])
    return out
