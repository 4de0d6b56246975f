"""The CLI's one progress display, on stderr, for its long commands (accuracy, calibrate, sweep).

The library prints nothing: its long calls take a callback and the CLI passes a method of
:class:`Progress`. :meth:`Progress.update` is ``progress(done, total, label)``, the callback of
:func:`simulator.accuracy.accuracy_table`; :meth:`Progress.sweep` takes the
:class:`~simulator.sweeps.SweepProgress` a sweep reports after each chunk (the same three
figures); :meth:`Progress.message` takes a step described in words (``calibrate``).

Four modes: ``live`` (one line rewritten in place, the last state left on it), ``lines`` (a line
per report, for a log: ``--progress`` of accuracy and calibrate), ``off``, and ``auto`` (``live``
when stderr is a terminal, else ``off``). On a terminal the live bar is drawn by tqdm when it is
installed (``pip install roofline-simulator[progress]``); otherwise, and whenever the stream is
not a terminal, by the small built-in line below.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import TextIO

from simulator.errors import InvalidValueError

MODES = ("auto", "live", "lines", "off")
#: width of the built-in bar, in characters
BAR_WIDTH = 30
#: the most redraws a second of a live line (reports in between are skipped, the last one never)
REDRAW_INTERVAL_S = 0.1


def _is_terminal(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def _tqdm():
    """tqdm's class if installed (the optional ``progress`` extra), else None."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def bar_text(done: int, total: int, elapsed_s: float, unit: str = "") -> str:
    """``[#########.....]  60% 9/15 rows, 1.2 s, 1 s left``: the built-in bar, ``BAR_WIDTH`` wide;
    the time left is ``(total - done) / (done / elapsed)``, shown once something is done."""
    fraction = min(1.0, done / total) if total else 1.0
    filled = int(BAR_WIDTH * fraction)
    rate_per_s = done / elapsed_s if elapsed_s > 0 else 0.0
    left = total - done
    eta = f", {left / rate_per_s:.0f} s left" if rate_per_s > 0 and left > 0 else ""
    counted = f"{done:,}/{total:,}" + (f" {unit}" if unit else "")
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} {counted}, {elapsed_s:.1f} s{eta}"


class Progress:
    """Progress of one long command on ``stream`` (default stderr); see the module's docstring.

    ``what`` names the command (``"accuracy"``), ``unit`` what is counted (``"rows"``). Use as a
    context manager, or call :meth:`close` at the end: it ends a live line with a newline.
    """

    def __init__(self, what: str, mode: str = "auto", unit: str = "", stream: TextIO | None = None,
                 interval_s: float = REDRAW_INTERVAL_S) -> None:
        if mode not in MODES:
            raise InvalidValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.what, self.unit, self.interval_s = what, unit, interval_s
        self.stream = stream if stream is not None else sys.stderr
        terminal = _is_terminal(self.stream)
        self.mode = ("live" if terminal else "off") if mode == "auto" else mode
        self._tqdm_class = _tqdm() if self.mode == "live" and terminal else None
        self._tqdm = None
        self._start = time.perf_counter()
        self._last = -math.inf
        self._width = 0  # characters of the live line now drawn

    def update(self, done: int, total: int, label: str = "") -> None:
        """``done`` of ``total`` items finished; ``label`` names the last one (a row id, a block)."""
        if self.mode == "off":
            return
        elapsed_s = time.perf_counter() - self._start
        if self.mode == "lines":
            self._print(f"{bar_text(done, total, elapsed_s, self.unit)} {label}".rstrip())
            return
        if self._tqdm_class is not None:
            self._tqdm_update(done, total, label)
            return
        now = time.perf_counter()
        if now - self._last < self.interval_s and done < total:
            return
        self._last = now
        self._draw(f"{bar_text(done, total, elapsed_s, self.unit)} {label}")

    def sweep(self, report) -> None:
        """A :class:`~simulator.sweeps.SweepProgress` report: configurations done of the total."""
        self.update(report.done, report.total, report.label)

    def message(self, text: str) -> None:
        """A step described in words (``pass 1/2 conv 3x3: 120 us``), with the elapsed time."""
        if self.mode == "lines":
            self._print(text)
        elif self.mode == "live":
            if self._tqdm is not None:
                self._tqdm.set_postfix_str(text)
            else:
                self._draw(f"{text} ({time.perf_counter() - self._start:.0f} s)")

    def close(self) -> None:
        """Ends a live line (its last state stays on screen) so that what follows starts clean."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        elif self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _print(self, text: str) -> None:
        print(f"{self.what}: {text}", file=self.stream, flush=True)

    def _draw(self, text: str) -> None:
        columns = shutil.get_terminal_size((120, 24)).columns - 1  # a wrapped line could not be redrawn
        line = f"{self.what}: {text}"[:max(20, columns)].rstrip()
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def _tqdm_update(self, done: int, total: int, label: str) -> None:
        if self._tqdm is None:
            self._tqdm = self._tqdm_class(total=total, desc=self.what, unit=f" {self.unit or 'items'}",
                                          file=self.stream, dynamic_ncols=True, leave=True)
        self._tqdm.total = total
        self._tqdm.update(done - self._tqdm.n)
        if label:
            self._tqdm.set_postfix_str(label, refresh=False)
