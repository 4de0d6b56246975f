"""Which LLM rows the expected model makes a claim on: a row whose workload the LLM phases do not
build (a beam-search decode) or whose conditions the source does not state (notes: ASSUMED) is
compared with the bound only and left out of the cross-validation; MLPerf's Llama-2-70B rows run at
the mean prompt of the OpenOrca samples the benchmark feeds, read here from the shipped per-sample
histogram by its own arithmetic."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from simulator.accuracy import llm_unmodelled_reason, load_measurements, row_device
from simulator.calibration.crossval import scope

ROOT = Path(__file__).resolve().parents[1]
LLM_ROWS = [row for row in load_measurements() if row["table"] == "llm"]


def openorca_mean_prompt() -> float:
    """Mean of the histogram's ``length`` weighted by ``samples`` (comment lines start with #)."""
    path = ROOT / "simulator" / "model" / "sequence_lengths" / "openorca-llama2-70b.csv"
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    pairs = [(int(r["length"]), int(r["samples"])) for r in csv.DictReader(lines)]
    assert sum(n for _, n in pairs) == 24_576  # the reference's --total-sample-count
    return sum(length * n for length, n in pairs) / sum(n for _, n in pairs)


def test_mlperf_llama_2_70b_rows_run_at_openorcas_mean_prompt():
    rows = [r for r in LLM_ROWS if r["network"] == "llama_2_70b" and "/inference_results_v" in r["source"]]
    assert len(rows) >= 40
    assert {int(r["input_len"]) for r in rows} == {round(openorca_mean_prompt())}
    assert not any("ASSUMED" in r["notes"] for r in rows)


@pytest.mark.parametrize("text, claimed", [
    ("output_len 69 (beam search, 4 beams, in NVIDIA's harness)", False),
    ("input_len 600 ASSUMED: not stated", False),
    ("batch from the config class; output length from LoadGen", True),
])
def test_a_row_is_claimed_unless_its_notes_name_an_unmodelled_condition(text, claimed):
    row = {"table": "llm", "device": "h100-sxm", "runtime": "TensorRT-LLM (MLPerf harness, Offline)",
           "runtime_version": "", "notes": text}
    assert (llm_unmodelled_reason(row) is None) is claimed
    assert row_device(row)[1] is claimed


def test_unclaimed_rows_stay_out_of_the_cross_validation():
    gptj_mlperf = [r for r in LLM_ROWS if r["network"] == "gpt_j_6b" and "beam search" in r["notes"]]
    assumed = [r for r in LLM_ROWS if "ASSUMED" in r["notes"]]
    assert gptj_mlperf and assumed
    kept = {row["id"] for row, _ in scope(LLM_ROWS).rows}
    assert not kept & {r["id"] for r in gptj_mlperf + assumed}
    excluded = scope(LLM_ROWS).excluded
    assert any("beam-search" in reason for reason in excluded)
    assert any("ASSUMED" in reason for reason in excluded)
