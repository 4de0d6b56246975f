"""The ``roofline`` process ends without the interpreter's finalization after the commands of
:data:`simulator.cli.EXIT_AT_ONCE` (issue 21: start-up), and loses nothing by it: buffered output is
written, ``atexit`` functions run, a thread still running is waited for, the exit status is kept."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from simulator.cli import EXIT_AT_ONCE, main


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_buffered_output_and_atexit_functions_survive_and_the_status_is_kept():
    # stdout is a pipe here, so block-buffered: os._exit alone would drop "printed" and "at exit"
    done = _python("import atexit; from simulator.cli import exit_process; "
                   "atexit.register(print, 'at exit'); print('printed'); exit_process(3)")
    assert (done.returncode, done.stdout, done.stderr) == (3, "printed\nat exit\n", "")


def test_a_running_thread_is_waited_for():
    done = _python("import threading, time; from simulator.cli import exit_process; "
                   "threading.Thread(target=lambda: (time.sleep(0.2), print('thread done'))).start(); "
                   "exit_process(0)")
    assert (done.returncode, done.stdout) == (0, "thread done\n")


def test_simulate_as_a_process_prints_what_main_returns_in_process():
    argv = ["simulate", "resnet50", "--device", "jetson-agx-orin", "--summary"]
    assert argv[0] in EXIT_AT_ONCE
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(argv) == 0
    done = subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (0, printed.getvalue())
    failed = subprocess.run([sys.executable, "-m", "simulator", "simulate", "resnet50", "--device", "nope"],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and failed.stdout == "" and len(failed.stderr.splitlines()) == 1
