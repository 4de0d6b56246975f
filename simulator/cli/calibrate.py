"""``roofline calibrate``: measure this machine (peaks, bandwidths, kernel efficiencies) into a device
profile. Needs onnxruntime (the ``validate`` extra)."""

from __future__ import annotations

import argparse

from simulator.cli.common import add_force_option, add_output_option, add_progress_option, add_threads_option
from simulator.cli.progress import Progress


def configure(calibrate: argparse.ArgumentParser) -> None:
    add_output_option(calibrate, "the profile to write (.toml)")
    calibrate.add_argument("--quick", action="store_true",
                           help="a few tiny cases only (seconds): checks the machinery, not for predictions")
    add_threads_option(calibrate)
    add_progress_option(calibrate, "case")
    add_force_option(calibrate)
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
