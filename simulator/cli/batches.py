"""The batch grammar every batch option shares: ``1,8,32`` lists, ``1..64`` doublings, ``1-8`` every
integer, ``8..64:8`` steps (:func:`parse_batches`), and the argparse actions of an option that takes
several batch sizes (:class:`BatchList`) or one (:class:`BatchSize`). Sizes are ``1 .. 2**63 - 1``,
the largest the engine's int64 arrays hold.
"""

from __future__ import annotations

import argparse

from simulator.cli.argtypes import int_at_least, split_list
from simulator.errors import SimulatorError

#: The most batch sizes one range of a batch list may give (a typo like ``1-10000000`` is an error).
MAX_RANGE_VALUES = 100_000

#: What every batch option accepts, for its ``--help``.
BATCH_GRAMMAR = ("A,B,... lists; A..B doubles from A up to B (1..1024: powers of two); A-B is every integer "
                 "from A to B; A..B:S steps by S (8..64:8)")

#: ``--help`` of a command that takes one batch size (a list or range is refused in one line)
BATCH_HELP = ("batch size, 1 to 2**63 - 1 (default 1); one size only: lists and ranges (1..64) are refused, "
              "`roofline sweep` takes them")


def _batch_int(text: str, what: str) -> int:
    """One integer of a batch list: at least 1 and at most :data:`simulator.sweeps.MAX_BATCH`."""
    from simulator.sweeps import MAX_BATCH

    value = int_at_least(text, 1, what)
    if value > MAX_BATCH:
        raise SimulatorError(f"{what} must be at most 2**63 - 1 = {MAX_BATCH:,} (the largest batch the "
                             f"engine's int64 arrays hold), got {text}")
    return value


def parse_batches(text: str, what: str = "--batch") -> list[int]:
    """``"1..8,12"`` -> ``[1, 2, 4, 8, 12]``; duplicates dropped, in order of appearance.

    ``A..B`` doubles from A while at most B (powers of two); ``A-B`` is every integer from A to B;
    ``A..B:S`` steps linearly by S from A while at most B (``8..32:8``: 8, 16, 24, 32). Every value
    lies in ``1 .. 2**63 - 1``; a range gives at most :data:`MAX_RANGE_VALUES` values. Bad text is a
    SimulatorError naming ``what`` (the option).
    """
    batches: list[int] = []
    for item in split_list(text, what):
        step_text = None
        if ".." in item:
            low_text, _, high_text = item.partition("..")
            high_text, colon, step_text = high_text.partition(":")
            if not colon:
                step_text = None
        elif "-" in item.lstrip("-"):
            low_text, _, high_text = item.partition("-")
            step_text = "1"
        else:
            low_text = high_text = item
        low, high = _batch_int(low_text, what), _batch_int(high_text, what)
        if high < low:
            raise SimulatorError(f"{what} range {item!r} must go from small to large (A..B with A <= B)")
        if step_text is not None:
            step = _batch_int(step_text, f"{what} step")
            if (high - low) // step + 1 > MAX_RANGE_VALUES:
                raise SimulatorError(f"{what} range {item!r} gives {(high - low) // step + 1:,} batch "
                                     f"sizes; at most {MAX_RANGE_VALUES:,} (use a larger step)")
            values = list(range(low, high + 1, step))
        else:  # exact in integers: the doublings low * 2**k <= high
            values = [low << k for k in range((high // low).bit_length())]
        seen = set(batches)
        batches += [b for b in values if b not in seen]
    return batches


def one_batch(text: str, what: str = "--batch") -> int:
    """One batch size, an integer in ``1 .. 2**63 - 1``: a list or a range (the grammar of
    :func:`parse_batches`) is a SimulatorError naming the command that takes several."""
    values = parse_batches(text, what)
    if len(values) != 1 or any(mark in text.strip().lstrip("-") for mark in (",", "..", "-")):
        raise SimulatorError(f"{what} takes one batch size here, got {text!r}; lists and ranges of batch "
                             "sizes go to `roofline sweep` (or plot's --batches)")
    return values[0]


class BatchList(argparse.Action):
    """argparse action of an option that takes several batch sizes (:func:`parse_batches`; the value
    becomes a tuple). Bad text ends the command with ONE line and status 2, as a SimulatorError does
    (an argparse type error would print the usage lines too)."""

    def parse(self, text: str, what: str) -> object:
        return tuple(parse_batches(text, what))

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            setattr(namespace, self.dest, self.parse(values, option_string or self.dest))
        except SimulatorError as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")


class BatchSize(BatchList):
    """argparse action of an option that takes one batch size (:func:`one_batch`); a list or range is
    refused in one line (status 2)."""

    def parse(self, text: str, what: str) -> object:
        return one_batch(text, what)
