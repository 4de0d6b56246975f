"""Small helpers shared by test modules (import them: ``from tests.helpers import one_line_error``)."""

from __future__ import annotations

from simulator.cli import main
from simulator.model.graph import Network, NetworkBuilder


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
