"""Small helpers shared by test modules (import them: ``from tests.helpers import one_line_error``)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

from simulator.cli import main
from simulator.model.graph import Network, NetworkBuilder

# The "buffered" test device (conftest's ``buffered_device``): round numbers so that a test derives
# its latencies by hand (tests/engine/test_mutation_kills_engine_batches.py's docstring does).
BUFFERED_PEAK_OPS_PER_S = 1000e12  # fp32
BUFFERED_DRAM_BYTES_PER_S = 100e9  # DRAM holds weights and activations
BUFFERED_SRAM_BYTES_PER_S = 10e12  # the SRAM holds activations only
BUFFERED_SRAM_BYTES = 2**20


def one_line_error(capsys, argv: list[str], *parts: str) -> str:
    """Runs the CLI with ``argv``: exit status 2, one stderr line containing every part, no traceback,
    nothing on stdout; returns that line."""
    status = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "Traceback" not in err and not out, (status, out, err)
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def linear(features: int = 4096) -> Network:
    """One ``features × features`` linear layer with bias (network ``linear4096`` by default): in fp32,
    ``(K·N + N + K + N) · 4`` bytes of weights, bias, input and output, ``2·K·N + N`` operations."""
    net = NetworkBuilder(f"linear{features}", (features,))
    net.linear(net.input, features, bias=True)
    return net.build()


def buffered_levels() -> list[dict]:
    """The memory levels of the "buffered" test device, outermost first (for conftest's ``device_file``):
    an 8 GiB DRAM, a 1 MiB activation SRAM and a 64 KiB register file (100 TB/s)."""
    return [
        {"name": "dram", "capacity_gib": 8, "bandwidth_gb_per_s": BUFFERED_DRAM_BYTES_PER_S / 1e9,
         "stores": ["weights", "activations"], "energy_table_entry": "dram-32bit"},
        {"name": "sram", "capacity_kib": BUFFERED_SRAM_BYTES // 1024,
         "bandwidth_tb_per_s": BUFFERED_SRAM_BYTES_PER_S / 1e12, "stores": ["activations"],
         "energy_table_entry": "sram-32bit"},
        {"name": "register-file", "capacity_kib": 64, "bandwidth_tb_per_s": 100, "stores": [],
         "energy_table_entry": "rf-32bit"}]


@contextlib.contextmanager
def serving(root: Path) -> Iterator[ThreadingHTTPServer]:
    """``roofline serve``'s server for the files under ``root``, on a free port of 127.0.0.1, in a
    thread; always shut down on leaving."""
    from simulator.serve import make_server

    httpd = make_server(port=0, root=root)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def serve_request(server: ThreadingHTTPServer, method: str, path: str, body: object = None,
                  host: str | None = None) -> tuple[int, bytes]:
    """(status, body) of one request to ``server``: ``body`` is sent as JSON, or as is when it is bytes;
    ``host`` replaces the ``Host`` header."""
    from simulator.serve import LOOPBACK

    connection = http.client.HTTPConnection(LOOPBACK, server.server_address[1], timeout=30)
    try:
        headers = {"Host": host} if host else {}
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
