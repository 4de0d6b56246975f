"""Sweep workers and schedulers never outlive, hang or leak (issue 23, "Hangs and orphans"):

* the worker processes of ``sweep --workers 2`` die with their parent, SIGKILL included, and free
  the caller's stderr; the previous output file survives byte for byte and the next run removes
  the temporary the killed one left (:func:`simulator.io.remove_stale_temporaries`);
* workers that cannot be started (``fork`` fails) are one line, not a traceback and a hang;
* ``--scheduler`` at a listener that accepts and never answers gives up at the configured
  timeout, and a dask cluster with no workers is one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.io import _host_tag, remove_stale_temporaries, write_text

#: a sweep long enough to be killed midway: 4 bandwidths x 30,000 batches of ResNet-50
LONG_SWEEP = ["sweep", "resnet50", "--device", "h100-sxm", "--batch", "1-30000",
              "--set", "dram.bandwidth_scale=1,0.9,0.8,0.7", "--workers", "2"]


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a dead process its new parent has not reaped)."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_killed_sweeps_workers_die_with_it_and_the_next_run_removes_its_temporary(tmp_path: Path):
    output = tmp_path / "out.csv"
    previous = b"previous,output\n\x00\xff bytes\n"
    output.write_bytes(previous)
    sweep = subprocess.Popen([sys.executable, "-m", "simulator", *LONG_SWEEP, "-o", str(output)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(sweep.pid)) < 2:
            assert sweep.poll() is None, sweep.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.02)
        time.sleep(0.3)  # the workers are computing (or waiting on their pipe)
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait(timeout=10)
        # the caller's stderr is free: a worker holding it would block this read
        sweep.communicate(timeout=5)
        deadline = time.monotonic() + 5
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(_running(pid) for pid in workers), "a worker outlived its parent by 5 s"
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        for pid in workers:  # orphans of a failed check: not left running
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    assert output.read_bytes() == previous
    left = [p.name for p in tmp_path.iterdir() if p.name != "out.csv"]
    assert len(left) == 1 and left[0].startswith(f".out.csv.{sweep.pid}-")  # the killed run's temporary
    assert main(["sweep", "resnet18", "--device", "h100-sxm", "-o", str(output)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert output.read_text().count("\n") == 2  # header and one row


def test_only_the_temporaries_of_dead_writers_on_this_machine_are_removed(tmp_path: Path):
    target = tmp_path / "out.csv"
    dead = tmp_path / f".out.csv.999999999-{_host_tag()}.abc.tmp"  # above any pid_max: no such process
    alive = tmp_path / f".out.csv.{os.getpid()}-{_host_tag()}.def.tmp"  # this process, still writing
    elsewhere = tmp_path / ".out.csv.999999999-00000000.ghi.tmp"  # another machine's, on a shared disk
    other = tmp_path / f".other.csv.999999999-{_host_tag()}.jkl.tmp"  # another file's
    for folder in (dead, alive, elsewhere, other):
        folder.mkdir()
        (folder / "out.csv").write_text("half")
    write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "other.csv") == [other]


FAILING_FORK = """
import os, sys
from simulator.cli import main
real_fork, forks = os.fork, []
def fork():  # the first `ok` forks succeed, then the process limit is reached
    if len(forks) >= ok:
        raise BlockingIOError(11, "Resource temporarily unavailable")
    forks.append(1)
    return real_fork()
os.fork = fork
for ok, output in ((1, []), (0, []), (1, ["-o", sys.argv[1]])):
    forks.clear()
    argv = ["sweep", "resnet18", "--device", "h100-sxm", "--batch", "1-300", "--workers", "2", *output]
    print(main(argv), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the worker processes are forked")
def test_workers_that_cannot_be_started_are_one_line_and_no_hang(tmp_path: Path):
    # one worker started and the second refused used to print a traceback, then wait for it forever;
    # with -o, the fork's OSError read "cannot write x.csv"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", FAILING_FORK, str(tmp_path / "x.csv")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["2", "2", "2"], done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 3 and "Traceback" not in done.stderr
    assert all("cannot start 2 worker processes" in line and "--workers 1" in line for line in lines)
    assert time.monotonic() - start < 30
    assert list(tmp_path.iterdir()) == []  # no output, no temporary


def _silent_listener() -> tuple[socket.socket, list]:
    """A TCP listener on localhost that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:  # closed
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, held


def _run_bounded(argv: list[str], limit_s: float) -> tuple[int | None, float]:
    """``main(argv)`` in a daemon thread: its status (None if still running after ``limit_s``)."""
    outcome: dict = {}
    start = time.monotonic()
    thread = threading.Thread(target=lambda: outcome.update(status=main(argv)), daemon=True)
    thread.start()
    thread.join(limit_s)
    return outcome.get("status"), time.monotonic() - start


def test_a_scheduler_that_accepts_and_never_answers_times_out_in_one_line(monkeypatch, capsys):
    pytest.importorskip("distributed")
    import simulator.cli.sweep as cli_sweep

    monkeypatch.setattr(cli_sweep, "CONNECT_TIMEOUT_S", 0.5)
    server, held = _silent_listener()
    try:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        argv = ["sweep", "resnet18", "--device", "h100-sxm", "--scheduler", address]
        status, elapsed_s = _run_bounded(argv, limit_s=30)
    finally:
        server.close()
        for connection in held:
            connection.close()
    assert status == 2, "still waiting for the scheduler after 30 s"
    assert elapsed_s < 0.5 + 5  # the timeout, a grace period, and the import of dask
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and address in err and "no answer within 0.5 s" in err


def test_a_dask_cluster_without_workers_is_one_line(monkeypatch, capsys, tmp_path: Path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    import simulator.sweep_workers as sweep_workers

    monkeypatch.setattr(sweep_workers, "DASK_WORKER_WAIT_S", 0.5)
    cluster = LocalCluster(n_workers=0, processes=False, dashboard_address=None)
    try:
        for output in ([], ["-o", str(tmp_path / "parts.csv")]):
            status, _ = _run_bounded(["sweep", "resnet18", "--device", "h100-sxm", "--batch", "1,2",
                                      "--scheduler", cluster.scheduler_address, *output], limit_s=30)
            assert status == 2
            err = capsys.readouterr().err
            assert "has no workers" in err and "dask worker" in err and "Traceback" not in err
            assert err.strip().splitlines()[-1].startswith("roofline sweep: error:")
    finally:
        cluster.close()
    assert list(tmp_path.iterdir()) == []
