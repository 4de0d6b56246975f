"""Finding networks by name (the built-in definitions in ``networks``) or by file path (ONNX)."""

from __future__ import annotations

from pathlib import Path

from simulator.errors import SimulatorError, UnknownNameError
from simulator.model.graph import Network
from simulator.networks import NETWORKS


def available_networks() -> list[str]:
    """Names of the built-in networks."""
    return sorted(NETWORKS)


def is_network_path(name_or_path: str | Path) -> bool:
    return str(name_or_path).lower().endswith(".onnx")


def build_network(name_or_path: str | Path, resolution: int | None = None, batch: int = 1) -> Network:
    """A built-in network by name (at ``resolution`` if given) or an ONNX model by path.

    ``batch`` only resolves a symbolic batch dimension of an ONNX model; counts take the batch
    separately.
    """
    if is_network_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise SimulatorError(f"ONNX model {str(path)!r} does not exist")
        from simulator.onnx.reader import import_onnx  # optional extra, imported on demand

        return import_onnx(path, batch=batch)
    name = str(name_or_path)
    if name not in NETWORKS:
        raise UnknownNameError("network", name, NETWORKS)
    if resolution is None:
        return NETWORKS[name]()
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise SimulatorError(f"resolution must be a positive integer, got {resolution!r}")
    return NETWORKS[name](resolution=resolution)
