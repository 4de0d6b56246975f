"""Every ``-o`` is written atomically (issue 12): a writer killed midway (SIGKILL, or Ctrl-C: SIGINT)
leaves the previous file intact; a shipped profile is replaced only with ``--force``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.hardware.loader import available_devices
from simulator.io import atomic_path, write_text

PREVIOUS = "network,latency_s\nprevious,1\n"
BIG_SWEEP = ["sweep", "resnet18", "--device", "reference-45nm", "--batch", "1-100000",
             "--set", "dram.bandwidth_gb_per_s=10,20,40,80,160"]


def _wait_for_partial_write(folder: Path, name: str, process: subprocess.Popen, timeout_s: float = 120):
    """Waits until the writer has put some bytes into its temporary file beside ``name``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for temporary in folder.glob(f".{name}.*.tmp"):
            if any(f.stat().st_size > 0 for f in temporary.iterdir() if f.is_file()):
                return
        if process.poll() is not None:
            pytest.fail(f"the writer ended before writing (status {process.returncode})")
        time.sleep(0.005)
    pytest.fail("the writer wrote nothing in time")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_sweep_killed_while_writing_leaves_the_previous_file(tmp_path, sig):
    output = tmp_path / "out.csv"
    output.write_text(PREVIOUS)
    process = subprocess.Popen([sys.executable, "-m", "simulator", *BIG_SWEEP, "-o", str(output),
                                "--no-progress"] if _has_no_progress() else
                               [sys.executable, "-m", "simulator", *BIG_SWEEP, "-o", str(output)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    _wait_for_partial_write(tmp_path, "out.csv", process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert output.read_text() == PREVIOUS  # intact, not truncated
    if sig == signal.SIGINT:
        assert process.returncode == 130
        lines = [line for line in err.splitlines() if line.strip() and "configurations" not in line]
        assert len(lines) == 1 and "interrupted" in lines[0], err
        assert "Traceback" not in err
        assert not list(tmp_path.glob(".out.csv.*.tmp"))  # cleaned up


def _has_no_progress() -> bool:
    from simulator.cli import build_parser

    try:
        build_parser().parse_args(["sweep", "x", "--device", "y", "--no-progress"])
    except SystemExit:
        return False
    return True


def test_a_library_writer_killed_midway_leaves_the_previous_file(tmp_path):
    output = tmp_path / "big.txt"
    output.write_text("previous")
    code = ("import sys, time; from simulator.io import atomic_path\n"
            f"with atomic_path({str(output)!r}) as t, open(t, 'w') as f:\n"
            "    while True:\n        f.write('x' * 1_000_000); f.flush(); time.sleep(0.01)\n")
    process = subprocess.Popen([sys.executable, "-c", code])
    _wait_for_partial_write(tmp_path, "big.txt", process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert output.read_text() == "previous"


def test_an_exception_in_the_writer_keeps_the_previous_file(tmp_path):
    output = tmp_path / "out.json"
    output.write_text("{}")
    with pytest.raises(RuntimeError), atomic_path(output) as temporary:
        temporary.write_text("{half")
        raise RuntimeError("disk full")
    assert output.read_text() == "{}"
    assert list(tmp_path.iterdir()) == [output]


def test_a_completed_write_replaces_the_file(tmp_path):
    output = tmp_path / "out.txt"
    output.write_text("old")
    write_text(output, "new")
    assert output.read_text() == "new"


def test_a_shipped_profile_is_replaced_only_with_force(capsys):
    shipped = Path(str(available_devices()["reference-45nm"]))
    before = shipped.read_bytes()
    with pytest.raises(SimulatorError, match="shipped profile"):
        write_text(shipped, "broken")
    assert main(["calibrate", "--quick", "-o", str(shipped)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert main(["plot", "roofline", "resnet18", "--device", "reference-45nm", "-o",
                 str(shipped.with_suffix(".png"))]) == 2
    assert "shipped profile" in capsys.readouterr().err
    assert shipped.read_bytes() == before


def test_ctrl_c_prints_one_line_and_exits_130(monkeypatch, capsys):
    import simulator.cli.count as count

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(count, "run", interrupted)
    assert main(["count", "resnet18"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err
