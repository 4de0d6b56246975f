"""``roofline calibrate``: measure this machine (peaks, bandwidths, kernel efficiencies) into a device
profile. Needs onnxruntime (the ``validate`` extra)."""

from __future__ import annotations

import argparse

from simulator.cli.common import positive_int
from simulator.cli.progress import Progress


def configure(calibrate: argparse.ArgumentParser) -> None:
    calibrate.add_argument("-o", "--output", required=True, help="the profile to write (.toml)")
    calibrate.add_argument("--quick", action="store_true",
                           help="a few tiny cases only (seconds): checks the machinery, not for predictions")
    calibrate.add_argument("--threads", type=positive_int, default=None,
                           help="ONNX Runtime intra-op threads (default: one per core)")
    calibrate.add_argument("--progress", action="store_true",
                           help="report each case on stderr (a progress bar is shown on a terminal anyway)")
    calibrate.add_argument("--force", action="store_true", help="allow replacing a shipped profile")
    calibrate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.calibration.calibrate import calibrate
    from simulator.io import check_writable
    from simulator.units import format_bytes

    check_writable(args.output, args.force)  # calibrate itself writes through a temporary file
    with Progress("calibrate", "lines" if args.progress else "auto") as progress:
        result = calibrate(args.output, quick=args.quick, threads=args.threads, progress=progress.message)
    device = result.device
    print(f"wrote {args.output}: {device.description}")
    for precision, peak in device.peak_ops_per_s.items():
        print(f"  peak {precision:<6} {peak / 1e9:10.1f} GOP/s")
    for level in device.memory_levels:
        print(f"  {level.name:<13} {format_bytes(level.capacity_bytes):>9}  "
              f"{level.bandwidth_bytes_per_s / 1e9:8.1f} GB/s")
    for cls, entry in result.efficiency.items():
        print(f"  {cls:<15} compute {entry.compute_fraction:.2f}  bandwidth {entry.bandwidth_fraction:.2f}  "
              f"overhead {entry.overhead_s * 1e6:.1f} us")
    return 0
