"""Fit a GPU profile's efficiency model on the dataset's ``fit`` rows (never on ``check`` rows).

    python bench/fit_efficiency.py jetson-agx-orin --units 16 --fit-bandwidth --fit-buffer
    python bench/fit_efficiency.py a100-sxm-80gb a100-sxm-40gb --units 108 --conv-overhead --fit-buffer

The model (``[efficiency]`` of a profile, :mod:`simulator.engine.efficiency`): every kernel costs
``kernel_overhead_s`` (a convolution also its class's ``overhead_s``) on top of
``max(T_compute / (compute_fraction · fill), T_memory / bandwidth_fraction)``, where ``fill`` is
the share of the SMs (``parallel_units``, from the data sheet) a kernel's thread blocks keep busy.
The GEMM-like classes' ``bandwidth_fraction`` is not fitted: ``--bandwidth-fraction`` (a stream
benchmark's share, default 0.9). Fitted by least squares on log time to the fit rows of the devices
named (profiles of one chip): the per-kernel overhead, the share of the tensor-core peak, the
GEMM-like tile (the best of 1024..16384 outputs), and optionally the memory-bound classes'
bandwidth share (``--fit-bandwidth``), the convolutions' extra overhead (``--conv-overhead``) and
the share of the on-chip activation buffer (L2) that activations stay resident in (``--fit-buffer``,
the best of a grid, as the tile: residency changes in steps, which a gradient does not see).
Prints the figures to put in the profiles.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.optimize import least_squares

from simulator.accuracy import load_measurements, parse_params, row_device, row_overrides
from simulator.hardware.device import EfficiencyModel, KernelEfficiency
from simulator.hardware.loader import resolve_device
from simulator.simulation import simulate


def predicted(row: dict, device) -> float:
    params = parse_params(row.get("params", ""))
    resolution = params.pop("resolution", None)
    result = simulate(row["network"], device, batch=int(row["batch"]), precision=row["precision"],
                      resolution=resolution, params=params, micro_batching=False)
    return result.latency_s if row["metric"] == "latency_s" else result.throughput_per_s


TILES = (1024, 2048, 4096, 8192, 16384)
#: shares of the on-chip activation buffer ``--fit-buffer`` tries
BUFFER_FRACTIONS = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125)
GEMM_CLASSES = ("conv", "gemm", "attention")
#: the memory-bound kernel classes, whose bandwidth share ``--fit-bandwidth`` fits
OTHER_CLASSES = ("depthwise_conv", "elementwise", "default")


def with_model(device, overhead_s: float, compute_fraction: float, bandwidth_fraction: float, units: int,
               tile: int, other_bandwidth: float | None = None, conv_overhead_s: float = 0.0,
               other_compute: float | None = None, dense_compute: float | None = None,
               buffer_fraction: float | None = None):
    gemm = KernelEfficiency(compute_fraction=dense_compute or compute_fraction,
                            bandwidth_fraction=bandwidth_fraction)
    conv = KernelEfficiency(compute_fraction=compute_fraction, bandwidth_fraction=bandwidth_fraction,
                            overhead_s=conv_overhead_s)
    other = KernelEfficiency(compute_fraction=other_compute or compute_fraction,
                             bandwidth_fraction=other_bandwidth or bandwidth_fraction)
    classes = {**dict.fromkeys(GEMM_CLASSES, gemm), **dict.fromkeys(OTHER_CLASSES, other), "conv": conv}
    model = EfficiencyModel(source="fit", classes=classes, kernel_overhead_s=overhead_s,
                            parallel_units=units, tile_outputs=dict.fromkeys(GEMM_CLASSES, tile),
                            buffer_capacity_fraction=buffer_fraction)
    return device.model_copy(update={"efficiency": model})


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
    # the profile's own runtime only: rows a runtime file covers fit that runtime (bench/fit_runtime.py)
    own = [r for r in load_measurements() if r["device"] in devices and r["role"] == "fit"
           and row_device(r) == (r["device"], True)]
    rows = [r for r in own if r["metric"] in ("latency_s", "throughput_per_s")]
    if not rows:
        raise SystemExit(f"no fit rows for {', '.join(args.devices)}")

    def unpack(x: np.ndarray) -> tuple[float, ...]:
        k = 1 if args.no_overhead else 2
        overhead = 0.0 if args.no_overhead else math.exp(x[0])
        fraction = 1 / (1 + math.exp(-x[k - 1]))
        bandwidth = args.bandwidth_fraction
        if args.fit_bandwidth:
            bandwidth, k = 1 / (1 + math.exp(-x[k])), k + 1
        conv_overhead = 0.0
        if args.conv_overhead:
            conv_overhead, k = math.exp(x[k]), k + 1
        other_compute = None
        if args.depthwise_compute:
            other_compute, k = 1 / (1 + math.exp(-x[k])), k + 1
        dense_compute = 1 / (1 + math.exp(-x[k])) if args.dense_compute else None
        return overhead, fraction, bandwidth, conv_overhead, other_compute, dense_compute

    def trial_devices(x: np.ndarray, tile: int, buffer_fraction: float | None) -> dict:
        overhead, fraction, bandwidth, conv_overhead, other_compute, dense_compute = unpack(x)
        return {name: with_model(device, overhead, fraction, args.bandwidth_fraction, args.units, tile,
                                 bandwidth, conv_overhead, other_compute, dense_compute, buffer_fraction)
                for name, device in devices.items()}

    def residuals(x: np.ndarray, tile: int, buffer_fraction: float | None) -> np.ndarray:
        trials = trial_devices(x, tile, buffer_fraction)
        return np.array([math.log(predicted(row, trials[row["device"]]) / float(row["value"]))
                         for row in rows])

    x0 = np.array([math.log(3e-6)] * (not args.no_overhead) + [0.5] + [2.0] * args.fit_bandwidth
                  + [math.log(3e-6)] * args.conv_overhead + [0.0] * args.depthwise_compute
                  + [0.0] * args.dense_compute)
    tiles = TILES if args.units else (TILES[0],)
    # the tile and the buffer share change the residency and the waves in steps: searched on a grid
    buffers = BUFFER_FRACTIONS if args.fit_buffer else (None,)
    fits = {(tile, share): least_squares(residuals, x0=x0, args=(tile, share))
            for tile in tiles for share in buffers}
    tile, buffer_fraction = min(fits, key=lambda key: fits[key].cost)
    fit = fits[tile, buffer_fraction]
    overhead, fraction, bandwidth, conv_overhead, other_compute, dense_compute = unpack(fit.x)
    print(f"fit on {len(rows)} rows: {', '.join(r['id'] for r in rows)}")
    for (t, share), result in fits.items():
        print(f"  tile {t:>5}" + (f", buffer share {share:g}" if share else "") + f": cost {result.cost:.4f}")
    for row, r in zip(rows, residuals(fit.x, tile, buffer_fraction), strict=True):
        print(f"  {row['id']}: residual {math.expm1(r):+.1%}")
    if args.static_power:
        trials = trial_devices(fit.x, tile, buffer_fraction)
        energy_rows = [r for r in own if r["metric"] == "energy_per_sample_j"]
        dynamic, time = [], []
        for row in energy_rows:
            device = trials[row["device"]]
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
    print(f"kernel_overhead_us = {overhead * 1e6:.2f}\nconv overhead_us = {conv_overhead * 1e6:.2f}\n"
          f"parallel_units = {args.units}\n"
          + (f"buffer_capacity_fraction = {buffer_fraction:g}\n" if buffer_fraction else "")
          + f"tile_outputs = {{conv = {tile}, gemm = {tile}, attention = {tile}}}\n"
          f"[conv, gemm, attention]\ncompute_fraction = {fraction:.4f}\nbandwidth_fraction = "
          f"{args.bandwidth_fraction}\n[depthwise_conv, elementwise, default]\ncompute_fraction = "
          f"{other_compute or fraction:.4f}\nbandwidth_fraction = {bandwidth:.3f}"
          + (f"\n[gemm]\ncompute_fraction = {dense_compute:.4f}" if dense_compute else ""))


if __name__ == "__main__":
    main()
