"""Fit the LLM terms of the expected model on the LLM dataset's ``fit`` rows (never on ``check`` rows).

    python bench/fit_llm_efficiency.py

Three terms, each solved exactly (a one-dimensional root on log time) from the ``fit`` rows of
``hardware_profiles/measurements/llm.csv``, in this order per device:

* ``[efficiency] step_overhead_us``: a serving runtime's fixed cost per forward pass (scheduling,
  sampling, host synchronization), from the device's ``fit`` TTFT row on one device (``tp = 1``) with a
  short prompt, where the roofline time is smallest and the fixed cost shows;
* ``[interconnect] allreduce_overhead_us``: the fixed cost of one all-reduce on top of its ring time,
  from the device's ``fit`` TTFT row with ``tp > 1`` (the step overhead already fitted): a short prompt
  makes the ``2·layers`` all-reduces' fixed cost, not their bytes, the difference from one device;
* ``[efficiency] gemv_bandwidth_fraction``: the share of bandwidth a decode step's GEMV-like projections
  reach, from a device's ``fit`` TPOT row at batch 1 (weights streamed once per token).

Prints the figures to put in the profiles (h100-sxm's transfer to h200-sxm, a100-sxm-80gb's to
a100-sxm-40gb: same chip and software stack).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from simulator.accuracy import row_device  # noqa: E402
from simulator.calibration.cv_llm import solve_term  # noqa: E402
from simulator.hardware.loader import resolve_device  # noqa: E402
from simulator.llm.inference import simulate_llm  # noqa: E402
from simulator.llm.validation import load_rows  # noqa: E402


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


def solve(row: dict, make, lo: float, hi: float) -> float:
    """The value ``x`` in ``[lo, hi]`` with ``predict(row, make(x)) == measured`` (log residual 0):
    :func:`simulator.calibration.cv_llm.solve_term`, bisection to 1e-12."""
    return solve_term(row, make, lo, hi)


def main() -> None:
    # the device's own runtimes only: a row a runtime file covers fits that runtime (bench/fit_runtime.py)
    fit = [r for r in load_rows()
           if r["role"] == "fit" and row_device({**r, "table": "llm"})[0] == r["device"]]
    for name in sorted({r["device"] for r in fit}):
        device = resolve_device(name)
        rows = [r for r in fit if r["device"] == name]
        ttft1 = [r for r in rows if r["metric"] == "ttft_s" and int(r["tp"]) == 1]
        ttftn = [r for r in rows if r["metric"] == "ttft_s" and int(r["tp"]) > 1]
        tpot = [r for r in rows if r["metric"] == "tpot_s" and int(r["batch"]) == 1]
        print(f"{name}:")
        if ttft1:
            (row,) = ttft1
            step = solve(row, lambda x, d=device: with_fields(d, {"step_overhead_s": x}), 0.0, 0.1)
            device = with_fields(device, {"step_overhead_s": step})
            print(f"  [efficiency] step_overhead_us = {step * 1e6:.0f}    (from {row['id']})")
        if ttftn:
            (row,) = ttftn
            comm = solve(row, lambda x, d=device: with_fields(d, interconnect={"allreduce_overhead_s": x}),
                         0.0, 1e-3)
            device = with_fields(device, interconnect={"allreduce_overhead_s": comm})
            print(f"  [interconnect] allreduce_overhead_us = {comm * 1e6:.1f}    (from {row['id']})")
        if tpot:
            (row,) = tpot
            fraction = solve(row, lambda x, d=device: with_fields(d, {"gemv_bandwidth_fraction": x}),
                             0.05, 1.0)
            print(f"  [efficiency] gemv_bandwidth_fraction = {fraction:.3f}    (from {row['id']})")


if __name__ == "__main__":
    main()
