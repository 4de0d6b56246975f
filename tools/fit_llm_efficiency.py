"""Fit the LLM term of the expected model that no data sheet gives: the share of bandwidth a serving
runtime's projection kernels stream their weights at.

    python tools/fit_llm_efficiency.py

A forward pass of the LLM costs (:mod:`simulator.llm.phases`, :mod:`simulator.llm.parallel`):

* every kernel's roofline time, the projections' weights at ``[efficiency] gemv_bandwidth_fraction``
  of bandwidth (a batch-1 decode Linear is a GEMV: ``weight bytes / (bandwidth · fraction)``);
* one launch per kernel counted from the built network (``kernels_per_step``) at the profile's
  ``kernel_overhead_us`` (fitted on CNN rows, not here), each all-reduce one NCCL kernel on top of its
  ring time (``2(N−1)·latency + 2(N−1)/N · bytes / bandwidth``, the link's cited small-message step);
* the runtime's host cost per pass, ``[efficiency] step_overhead_us``: documented in the profile
  (20 µs for TensorRT-LLM's C++ loop), not fitted.

Fitted here, per device with rows, by least squares on log time (``cv_llm.least_squares_term``,
golden-section search in the figure's range 0.3–1): ``gemv_bandwidth_fraction`` on every row of the
device's own runtime on one GPU (``tp = 1``), whatever its ``fit``/``check`` role (no row is chosen
by hand), from two sources:

* NVIDIA's batch-1 decode throughput of GPT-J 6B (:data:`PUBLISHED_DECODE`, TensorRT-LLM v0.5.0 and
  TensorRT 9.1, the H100-vs-A100 blog in the TensorRT-LLM repository);
* the device's ``llm.csv`` rows at ``tp = 1`` (the TensorRT-LLM performance documentation: v0.5
  TTFT at batch 1, v0.6.1 throughput at large batches). Rows where the projections are compute-bound
  do not depend on the figure and add a constant to the cost.

Orin (TinyChat, no published second source) keeps its one-row solve on ``llm-027``. Prints the
figures to put in the profiles (h100-sxm's transfer to h200-sxm, a100-sxm-80gb's to a100-sxm-40gb:
same chip and software stack) with each row's residual.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from simulator.accuracy import row_device  # noqa: E402
from simulator.calibration.cv_llm import GEMV_TRTLLM, least_squares_term, solve_term  # noqa: E402
from simulator.hardware.loader import resolve_device  # noqa: E402
from simulator.llm.config import parse_config  # noqa: E402
from simulator.llm.inference import simulate_llm  # noqa: E402
from simulator.llm.validation import load_rows  # noqa: E402

#: GPT-J 6B in GPT-2's layout (EleutherAI/gpt-j-6b config.json: n_embd 4096, n_head 16, n_layer 28,
#: n_inner null = 4·4096, n_positions 2048, vocab_size 50400, untied LM head). GPT-J runs attention
#: and MLP side by side from one LayerNorm, with rotary positions: the weights streamed per token are
#: GPT-2-layout's to within the biases; one norm and one residual add per layer fewer (about 3% of a
#: batch-1 step's launches).
GPT_J_6B = parse_config({"model_type": "gpt2", "n_embd": 4096, "n_head": 16, "n_layer": 28,
                         "n_inner": 16384, "n_positions": 2048, "vocab_size": 50400,
                         "tie_word_embeddings": False}, "gpt-j-6b (GPT-2 layout)")
_BLOG = ("NVIDIA/TensorRT-LLM docs/source/blogs/H100vsA100.md@15ed78097ea2c14b3831ca017935a32dec54476e, "
         "'Max Throughput & Min Latency' table: GPT-J 6B, batch 1, input 128, TP1, SXM 80GB, "
         "TensorRT-LLM v0.5.0, TensorRT 9.1; output length not stated, taken as 128 (the table's other row)")
#: NVIDIA's published batch-1 decode throughputs (output tokens/s of one sequence: 1 / TPOT, the
#: prefill included once); rows in ``llm.csv``'s columns
PUBLISHED_DECODE = (
    {"id": "blog-h100", "network": GPT_J_6B, "device": "h100-sxm", "tp": "1", "pp": "1", "batch": "1",
     "input_len": "128", "output_len": "128", "weight_precision": "fp8", "activation_precision": "fp8",
     "kv_precision": "fp8", "metric": "output_tokens_per_s", "value": "185", "source": _BLOG},
    {"id": "blog-a100", "network": GPT_J_6B, "device": "a100-sxm-80gb", "tp": "1", "pp": "1", "batch": "1",
     "input_len": "128", "output_len": "128", "weight_precision": "fp16", "activation_precision": "fp16",
     "kv_precision": "fp16", "metric": "output_tokens_per_s", "value": "111", "source": _BLOG},
)


def predict(row: dict, device) -> float:
    result = simulate_llm(row["network"], device, int(row["batch"]), int(row["input_len"]),
                          int(row["output_len"]), int(row["tp"]), int(row.get("pp") or 1),
                          row["weight_precision"], row["activation_precision"], row["kv_precision"])
    return float(result.metrics[row["metric"]][0])


def with_fields(device, efficiency: dict | None = None, interconnect: dict | None = None):
    update = {}
    if efficiency:
        update["efficiency"] = device.efficiency.model_copy(update=efficiency)
    if interconnect:
        update["interconnect"] = device.interconnect.model_copy(update=interconnect)
    return device.model_copy(update=update)


def fit_fraction(name: str, rows: list[dict]) -> float:
    """The device's ``gemv_bandwidth_fraction``: least squares on ``rows`` in TensorRT-LLM's range."""
    device = resolve_device(name)
    return least_squares_term(rows, lambda x: with_fields(device, {"gemv_bandwidth_fraction": x}),
                              GEMV_TRTLLM.low, GEMV_TRTLLM.high)


def main() -> None:
    # the device's own runtimes only: a row a runtime file covers fits that runtime (tools/fit_runtime.py)
    every = [r for r in load_rows() if row_device({**r, "table": "llm"})[0] == r["device"]]
    fit = [r for r in every if r["role"] == "fit"]
    for name in sorted({r["device"] for r in fit}):
        device = resolve_device(name)
        published = [r for r in PUBLISHED_DECODE if r["device"] == name]
        own = [r for r in every if r["device"] == name and int(r["tp"]) == 1]
        tpot = [r for r in fit if r["device"] == name and r["metric"] == "tpot_s" and int(r["batch"]) == 1]
        print(f"{name}:")
        if published and own:
            rows = published + own
            fraction = fit_fraction(name, rows)
            fitted = with_fields(device, {"gemv_bandwidth_fraction": fraction})
            print(f"  [efficiency] gemv_bandwidth_fraction = {fraction:.3f}    "
                  f"(least squares on {', '.join(r['id'] for r in rows)})")
            for row in rows:
                print(f"    {row['id']}: {predict(row, fitted) / float(row['value']) - 1:+.1%}")
        elif tpot:
            (row,) = tpot
            fraction = solve_term(row, lambda x, d=device: with_fields(d, {"gemv_bandwidth_fraction": x}),
                                  0.05, 1.0)
            print(f"  [efficiency] gemv_bandwidth_fraction = {fraction:.3f}    (from {row['id']}, exact)")
        else:
            print("  nothing to fit (no published batch-1 decode row, no batch-1 TPOT fit row)")


if __name__ == "__main__":
    main()
