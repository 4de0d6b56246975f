"""``roofline serve``: the report's views computed live in the browser (:mod:`simulator.serve`), on
this machine only (127.0.0.1) unless ``--host`` names another address."""

from __future__ import annotations

import argparse
import sys

from simulator.errors import SimulatorError

#: the address served when --host is not given: this machine only
DEFAULT_HOST = "127.0.0.1"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise SimulatorError(f"--port must be an integer from 0 (any free port) to 65535, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; another "
                             "address lets every machine that reaches it use the server)")
    parser.add_argument("--port", default="8000", help="port, 0 for any free one (default 8000)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.serve import serve_report

    host = DEFAULT_HOST if args.host is None else args.host.strip()
    if not host:
        raise SimulatorError("--host must name an address, e.g. 127.0.0.1")
    if host not in (DEFAULT_HOST, "localhost"):
        print(f"roofline serve: listening on {host} because --host names it: every machine that can reach "
              f"this address can use the server and read files under {_cwd()}", file=sys.stderr)

    def ready(url: str) -> None:
        print(f"serving {url} (files under {_cwd()} only; Ctrl-C stops)", flush=True)

    try:
        serve_report(host, _port(args.port), ready=ready)
    except KeyboardInterrupt:
        print("stopped")
    return 0


def _cwd() -> str:
    from pathlib import Path

    return str(Path.cwd())
