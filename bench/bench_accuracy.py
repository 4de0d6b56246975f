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
    python bench/bench_accuracy.py --torch-python /work/refvenv/bin/python   # + torchvision exports

Besides the built-in networks (exported by ``roofline export``), it validates torchvision's exports
of :data:`TORCHVISION_NETWORKS` (``torch.onnx.export``, random weights, opset 17, symbolic batch;
rows ``<name> (torchvision)``): EfficientNet-B0 (SiLU, squeeze-excitation, 5x5 depthwise) and
ViT-B/16 (attention as its operators) are not built-in shapes. They need torch and torchvision:
in this interpreter, in another one (``--torch-python``, which only exports), or exports already
made (``--torchvision-onnx DIR`` with ``DIR/<name>.onnx``); without any of them they are skipped,
as ``compare_torchvision.py`` needs torch. ``--baseline PROFILE`` adds the calibrated error of a
second profile (e.g. one calibrated before a change of the suite) on the same measurements.

Measurements on a shared machine are noisy: the script waits for a quiet moment before each
step and reports how many cores other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
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
#: torchvision networks validated from their own ONNX export (none of them is fitted on)
TORCHVISION_NETWORKS = ("efficientnet_b0", "mobilenet_v2", "vit_b_16", "resnet50", "resnet18")
#: run by the interpreter that has torch: exports each name in argv[2:] to argv[1]/<name>.onnx
EXPORT_SCRIPT = """
import sys, torch, torchvision
torch.manual_seed(0)
for name in sys.argv[2:]:
    model = torchvision.models.get_model(name).eval()
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), f"{sys.argv[1]}/{name}.onnx", opset_version=17,
                      input_names=["x"], output_names=["y"], dynamo=False,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
"""
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
    parser.add_argument("--torchvision", default=",".join(TORCHVISION_NETWORKS),
                        help="comma-separated torchvision networks to export and validate ('' for none)")
    parser.add_argument("--torch-python", default=None,
                        help="an interpreter with torch and torchvision to export them (default: this one)")
    parser.add_argument("--torchvision-onnx", type=Path, default=None,
                        help="a folder of torchvision exports <name>.onnx (symbolic batch) to use instead")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a second calibrated profile whose error is shown on the same measurements")
    return parser.parse_args(argv)


def torchvision_exports(names: list[str], folder: Path, python: str | None,
                        existing: Path | None) -> dict[str, Path]:
    """``{name: ONNX path}`` of torchvision's exports (see the module doc); empty when there is no torch."""
    if not names:
        return {}
    if existing is not None:
        return {name: existing / f"{name}.onnx" for name in names if (existing / f"{name}.onnx").is_file()}
    if python is None:
        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
            print("torch and torchvision are not installed here: skipping the torchvision exports "
                  "(--torch-python or --torchvision-onnx)")
            return {}
        python = sys.executable
    subprocess.run([python, "-W", "ignore", "-c", EXPORT_SCRIPT, str(folder), *names], check=True,
                   stdout=subprocess.DEVNULL)
    return {name: folder / f"{name}.onnx" for name in names}


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
                 for name in filter(None, args.networks.split(","))}
        exported = torchvision_exports(list(filter(None, args.torchvision.split(","))), Path(folder),
                                       args.torch_python, args.torchvision_onnx)
        paths.update({f"{name} (torchvision)": path for name, path in exported.items()})
        baseline = None if args.baseline is None else load_device(args.baseline)
        best: dict[tuple[str, int], object] = {}
        for _ in range(args.rounds):
            for name, path in paths.items():
                mb.wait_for_quiet()
                for row in validate(path, device, batches, repeats=args.repeats).itertuples():
                    kept = best.get((name, row.batch))
                    if kept is None or row.measured_median_s < kept.measured_median_s:
                        best[(name, row.batch)] = row
        rows = [(name, row) for (name, _), row in best.items()]
        errors = {}
        if baseline is not None:  # the baseline's prediction of the same imported model, same measurement
            from simulator.onnx.reader import import_onnx
            from simulator.simulation import simulate
            for name, row in rows:
                graph = import_onnx(paths[name], batch=row.batch)
                predicted = simulate(graph, baseline, batch=row.batch, precision="fp32").latency_s
                errors[(name, row.batch)] = predicted / row.measured_median_s - 1
    print()
    extra = ("", "") if baseline is None else (" baseline error |", "---:|")
    print("| network | batch | measured (ms) | IQR (ms) | ideal roofline (ms) | ideal error | "
          f"calibrated (ms) | calibrated error |{extra[0]}")
    print(f"|---|---:|---:|---:|---:|---:|---:|---:|{extra[1]}")
    for name, row in rows:
        column = "" if baseline is None else f" {_percent(errors[(name, row.batch)])} |"
        print(f"| {name} | {row.batch} | {row.measured_median_s * 1e3:.2f} | "
              f"{row.measured_iqr_s * 1e3:.2f} | {row.ideal_s * 1e3:.2f} | {_percent(row.ideal_error)} | "
              f"{row.calibrated_s * 1e3:.2f} | {_percent(row.calibrated_error)} |{column}")
    slower = [f"{name} batch {row.batch}" for name, row in rows if row.ideal_error > 0]
    within = sum(abs(row.calibrated_error) <= WITHIN for _, row in rows)
    foreign = max(row.foreign_cores for _, row in rows)
    print()
    print(f"ideal roofline never slower than measured: {'yes' if not slower else 'no'}"
          + (f" (slower at {', '.join(slower)})" if slower else ""))
    print(f"calibrated within +-{WITHIN:.0%}: {within} of {len(rows)} points = {within / len(rows):.0%} "
          f"(target >= {TARGET_SHARE:.0%}: {'met' if within / len(rows) >= TARGET_SHARE else 'missed'})")
    if errors:
        kept = sum(abs(error) <= WITHIN for error in errors.values())
        print(f"baseline within +-{WITHIN:.0%}: {kept} of {len(errors)} points")
    print(f"other processes used up to {foreign:.2f} cores while measuring; "
          f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
