"""Roofline latency, throughput and energy simulator for neural networks.

The public API, loaded lazily (``import simulator`` costs nothing until a name is used)::

    import simulator

    result = simulator.simulate("resnet50", "jetson-agx-orin", batch=8, precision="int8")
    table = simulator.sweep(["resnet50", "vit_b_16"], ["h100-sxm"], batches=[1, 8, 64])
    counts = simulator.count("mobilenet_v2", batch=1)
    simulator.network_names("efficientvit_*"), simulator.device_names()

Subpackages: :mod:`simulator.model` (layers, formulas, graphs, counts), :mod:`simulator.hardware`
(devices and profiles), :mod:`simulator.engine` (the vectorized cost engine),
:mod:`simulator.onnx`, :mod:`simulator.calibration`, :mod:`simulator.cli`, :mod:`simulator.plots`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: the installed distribution's version (``roofline --version``); a single source, pyproject.toml
__version__ = "0.2.0"

#: public name -> (module, attribute)
_API = {
    "simulate": ("simulator.simulation", "simulate"),
    "sweep": ("simulator.sweeps", "sweep"),
    "iter_sweep": ("simulator.sweeps", "iter_sweep"),
    "count": ("simulator.api", "count"),
    "network_names": ("simulator.catalog", "available_networks"),
    "build_network": ("simulator.catalog", "build_network"),
    "network_function": ("simulator.catalog", "network_function"),
    "device_names": ("simulator.api", "device_names"),
    "resolve_device": ("simulator.hardware.loader", "resolve_device"),
    "load_device": ("simulator.hardware.loader", "load_device"),
    "Network": ("simulator.model.graph", "Network"),
    "NetworkBuilder": ("simulator.model.graph", "NetworkBuilder"),
    "Device": ("simulator.hardware.device", "Device"),
    "SimulationResult": ("simulator.results", "SimulationResult"),
    "SimulatorError": ("simulator.errors", "SimulatorError"),
}

__all__ = [
    "Device", "Network", "NetworkBuilder", "SimulationResult", "SimulatorError", "build_network", "count",
    "device_names", "iter_sweep", "load_device", "network_function", "network_names", "resolve_device",
    "simulate", "sweep",
]

if TYPE_CHECKING:
    from simulator.api import count, device_names
    from simulator.catalog import available_networks as network_names
    from simulator.catalog import build_network, network_function
    from simulator.errors import SimulatorError
    from simulator.hardware.device import Device
    from simulator.hardware.loader import load_device, resolve_device
    from simulator.model.graph import Network, NetworkBuilder
    from simulator.results import SimulationResult
    from simulator.simulation import simulate
    from simulator.sweeps import iter_sweep, sweep


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
