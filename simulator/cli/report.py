"""``roofline report``: networks × devices × precisions × batches (× what-if values) as one interactive,
self-contained HTML page (:mod:`simulator.report_html`)."""

from __future__ import annotations

import argparse
import shlex

from simulator.cli.common import (
    BATCH_GRAMMAR,
    DEVICE_HELP,
    BatchList,
    add_output_option,
    int_at_least,
    parse_batches,
    split_list,
    swept_settings,
)
from simulator.errors import SimulatorError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("networks", nargs="+", metavar="NETWORK",
                        help="built-in network names (see `roofline list`), .onnx paths, LLMs "
                             "(`roofline list llms`) or config.json files")
    parser.add_argument("--device", dest="devices", action="append", required=True, metavar="DEVICE",
                        help=DEVICE_HELP + "; repeat it or give a comma-separated list for several")
    parser.add_argument("--precision", default=None,
                        help="comma-separated precisions (default: each device's default); a precision a "
                             "device lacks is left out for that device")
    parser.add_argument("--batch", dest="batches", action=BatchList, default=(1,),
                        help=f"batch sizes (default 1): {BATCH_GRAMMAR}")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="what-if values of a hardware field, e.g. dram.bandwidth_scale=0.5,1,2 "
                             "(repeatable; the report holds every combination)")
    parser.add_argument("--context", default=None, metavar="TOKENS",
                        help="for an LLM (`roofline list llms`, a config.json): prompt lengths of its views, "
                             f"{BATCH_GRAMMAR} (default 256..8192, those within the model's positions)")
    parser.add_argument("--generate", default=None, metavar="TOKENS",
                        help="for an LLM: output tokens per sequence, >= 1 (default 128)")
    add_output_option(parser, "the HTML file to write (replaced atomically)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.cli.progress import Progress
    from simulator.report_html import html_report_data, write_html_report

    devices = [name for text in args.devices for name in split_list(text, "--device")]
    precisions = split_list(args.precision, "--precision") if args.precision is not None else None
    overrides = swept_settings(args)
    contexts = parse_batches(args.context, "--context") if args.context is not None else None
    generate = (int_at_least(args.generate, 1, "--generate", "an integer")
                if args.generate is not None else None)
    if not args.output.lower().endswith((".html", ".htm")):
        raise SimulatorError(f"-o {args.output!r}: the report is an HTML file; give a name ending in .html")
    command = shlex.join(["roofline", "report", *args.networks, *(f"--device={d}" for d in devices),
                          *([f"--precision={args.precision}"] if precisions else []),
                          f"--batch={','.join(map(str, args.batches))}",
                          *(f"--set={text}" for text in args.settings),
                          *([f"--context={args.context}"] if contexts else []),
                          *([f"--generate={generate}"] if generate else []), "-o", args.output])
    with Progress("report", "auto", unit="configurations") as line:  # a live line on a terminal only
        data = html_report_data(args.networks, devices, precisions, list(args.batches), overrides or None,
                                command=command, progress=line.update, contexts=contexts, generate=generate)
    path = write_html_report(args.output, data)
    print(f"wrote {path} ({path.stat().st_size:,} bytes, {len(data['configs'])} configurations)")
    return 0
