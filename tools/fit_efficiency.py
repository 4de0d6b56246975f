"""Fit a GPU profile's efficiency model on the dataset's ``fit`` rows (never on ``check`` rows).

    python tools/fit_efficiency.py jetson-agx-orin --units 16 --fit-bandwidth --fit-buffer
    python tools/fit_efficiency.py a100-sxm-80gb a100-sxm-40gb --units 108 --conv-overhead --fit-buffer

The model (``[efficiency]`` of a profile, :mod:`simulator.engine.efficiency`): every kernel costs
``kernel_overhead_s`` (a convolution also its class's ``overhead_s``) on top of
``max(T_compute / (compute_fraction · fill), T_memory / bandwidth_fraction)``, where ``fill`` is
the share of the SMs (``parallel_units``, from the data sheet) a kernel's thread blocks keep busy.
The GEMM-like classes' ``bandwidth_fraction`` is not fitted: ``--bandwidth-fraction`` (a stream
benchmark's share, default 0.9). Fitted on log time to the fit rows of the devices named (profiles
of one chip): the per-kernel overhead, the share of the tensor-core peak, the GEMM-like tile (the
best of 1024..16384 outputs), and optionally the memory-bound classes' bandwidth share
(``--fit-bandwidth``), the convolutions' extra overhead (``--conv-overhead``) and the share of the
on-chip activation buffer (L2) that activations stay resident in (``--fit-buffer``, a grid, as the
tile: residency changes in steps, which a gradient does not see). Prints the figures to put in the
profiles.

The model and the fit are the package's (:mod:`simulator.calibration.cv_model`,
:mod:`simulator.calibration.cv_fit`, the code ``roofline accuracy --cv`` cross-validates): this
script builds a family from its flags, with each figure clamped to the range stated there, and
fits it on the rows a profile's source names (the hand-assigned ``fit`` rows).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from simulator.accuracy import load_measurements, parse_params, row_device, row_overrides  # noqa: E402
from simulator.calibration.cv_fit import fit_family  # noqa: E402
from simulator.calibration.cv_model import (  # noqa: E402
    BUFFER_FRACTIONS,
    TILES,
    Family,
    Parameter,
    efficiency_model,
    row_case,
    stack,
)
from simulator.hardware.loader import resolve_device  # noqa: E402
from simulator.simulation import simulate  # noqa: E402

#: the engine's kernel classes and the slot of the fit that describes each (as the profiles name them)
SLOTS = {"conv": "conv", "gemm": "gemm", "attention": "gemm", "depthwise_conv": "other",
         "elementwise": "other", "default": "other"}


def family_from(args: argparse.Namespace) -> Family:
    """The figures the flags ask for, as a family of the devices named."""
    fraction = Parameter("compute_fraction", "1", 0.005, 1.0, 0.5)
    parameters = [fraction]
    compute = dict.fromkeys(("conv", "gemm", "other"), "compute_fraction")
    bandwidth: dict[str, str | float] = dict.fromkeys(("conv", "gemm", "other"), args.bandwidth_fraction)
    overhead = {}
    if not args.no_overhead:
        parameters.insert(0, Parameter("kernel_overhead_s", "s", 0.1e-6, 50e-6, 3e-6, log=True))
    if args.fit_bandwidth:
        parameters.append(Parameter("bandwidth_fraction", "1", 0.05, 1.0, 0.5))
        bandwidth["other"] = "bandwidth_fraction"
    if args.conv_overhead:
        parameters.append(Parameter("conv_overhead_s", "s", 0.0, 50e-6, 3e-6))
        overhead["conv"] = "conv_overhead_s"
    if args.depthwise_compute:
        parameters.append(Parameter("compute_fraction_depthwise", "1", 0.005, 1.0, 0.5))
        compute["other"] = "compute_fraction_depthwise"
    if args.dense_compute:
        parameters.append(Parameter("compute_fraction_gemm", "1", 0.005, 1.0, 0.5))
        compute["gemm"] = "compute_fraction_gemm"
    tiles = TILES if args.units else (None,)
    buffers = BUFFER_FRACTIONS if args.units and args.fit_buffer else (None,)
    return Family("command line", "", tuple(args.devices), tuple(parameters), SLOTS, compute, bandwidth,
                  overhead, None if args.no_overhead else "kernel_overhead_s", tiles, buffers, args.units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("devices", nargs="+", help="profiles sharing the fitted figures (same chip)")
    parser.add_argument("--units", type=int, default=None,
                        help="SMs of a GPU (data sheet); without, no fill model (a microcontroller)")
    parser.add_argument("--bandwidth-fraction", type=float, default=0.9,
                        help="the achieved share of the memory bandwidth, when not fitted")
    parser.add_argument("--no-overhead", action="store_true", help="no per-kernel overhead (fixed 0)")
    parser.add_argument("--depthwise-compute", action="store_true",
                        help="fit the compute share of depthwise and element-wise kernels on its own")
    parser.add_argument("--dense-compute", action="store_true",
                        help="fit the compute share of dense (gemm) layers on its own (a dense fit row)")
    parser.add_argument("--fit-buffer", action="store_true",
                        help="fit the share of the on-chip activation buffer (L2) activations stay in")
    parser.add_argument("--static-power", action="store_true",
                        help="also fit the static power on the energy fit rows: E = E_dynamic + P·t")
    parser.add_argument("--conv-overhead", action="store_true",
                        help="fit an extra fixed cost of convolution kernels (over every kernel's)")
    parser.add_argument("--fit-bandwidth", action="store_true",
                        help="fit the bandwidth share too (needs a memory-bound fit row)")
    args = parser.parse_args()
    devices = {name: resolve_device(name) for name in args.devices}
    # the profile's own runtime only: rows a runtime file covers fit that runtime (tools/fit_runtime.py)
    own = [r for r in load_measurements() if r["device"] in devices and r["role"] == "fit"
           and row_device(r) == (r["device"], True)]
    rows = [r for r in own if r["metric"] in ("latency_s", "throughput_per_s")]
    if not rows:
        raise SystemExit(f"no fit rows for {', '.join(args.devices)}")
    family = family_from(args)
    cases = [row_case(row, parse_params(row.get("params", "")), None, family) for row in rows]
    fit = fit_family(cases)
    values = fit.values
    print(f"fit on {len(rows)} rows: {', '.join(r['id'] for r in rows)}")
    print(f"  tile {fit.tile}" + (f", buffer share {fit.buffer_fraction:g}" if fit.buffer_fraction else "")
          + f": objective {fit.objective:.4f}")
    for case, value in zip(cases, fit.predict(stack(cases)), strict=True):
        print(f"  {case.id}: residual {value / case.measured - 1:+.1%}")
    if args.static_power:
        energy_rows = [r for r in own if r["metric"] == "energy_per_sample_j"]
        dynamic, time = [], []
        for row in energy_rows:
            device = devices[row["device"]]
            model = efficiency_model(family, values, fit.tile, fit.buffer_fraction, device, row["precision"])
            device = device.model_copy(update={"efficiency": model})
            # the energy at the row's supply, as roofline accuracy predicts it
            result = simulate(row["network"], device, batch=int(row["batch"]),
                              precision=row["precision"], micro_batching=False,
                              overrides=row_overrides(row, device))
            dynamic.append((result.energy_j - result.energy_breakdown_j.get("static", 0.0)) / result.batch)
            time.append(result.latency_s / result.batch)
        measured = np.array([float(r["value"]) for r in energy_rows])
        power = max(0.0, float(np.dot(np.array(time), measured - np.array(dynamic)) / np.dot(time, time))
                    ) if energy_rows else 0.0
        print(f"static_power_w = {power:.4f}  (fit on {', '.join(r['id'] for r in energy_rows)})")
    fraction = values["compute_fraction"]
    other_bandwidth = values.get("bandwidth_fraction", args.bandwidth_fraction)
    print(f"kernel_overhead_us = {values.get('kernel_overhead_s', 0.0) * 1e6:.2f}\n"
          f"conv overhead_us = {values.get('conv_overhead_s', 0.0) * 1e6:.2f}\n"
          f"parallel_units = {args.units}\n"
          + (f"buffer_capacity_fraction = {fit.buffer_fraction:g}\n" if fit.buffer_fraction else "")
          + (f"tile_outputs = {{conv = {fit.tile}, gemm = {fit.tile}, attention = {fit.tile}}}\n"
             if fit.tile else "")
          + f"[conv, gemm, attention]\ncompute_fraction = {fraction:.4f}\nbandwidth_fraction = "
          f"{args.bandwidth_fraction}\n[depthwise_conv, elementwise, default]\ncompute_fraction = "
          f"{values.get('compute_fraction_depthwise', fraction):.4f}\n"
          f"bandwidth_fraction = {other_bandwidth:.3f}"
          + (f"\n[gemm]\ncompute_fraction = {values['compute_fraction_gemm']:.4f}"
             if "compute_fraction_gemm" in values else ""))


if __name__ == "__main__":
    main()
