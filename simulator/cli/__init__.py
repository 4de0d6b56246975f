"""The ``roofline`` command: a thin layer over the :mod:`simulator` API.

Each sub-command lives in a module of this package, named after it (:data:`COMMANDS`), that provides
``configure(parser)``. The parser is built on demand, so importing this module does nothing, and a
run loads only the module of the command it runs: ``roofline simulate ...`` imports
:mod:`simulator.cli.simulate` and no other command (``roofline --help`` imports none).
Errors from bad input (:class:`SimulatorError`) print one line to stderr and exit with status 2;
Ctrl-C prints one line and exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Iterable, Sequence

from simulator.errors import SimulatorError, UnknownNameError

#: One module per command, named after it, with the one-line help that ``roofline --help`` lists;
#: each module provides ``configure(parser)``, which adds the command's arguments and handler.
COMMANDS = {
    "list": "list built-in networks, devices, LLMs or runtimes",
    "count": "per-layer params, MACs, FLOPs and activations",
    "simulate": "latency, throughput, energy and memory fit on a device",
    "compare": "networks side by side on one device, with the speed-up relative to the first",
    "sweep": "simulate the product of networks, devices, batches, precisions and hardware overrides",
    "plot": "draw a chart (PNG or SVG)",
    "export": "write a network as a runnable ONNX model (random weights)",
    "calibrate": "measure this machine (peaks, bandwidths, kernel efficiencies) into a profile",
    "validate": "measured latency of an ONNX model on this CPU against the predictions",
    "llm": "LLM inference: time to first token, time per token, tokens/s, memory",
    "accuracy": "published measurements against the ideal bound and the expected model",
}


def build_parser(configured: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    """The ``roofline`` parser: every command listed, with the arguments of the ``configured`` ones
    (by default all). A command whose module cannot be imported is an error (ImportError), never a
    silent omission."""
    parser = argparse.ArgumentParser(
        prog="roofline",
        description="Roofline latency, throughput and energy of neural networks on devices.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command, help_text in COMMANDS.items():
        command_parser = subparsers.add_parser(command, help=help_text)
        if command in configured:
            importlib.import_module(f"simulator.cli.{command}").configure(command_parser)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs: its first argument that is not an option (the top-level parser
    takes no option with a value), or None (e.g. ``roofline --help``)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    # [*argv], not list(argv): importing simulator.cli.list binds `list` in this package's namespace
    argv = sys.argv[1:] if argv is None else [*argv]
    command = chosen_command(argv)
    if command is not None and command not in COMMANDS:
        print(f"roofline: error: {UnknownNameError('command', command, COMMANDS)}", file=sys.stderr)
        return 2
    args = build_parser(configured=(command,) if command else ()).parse_args(argv)
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
