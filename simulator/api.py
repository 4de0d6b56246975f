"""Entry points of the public API that are more than a re-export (see :mod:`simulator`)."""

from __future__ import annotations

from pathlib import Path

from simulator.catalog import resolve_network
from simulator.hardware.loader import available_devices
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network


def count(network: Network | str | Path, batch: int = 1, resolution: int | None = None,
          fused: bool = False) -> NetworkCounts:
    """Hardware-independent counts of ``network`` (a Network, built-in name or .onnx path) at
    ``batch``; ``fused`` counts the inference view (BatchNorm and activations folded)."""
    return count_network(simulated_graph(resolve_network(network, resolution, batch), fused), batch)


def device_names() -> list[str]:
    """Names of the shipped device profiles."""
    return sorted(available_devices())
