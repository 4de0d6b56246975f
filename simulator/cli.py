"""The ``roofline`` command: a thin layer over the :mod:`simulator` API.

Each sub-command lives in a module of :mod:`simulator.commands` that provides
``register(subparsers)``; the parser is built on demand, so importing this module does nothing.
Errors from bad input (:class:`SimulatorError`) print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from simulator.errors import SimulatorError

COMMAND_MODULES = (
    "simulator.commands.inspect",
    "simulator.commands.simulate",
    "simulator.commands.sweep",
    "simulator.commands.plot",
    "simulator.commands.onnx",
    "simulator.commands.calibrate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roofline",
        description="Roofline latency, throughput and energy of neural networks on devices.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:  # a command not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            status = args.handler(args) or 0
        except SimulatorError as error:
            print(f"roofline {args.command}: error: {error}", file=sys.stderr)
            status = 2
        except BrokenPipeError:  # e.g. piped into `head`
            status = 0
    for message in dict.fromkeys(str(w.message) for w in caught):  # each once, in order
        print(f"roofline {args.command}: warning: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
