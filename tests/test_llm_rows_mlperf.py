"""The MLPerf Inference LLM rows of ``hardware_profiles/measurements/llm.csv`` (Llama-2-70B, GPT-J,
Mixtral-8x7B; Offline and Server): each states its conditions and is consistent with them, and a
LoadGen Server result is compared with the bound only (a throughput under p99 TTFT/TPOT bounds, which
the model does not describe), also in the cross-validation."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from simulator.accuracy import row_device
from simulator.hardware.loader import available_devices
from simulator.llm.config import available_llms

ROOT = Path(__file__).resolve().parents[1]
SOURCE = re.compile(r"^mlcommons/inference_results_v4\.[01]@[0-9a-f]{40}:closed/(?P<submitter>[^/]+)/results/"
                    r"(?P<system>[^/]+)/(?P<benchmark>[^/]+)/(?P<scenario>Offline|Server)/performance/run_1/"
                    r"mlperf_log_summary\.txt$")
#: result folder -> network (the 99.9% accuracy target runs the same network; v4.0 rows use it where the
#: index holds only that copy of the run)
BENCHMARKS = {"llama2-70b-99": "llama_2_70b", "llama2-70b-99.9": "llama_2_70b", "gptj-99": "gpt_j_6b",
              "gptj-99.9": "gpt_j_6b", "mixtral-8x7b": "mixtral_8x7b"}


def mlperf_rows() -> list[dict[str, str]]:
    with open(ROOT / "hardware_profiles" / "measurements" / "llm.csv", newline="", encoding="utf-8") as f:
        return [{**row, "table": "llm"} for row in csv.DictReader(f)
                if row["source"].startswith("mlcommons/inference_results")]


ROWS = mlperf_rows()


def by_id(row_id: str) -> dict[str, str]:
    (row,) = [r for r in ROWS if r["id"] == row_id]
    return row


def test_there_are_mlperf_rows_of_each_benchmark_and_scenario():
    seen = {(r["network"], "Server" in r["runtime"]) for r in ROWS}
    assert seen == {(net, server) for net in set(BENCHMARKS.values()) for server in (False, True)}
    assert {r["source"].split("@")[0] for r in ROWS} == {"mlcommons/inference_results_v4.0",
                                                      "mlcommons/inference_results_v4.1"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["id"])
def test_row_conditions_are_consistent(row):
    found = SOURCE.match(row["source"])
    assert found, row["source"]
    assert row["network"] == BENCHMARKS[found["benchmark"]] and row["network"] in available_llms()
    assert row["device"] in available_devices()
    assert found["scenario"] in row["runtime"]  # the runtime column carries the scenario
    assert row["metric"] == "output_tokens_per_s" and row["unit"] == "tokens/s" and row["role"] == "check"
    # the value is over one TP x PP group: num_devices = tp x pp
    assert int(row["num_devices"]) == int(row["tp"]) * int(row["pp"])
    # ... and equals the system total the notes quote, divided by the number of such groups
    total = float(re.search(r"system total ([0-9.e+]+) tok/s", row["notes"]).group(1))
    gpus = int(re.search(r"\(([^()]*) x(\d+)\)", row["notes"]).group(2))
    assert float(row["value"]) == pytest.approx(total * int(row["num_devices"]) / gpus, rel=1e-6)
    # output length: LoadGen's tokens over samples (Llama 2, Mixtral) or mlperf.conf's 69 (GPT-J)
    samples = float(re.search(r"= ([0-9.e+]+) samples/s", row["notes"]).group(1))
    if row["network"] == "gpt_j_6b":
        assert int(row["output_len"]) == 69 and total == pytest.approx(69 * samples, rel=1e-3)
    else:
        assert int(row["output_len"]) == round(total / samples)
    if found["scenario"] == "Server":
        assert "bound only" in row["notes"] and "p99" in row["notes"]


def test_one_row_against_its_summary_by_hand():
    # closed/NVIDIA/results/H200-SXM-141GBx8_TRT/llama2-70b-99/Offline: "Samples per second: 107.477",
    # "Tokens per second: 31302.7"; NVIDIA's config H200_SXM_141GBx8: tensor_parallelism 1, batch 806
    row = by_id("mlperf-v4.1-nvidia-h200-sxm-141gbx8_trt-llama2-70b-99-offline")
    assert float(row["value"]) == pytest.approx(31302.7 / 8)  # 8 GPUs, one TP-1 replica each
    assert (row["tp"], row["batch"], row["output_len"]) == ("1", "806", str(round(31302.7 / 107.477)))
    # H100 SXM: TP 2 (class H100_SXM_80GB_TP2x4, batch 896), so a DGX H100 is 4 replicas
    row = by_id("mlperf-v4.1-nvidia-dgx-h100_h100-sxm-80gbx8_trt-llama2-70b-99-offline")
    assert (row["tp"], row["num_devices"], row["batch"]) == ("2", "2", "896")


def test_server_rows_are_bound_only_and_offline_rows_are_modelled():
    server = by_id("mlperf-v4.1-nvidia-h200-sxm-141gbx8_trt-llama2-70b-99-server")
    offline = by_id("mlperf-v4.1-nvidia-h200-sxm-141gbx8_trt-llama2-70b-99-offline")
    assert row_device(server) == ("h200-sxm", False)
    assert row_device(offline) == ("h200-sxm", True)


def test_server_rows_are_left_out_of_the_cross_validation():
    from simulator.calibration.crossval import scope

    server = by_id("mlperf-v4.1-nvidia-h200-sxm-141gbx8_trt-llama2-70b-99-server")
    offline = by_id("mlperf-v4.1-nvidia-h200-sxm-141gbx8_trt-llama2-70b-99-offline")
    selected = scope([server, offline])
    assert [row["id"] for row, _ in selected.rows] == [offline["id"]]
    assert sum(selected.excluded.values()) == 1
