"""``roofline list``: the built-in networks, or the shipped devices with their peaks and bandwidth."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("list", help="list built-in networks or devices")
    listing.add_argument("what", nargs="?", choices=("networks", "devices"), default="networks")
    listing.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "networks":
        from simulator.catalog import available_networks

        print("\n".join(available_networks()))
        return 0
    from simulator.hardware.loader import available_devices, resolve_device
    from simulator.report import render_table
    from simulator.units import format_bytes, format_count

    rows = []
    for name in sorted(available_devices()):
        device = resolve_device(name)
        peaks = ", ".join(f"{p} {format_count(device.peak_for(p))} op/s" for p in device.precisions)
        dram = device.memory_levels[0]
        rows.append([name, peaks, f"{dram.name} {format_bytes(dram.bandwidth_bytes_per_s)}/s"])
    print(render_table(["device", "peak", "outer memory bandwidth"], rows))
    return 0
