"""Built-in networks by name: each registers itself with :func:`register_network` where it is defined.

As timm's ``@register_model``: the decorated function builds the network from its natural
keyword parameters (``resolution``, ``num_classes``, ``seq_len``, ...) and is listed under its own
name (or the one given). The definitions live in the repository's ``networks/`` folder, installed
as :mod:`simulator.networks`; :mod:`simulator.catalog` looks names up.

:data:`NETWORKS` knows every built-in name without importing a definition: the table
:data:`simulator.networks.NETWORK_MODULES` (name -> module) lists them, and a network's module is imported
the first time its function is looked up (a run that builds ``resnet50`` imports only
``simulator.networks.resnet``). Names, membership tests and error messages come from the table alone.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TypeVar

from simulator.errors import InvalidValueError
from simulator.model.graph import Network

NetworkFunction = Callable[..., Network]

#: a network's input size: one int for a square input, or ``(height, width)``
Resolution = int | tuple[int, int]
F = TypeVar("F", bound=NetworkFunction)

#: the package holding the built-in definitions and their table ``NETWORK_MODULES``
_PACKAGE = "simulator.networks"


class _Registry(MutableMapping[str, NetworkFunction]):
    """name -> the function that builds the network: the functions registered so far, plus every name of
    the built-in table, whose module is imported (registering its functions) on the first lookup."""

    def __init__(self) -> None:
        self._functions: dict[str, NetworkFunction] = {}
        self._table: Mapping[str, str] | None = None

    def _modules(self) -> Mapping[str, str]:
        """The built-in table, name -> module inside :mod:`simulator.networks` (read once)."""
        if self._table is None:
            self._table = importlib.import_module(_PACKAGE).NETWORK_MODULES
        return self._table

    def _load(self, name: str) -> None:
        """Imports the module that defines built-in ``name`` where it is not registered yet."""
        if name not in self._functions and name in self._modules():
            importlib.import_module(f"{_PACKAGE}.{self._modules()[name]}")
            if name not in self._functions:
                raise RuntimeError(f"network {name!r}: module {_PACKAGE}.{self._modules()[name]} "
                                   f"(simulator.networks.NETWORK_MODULES) does not register it")

    def register(self, name: str, function: NetworkFunction) -> None:
        """Adds ``function`` under ``name``; a name already taken by another function is an error (a
        built-in name is checked against its definition, which is imported for that)."""
        module = self._modules().get(name)
        if module is not None and function.__module__ != f"{_PACKAGE}.{module}":
            self._load(name)
        if name in self._functions and self._functions[name] is not function:
            raise RuntimeError(f"network {name!r} is registered twice")
        self._functions[name] = function

    def __getitem__(self, name: str) -> NetworkFunction:
        if isinstance(name, str):
            self._load(name)
        return self._functions[name]

    def __setitem__(self, name: str, function: NetworkFunction) -> None:
        self._functions[name] = function

    def __delitem__(self, name: str) -> None:
        del self._functions[name]

    def __contains__(self, name: object) -> bool:
        return name in self._functions or name in self._modules()

    def __iter__(self) -> Iterator[str]:
        yield from self._modules()
        yield from (name for name in self._functions if name not in self._modules())

    def __len__(self) -> int:
        return len(self._modules()) + sum(name not in self._modules() for name in self._functions)

    def __repr__(self) -> str:
        return f"<network registry: {len(self)} names, {len(self._functions)} imported>"


#: name -> the function that builds the network (a built-in one's module imported on first lookup)
NETWORKS = _Registry()


def register_network(function: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
    """Registers ``function`` under ``name`` (default: the function's own name); names are unique.

    Use as ``@register_network`` or ``@register_network(name="...")``.
    """
    def register(function: F) -> F:
        NETWORKS.register(name or function.__name__, function)
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
