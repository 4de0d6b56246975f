"""``roofline count``: per-layer params, MACs, FLOPs and activations (hardware-independent)."""

from __future__ import annotations

import argparse

from simulator.cli.common import (
    add_format_option,
    add_network_options,
    add_view_options,
    llm_phase,
    network_params,
)


def configure(count: argparse.ArgumentParser) -> None:
    add_network_options(count)
    add_format_option(count)
    count.add_argument("--fused", action="store_true",
                       help="count the inference view (BatchNorm and activations folded into conv/linear)")
    add_view_options(count, "MACs")
    count.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.api import count
    from simulator.report import format_counts, resolved_params
    from simulator.report_views import format_counts_view, view_of

    phase = llm_phase(args)
    if phase is not None:  # an LLM: one forward pass (--phase, --seq-len, --context)
        from simulator.llm.as_network import llm_network

        network, step = llm_network(args.network, **phase)
        counts = count(network, args.batch, fused=args.fused)
        settings = {"network": args.network, "params": step.params(), "batch": args.batch,
                    "fused": args.fused}
    else:
        params = network_params(args)
        counts = count(args.network, args.batch, args.resolution, fused=args.fused, params=params)
        settings = {"network": args.network, "params": resolved_params(args.network, params, args.resolution),
                    "batch": args.batch, "fused": args.fused}
    if view_of(args.summary, args.top, args.by) is None:
        print(format_counts(counts, args.format, settings))
    else:
        print(format_counts_view(counts, args.format, args.summary, args.top, args.by, settings))
    return 0
