"""Every built-in network's ``count`` and ``simulate`` output, for comparing two versions of the code.

    python tools/snapshot_outputs.py DIR

writes ``count-NET.txt`` (``roofline count NET --format json``) for every built-in network and
``sim-NET-DEV.txt`` (``roofline simulate NET --device DEV --format json``) for every network on
every shipped device, each with its exit status and standard error, into DIR. Run it on two
checkouts and compare: ``diff -r -q BEFORE AFTER`` prints nothing when a change altered no output.
The commands run in process, through the CLI's own entry point (a few seconds in all).
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path


def run(argv: list[str]) -> str:
    """``roofline ARGV``'s exit status, standard output and standard error, as one text."""
    from simulator.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_info:
            status = exit_info.code
    return f"exit {status}\n{out.getvalue()}\n--- stderr ---\n{err.getvalue()}"


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python tools/snapshot_outputs.py DIR (a folder to write the outputs into)")
    from simulator.catalog import network_names
    from simulator.hardware.loader import available_devices

    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    networks, devices = network_names(), sorted(available_devices())
    for network in networks:
        (folder / f"count-{network}.txt").write_text(run(["count", network, "--format", "json"]))
        for device in devices:
            (folder / f"sim-{network}-{device}.txt").write_text(
                run(["simulate", network, "--device", device, "--format", "json"]))
    print(f"{len(networks)} networks, {len(devices)} devices: "
          f"{len(networks) * (1 + len(devices))} outputs in {folder}")


if __name__ == "__main__":
    main()
