"""Entry points of the public API that are more than a re-export (see :mod:`simulator`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from simulator.catalog import Resolution, resolve_network
from simulator.errors import SimulatorError
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network


def count(network: Network | str | Path, batch: int = 1, resolution: Resolution | None = None,
          fused: bool = False, params: Mapping[str, object] | None = None) -> NetworkCounts:
    """Hardware-independent counts of ``network`` (a Network, built-in name or .onnx path; a name
    at ``resolution`` and with the keyword ``params`` of its function) at ``batch``; ``fused``
    counts the inference view (BatchNorm and activations folded)."""
    return count_network(simulated_graph(resolve_network(network, resolution, batch, params), fused), batch)


def device_names() -> list[str]:
    """Names of the shipped device profiles."""
    from simulator.hardware.loader import available_devices  # profiles (pydantic) only when asked for

    return sorted(available_devices())


def runtime_names() -> list[str]:
    """Names of the shipped runtimes (``DEVICE@RUNTIME``, ``roofline list runtimes``)."""
    from simulator.hardware.loader import available_runtimes

    return sorted(available_runtimes())


def llm_names() -> list[str]:
    """Names of the built-in LLM configurations (``roofline list llms``)."""
    from simulator.llm.config import available_llms

    return sorted(available_llms())


def export_onnx(network: Network | str | Path, path: str | Path, batch: int | None = 1,
                resolution: Resolution | None = None, params: Mapping[str, object] | None = None,
                **options: object) -> Path:
    """Write ``network`` (a Network or a built-in name, at ``resolution`` and with ``params``) as a
    runnable ONNX model with random weights to ``path`` (``batch=None``: a symbolic batch), as
    ``roofline export`` does; ``options`` as for :func:`simulator.onnx.writer.export_onnx` (``opset``,
    ``seed``, ``weights``). Needs the optional ``onnx`` package."""
    try:
        from simulator.onnx.writer import export_onnx as write
    except ImportError as error:
        raise SimulatorError(f"exporting ONNX needs the optional onnx package ({error}); "
                             "pip install \"roofline-simulator[onnx]\"") from None
    return write(resolve_network(network, resolution, batch or 1, params), path, batch, **options)
