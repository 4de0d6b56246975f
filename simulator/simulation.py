"""Put a network on a device: latency, throughput, energy, memory fit and the bound of every layer.

:func:`simulate` is the main entry point. It is the sweep kernel
(:func:`simulator.engine.evaluate.evaluate`) evaluated on one configuration, so a sweep's row
equals the single simulation of its configuration by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.configuration import (
    ResolvedConfig,
    SimulatedNetwork,
    check_flag,
    resolve_config,
    simulated_network,
)
from simulator.engine.evaluate import Evaluation, evaluate
from simulator.engine.workload import Workload
from simulator.hardware.device import Device
from simulator.model.counts import NetworkCounts
from simulator.model.graph import Network
from simulator.results import MemoryCheck, SimulationResult, layer_results

__all__ = ["Evaluated", "check_flag", "evaluate_config", "result_of", "simulate", "simulation_result"]


@dataclass(frozen=True, eq=False)
class Evaluated:
    """The engine's evaluation of one configuration, and the bound of the same configuration beside
    it (``ideal_latency_s``; None when the evaluation is itself the bound: no efficiency model, or
    ``ideal``)."""

    evaluation: Evaluation
    ideal_latency_s: float | None


def simulate(network: Network | str | Path, device: Device | str | Path, batch: int = 1,
             **settings: Any) -> SimulationResult:
    """Simulate ``network`` (a Network, a built-in name or an .onnx path) on ``device`` (a Device,
    a shipped name or a profile path) at ``batch`` samples.

    ``settings`` are keyword arguments whose names and defaults are the signature of
    :func:`~simulator.configuration.resolve_config`, their one definition (a name it does not take
    is a TypeError); what they mean:

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

    Four stages, each handing the next a typed value: the configuration resolved
    (:func:`~simulator.configuration.resolve_config`), the workload and counts it simulates, the
    engine's evaluation (with the bound beside it), the result.
    """
    config = resolve_config(network, device, batch, **settings)
    simulated = simulated_network(config)
    evaluated = evaluate_config(config, simulated.workload)
    return result_of(config, simulated, evaluated)


def evaluate_config(config: ResolvedConfig, workload: Workload) -> Evaluated:
    """``workload`` through the engine (:func:`~simulator.engine.evaluate.evaluate`) at ``config``, one
    configuration; with the device's efficiency model, the bound of the same configuration beside it."""
    expected_model = config.expected_model
    batches = np.array([config.batch], dtype=float)
    args = (workload, config.device, [config.compute], batches, config.weight_bits, config.activation_bits,
            config.overrides_si)
    evaluation = evaluate(*args, config.ideal, micro_batching=config.micro_batching)
    if not expected_model:
        return Evaluated(evaluation, None)
    bound = evaluate(*args, True, micro_batching=config.micro_batching)
    return Evaluated(evaluation, float(bound.totals.latency_s[0]))


def result_of(config: ResolvedConfig, simulated: SimulatedNetwork, evaluated: Evaluated) -> SimulationResult:
    """The :class:`~simulator.results.SimulationResult` of ``config`` (:func:`simulation_result`)."""
    return simulation_result(
        config.network.name, config.device, config.batch,
        (config.compute, config.weight_precision, config.activation_precision), simulated.counts,
        simulated.workload, evaluated.evaluation, evaluated.ideal_latency_s, ideal=config.ideal,
        fused=config.fuse, overrides=config.overrides, resolution=config.resolution, params=config.params,
        attention=config.attention, expected_model=evaluated.ideal_latency_s is not None)


def simulation_result(network: str, device: Device, batch: int, precisions: tuple[str, str, str],
                      counts: NetworkCounts, workload: Workload, evaluation: Evaluation,
                      ideal_latency_s: float | None, **settings: Any) -> SimulationResult:
    """Configuration 0 of ``evaluation`` (``workload`` on ``device`` at ``batch``) as a SimulationResult:
    the engine's totals read, never recomputed. ``precisions``: compute, weights, activations;
    ``ideal_latency_s``: the bound of the same configuration (None: the evaluation is the bound);
    ``settings``: the result's other fields (``ideal``, ``fused``, ``overrides``, ``resolution``,
    ``params``, ``attention``, ``expected_model``). Shared by :func:`simulate` and an LLM's phase
    (:func:`simulator.llm.as_network.simulate_phase`)."""
    totals = evaluation.totals
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
        model_size_bytes=int(totals.model_size_bytes[0]),
        t_compute_s=float(totals.t_compute_s[0]),
        t_memory_s=float(totals.t_memory_s[0]),
        latency_s=float(totals.latency_s[0]),
        energy_breakdown_j={"compute": float(totals.energy_compute_j[0]),
                            **{name: float(totals.energy_level_j[0, v])
                               for v, name in enumerate(hardware.level_names)},
                            **({"static": float(totals.energy_static_j[0])}
                               if device.static_power_w else {})},
        memory=tuple(MemoryCheck(hardware.level_names[v], what, int(required[0]),
                                 int(hardware.capacity_bytes[0, v]))
                     for v, what, required in evaluation.memory_checks),
        energy_j=float(totals.energy_j[0]),
        memory_bound_fraction=float(totals.memory_bound_fraction[0]),
        bound=str(totals.bound[0]),
        micro_batch=int(totals.micro_batch[0]),
        ideal_latency_s=float(totals.latency_s[0]) if ideal_latency_s is None else ideal_latency_s,
        **settings,
    )
