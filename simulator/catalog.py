"""Finding a network: a Network as given, a built-in name (the definitions in :mod:`simulator.networks`)
or an ONNX path (:func:`resolve_network`).

Built-in networks register themselves (:func:`simulator.model.registry.register_network`); the
registry knows every name from the table :data:`simulator.networks.NETWORK_MODULES` and imports a
network's module only when its function is looked up.

A built-in network's ``resolution`` is an int ``r`` (``r × r`` pixels), ``(height, width)``, or the
same as text (``"224"``, ``"224x320"``, ``"224X320"``, ``"224×320"``, spaces allowed:
:func:`parse_resolution`). Each side lies in ``1 .. MAX_RESOLUTION_PX``; a side too small for a
network's layers is refused naming the smallest size that network takes (:func:`minimum_side_px`).
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path

from simulator.errors import ShapeError, SimulatorError, UnknownNameError
from simulator.model.graph import Network
from simulator.model.registry import NETWORKS, NetworkFunction, Resolution, height_width, network_names

#: The largest height or width accepted, in pixels: 16,384 = 2**14, 8× the largest input the built-in
#: networks are used at (Cityscapes 1024×2048, SAM 1024×1024). At that size every built-in network's
#: counts at batch 1 stay below 2**63 (int64 columns; tests/model/test_resolution.py checks it) and a
#: layer's activations at most 2**36 elements; beyond it an input is an image to tile, not one inference.
MAX_RESOLUTION_PX = 16_384
#: ``HEIGHTxWIDTH``: two integers around ``x``, ``X`` or ``×``, with optional spaces
_HEIGHT_TIMES_WIDTH = re.compile(r"\s*([+-]?\d+)\s*[xX×]\s*([+-]?\d+)\s*")
#: the grammar, for messages
RESOLUTION_GRAMMAR = (f"SIZE or HEIGHTxWIDTH in pixels, each from 1 to {MAX_RESOLUTION_PX:,} "
                      f"(e.g. 224, 224x320 or, in Python, (224, 320))")


def available_networks(pattern: str | None = "*") -> list[str]:
    """Names of the built-in networks matching the shell-style ``pattern`` (``"resnet*"``; None: all)."""
    if pattern is not None and not isinstance(pattern, str):
        raise SimulatorError(f"a network name pattern is a shell-style string such as 'resnet*' (or None for "
                             f"every network), got {type(pattern).__name__} {pattern!r}")
    return network_names("*" if pattern is None else pattern)


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



def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_resolution(resolution: object) -> Resolution:
    """``resolution`` as an int (square) or ``(height, width)``, from an int, a pair of ints or text
    (``"224"``, ``"224x320"``; ``X`` or ``×`` for ``x``; spaces ignored). Each side must lie in
    ``1 .. MAX_RESOLUTION_PX``; anything else is a SimulatorError naming the value and the range."""
    given = resolution
    if isinstance(resolution, str):
        text = resolution.strip()
        match = _HEIGHT_TIMES_WIDTH.fullmatch(text)
        if match:
            resolution = (int(match[1]), int(match[2]))
        elif re.fullmatch(r"[+-]?\d+", text):
            resolution = int(text)
    elif isinstance(resolution, list):
        resolution = tuple(resolution)
    if not (_is_int(resolution) or (isinstance(resolution, tuple) and len(resolution) == 2
                                    and all(_is_int(side) for side in resolution))):
        raise SimulatorError(f"resolution must be {RESOLUTION_GRAMMAR}, got {given!r}")
    height, width = height_width(resolution)  # type: ignore[arg-type]
    sides = (("side", height),) if _is_int(resolution) else (("height", height), ("width", width))
    for what, side in sides:
        if not 1 <= side <= MAX_RESOLUTION_PX:
            bound = "must be at least 1" if side < 1 else f"exceeds the maximum {MAX_RESOLUTION_PX:,}"
            raise SimulatorError(f"resolution {given!r}: {what} {side} {bound} (each side from 1 to "
                                 f"{MAX_RESOLUTION_PX:,} pixels; larger images are tiled)")
    return resolution  # type: ignore[return-value]


def minimum_side_px(name: str, params: Mapping[str, object] | None = None) -> int | None:
    """The smallest ``s`` at which built-in network ``name`` (with ``params``) builds at ``s × s``, or
    None when it does not build at its default size either (the fault is elsewhere) or at no ``s`` up
    to 1,024. Searched upwards, so only on the error path. Height and width pass through the layers
    independently, so a side below it is too small for the network's downsampling."""
    function = network_function(name)
    params = {key: value for key, value in (params or {}).items() if key != "resolution"}
    for side in (None, *range(1, 1025)):
        try:
            function(**params) if side is None else function(**params, resolution=side)
        except ShapeError:
            if side is None:
                return None
            continue
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if side is not None:
            return side
    return None


def _too_small(name: str, resolution: Resolution, params: Mapping[str, object], error: ShapeError) -> None:
    """Re-raises ``error`` as "resolution too small, the minimum is ..." where a side is below the
    network's minimum (:func:`minimum_side_px`); else leaves it (a rule of the network, e.g. a patch size)."""
    minimum = minimum_side_px(name, params)
    height, width = height_width(resolution)
    if minimum is not None and min(height, width) < minimum:
        raise ShapeError(f"resolution {height}x{width} is too small for network {name!r}: "
                         f"height and width must each be from {minimum} to {MAX_RESOLUTION_PX:,} pixels "
                         f"({error})") from None


#: The largest integer network parameter accepted (a layer dimension: ``num_classes``, ``seq_len``):
#: 2**31 - 1; a larger one overflows the engine's 64-bit byte counts (resnet18 with 10**16 classes
#: would weigh -9.22 EB).
MAX_INT_PARAM = 2**31 - 1


def _param_types(function: NetworkFunction, name: str, default: object) -> set[type]:
    """The types parameter ``name`` of ``function`` takes: its annotation (``int | None`` -> int,
    NoneType), else its default's type; empty when neither says."""
    try:
        hint = typing.get_type_hints(function).get(name)
    except Exception:  # an annotation that does not resolve: fall back on the default
        hint = None
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kinds = {arg for arg in args if isinstance(arg, type)}
    return kinds or ({type(default)} if default is not None else set())


def check_params(name: str, params: Mapping[str, object]) -> None:
    """Each keyword parameter of built-in network ``name`` against its function's signature: an int
    parameter takes an int (not a bool, not a float) from 1 to :data:`MAX_INT_PARAM`, a float one a
    finite number greater than 0, a str one a string, a bool one a bool; None where the default is
    None. Anything else is a SimulatorError naming the parameter, the value and what it takes."""
    function, defaults = network_function(name), network_parameters(name)
    for key, value in params.items():
        if key == "resolution" or key not in defaults:
            continue
        kinds = _param_types(function, key, defaults[key])
        if value is None and (type(None) in kinds or defaults[key] is None):
            continue
        if int in kinds and float not in kinds:
            ok, expected = (isinstance(value, int) and not isinstance(value, bool)
                            and 1 <= value <= MAX_INT_PARAM), f"a whole number from 1 to {MAX_INT_PARAM:,}"
        elif float in kinds:
            ok, expected = (isinstance(value, int | float) and not isinstance(value, bool)
                            and math.isfinite(value) and value > 0), "a finite number greater than 0"
        elif bool in kinds or str in kinds:
            kind = bool if bool in kinds else str
            ok, expected = isinstance(value, kind), f"a {kind.__name__}"
        else:
            continue
        if not ok:
            raise SimulatorError(f"network {name!r}: parameter {key} must be {expected} (default "
                                 f"{defaults[key]!r}), got {value!r}")


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
    if params is not None and not isinstance(params, Mapping):
        raise SimulatorError(f"network parameters must be a mapping of name to value, e.g. "
                             f"{{'num_classes': 10}}, got {type(params).__name__} {params!r}")
    keywords = dict(params or {})
    if resolution is None and "resolution" in keywords:  # params={"resolution": ...} means the same
        resolution = keywords.pop("resolution")
    if resolution is not None:
        keywords["resolution"] = resolution = parse_resolution(resolution)
    unknown = sorted(set(keywords) - set(accepted))
    if unknown:
        raise SimulatorError(f"network {name_or_path!r} has no parameter {unknown[0]!r}; its parameters: "
                             f"{', '.join(f'{k}={v!r}' for k, v in accepted.items()) or 'none'}")
    check_params(name_or_path, keywords)
    try:
        return function(**keywords)
    except ShapeError as error:
        if resolution is not None:
            _too_small(name_or_path, resolution, dict(params or {}), error)
        raise
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
