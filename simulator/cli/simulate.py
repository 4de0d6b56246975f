"""``roofline simulate``: a network on a device."""

from __future__ import annotations

import argparse

from simulator.cli.common import (
    add_attention_option,
    add_device_option,
    add_format_option,
    add_fuse_option,
    add_ideal_option,
    add_network_options,
    add_precision_options,
    add_require_fit_option,
    add_settings_option,
    add_view_options,
    llm_phase,
    network_params,
    single_settings,
)
from simulator.errors import SimulatorError


def configure(parser: argparse.ArgumentParser) -> None:
    add_network_options(parser)
    add_device_option(parser)
    add_precision_options(parser)
    add_fuse_option(parser)
    add_ideal_option(parser)
    add_require_fit_option(parser)
    add_settings_option(parser)
    add_attention_option(parser)
    add_format_option(parser)
    add_view_options(parser, "latency")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.report import format_simulation
    from simulator.report_views import format_simulation_view, view_of
    from simulator.simulation import simulate

    phase = llm_phase(args)
    if phase is not None:  # an LLM: one forward pass, as `roofline llm` computes it
        from simulator.llm.as_network import simulate_phase

        if args.settings or args.attention or args.no_fuse:
            raise SimulatorError(f"--set, --attention and --no-fuse do not apply to the LLM {args.network!r}")
        result = simulate_phase(args.network, args.device, args.batch, precision=args.precision,
                                weight_precision=args.weight_precision,
                                activation_precision=args.activation_precision, ideal=args.ideal, **phase)
    else:
        params, overrides = network_params(args), single_settings(args)
        result = simulate(args.network, args.device, batch=args.batch, precision=args.precision,
                          weight_precision=args.weight_precision,
                          activation_precision=args.activation_precision, fuse=not args.no_fuse,
                          resolution=args.resolution, ideal=args.ideal,
                          params=params, attention=args.attention, overrides=overrides)
    if view_of(args.summary, args.top, args.by) is None:
        print(format_simulation(result, args.format))
    else:
        print(format_simulation_view(result, args.format, args.summary, args.top, args.by))
    if args.require_fit and not result.fits:
        unfit = "; ".join(check.describe() for check in result.memory if not check.fits)
        raise SimulatorError(f"{result.network} does not fit on {result.device} at batch {result.batch} "
                             f"({unfit}); --require-fit")
    return 0
