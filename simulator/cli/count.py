"""``roofline count``: per-layer params, MACs, FLOPs and activations (hardware-independent)."""

from __future__ import annotations

import argparse

from simulator.cli.common import add_format_option, add_network_options, network_params


def configure(count: argparse.ArgumentParser) -> None:
    add_network_options(count)
    add_format_option(count)
    count.add_argument("--fused", action="store_true",
                       help="count the inference view (BatchNorm and activations folded into conv/linear)")
    count.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.catalog import build_network
    from simulator.model.counts import count_network
    from simulator.model.fusion import inference_view
    from simulator.report import format_counts

    network = build_network(args.network, args.resolution, args.batch, network_params(args))
    if args.fused:
        network = inference_view(network)
    print(format_counts(count_network(network, args.batch), args.format))
    return 0
