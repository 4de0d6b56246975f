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
    "simulate": ("simulator.api", "simulate"),
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
    "NetworkCounts": ("simulator.model.counts", "NetworkCounts"),
    "network_parameters": ("simulator.catalog", "network_parameters"),
    "runtime_names": ("simulator.api", "runtime_names"),
    "llm_names": ("simulator.api", "llm_names"),
    "write_sweep": ("simulator.sweeps", "write_sweep"),
    # not "compare": importing the submodule simulator.compare binds that name to the module
    "compare_networks": ("simulator.compare", "compare"),
    "compare_devices": ("simulator.compare", "compare_devices"),
    "Comparison": ("simulator.compare", "Comparison"),
    "simulate_llm": ("simulator.llm.inference", "simulate_llm"),
    "sweep_llm": ("simulator.llm.sweep", "sweep_llm"),
    "load_llm_config": ("simulator.llm.config", "load_config"),
    "LLMResult": ("simulator.llm.inference", "LLMResult"),
    "accuracy_table": ("simulator.accuracy", "accuracy_table"),
    "load_measurements": ("simulator.accuracy", "load_measurements"),
    "format_counts": ("simulator.report", "format_counts"),
    "format_simulation": ("simulator.report", "format_simulation"),
    "simulate_serving": ("simulator.llm.serving", "simulate_serving"),
    "concurrency_for_target": ("simulator.llm.serving", "concurrency_for_target"),
    "export_onnx": ("simulator.api", "export_onnx"),
    "calibrate": ("simulator.calibration.calibrate", "calibrate"),
    "validate": ("simulator.calibration.validate", "validate"),
    "plots": ("simulator.plots", ""),  # the charts (matplotlib Figures): the module itself
    "html_report_data": ("simulator.report_html", "html_report_data"),
    "write_html_report": ("simulator.report_html", "write_html_report"),
    "report_widget": ("simulator.report_html", "report_widget"),
    "serve_report": ("simulator.serve", "serve_report"),
}

#: every entry point: one or more per ``roofline`` command (list, count, simulate, compare, sweep,
#: plot, export, calibrate, validate, llm, accuracy, report, serve), the types they take and return, and
#: the text the count and simulate commands print (``format_counts``, ``format_simulation``)
__all__ = [
    "Comparison", "Device", "LLMResult", "Network", "NetworkBuilder", "NetworkCounts", "SimulationResult",
    "SimulatorError", "accuracy_table", "build_network", "calibrate", "compare_devices", "compare_networks",
    "concurrency_for_target", "count", "device_names", "export_onnx", "format_counts", "format_simulation",
    "html_report_data", "iter_sweep", "llm_names", "load_device", "load_llm_config", "load_measurements",
    "network_function", "network_names", "network_parameters", "plots", "report_widget", "resolve_device",
    "runtime_names", "serve_report", "simulate", "simulate_llm", "simulate_serving", "sweep", "sweep_llm",
    "validate", "write_html_report", "write_sweep",
]

if TYPE_CHECKING:
    from simulator import plots
    from simulator.accuracy import accuracy_table, load_measurements
    from simulator.api import count, device_names, export_onnx, llm_names, runtime_names, simulate
    from simulator.calibration.calibrate import calibrate
    from simulator.calibration.validate import validate
    from simulator.catalog import available_networks as network_names
    from simulator.catalog import build_network, network_function, network_parameters
    from simulator.compare import Comparison, compare_devices
    from simulator.compare import compare as compare_networks
    from simulator.errors import SimulatorError
    from simulator.hardware.device import Device
    from simulator.hardware.loader import load_device, resolve_device
    from simulator.llm.config import load_config as load_llm_config
    from simulator.llm.inference import LLMResult, simulate_llm
    from simulator.llm.serving import concurrency_for_target, simulate_serving
    from simulator.llm.sweep import sweep_llm
    from simulator.model.counts import NetworkCounts
    from simulator.model.graph import Network, NetworkBuilder
    from simulator.report import format_counts, format_simulation
    from simulator.report_html import html_report_data, report_widget, write_html_report
    from simulator.results import SimulationResult
    from simulator.serve import serve_report
    from simulator.sweeps import iter_sweep, sweep, write_sweep


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    module, attribute = _API[name]
    value = importlib.import_module(module)
    value = getattr(value, attribute) if attribute else value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
