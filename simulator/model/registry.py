"""Built-in networks by name: each registers itself with :func:`register_network` where it is defined.

As timm's ``@register_model``: the decorated function builds the network from its natural
keyword parameters (``resolution``, ``num_classes``, ``seq_len``, ...) and is listed under its own
name (or the one given). The definitions live in the repository's ``networks/`` folder, installed
as :mod:`simulator.networks`; :mod:`simulator.catalog` imports them and looks names up.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TypeVar

from simulator.errors import InvalidValueError
from simulator.model.graph import Network

NetworkFunction = Callable[..., Network]

#: a network's input size: one int for a square input, or ``(height, width)``
Resolution = int | tuple[int, int]
F = TypeVar("F", bound=NetworkFunction)

#: name -> the function that builds the network
NETWORKS: dict[str, NetworkFunction] = {}


def register_network(function: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
    """Registers ``function`` under ``name`` (default: the function's own name); names are unique.

    Use as ``@register_network`` or ``@register_network(name="...")``.
    """
    def register(function: F) -> F:
        key = name or function.__name__
        if key in NETWORKS and NETWORKS[key] is not function:
            raise RuntimeError(f"network {key!r} is registered twice")
        NETWORKS[key] = function
        return function
    return register(function) if function is not None else register


def network_names(pattern: str = "*") -> list[str]:
    """Registered names matching the shell-style ``pattern`` (``efficientvit_*``), sorted."""
    return sorted(fnmatch.filter(NETWORKS, pattern))


def height_width(resolution: Resolution) -> tuple[int, int]:
    """``(height, width)`` of ``resolution``: ``(r, r)`` for an int ``r``, else the pair itself.

    Raises :class:`~simulator.errors.InvalidValueError` (a ``ValueError`` too) for anything else (a bool,
    a float, a pair of non-integers, three sizes).
    """
    if isinstance(resolution, int) and not isinstance(resolution, bool):
        return resolution, resolution
    if (isinstance(resolution, tuple | list) and len(resolution) == 2
            and all(isinstance(r, int) and not isinstance(r, bool) for r in resolution)):
        return int(resolution[0]), int(resolution[1])
    raise InvalidValueError(f"resolution must be an int or (height, width), got {resolution!r}")
