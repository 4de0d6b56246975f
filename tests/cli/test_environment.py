"""The command as a user's environment runs it: the version, odd terminals, full disks, closed
streams, an unusable matplotlib backend and a working directory that no longer exists."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def roofline(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, **kwargs):
    """``python -m simulator ARGS`` in a subprocess (the package importable from the checkout)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "simulator", *args], env=environment, cwd=cwd,
                          capture_output=True, text=True, timeout=120, **kwargs)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_version_is_the_installed_distributions():
    """``--version`` prints the version the package metadata records (pip's view of it)."""
    installed = importlib.metadata.version("roofline-simulator")
    result = roofline("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"roofline {installed}"


def test_ascii_terminal_spells_micro_as_u():
    """``LC_ALL=C`` with UTF-8 mode off and an ASCII stdout: the table prints, µs spelled us."""
    result = roofline("simulate", "resnet50", "--device", "jetson-agx-orin",
                      env={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert " us " in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_device_is_one_line():
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "simulator", "simulate", "resnet50", "--device",
                                 "jetson-agx-orin"], stdout=full, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 2
    assert "No space left on device" in one_error_line(result.stderr)


def test_closed_stdout_is_an_error_not_silence():
    """``roofline list devices >&-``: nothing can be written, so the command says so and fails."""
    result = roofline("list", "devices", stdout=None, stdin=subprocess.DEVNULL,
                      preexec_fn=lambda: os.close(1))
    assert result.returncode == 2
    assert "standard output is closed" in one_error_line(result.stderr)


def test_unusable_matplotlib_backend_still_draws(tmp_path):
    """The CLI draws into files only, so an invalid ``MPLBACKEND`` cannot matter."""
    result = roofline("plot", "roofline", "resnet18", "--device", "h100-sxm", "-o", str(tmp_path / "r.png"),
                      env={"MPLBACKEND": "nonexistent"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_deleted_working_directory_with_relative_output(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    # '' (the working directory) leaves sys.path first: Python 3.13's import system raises on a
    # vanished working directory, where an installed `roofline` script never looks
    # numpy and pandas are imported before the directory goes: numpy's own import fails inside
    # CPython 3.13 when the working directory is gone, before any of this package's code runs
    script = ("import os, sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
              "import numpy, pandas, simulator.cli.sweep, simulator.sweeps; "
              "os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
              "from simulator.cli import main; sys.exit(main(['sweep', 'alexnet', '--device', 'h100-sxm', "
              "'--batch', '1', '-o', 'out.csv']))")
    result = subprocess.run([sys.executable, "-c", script, str(gone)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 2
    assert "working directory no longer exists" in one_error_line(result.stderr)


@pytest.mark.parametrize("argv", [
    ["count", "resnet50", "--resolution", "-1x224"],
    ["simulate", "resnet50", "--device", "h100-sxm", "--resolution", "-224"],
])
def test_a_value_that_starts_with_a_minus_is_the_options_value(argv, capsys):
    """``--resolution -1x224`` (with a space) reaches the value's own check: one line naming it, not
    argparse's "expected one argument" with its usage lines."""
    from simulator.cli import main

    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "-1x224" in line or "-224" in line
    assert "usage:" not in line


@pytest.mark.parametrize("argv", [
    ["simulate"],
    ["simulate", "resnet50", "--device", "h100-sxm", "--format", "xml"],
    ["count", "resnet50", "--no-such-flag"],
    [],
])
def test_usage_errors_are_one_line_with_where_to_read_the_usage(argv, capsys):
    """A missing argument, an invalid choice or an unknown flag: argparse's message on one line
    with the pointer to --help, exit 2; no usage block."""
    from simulator.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--help" in line and not line.startswith("usage:")
