"""``roofline validate``: an ONNX model's measured latency on this CPU against the predictions.
Needs onnxruntime (the ``validate`` extra)."""

from __future__ import annotations

import argparse
import math

from simulator.cli import common
from simulator.cli.common import BATCH_GRAMMAR, BatchList, add_format_option, positive_int


def configure(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("model", help="path to an .onnx file (with a symbolic batch for several batches)")
    common.add_device_option(validate, "device profile (e.g. from `roofline calibrate`)")
    validate.add_argument("--batch", action=BatchList, default=(1, 4, 16),
                          help="batch sizes (default 1,4,16): " + BATCH_GRAMMAR)
    validate.add_argument("--repeats", type=positive_int, default=5, help="timed runs per batch (default 5)")
    common.add_threads_option(validate)
    validate.add_argument("--patience", type=float, default=10.0,
                          help="seconds to wait, per batch, for runs undisturbed by other processes "
                               "(default 10)")
    validate.add_argument("--per-layer", action="store_true",
                          help="also compare layer by layer through ONNX Runtime's profiler (best effort)")
    add_format_option(validate)
    validate.set_defaults(handler=run)


def _ms(value_s: float) -> str:
    return "-" if math.isnan(value_s) else f"{value_s * 1e3:.3f}"


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:+.1f}%"


def run(args: argparse.Namespace) -> int:
    from simulator.calibration.validate import validate, validate_layers
    from simulator.io import dumps_json
    from simulator.report import render_csv, render_table

    frame = validate(args.model, args.device, args.batch, repeats=args.repeats, threads=args.threads,
                     patience_s=args.patience)
    layers = ({batch: validate_layers(args.model, args.device, batch, threads=args.threads)
               for batch in args.batch} if args.per_layer else {})
    if args.format == "json":
        document = {"points": frame.to_dict(orient="records")}
        if layers:
            document["layers"] = {str(b): f.to_dict(orient="records") for b, f in layers.items()}
        print(dumps_json(document, indent=2, default=float))
        return 0
    if args.format == "csv":
        print(frame.to_csv(index=False), end="")
        for batch, layer_frame in layers.items():
            print(render_csv(["batch", *layer_frame.columns],
                             [[batch, *row] for row in layer_frame.itertuples(index=False)]), end="")
        return 0
    headers = ["model", "batch", "measured ms", "IQR ms", "ideal ms", "ideal error", "calibrated ms",
               "calibrated error"]
    rows = [[row.model, str(row.batch), _ms(row.measured_median_s), _ms(row.measured_iqr_s), _ms(row.ideal_s),
             _percent(row.ideal_error), _ms(row.calibrated_s), _percent(row.calibrated_error)]
            for row in frame.itertuples()]
    print(render_table(headers, rows))
    print(f"error = predicted / measured - 1; {frame.threads.iloc[0]} threads; other processes used up to "
          f"{frame.foreign_cores.max():.2f} cores while measuring")
    for batch, layer_frame in layers.items():
        print(f"\nbatch {batch}, per layer (ONNX Runtime profiler; '-': fused into another node)")
        rows = [[row.layer, row.kind, _ms(row.ideal_s), _ms(row.calibrated_s), _ms(row.measured_s)]
                for row in layer_frame.itertuples()]
        print(render_table(["layer", "kind", "ideal ms", "calibrated ms", "measured ms"], rows))
    return 0
