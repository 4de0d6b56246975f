"""Options and argument types shared by the command modules of :mod:`simulator.cli`."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type for batch sizes and resolutions: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network",
                        help="built-in network name (see `roofline list`) or path to an .onnx file")
    parser.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    parser.add_argument("--resolution", type=positive_int, default=None,
                        help="input height and width in pixels (default: the network's own, 224)")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="output format (default table)")
