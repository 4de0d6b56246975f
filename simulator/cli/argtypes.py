"""Argument types of the command line: integers with a lower bound and comma-separated lists.

Every integer option parses through :func:`int_at_least`, so that a bad value reads the same in every
command (``expected an integer, got 'x'`` or ``must be at least N, got V``).
"""

from __future__ import annotations

import argparse

from simulator.errors import SimulatorError


def int_at_least(text: str, minimum: int, what: str | None = None, noun: str = "integers") -> int:
    """``text`` as an integer of at least ``minimum``: the one integer parser of the command line.

    Without ``what`` (an argparse ``type``, argparse names the option): ``argparse.ArgumentTypeError``
    ``expected an integer, got 'x'`` or ``must be at least N, got V``. With ``what`` (the option or
    value named): one SimulatorError line ``{what} must be {noun} of at least N, got 'x'``."""
    try:
        value: int | None = int(text)
    except ValueError:
        value = None
    if value is not None and value >= minimum:
        return value
    if what is not None:
        raise SimulatorError(f"{what} must be {noun} of at least {minimum}, got {text!r}")
    if value is None:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")


def positive_int(text: str) -> int:
    """argparse type for batch sizes and resolutions: an integer of at least 1."""
    return int_at_least(text, 1)


def nonnegative_int(text: str) -> int:
    """argparse type for a count that may be 0 (an LLM's cached tokens)."""
    return int_at_least(text, 0)


def split_list(text: str, what: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; an empty list is an error naming ``what``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise SimulatorError(f"{what} needs at least one value, got {text!r}")
    return items
