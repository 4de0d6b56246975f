"""Put a network on a device: latency, throughput, energy, memory fit and the bound of every layer.

:func:`simulate` is the main entry point. It is the sweep kernel
(:func:`simulator.engine.evaluate.evaluate`) evaluated on one configuration, so a sweep's row
equals the single simulation of its configuration by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from simulator.catalog import Resolution, build_network
from simulator.engine.configs import override_arrays, parse_overrides
from simulator.engine.evaluate import Evaluation, evaluate
from simulator.engine.workload import Workload, build_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import check_batch, count_network
from simulator.model.fusion import inference_view
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision, normalize
from simulator.results import LayerResult, MemoryCheck, SimulationResult


@lru_cache(maxsize=64)
def simulated_graph(network: Network, fuse: bool) -> Network:
    """The graph that is simulated: the inference view unless ``fuse`` is false (cached)."""
    return inference_view(network) if fuse else network


@lru_cache(maxsize=64)
def simulated_workload(network: Network, fuse: bool, attention: str = "fused") -> Workload:
    """The workload arrays of :func:`simulated_graph` (cached; shared by simulations and sweeps)."""
    return build_workload(simulated_graph(network, fuse), fuse=False, attention=attention)


def resolve_network(network: Network | str | Path, resolution: Resolution | None = None, batch: int = 1,
                    params: Mapping[str, object] | None = None) -> Network:
    """A Network as given, or built from a built-in name (with ``resolution`` and other ``params``) or
    an .onnx path; anything else is an error."""
    if isinstance(network, Network):
        if resolution is not None or params:
            raise SimulatorError(f"resolution {resolution!r} applies to networks given by name, "
                                 f"not to the Network object {network.name!r}")
        return network
    if isinstance(network, str | Path):
        return build_network(network, resolution, batch, params)
    raise SimulatorError(f"network must be a Network, a built-in name or an .onnx path, got {network!r}")


def resolve(device: Device | str | Path) -> Device:
    """A Device as given, or loaded from a shipped name or a profile path; anything else is an error."""
    if isinstance(device, Device):
        return device
    if isinstance(device, str | Path):
        return resolve_device(device)
    raise SimulatorError(f"device must be a Device, a shipped device name or a profile path, got {device!r}")


def simulate(network: Network | str | Path, device: Device | str | Path, batch: int = 1,
             precision: str | None = None, weight_precision: str | None = None,
             activation_precision: str | None = None, fuse: bool = True, resolution: Resolution | None = None,
             ideal: bool = False, overrides: Mapping[str, float] | None = None,
             params: Mapping[str, object] | None = None, micro_batching: bool = True,
             attention: str | None = None) -> SimulationResult:
    """Simulate ``network`` (a Network, a built-in name or an .onnx path) on ``device`` (a Device,
    a shipped name or a profile path) at ``batch`` samples.

    ``precision`` sets both weights and activations unless ``weight_precision`` or
    ``activation_precision`` say otherwise; arithmetic runs at the wider of the two. By default
    it is the device's :attr:`~simulator.hardware.device.Device.default_precision`. ``fuse``
    (default) simulates the inference view, with BatchNorm and activations folded. ``ideal``
    ignores the device's efficiency model (the pure roofline bound). ``overrides`` changes device
    figures for a what-if, one value per key, in the grammar of :mod:`simulator.engine.configs`
    (e.g. ``{"dram.bandwidth_gb_per_s": 409.6}`` or ``{"dram.energy_per_byte_scale": 2}``).
    ``resolution`` (an int or ``(height, width)``) and ``params`` (other keyword parameters of a
    built-in network's function, e.g. ``{"seq_len": 384}``) build a named network.
    ``micro_batching`` lets a batch whose activations spill out of the on-chip buffer run as
    passes of a smaller power-of-two batch when that is faster (the default, the best plan a
    runtime can choose); off, the batch runs whole, as a TensorRT engine runs its batch.
    ``attention``: ``fused`` (the score matrix never leaves the chip) or ``materialized`` (written
    and read back, as an unfused runtime does); by default the device profile's ``attention``.
    """
    check_batch(batch)
    precision, weight_precision, activation_precision = (
        None if value is None else normalize(value, name) for value, name in (
            (precision, "precision"), (weight_precision, "weight_precision"),
            (activation_precision, "activation_precision")))
    network = resolve_network(network, resolution, batch, params)
    device = resolve(device)
    precision = precision or device.default_precision
    weight_precision = weight_precision or precision
    activation_precision = activation_precision or precision
    compute = compute_precision(weight_precision, activation_precision)
    device.peak_for(compute)
    parsed = parse_overrides(overrides)
    for override in parsed:
        if len(override.values) != 1:
            raise SimulatorError(f"simulate takes one value per override, got {override.key!r}: "
                                 f"{list(override.values)} (sweep takes several)")
    attention = attention or device.attention
    workload = simulated_workload(network, fuse, attention)
    si = override_arrays(device, parsed, [compute], [np.array(o.values) for o in parsed])
    batches = np.array([batch], dtype=float)
    evaluation = evaluate(workload, device, [compute], batches, np.array([bits_of(weight_precision)], float),
                          np.array([bits_of(activation_precision)], float), si, ideal,
                          micro_batching=micro_batching)
    totals = {key: value[0] for key, value in evaluation.totals.items()}
    expected_model = device.efficiency is not None and not ideal
    ideal_latency_s = float(totals["latency_s"])
    if expected_model:  # the bound of the same configuration, beside the expected value
        bound = evaluate(workload, device, [compute], batches, np.array([bits_of(weight_precision)], float),
                         np.array([bits_of(activation_precision)], float), si, True,
                         micro_batching=micro_batching)
        ideal_latency_s = float(bound.totals["latency_s"][0])
    hardware = evaluation.hardware
    return SimulationResult(
        network=network.name,
        device=device.name,
        batch=batch,
        precision=compute,
        weight_precision=weight_precision,
        activation_precision=activation_precision,
        counts=count_network(simulated_graph(network, fuse), batch),
        layers=_layer_results(workload, evaluation, batch),
        model_size_bytes=int(totals["model_size_bytes"]),
        t_compute_s=float(totals["t_compute_s"]),
        t_memory_s=float(totals["t_memory_s"]),
        latency_s=float(totals["latency_s"]),
        energy_breakdown_j={"compute": float(totals["energy_compute_j"]),
                            **{name: float(totals["energy_level_j"][v])
                               for v, name in enumerate(hardware.level_names)},
                            **({"static": float(totals["energy_static_j"])}
                               if device.static_power_w else {})},
        memory=tuple(MemoryCheck(hardware.level_names[v], what, int(required[0]),
                                 int(hardware.capacity_bytes[0, v]))
                     for v, what, required in evaluation.memory_checks),
        energy_j=float(totals["energy_j"]),
        memory_bound_fraction=float(totals["memory_bound_fraction"]),
        bound=str(totals["bound"]),
        ideal=ideal,
        fused=fuse,
        overrides={o.key: o.values[0] for o in parsed},
        resolution=resolution,
        params=dict(params or {}),
        micro_batch=int(totals["micro_batch"]),
        attention=attention,
        ideal_latency_s=ideal_latency_s,
        expected_model=expected_model,
    )


def _layer_results(workload: Workload, evaluation: Evaluation, batch: int) -> tuple[LayerResult, ...]:
    timing, energy, names = evaluation.timing, evaluation.energy, evaluation.hardware.level_names
    bounds, binding = evaluation.bound[0], evaluation.binding[0]
    bytes_moved = timing.bytes_moved[0]
    total_energy = energy.total_j[0]
    results = []
    for i, name in enumerate(workload.names):
        ops = float(timing.ops[0, i])
        results.append(LayerResult(
            name=name,
            kind=workload.kinds[i],
            macs=workload.layer_macs[i] * batch,
            ops=ops,
            bytes_moved=float(bytes_moved[i]),
            arithmetic_intensity=ops / bytes_moved[i] if bytes_moved[i] else 0.0,
            t_compute_s=float(timing.t_compute_s[0, i]),
            t_memory_s=float(timing.t_memory_s[0, i]),
            latency_s=float(timing.latency_s[0, i]),
            bound=str(bounds[i]),
            energy_j=float(total_energy[i]),
            level_bytes={lv: float(timing.level_bytes[0, v, i]) for v, lv in enumerate(names)},
            level_time_s={lv: float(timing.t_level_s[0, v, i]) for v, lv in enumerate(names)},
            level_energy_j={lv: float(energy.level_j[0, v, i]) for v, lv in enumerate(names)},
            compute_energy_j=float(energy.compute_j[0, i]),
            binding=str(binding[i]),
        ))
    return tuple(results)
