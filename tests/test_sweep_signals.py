"""A sweep ended by SIGTERM (a job scheduler's stop, ``kill``) removes its temporary output and
leaves the previous output as it was (issue 12; :func:`simulator.io.terminate_as_exit`, inside
:func:`simulator.io.atomic_path` and :func:`simulator.sweeps._replacing_directory`), and so does
any other atomic write. SIGKILL cannot be caught: tests/test_sweep_scale.py
checks that the previous file survives it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: a long sweep: 200,000 bandwidth scales x 2 batches of AlexNet on the Orin, in chunks of 64 rows
SWEEP = ("from simulator.sweeps import plan_sweep; "
         "plan = plan_sweep(networks='alexnet', devices='jetson-agx-orin', batches=[1, 2], "
         "overrides={'dram.bandwidth_scale': [1 + i / 1e5 for i in range(200000)]}); ")
WRITERS = {
    "partitioned": "from simulator.sweeps import write_sweep_partitioned; "
                   "write_sweep_partitioned(plan, {target!r}, 'csv', chunk_rows=64)",
    "one file": "from simulator.sweeps import write_sweep; "
                "write_sweep(plan.chunks(chunk_rows=64), {target!r}, plan=plan)",
}


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_terminated_sweep_leaves_no_temporary_output(tmp_path: Path, writer: str):
    target = tmp_path / ("parts" if writer == "partitioned" else "sweep.csv")
    if writer == "partitioned":
        target.mkdir()
        (target / "previous.txt").write_text("previous\n")
    else:
        target.write_text("previous\n")
    process = subprocess.Popen([sys.executable, "-c", SWEEP + WRITERS[writer].format(target=str(target))],
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the temporary output has rows in it
            written = [p for t in temporaries(tmp_path) for p in t.rglob("*") if p.is_file()]
            if written and sum(p.stat().st_size for p in written) > 10_000:
                break
            assert process.poll() is None, "the sweep ended before it could be stopped"
            time.sleep(0.02)
        else:
            pytest.fail("the sweep wrote no temporary output")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert temporaries(tmp_path) == []
    if writer == "partitioned":
        assert [p.name for p in target.iterdir()] == ["previous.txt"]
    else:
        assert target.read_text() == "previous\n"


def test_any_atomic_write_ended_by_sigterm_keeps_the_previous_file(tmp_path: Path):
    # a writer that has written half its file when the signal comes (the CLI's -o of export, plots, ...)
    target = tmp_path / "out.txt"
    target.write_text("previous\n")
    script = ("import os, signal; from simulator.io import atomic_path\n"
              f"with atomic_path({str(target)!r}) as temporary:\n"
              "    temporary.write_text('half')\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    temporary.write_text('all of it')\n")
    done = subprocess.run([sys.executable, "-c", script], stderr=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 128 + signal.SIGTERM
    assert target.read_text() == "previous\n"
    assert temporaries(tmp_path) == []
