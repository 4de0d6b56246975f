"""The ``roofline`` command: a thin layer over the :mod:`simulator` API.

Each sub-command lives in a module of this package, named after it (:data:`COMMANDS`; ``list`` in
:mod:`simulator.cli.listing`, so that no module shadows a builtin: :data:`MODULES`), that provides
``configure(parser)``. The parser is built on demand, so importing this module does nothing, and a
run loads only the module of the command it runs: ``roofline simulate ...`` imports
:mod:`simulator.cli.simulate` and no other command (``roofline --help`` imports none).
Errors from bad input (:class:`SimulatorError`) print one line to stderr and exit with status 2;
Ctrl-C prints one line and exits with status 130.
"""

from __future__ import annotations

import argparse
import atexit
import codecs
import importlib
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import NoReturn

from simulator import __version__
from simulator.errors import SimulatorError, UnknownNameError

#: One module per command, named after it, with the one-line help that ``roofline --help`` lists;
#: each module provides ``configure(parser)``, which adds the command's arguments and handler.
COMMANDS = {
    "list": "list built-in networks, devices, LLMs or runtimes",
    "count": "per-layer params, MACs, FLOPs and activations",
    "simulate": "latency, throughput, energy and memory fit on a device",
    "compare": "networks side by side on one device, or one network on several devices, with the "
               "speed-up relative to the first",
    "sweep": "simulate the product of networks, devices, batches, precisions and hardware overrides",
    "plot": "draw a chart (PNG, SVG or PDF)",
    "export": "write a network as a runnable ONNX model (random weights)",
    "calibrate": "measure this machine (peaks, bandwidths, kernel efficiencies) into a profile",
    "validate": "measured latency of an ONNX model on this CPU against the predictions",
    "llm": "LLM inference: time to first token, time per token, tokens/s, memory",
    "accuracy": "published measurements against the ideal bound and the expected model",
    "report": "an interactive, self-contained HTML page over networks x devices x precisions x batches",
    "serve": "the report's views computed live in the browser, on 127.0.0.1 unless --host is given",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, as every other bad input is: the error
    and where to read the usage, exit status 2 (argparse prints its whole usage block first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


#: commands whose module is not named after them: ``list`` would shadow the builtin
MODULES = {"list": "listing"}


def command_module(command: str) -> str:
    """The module of ``command``: ``simulator.cli.<command>``, or the name :data:`MODULES` gives."""
    return f"simulator.cli.{MODULES.get(command, command)}"


def build_parser(configured: Iterable[str] = COMMANDS, listed: Iterable[str] = COMMANDS
                 ) -> argparse.ArgumentParser:
    """The ``roofline`` parser: the ``listed`` commands (by default every one), with the arguments of the
    ``configured`` ones (by default all). A command whose module cannot be imported is an error
    (ImportError), never a silent omission. :func:`main` lists only the command it runs (each listed
    command is a parser of its own, about 0.3 ms to build; the command was checked against
    :data:`COMMANDS` before, and the ``COMMAND`` metavar keeps the others out of the usage line)."""
    parser = OneLineParser(
        prog="roofline",
        description="Roofline latency, throughput and energy of neural networks on devices.")
    parser.add_argument("--version", action="version", version=f"roofline {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listed = set(listed)
    for command, help_text in COMMANDS.items():
        if command not in listed:
            continue
        command_parser = subparsers.add_parser(command, help=help_text)
        if command in configured:
            importlib.import_module(command_module(command)).configure(command_parser)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs: its first argument that is not an option (the top-level parser
    takes no option with a value), or None (e.g. ``roofline --help``)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


#: what the tables print that a non-Unicode terminal (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``)
#: cannot encode, spelled in ASCII instead
_ASCII_SPELLINGS = {"µ": "u", "×": "x", "±": "+/-", "—": "-", "–": "-", "≤": "<=", "≥": ">=", "→": "->",
                    "…": "...", "·": "*", "²": "^2", "³": "^3", "≈": "~", "−": "-"}


def _ascii_spelling(error: UnicodeError) -> tuple[str, int]:
    """The ``roofline-ascii`` codec error handler: :data:`_ASCII_SPELLINGS`, else ``?``."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(_ASCII_SPELLINGS.get(char, "?") for char in text), error.end


codecs.register_error("roofline-ascii", _ascii_spelling)


class _ClosedStream:
    """Stands for a standard stream the caller closed (``roofline list >&-``): writing to it is an
    error (one line), not output silently lost."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        raise OSError(f"standard {self.name} is closed; nothing could be written")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _prepare_streams() -> None:
    """A closed stdout becomes an error on the first write; a stream whose encoding cannot write
    ``µ`` spells the tables' symbols in ASCII instead of raising."""
    if sys.stdout is None:
        sys.stdout = _ClosedStream("output")
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if encoding is None or not hasattr(stream, "reconfigure"):
            continue
        try:
            "µ×".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            stream.reconfigure(errors="roofline-ascii")


def _silence_stdout() -> None:
    """After stdout failed (a full disk, a closed pipe), point it at /dev/null so that the
    interpreter's last flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def _os_error_line(error: OSError) -> str:
    """One line for an operating-system error: the working directory that no longer exists named
    as such (a relative path cannot be resolved)."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return ("the working directory no longer exists, so relative paths cannot be resolved; "
                "change to an existing directory or give absolute paths")
    if error.strerror and error.filename:
        return f"{error.strerror}: {error.filename}"
    return str(error.strerror or error)


def _attach_negative_values(argv: list[str]) -> list[str]:
    """``--resolution -1x224`` -> ``--resolution=-1x224``: argparse reads a value that starts with
    ``-`` and is not a plain number as an option, and stops with its usage lines before the value's
    own check can name the problem in one line."""
    joined: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if (arg.startswith("--") and "=" not in arg and len(following) > 1 and following[0] == "-"
                and following[1].isdigit()):
            joined.append(f"{arg}={following}")
            index += 2
            continue
        joined.append(arg)
        index += 1
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    argv = _attach_negative_values(sys.argv[1:] if argv is None else [*argv])
    _prepare_streams()
    # the commands draw into files only, never a window: an unusable MPLBACKEND does not matter
    os.environ["MPLBACKEND"] = "Agg"
    command = chosen_command(argv)
    if command is not None and command not in COMMANDS:
        print(f"roofline: error: {UnknownNameError('command', command, COMMANDS)}", file=sys.stderr)
        return 2
    if command is None:  # roofline --help, --version: every command listed, none configured
        args = build_parser(configured=()).parse_args(argv)
    else:  # only the command that runs: its module, none of the others' parsers
        args = build_parser(configured=(command,), listed=(command,)).parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            status = args.handler(args) or 0
            sys.stdout.flush()
        except SimulatorError as error:
            from simulator.cli.network_options import network_error_line  # the LLMs a network may be

            print(f"roofline {args.command}: error: {network_error_line(error)}", file=sys.stderr)
            status = 2
        except BrokenPipeError:  # e.g. piped into `head`
            _silence_stdout()
            status = 0
        except OSError as error:  # a full disk, a closed stdout, a vanished working directory
            _silence_stdout()
            print(f"roofline {args.command}: error: {_os_error_line(error)}", file=sys.stderr)
            status = 2
        except KeyboardInterrupt:  # Ctrl-C: one line, the conventional status 128 + SIGINT
            print(f"roofline {args.command}: interrupted; output files are left as they were",
                  file=sys.stderr)
            status = 130
    # the library's warnings for the user (UserWarning), each once, in order; a DeprecationWarning
    # (Python 3.12+ on fork() in a threaded process, say) is for developers, not a user's output
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
        print(f"roofline {args.command}: warning: {message}", file=sys.stderr)
    return status


#: the commands whose process ends through :func:`exit_process`: each prints its result and writes no
#: file (the others, and any command that leaves a thread running, end as usual)
EXIT_AT_ONCE = ("count", "simulate", "list", "compare", "llm")


def exit_process(status: int) -> NoReturn:
    """Ends the process with ``status`` as ``sys.exit`` would, less the interpreter's finalization.

    After the streams are flushed and the ``atexit`` functions have run (multiprocessing, tempfile,
    logging and weakref finalizers register there), ``os._exit``: the interpreter does not tear down
    its modules and objects one by one, which after ``roofline simulate`` costs more CPU time than the
    command's work (about 30 ms on Python 3.10, against some 10 ms after ``import numpy`` alone).
    A stream that cannot be flushed, or a thread still running besides the main one, ends it with
    ``sys.exit`` instead, as before. Objects' ``__del__`` methods do not run: only for commands that
    leave no file open (:data:`EXIT_AT_ONCE`)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(status)
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(status)
    atexit._run_exitfuncs()
    os._exit(status)


def run() -> NoReturn:
    """The ``roofline`` program: :func:`main` on ``sys.argv``, the process ended by
    :func:`exit_process` after a command of :data:`EXIT_AT_ONCE`, else by ``sys.exit``."""
    status = main()
    if chosen_command(sys.argv[1:]) in EXIT_AT_ONCE:
        exit_process(status)
    sys.exit(status)


if __name__ == "__main__":
    run()
