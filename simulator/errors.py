"""Errors raised at the simulator's boundaries, each with a message a user can act on.

The CLI catches :class:`SimulatorError` and prints its message without a traceback. Every bad-input
error of every path (networks, devices, LLMs, sweeps) is a :class:`SimulatorError` subclass; the ones
that were a builtin ``ValueError`` or ``TypeError`` are still one too (:class:`InvalidValueError`,
:class:`InvalidTypeError`), so a caller's ``except ValueError`` keeps catching them.
"""

from __future__ import annotations

from collections.abc import Iterable


class SimulatorError(Exception):
    """Base class of every error the simulator raises on bad input."""


class InvalidValueError(SimulatorError, ValueError):
    """An argument of the right type with a value outside its range or form: names it and what is valid."""


class InvalidTypeError(SimulatorError, TypeError):
    """An argument of the wrong type: names it, the type it got and the type it needs."""


class ShapeError(SimulatorError):
    """A layer cannot be applied to the shape it receives: names the layer, the dimension and why."""


class GraphError(SimulatorError):
    """A network graph is malformed: unknown tensor, duplicate name, unsafe in-place operation."""


class FormulaError(SimulatorError):
    """A layer kind has no cost formula in the registry (:mod:`simulator.model.formulas`)."""


class UnknownNameError(SimulatorError):
    """A network, device or other named thing does not exist; the message suggests close names."""

    def __init__(self, what: str, name: str, choices: Iterable[str]):
        import difflib  # here, not at the top: only a misspelt name pays for it (start-up, issue 21)

        choices = sorted(choices)
        close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
        message = f"unknown {what} {name!r}"
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        message += f" (available: {', '.join(choices)})"
        super().__init__(message)
        self.name = name
        self.choices = choices


class ProfileError(SimulatorError):
    """A hardware or energy profile file is invalid: names the file, the field and the reason."""
