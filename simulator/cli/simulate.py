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
    parser.add_argument("--seq-lengths", default=None, metavar="SPEC",
                        help="a batch of variable-length sequences (networks with --seq-len, e.g. "
                             "bert_large): a shipped length distribution (squad-v1.1: SQuAD v1.1 dev as "
                             "MLPerf BERT tokenizes it, max_seq_length 384), a list of lengths (128,256: a "
                             "batch of those sequences) or one effective length (200)")
    parser.add_argument("--padding", choices=("none", "max"), default=None,
                        help="with --seq-lengths: none (padding removed: linear layers on the real tokens, "
                             "attention on the sum of squared lengths; the default) or max (every sequence "
                             "padded to --seq-len, by default the distribution's max_seq_length or the "
                             "list's longest)")
    add_format_option(parser)
    add_view_options(parser, "latency")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.api import simulate  # the public simulate(): a network, or one pass of an LLM
    from simulator.report import format_simulation
    from simulator.report_views import format_simulation_view, view_of

    phase = llm_phase(args)
    if phase is not None:  # an LLM: one forward pass, as `roofline llm` computes it
        if args.settings or args.attention or args.no_fuse or args.seq_lengths or args.padding:
            raise SimulatorError(f"--set, --attention, --no-fuse, --seq-lengths and --padding do not apply "
                                 f"to the LLM {args.network!r}")
        result = simulate(args.network, args.device, args.batch, precision=args.precision,
                          weight_precision=args.weight_precision,
                          activation_precision=args.activation_precision, ideal=args.ideal, params=phase)
    else:
        params, overrides = network_params(args), single_settings(args)
        batch = args.batch
        if args.seq_lengths is not None and args.batch == 1:  # a list of lengths is its own batch
            from simulator.model.lengths import parse_lengths

            batch = parse_lengths(args.seq_lengths).batch or 1
        result = simulate(args.network, args.device, batch=batch, precision=args.precision,
                          weight_precision=args.weight_precision,
                          activation_precision=args.activation_precision, fuse=not args.no_fuse,
                          resolution=args.resolution, ideal=args.ideal,
                          params=params, attention=args.attention, overrides=overrides,
                          seq_lengths=args.seq_lengths, padding=args.padding)
    if view_of(args.summary, args.top, args.by) is None:
        print(format_simulation(result, args.format))
    else:
        print(format_simulation_view(result, args.format, args.summary, args.top, args.by))
    if args.require_fit and not result.fits:
        unfit = "; ".join(check.describe() for check in result.memory if not check.fits)
        raise SimulatorError(f"{result.network} does not fit on {result.device} at batch {result.batch} "
                             f"({unfit}); --require-fit")
    return 0
