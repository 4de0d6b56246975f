"""Validate predictions against ONNX Runtime on this machine's CPU: measured vs predicted latency.

:func:`validate` runs an ONNX model in ONNX Runtime (``CPUExecutionProvider``, every graph
optimization enabled, as deployed, one intra-op thread per core), times ``session.run`` with
random inputs (warm-up runs, then timed runs: median and inter-quartile range; runs made while
other processes kept the CPUs busy are left out and repeated) at each batch, and
compares the median with the simulator's latency of the same model,
``simulate(import_onnx(model), device, batch, precision="fp32")``, both on the ideal roofline
(``ideal=True``) and with the device's calibrated efficiency model (:mod:`simulator.calibration.calibrate`).
The error is ``predicted / measured - 1``: negative when the prediction is faster.

:func:`validate_layers` compares layer by layer, best effort, through ONNX Runtime's profiler:
each executed node's median kernel time is assigned to the simulator layer whose name (or, for a
fused layer ``conv1+bn1+relu1``, one of whose parts) equals the node's name without ONNX Runtime's
suffixes (``relu1_nchwc``: ONNX Runtime names a fused node after its last part's output). Layers
that ONNX Runtime fused into another node (a residual Add folded into the convolution before it)
get no measurement; nodes with no layer (layout conversions) are summed into one row.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.calibration import harness as mb
from simulator.calibration import session as ort
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.graph import Network
from simulator.simulation import simulate

PRECISION = "fp32"
#: suffixes ONNX Runtime appends to the names of the nodes it rewrites
ORT_NAME_SUFFIXES = ("_nchwc",)
UNMATCHED = "(ONNX Runtime nodes with no layer)"


def _input_feed(session: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 inputs at ``batch``; a fixed batch dimension other than ``batch`` is an error."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for model_input in session.get_inputs():
        dims = list(model_input.shape)
        if dims and isinstance(dims[0], int) and dims[0] != batch:
            raise SimulatorError(f"the model's input {model_input.name!r} has a fixed batch of {dims[0]}, "
                                 f"not {batch}: export it with a symbolic batch dimension")
        if any(not isinstance(d, int) for d in dims[1:]):
            raise SimulatorError(f"the model's input {model_input.name!r} has symbolic dimensions other "
                                 f"than the batch: {dims}")
        feeds[model_input.name] = rng.standard_normal([batch, *dims[1:]], dtype=np.float32)
    return feeds


def measure_latency(model_path: str | Path, batch: int, warmup: int = 2, repeats: int = 5,
                    threads: int | None = None, patience_s: float = 10.0) -> mb.TimingStats:
    """Wall-clock time of ``session.run`` at ``batch``, after ``warmup`` untimed runs, leaving out
    runs made while other processes were busy (:func:`~simulator.calibration.harness.time_quietly`) [s]."""
    session = ort.make_session(Path(model_path), threads)
    feeds = _input_feed(session, batch)
    return mb.time_quietly(lambda: session.run(None, feeds), warmup=warmup, repeats=repeats,
                           patience_s=patience_s)


def _check(model_path: str | Path, device: Device | str, batches: Sequence[int]) -> tuple[Path, Device]:
    path = Path(model_path)
    if not path.is_file():
        raise SimulatorError(f"ONNX model {str(path)!r} does not exist")
    if not batches or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batches):
        raise SimulatorError(f"batches must be integers of at least 1, got {list(batches)!r}")
    device = resolve_device(device)
    device.peak_for(PRECISION)
    if not measured_here(device):
        warnings.warn(f"device {device.name!r} was not measured on this machine ({mb.cpu_model()}): the "
                      "errors compare its predictions with this CPU's measurements; calibrate a profile "
                      "here (`roofline calibrate`) to judge the model", UserWarning, stacklevel=3)
    return path, device


def measured_here(device: Device) -> bool:
    """Whether ``device`` is a profile ``roofline calibrate`` wrote on this machine: its description
    names this CPU (calibrate writes ``"<cpu>, <n> cores (this machine, CPU only)"``)."""
    return "(this machine" in device.description and mb.cpu_model() in device.description


def _network(path: Path, network: Network | None, batch: int) -> Network:
    if network is not None:
        return network
    from simulator.onnx.reader import import_onnx

    return import_onnx(path, batch=batch)


def validate(model_path: str | Path, device: Device | str, batches: Sequence[int] = (1, 4, 16),
             repeats: int = 5, warmup: int = 2, threads: int | None = None,
             network: Network | None = None, patience_s: float = 10.0) -> pd.DataFrame:
    """One row per batch: measured latency (median, IQR) and the ideal and calibrated predictions.

    ``network`` is the layer graph to simulate (default: ``import_onnx(model_path)``). Columns are
    in seconds; ``calibrated_s`` is NaN when the device has no efficiency model. ``patience_s``
    bounds, per batch, the wait for runs undisturbed by other processes.
    """
    path, device = _check(model_path, device, batches)
    ort.require_onnxruntime()
    threads = threads or mb.core_count()
    rows = []
    for batch in batches:
        graph = _network(path, network, batch)
        with mb.LoadMonitor() as load:
            measured = measure_latency(path, batch, warmup, repeats, threads, patience_s)
        ideal = simulate(graph, device, batch=batch, precision=PRECISION, ideal=True).latency_s
        calibrated = (math.nan if device.efficiency is None else
                      simulate(graph, device, batch=batch, precision=PRECISION).latency_s)
        rows.append({
            "model": path.stem, "batch": batch, "threads": threads,
            "measured_median_s": measured.median_s, "measured_iqr_s": measured.iqr_s,
            "ideal_s": ideal, "calibrated_s": calibrated,
            "ideal_error": ideal / measured.median_s - 1,
            "calibrated_error": calibrated / measured.median_s - 1,
            "foreign_cores": load.foreign_cores, "dropped_runs": measured.dropped,
        })
    return pd.DataFrame(rows)


def _layer_of(node_name: str, parts: dict[str, str]) -> str | None:
    name = node_name
    for suffix in ORT_NAME_SUFFIXES:
        name = name.removesuffix(suffix)
    return parts.get(name)


def validate_layers(model_path: str | Path, device: Device | str, batch: int = 1, repeats: int = 5,
                    threads: int | None = None, network: Network | None = None) -> pd.DataFrame:
    """Per simulator layer: predicted (ideal, calibrated) and measured kernel time [s], best effort.

    ``measured_s`` is the sum of the median kernel times of the ONNX Runtime nodes matched to the
    layer (see the module docstring), NaN when none matched.
    """
    path, device = _check(model_path, device, [batch])
    ort.require_onnxruntime()
    graph = _network(path, network, batch)
    ideal = simulate(graph, device, batch=batch, precision=PRECISION, ideal=True)
    calibrated = None if device.efficiency is None else simulate(graph, device, batch=batch,
                                                                 precision=PRECISION)
    session = ort.make_session(path, threads)
    nodes = ort.profiled_node_times(path, _input_feed(session, batch), threads, warmup=1, repeats=repeats)
    parts = {part: layer.name for layer in ideal.layers for part in layer.name.split("+")}
    measured: dict[str, float] = {}
    for node in nodes:
        layer = _layer_of(node.name, parts) or UNMATCHED
        measured[layer] = measured.get(layer, 0.0) + float(np.median(node.times_s))
    rows = []
    for i, layer in enumerate(ideal.layers):
        if layer.latency_s == 0 and layer.name not in measured:
            continue  # a view: no work in either
        predicted = math.nan if calibrated is None else calibrated.layers[i].latency_s
        rows.append({"layer": layer.name, "kind": layer.kind, "ideal_s": layer.latency_s,
                     "calibrated_s": predicted, "measured_s": measured.get(layer.name, math.nan)})
    if UNMATCHED in measured:
        rows.append({"layer": UNMATCHED, "kind": "", "ideal_s": 0.0, "calibrated_s": 0.0,
                     "measured_s": measured[UNMATCHED]})
    return pd.DataFrame(rows)
