"""The CLI's one progress display (simulator.cli.progress.Progress): its modes, its built-in bar,
the optional tqdm renderer on a terminal, and the commands that feed it through library callbacks."""

from __future__ import annotations

import ast
import io
from pathlib import Path
from typing import ClassVar

import pytest

from simulator.accuracy import load_measurements
from simulator.cli import main
from simulator.cli import progress as progress_module
from simulator.cli.progress import BAR_WIDTH, Progress, bar_text

CLI = Path(progress_module.__file__).parent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeTqdm:
    """Records what a tqdm bar would be told."""

    made: ClassVar[list[FakeTqdm]] = []

    def __init__(self, total, desc, unit, file, **kwargs):
        self.total, self.desc, self.unit, self.n, self.postfix, self.closed = total, desc, unit, 0, "", False
        FakeTqdm.made.append(self)

    def update(self, n):
        self.n += n

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def close(self):
        self.closed = True


def test_the_cli_has_one_progress_class():
    classes = [(path.name, node.name) for path in sorted(CLI.glob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef) and "progress" in node.name.lower()]
    assert classes == [("progress.py", "Progress")]


def test_the_bar_fills_in_proportion_and_estimates_the_time_left():
    # 5 of 15 done in 10 s: a third of 30 characters, 0.5 items/s, so 10 items take 20 s more
    text = bar_text(5, 15, 10.0, "rows")
    third = BAR_WIDTH // 3
    assert text == "[" + "#" * third + "." * (BAR_WIDTH - third) + "]  33% 5/15 rows, 10.0 s, 20 s left"
    assert bar_text(15, 15, 2.0).startswith("[" + "#" * BAR_WIDTH + "] 100% 15/15, 2.0 s")  # nothing left
    # 2,000 a second, 2,000 left: 1 s; thousands separated
    assert bar_text(2_000, 4_000, 1.0).endswith("2,000/4,000, 1.0 s, 1 s left")


def test_lines_mode_writes_a_line_per_report():
    stream = io.StringIO()
    with Progress("accuracy", "lines", unit="rows", stream=stream) as line:
        for done in (1, 2, 3, 4):
            line.update(done, 4, f"row-{done}")
        line.message("done")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5 and "\r" not in stream.getvalue()
    assert lines[1].startswith("accuracy: [" + "#" * (BAR_WIDTH // 2) + ".") and lines[1].endswith("row-2")
    assert lines[-1] == "accuracy: done"


def test_auto_mode_draws_nothing_into_a_log_or_a_pipe():
    stream = io.StringIO()
    with Progress("sweep", "auto", stream=stream) as bar:
        assert bar.mode == "off"
        bar.update(1, 2)
        bar.message("step")
    assert stream.getvalue() == ""


def test_live_mode_redraws_one_line_at_most_ten_times_a_second(monkeypatch):
    monkeypatch.setattr(progress_module, "_tqdm", lambda: None)  # the built-in line, as without tqdm
    stream = Terminal()
    bar = Progress("sweep", "auto", unit="configurations", stream=stream, interval_s=3600)
    assert bar.mode == "live"
    for done in range(1, 11):
        bar.update(done, 10, "alexnet")
    bar.close()
    text = stream.getvalue()
    # the first report and the last (never skipped) within the hour-long interval, then a newline
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "sweep: [" + "#" * BAR_WIDTH + "] 100% 10/10 configurations" in text.splitlines()[-1]


def test_a_terminal_gets_tqdm_when_it_is_installed(monkeypatch):
    FakeTqdm.made.clear()
    monkeypatch.setattr(progress_module, "_tqdm", lambda: FakeTqdm)
    stream = Terminal()
    with Progress("accuracy", "auto", unit="rows", stream=stream) as bar:
        for done in (1, 3, 7):
            bar.update(done, 7, f"row-{done}")
    (made,) = FakeTqdm.made
    assert (made.total, made.n, made.postfix, made.closed) == (7, 7, "row-7", True)
    assert made.desc == "accuracy" and made.unit == " rows"
    assert stream.getvalue() == ""  # everything went through tqdm
    FakeTqdm.made.clear()
    Progress("accuracy", "live", stream=io.StringIO()).update(1, 2)  # a log: the built-in line
    assert FakeTqdm.made == []


def test_real_tqdm_draws_the_counts():
    pytest.importorskip("tqdm")
    stream = Terminal()
    with Progress("accuracy", "live", unit="rows", stream=stream) as bar:
        bar.update(3, 3, "last")
    assert "accuracy" in stream.getvalue() and "3/3" in stream.getvalue()


def test_a_bad_mode_is_refused():
    with pytest.raises(ValueError, match="progress mode must be one of auto, live, lines, off, got 'loud'"):
        Progress("x", "loud")


def test_accuracy_progress_reports_every_row_on_stderr(capsys):
    device = "stm32h743"
    rows = sum(1 for row in load_measurements() if row["device"] == device)
    assert main(["accuracy", "--device", device, "--progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == rows and err[-1].startswith(f"accuracy: [{'#' * BAR_WIDTH}] 100% {rows}/{rows} rows")
    assert main(["accuracy", "--device", device]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bar unless asked
