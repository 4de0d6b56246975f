"""Put a network on a device: latency, throughput, energy, memory fit and the bound of every layer.

:func:`simulate` is the main entry point. It is the sweep kernel
(:func:`simulator.engine.evaluate.evaluate`) evaluated on one configuration, so a sweep's row
equals the single simulation of its configuration by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simulator.catalog import Resolution, resolve_network
from simulator.engine.evaluate import Evaluation, evaluate
from simulator.engine.overrides import override_arrays, parse_overrides
from simulator.engine.workload import Workload, simulated_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import NetworkCounts, check_batch, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision, normalize
from simulator.results import MemoryCheck, SimulationResult, layer_results


def check_flag(value: object, name: str) -> bool:
    """An on/off argument of the API must be a bool (or numpy's): a string such as ``"false"`` or
    ``"no"`` is truthy in Python and would silently turn the option on, so it is an error."""
    if not isinstance(value, bool | np.bool_):
        raise SimulatorError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def simulate(network: Network | str | Path, device: Device | str | Path, batch: int = 1,
             precision: str | None = None, weight_precision: str | None = None,
             activation_precision: str | None = None, fuse: bool = True, resolution: Resolution | None = None,
             ideal: bool = False, overrides: Mapping[str, float] | None = None,
             params: Mapping[str, object] | None = None, micro_batching: bool = True,
             attention: str | None = None, seq_lengths: object = None,
             padding: str | None = None) -> SimulationResult:
    """Simulate ``network`` (a Network, a built-in name or an .onnx path) on ``device`` (a Device,
    a shipped name or a profile path) at ``batch`` samples.

    ``precision`` sets both weights and activations unless ``weight_precision`` or
    ``activation_precision`` say otherwise; arithmetic runs at the wider of the two. By default
    it is the device's :attr:`~simulator.hardware.device.Device.default_precision`. ``fuse``
    (default) simulates the inference view, with BatchNorm and activations folded. ``ideal``
    ignores the device's efficiency model (the pure roofline bound). ``overrides`` changes device
    figures for a what-if, one value per key, in the grammar of :mod:`simulator.engine.overrides`
    (e.g. ``{"dram.bandwidth_gb_per_s": 409.6}`` or ``{"dram.energy_per_byte_scale": 2}``).
    ``resolution`` (an int or ``(height, width)``) and ``params`` (other keyword parameters of a
    built-in network's function, e.g. ``{"seq_len": 384}``) build a named network.
    ``micro_batching`` lets a batch whose activations spill out of the on-chip buffer run as
    passes of a smaller power-of-two batch when that is faster (the default, the best plan a
    runtime can choose); off, the batch runs whole, as a TensorRT engine runs its batch.
    ``attention``: ``fused`` (the score matrix never leaves the chip) or ``materialized`` (written
    and read back, as an unfused runtime does); by default the device profile's ``attention``.
    ``seq_lengths`` (a network with a ``seq_len``: a shipped distribution such as ``"squad-v1.1"``, a
    list of lengths or one effective length) and ``padding`` (``none``: removed, ``max``: every
    sequence padded) run a batch of variable-length sequences (:mod:`simulator.model.lengths`); they
    may also come in ``params`` and are reported there.
    """
    check_batch(batch)
    variable = None
    if params is not None and not isinstance(params, Mapping):
        raise SimulatorError(f"network parameters must be a mapping of name to value, got "
                             f"{type(params).__name__} {params!r}")
    if seq_lengths is not None or padding is not None or {"seq_lengths", "padding"} & set(params or {}):
        from simulator.model.lengths import variable_batch

        variable = variable_batch(batch, params, seq_lengths, padding)
        build = _sequence_builder(network, variable.network_params, resolution)
        params = variable.params
    ideal, fuse, micro_batching = (check_flag(value, name) for value, name in (
        (ideal, "ideal"), (fuse, "fuse"), (micro_batching, "micro_batching")))
    precision, weight_precision, activation_precision = (
        None if value is None else normalize(value, name) for value, name in (
            (precision, "precision"), (weight_precision, "weight_precision"),
            (activation_precision, "activation_precision")))
    network = resolve_network(network, resolution, batch, variable.network_params if variable else params)
    device = resolve_device(device)
    precision = precision or device.default_precision
    weight_precision = weight_precision or precision
    activation_precision = activation_precision or precision
    compute = compute_precision(weight_precision, activation_precision)
    weight_bits = np.array([bits_of(weight_precision)], float)
    activation_bits = np.array([bits_of(activation_precision)], float)
    device.peak_for(compute)
    parsed = parse_overrides(overrides)
    for override in parsed:
        if len(override.values) != 1:
            raise SimulatorError(f"simulate takes one value per override, got {override.key!r}: "
                                 f"{list(override.values)} (sweep takes several)")
    si = override_arrays(device, parsed, [compute], [np.array(o.values) for o in parsed])
    attention = attention or device.attention
    if variable:
        from simulator.engine.lengths import variable_length_workload

        workload, count_batch = variable_length_workload(build, variable.run_lengths, variable.padding, fuse,
                                                         attention)
    else:
        workload, count_batch = simulated_workload(network, fuse, attention), None
    batches = np.array([batch], dtype=float)
    evaluation = evaluate(workload, device, [compute], batches, weight_bits, activation_bits, si, ideal,
                          micro_batching=micro_batching)
    expected_model = device.efficiency is not None and not ideal
    ideal_latency_s = None
    if expected_model:  # the bound of the same configuration, beside the expected value
        bound = evaluate(workload, device, [compute], batches, weight_bits, activation_bits, si, True,
                         micro_batching=micro_batching)
        ideal_latency_s = float(bound.totals["latency_s"][0])
    return simulation_result(
        network.name, device, batch, (compute, weight_precision, activation_precision),
        count_batch(batch) if count_batch else count_network(simulated_graph(network, fuse), batch),
        workload, evaluation, ideal_latency_s,
        ideal=ideal, fused=fuse, overrides={o.key: o.values[0] for o in parsed}, resolution=resolution,
        params=dict(params or {}), attention=attention, expected_model=expected_model)


def _sequence_builder(network: object, params: Mapping[str, object],
                      resolution: Resolution | None) -> Callable[[int], Network]:
    """``L -> Network``: the built-in ``network`` with ``seq_len=L`` and its other ``params``; a
    network without a ``seq_len`` parameter is refused, naming those that have one."""
    from simulator.catalog import network_parameters
    from simulator.model.registry import NETWORKS

    if (not isinstance(network, str) or network not in NETWORKS
            or "seq_len" not in network_parameters(network)):
        takes = sorted(name for name in NETWORKS if "seq_len" in network_parameters(name))
        raise SimulatorError(f"sequence lengths apply to built-in networks with a seq_len parameter "
                             f"({', '.join(takes)}), got {network!r}")
    return lambda length: resolve_network(network, resolution, 1, {**params, "seq_len": length})


def simulation_result(network: str, device: Device, batch: int, precisions: tuple[str, str, str],
                      counts: NetworkCounts, workload: Workload, evaluation: Evaluation,
                      ideal_latency_s: float | None, **settings: Any) -> SimulationResult:
    """Configuration 0 of ``evaluation`` (``workload`` on ``device`` at ``batch``) as a SimulationResult:
    the engine's totals read, never recomputed. ``precisions``: compute, weights, activations;
    ``ideal_latency_s``: the bound of the same configuration (None: the evaluation is the bound);
    ``settings``: the result's other fields (``ideal``, ``fused``, ``overrides``, ``resolution``,
    ``params``, ``attention``, ``expected_model``). Shared by :func:`simulate` and an LLM's phase
    (:func:`simulator.llm.as_network.simulate_phase`)."""
    totals = {key: value[0] for key, value in evaluation.totals.items()}
    hardware = evaluation.hardware
    compute, weight_precision, activation_precision = precisions
    return SimulationResult(
        network=network,
        device=device.name,
        batch=batch,
        precision=compute,
        weight_precision=weight_precision,
        activation_precision=activation_precision,
        counts=counts,
        layers=layer_results(workload, evaluation, batch),
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
        micro_batch=int(totals["micro_batch"]),
        ideal_latency_s=float(totals["latency_s"]) if ideal_latency_s is None else ideal_latency_s,
        **settings,
    )
