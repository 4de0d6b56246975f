"""Finding a network: a Network as given, a built-in name (the definitions in :mod:`simulator.networks`)
or an ONNX path (:func:`resolve_network`).

Built-in networks register themselves (:func:`simulator.model.registry.register_network`);
importing :mod:`simulator.networks` here registers all of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

import simulator.networks  # noqa: F401  (registers the built-in networks)
from simulator.errors import SimulatorError, UnknownNameError
from simulator.model.graph import Network
from simulator.model.registry import NETWORKS, NetworkFunction, Resolution, network_names


def available_networks(pattern: str = "*") -> list[str]:
    """Names of the built-in networks matching the shell-style ``pattern`` (``"resnet*"``)."""
    return network_names(pattern)


def is_network_path(name_or_path: str | Path) -> bool:
    return str(name_or_path).lower().endswith(".onnx")


def network_function(name: str) -> NetworkFunction:
    """The function that builds the built-in network ``name``; unknown names suggest close ones."""
    if not isinstance(name, str):
        raise SimulatorError(f"a network is a built-in name, an .onnx path or a Network, got {name!r}")
    if name not in NETWORKS:
        raise UnknownNameError("network", name, NETWORKS)
    return NETWORKS[name]


def network_parameters(name: str) -> dict[str, object]:
    """The keyword parameters of built-in network ``name`` and their defaults."""
    return {p.name: p.default for p in inspect.signature(network_function(name)).parameters.values()
            if p.default is not inspect.Parameter.empty}



def _check_resolution(resolution: object) -> None:
    sizes = resolution if isinstance(resolution, tuple) else (resolution,)
    if not 1 <= len(sizes) <= 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
        raise SimulatorError(f"resolution must be a positive integer or (height, width), got {resolution!r}")


def build_network(name_or_path: str | Path, resolution: Resolution | None = None, batch: int = 1,
                  params: Mapping[str, object] | None = None) -> Network:
    """A built-in network by name (at ``resolution``, an int or ``(height, width)``, and with any other
    keyword ``params`` of its function, e.g. ``{"seq_len": 384}``) or an ONNX model by path.

    ``batch`` only resolves a symbolic batch dimension of an ONNX model; counts take the batch
    separately. An ONNX model has the input size it was exported with: ``resolution`` and ``params``
    are refused.
    """
    if isinstance(name_or_path, Path) or is_network_path(name_or_path):
        path = Path(name_or_path)
        if resolution is not None or params:
            raise SimulatorError(f"resolution and network parameters apply to built-in networks, not to the "
                                 f"ONNX model {str(path)!r} (its input size is fixed when it is exported)")
        if not path.is_file():
            raise SimulatorError(f"ONNX model {str(path)!r} does not exist")
        from simulator.onnx.reader import import_onnx  # optional extra, imported on demand

        return import_onnx(path, batch=batch)
    function = network_function(name_or_path)
    accepted = network_parameters(name_or_path)
    keywords = dict(params or {})
    if resolution is not None:
        _check_resolution(resolution)
        keywords["resolution"] = resolution
    unknown = sorted(set(keywords) - set(accepted))
    if unknown:
        raise SimulatorError(f"network {name_or_path!r} has no parameter {unknown[0]!r}; its parameters: "
                             f"{', '.join(f'{k}={v!r}' for k, v in accepted.items()) or 'none'}")
    try:
        return function(**keywords)
    except (TypeError, ValueError) as error:
        raise SimulatorError(f"network {name_or_path!r} with {keywords}: {error}") from None


def resolve_network(network: Network | str | Path, resolution: Resolution | None = None, batch: int = 1,
                    params: Mapping[str, object] | None = None) -> Network:
    """A Network as given, or built from a built-in name (with ``resolution`` and other ``params``) or
    an .onnx path (:func:`build_network`); anything else is an error."""
    if isinstance(network, Network):
        if resolution is not None or params:
            raise SimulatorError(f"resolution {resolution!r} applies to networks given by name, "
                                 f"not to the Network object {network.name!r}")
        return network
    if isinstance(network, str | Path):
        return build_network(network, resolution, batch, params)
    raise SimulatorError(f"network must be a Network, a built-in name or an .onnx path, got {network!r}")
