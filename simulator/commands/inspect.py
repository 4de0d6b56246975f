"""``roofline list`` and ``roofline count``: what is available and the hardware-independent counts."""

from __future__ import annotations

import argparse

from simulator.commands import add_format_option, add_network_options


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("list", help="list built-in networks or devices")
    listing.add_argument("what", nargs="?", choices=("networks", "devices"), default="networks")
    listing.set_defaults(handler=run_list)

    count = subparsers.add_parser("count", help="per-layer params, MACs, FLOPs and activations")
    add_network_options(count)
    add_format_option(count)
    count.add_argument("--fused", action="store_true",
                       help="count the inference view (BatchNorm and activations folded into conv/linear)")
    count.set_defaults(handler=run_count)


def run_list(args: argparse.Namespace) -> int:
    if args.what == "networks":
        from simulator.catalog import available_networks

        print("\n".join(available_networks()))
        return 0
    from simulator.hardware import available_devices, resolve_device
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


def run_count(args: argparse.Namespace) -> int:
    from simulator.catalog import build_network
    from simulator.counts import count_network
    from simulator.fusion import inference_view
    from simulator.report import format_counts

    network = build_network(args.network, args.resolution, args.batch)
    if args.fused:
        network = inference_view(network)
    print(format_counts(count_network(network, args.batch), args.format))
    return 0
