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
#: the results repositories the rows come from: MLCommons' own (v4.0, v4.1) and, for v5.1, a mirror of
#: MLCommons' repository (ntuhpc/inference_results_v5.1, the same closed/ tree)
ROUNDS = {"mlcommons/inference_results_v4.0", "mlcommons/inference_results_v4.1",
          "ntuhpc/inference_results_v5.1"}
SOURCE = re.compile(r"^(?:mlcommons/inference_results_v4\.[01]|ntuhpc/inference_results_v5\.1)@[0-9a-f]{40}:"
                    r"closed/(?P<submitter>[^/]+)/results/(?P<system>[^/]+)/(?P<benchmark>[^/]+)/"
                    r"(?P<scenario>Offline|Server|Interactive)/performance/run_1/mlperf_log_summary\.txt$")
#: result folder -> network (the 99.9% accuracy target runs the same network; v4.0 rows use it where the
#: index holds only that copy of the run)
BENCHMARKS = {"llama2-70b-99": "llama_2_70b", "llama2-70b-99.9": "llama_2_70b", "gptj-99": "gpt_j_6b",
              "gptj-99.9": "gpt_j_6b", "mixtral-8x7b": "mixtral_8x7b", "llama3.1-8b": "llama_3_1_8b",
              "llama3_1-8b": "llama_3_1_8b", "llama3.1-405b": "llama_3_1_405b",
              "llama3_1-405b": "llama_3_1_405b"}


def mlperf_rows() -> list[dict[str, str]]:
    with open(ROOT / "hardware_profiles" / "measurements" / "llm.csv", newline="", encoding="utf-8") as f:
        return [{**row, "table": "llm"} for row in csv.DictReader(f)
                if row["source"].split("@")[0] in ROUNDS]


ROWS = mlperf_rows()


def by_id(row_id: str) -> dict[str, str]:
    (row,) = [r for r in ROWS if r["id"] == row_id]
    return row


def test_there_are_mlperf_rows_of_each_benchmark_and_scenario():
    seen = {(r["network"], "Server" in r["runtime"]) for r in ROWS}
    assert seen == {(net, server) for net in set(BENCHMARKS.values()) for server in (False, True)}
    assert {r["source"].split("@")[0] for r in ROWS} == ROUNDS


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["id"])
def test_row_conditions_are_consistent(row):
    found = SOURCE.match(row["source"])
    assert found, row["source"]
    assert row["network"] == BENCHMARKS[found["benchmark"]] and row["network"] in available_llms()
    assert row["device"] in available_devices()
    assert found["scenario"] in row["runtime"]  # the runtime column carries the scenario
    # Interactive is a Server run at tighter TTFT/TPOT bounds: its runtime names Server too, which makes
    # it a bound-only row (simulator.accuracy.llm_server_row)
    assert ("Server" in row["runtime"]) is (found["scenario"] != "Offline")
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
    if found["scenario"] != "Offline":
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


def test_v51_rows_against_their_summaries_by_hand():
    # ntuhpc/inference_results_v5.1 closed/ASUSTeK/results/ESC_N8_H200-SXM-141GBx8_TRT/llama2-70b-99/Offline:
    # "Samples per second: 120.235", "Tokens per second: 35075.1"; the submitter's
    # configs/ESC_N8_H200-SXM-141GBx8/Offline/llama2-70b.py: gpu_batch_size 2048, tensor_parallelism 1,
    # precision 'fp8' -> 8 replicas of one GPU each
    row = by_id("mlperf-v5.1-asustek_esc_n8_h200_sxm_141gbx8_trt-llama2-70b-99-offline")
    assert float(row["value"]) == pytest.approx(35075.1 / 8)
    assert (row["tp"], row["pp"], row["batch"], row["weight_precision"]) == ("1", "1", "2048", "fp8")
    assert row["output_len"] == str(round(35075.1 / 120.235))  # 292 tokens per sample
    # closed/Nebius/results/H200-SXM-141GBx8_TRT/llama3.1-405b/Offline: "Tokens per second: 552.749",
    # "Samples per second: 0.856236"; config: TP 4 x PP 2 = the whole 8-GPU node is one replica
    row = by_id("mlperf-v5.1-nebius_h200_sxm_141gbx8_trt-llama3.1-405b-offline")
    assert (row["tp"], row["pp"], row["num_devices"], row["batch"]) == ("4", "2", "8", "512")
    assert float(row["value"]) == pytest.approx(552.749)
    assert row["output_len"] == str(round(552.749 / 0.856236))  # 646


def test_interactive_rows_are_bound_only():
    row = by_id("mlperf-v5.1-nebius_h200_sxm_141gbx8_trt-llama2-70b-99-interactive")
    assert row_device(row) == ("h200-sxm", False)
