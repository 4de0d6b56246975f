"""Fit a GPU profile's efficiency model on the dataset's ``fit`` rows (never on ``check`` rows).

    python bench/fit_efficiency.py jetson-agx-orin
    python bench/fit_efficiency.py a100-sxm-80gb --transfer h100-sxm h200-sxm a100-sxm-40gb

The model (``[efficiency]`` of a profile, :mod:`simulator.engine.efficiency`): every kernel costs
``kernel_overhead_s`` on top of ``max(T_compute / (compute_fraction · fill), T_memory /
(bandwidth_fraction · fill))``, where ``fill`` is the share of the SMs (``parallel_units``, from
the data sheet) a kernel's 128 × 128-output thread blocks keep busy. ``bandwidth_fraction`` is not
fitted: it is the achievable share of the memory bandwidth given with ``--bandwidth-fraction``
(a stream benchmark's, default 0.9). The two free parameters, the per-kernel overhead and the
share of the tensor-core peak, are fitted by least squares on log time to the fit rows of the
device (the fitted device's own rows only; ``--transfer`` prints the lines for sibling profiles
that take the same figures unchanged). Prints the ``[efficiency]`` table to paste into the profile.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.optimize import least_squares

from simulator.accuracy import load_measurements, parse_params
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
GEMM_CLASSES = ("conv", "gemm", "attention")


def with_model(device, overhead_s: float, compute_fraction: float, bandwidth_fraction: float, units: int,
               tile: int):
    entry = KernelEfficiency(compute_fraction=compute_fraction, bandwidth_fraction=bandwidth_fraction)
    model = EfficiencyModel(source="fit", classes={"default": entry}, kernel_overhead_s=overhead_s,
                            parallel_units=units, tile_outputs=dict.fromkeys(GEMM_CLASSES, tile))
    return device.model_copy(update={"efficiency": model})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("device")
    parser.add_argument("--units", type=int, required=True, help="SMs of the device (data sheet)")
    parser.add_argument("--bandwidth-fraction", type=float, default=0.9)
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = [r for r in load_measurements() if r["device"] == args.device and r["role"] == "fit"]
    if not rows:
        raise SystemExit(f"no fit rows for {args.device}")

    def residuals(x: np.ndarray, tile: int) -> np.ndarray:
        trial = with_model(device, math.exp(x[0]), 1 / (1 + math.exp(-x[1])), args.bandwidth_fraction,
                           args.units, tile)
        return np.array([math.log(predicted(row, trial) / float(row["value"])) for row in rows])

    fits = {tile: least_squares(residuals, x0=np.array([math.log(3e-6), 0.5]), args=(tile,))
            for tile in TILES}
    tile = min(fits, key=lambda t: fits[t].cost)
    fit = fits[tile]
    overhead, fraction = math.exp(fit.x[0]), 1 / (1 + math.exp(-fit.x[1]))
    print(f"fit on {len(rows)} rows: {', '.join(r['id'] for r in rows)}")
    for t in TILES:
        print(f"  tile {t:>5}: cost {fits[t].cost:.4f}")
    for row, r in zip(rows, residuals(fit.x, tile), strict=True):
        print(f"  {row['id']}: residual {math.expm1(r):+.1%}")
    print(f"kernel_overhead_us = {overhead * 1e6:.2f}\nparallel_units = {args.units}\n"
          f"tile_outputs = {{conv = {tile}, gemm = {tile}, attention = {tile}}}\n"
          f"[efficiency.default]\ncompute_fraction = {fraction:.3f}\nbandwidth_fraction = {args.bandwidth_fraction}")


if __name__ == "__main__":
    main()
