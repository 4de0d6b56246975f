"""The ``roofline`` command: a thin layer over the :mod:`simulator` API.

Each sub-command lives in a module of this package, named after it (:data:`COMMANDS`), that provides
``register(subparsers)``; the parser is built on demand, so importing this module does nothing.
Errors from bad input (:class:`SimulatorError`) print one line to stderr and exit with status 2;
Ctrl-C prints one line and exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from simulator.errors import SimulatorError

#: One module per command, named after it; each provides ``register(subparsers)``.
COMMANDS = ("list", "count", "simulate", "compare", "sweep", "plot", "export", "calibrate", "validate", "llm",
            "accuracy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roofline",
        description="Roofline latency, throughput and energy of neural networks on devices.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        # a command that cannot be imported is an error (ImportError), never a silent omission
        importlib.import_module(f"simulator.cli.{command}").register(subparsers)
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
        except KeyboardInterrupt:  # Ctrl-C: one line, the conventional status 128 + SIGINT
            print(f"roofline {args.command}: interrupted; output files are left as they were",
                  file=sys.stderr)
            status = 130
    for message in dict.fromkeys(str(w.message) for w in caught):  # each once, in order
        print(f"roofline {args.command}: warning: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
