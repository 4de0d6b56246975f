"""A one-line progress indicator on stderr for the CLI's long work (calibrate, validate).

The library prints nothing: it calls the callback the CLI gives it, and this draws it.
"""

from __future__ import annotations

import sys
import time


class ProgressLine:
    """Progress on one line of stderr, drawn only on a terminal, or always with ``verbose`` (each
    message on its own line then, as ``--progress`` asks)."""

    def __init__(self, what: str, verbose: bool = False):
        self.what = what
        self.verbose = verbose
        self.terminal = sys.stderr.isatty()
        self.start = time.monotonic()
        self.drawn = False

    def message(self, text: str) -> None:
        """A step described in words (``pass 1/2 conv 3x3: 120 us``)."""
        if self.verbose:
            print(text, file=sys.stderr)
        elif self.terminal:
            self._draw(text)

    def step(self, done: int, total: int, text: str = "") -> None:
        """``done`` of ``total`` items finished: a bar with the elapsed time."""
        if not (self.terminal or self.verbose):
            return
        width = 30
        filled = min(width, round(width * done / total)) if total else width
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.verbose:
            print(f"{bar} {text}".rstrip(), file=sys.stderr)
        else:
            self._draw(f"{bar} {text}")

    def _draw(self, text: str) -> None:
        line = f"{self.what}: {text} ({time.monotonic() - self.start:.0f} s)"[:120]
        print(f"\r\x1b[K{line}", end="", file=sys.stderr, flush=True)
        self.drawn = True

    def close(self) -> None:
        """Clears the line (on a terminal), so that the results start on a clean line."""
        if self.drawn:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
            self.drawn = False
