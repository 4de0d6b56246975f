"""Accuracy of the latency predictions against ONNX Runtime on this machine's CPU.

Calibrates this machine (``roofline calibrate``, the full suite: a few minutes), exports the
reference CNNs to ONNX with random weights and a symbolic batch, runs each in ONNX Runtime at
batch 1, 4 and 16 (median of timed runs after warm-up; the lower of two rounds over all points,
so that a slow spell of the shared machine spoils one round, not a point) and compares with the
simulator's prediction for the imported model, on the ideal roofline and with the calibrated
efficiency model. Prints a markdown table and two summary lines: whether the ideal roofline ever predicts
slower than measured (it should not: it is a bound), and the share of points the calibrated
model predicts within +-20% (the target is at least 80%).

    python bench/bench_accuracy.py                       # calibrate, then measure
    python bench/bench_accuracy.py --profile this-machine.toml   # reuse a calibration

Measurements on a shared machine are noisy: the script waits for a quiet moment before each
step and reports how many cores other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from simulator.calibration import harness as mb
from simulator.calibration.calibrate import calibrate
from simulator.calibration.session import require_onnxruntime
from simulator.calibration.validate import validate
from simulator.catalog import NETWORKS
from simulator.hardware.loader import load_device
from simulator.onnx.writer import export_onnx

NETWORKS_MEASURED = ("resnet18", "resnet50", "mobilenet_v2", "vgg16", "alexnet")
WITHIN = 0.20
TARGET_SHARE = 0.80


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=None,
                        help="an existing calibrated profile (default: calibrate now)")
    parser.add_argument("--save-profile", type=Path, default=None, help="where to keep the calibration")
    parser.add_argument("--networks", default=",".join(NETWORKS_MEASURED), help="comma-separated names")
    parser.add_argument("--batches", default="1,4,16", help="comma-separated batch sizes")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per point (default 5)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds over all points, keeping each point's fastest median (default 2)")
    parser.add_argument("--resolution", type=int, default=None, help="input resolution (default 224)")
    return parser.parse_args(argv)


def _percent(error: float) -> str:
    return f"{error * 100:+.0f}%"


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    ort = require_onnxruntime()
    started = time.perf_counter()
    print(f"machine: {mb.cpu_model()}, {mb.core_count()} cores; onnxruntime {ort.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        profile = args.profile
        if profile is None:
            profile = args.save_profile or Path(folder) / "this-machine.toml"
            mb.wait_for_quiet()
            began = time.perf_counter()
            calibrate(profile)
            print(f"calibrated in {time.perf_counter() - began:.0f} s -> {profile}")
        device = load_device(profile)
        print(f"profile: {device.source}")
        batches = [int(b) for b in args.batches.split(",")]
        options = {} if args.resolution is None else {"resolution": args.resolution}
        paths = {name: export_onnx(NETWORKS[name](**options), Path(folder) / f"{name}.onnx", batch=None)
                 for name in args.networks.split(",")}
        best: dict[tuple[str, int], object] = {}
        for _ in range(args.rounds):
            for name, path in paths.items():
                mb.wait_for_quiet()
                for row in validate(path, device, batches, repeats=args.repeats).itertuples():
                    kept = best.get((name, row.batch))
                    if kept is None or row.measured_median_s < kept.measured_median_s:
                        best[(name, row.batch)] = row
        rows = [(name, row) for (name, _), row in best.items()]
    print()
    print("| network | batch | measured (ms) | IQR (ms) | ideal roofline (ms) | ideal error | "
          "calibrated (ms) | calibrated error |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in rows:
        print(f"| {name} | {row.batch} | {row.measured_median_s * 1e3:.2f} | "
              f"{row.measured_iqr_s * 1e3:.2f} | {row.ideal_s * 1e3:.2f} | {_percent(row.ideal_error)} | "
              f"{row.calibrated_s * 1e3:.2f} | {_percent(row.calibrated_error)} |")
    slower = [f"{name} batch {row.batch}" for name, row in rows if row.ideal_error > 0]
    within = sum(abs(row.calibrated_error) <= WITHIN for _, row in rows)
    foreign = max(row.foreign_cores for _, row in rows)
    print()
    print(f"ideal roofline never slower than measured: {'yes' if not slower else 'no'}"
          + (f" (slower at {', '.join(slower)})" if slower else ""))
    print(f"calibrated within +-{WITHIN:.0%}: {within} of {len(rows)} points = {within / len(rows):.0%} "
          f"(target >= {TARGET_SHARE:.0%}: {'met' if within / len(rows) >= TARGET_SHARE else 'missed'})")
    print(f"other processes used up to {foreign:.2f} cores while measuring; "
          f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
