"""An LLM as a network of the product: one forward pass (a phase) counted and simulated like any network.

``roofline count`` and ``roofline simulate`` take an LLM name or a ``config.json`` with

* ``phase="prefill"``: ``seq_len`` prompt tokens per sequence (after ``context`` cached ones, 0 by
  default): the network of :func:`simulator.llm.network.build_network` with ``tokens = seq_len``;
* ``phase="decode"`` (the default): one new token per sequence over ``context`` cached tokens.

Defaults: ``seq_len`` and ``context`` are 2,048 (``roofline llm``'s default prompt), held within the
model's positions. A pass holds ``context + tokens <= max_positions`` positions.

The simulation is the LLM entry point's own step (:func:`simulator.llm.phases.run_phase`: the KV
cache, the tied LM head, the experts, the decode kernels' bandwidth, weights at the LLM precision
rules of :mod:`simulator.llm.precision`) plus the runtime's fixed cost per forward pass
(``[efficiency] step_overhead_us``, not in the ideal bound; the layers' times sum to the rest, and
static power is charged over it too), so a decode step at context ``c``
equals :func:`~simulator.llm.inference.simulate_llm`'s time per output token with ``prompt = c`` and
``generate = 1``. The result carries the network's parameter count (``result.counts.params``): every
weight of the model, the tables ``V·d`` and an untied LM head's ``V·d`` included. One device (no
tensor or pipeline parallelism: that is ``roofline llm``'s).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.llm.arguments import check_batches, check_flag
from simulator.llm.config import LLMConfig, check_int, load_config
from simulator.llm.memory import kv_bytes_per_sequence
from simulator.llm.network import build_network
from simulator.llm.phases import at_context, phase_workload, run_phase
from simulator.llm.precision import (
    activation_bits,
    default_activation_precision,
    kv_bits,
    llm_compute_precision,
    weight_bits,
)
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.graph import Network
from simulator.results import MemoryCheck, SimulationResult
from simulator.simulation import simulation_result

PHASES = ("prefill", "decode")
#: the default prompt (prefill) and cached context (decode): ``roofline llm``'s default prompt
DEFAULT_TOKENS = 2048


@dataclass(frozen=True)
class Phase:
    """One forward pass: ``tokens`` new tokens per sequence after ``context`` cached ones."""

    phase: str
    tokens: int
    context: int

    def params(self) -> dict[str, object]:
        """The pass as a result's network parameters."""
        return {"phase": self.phase, "seq_len": self.tokens, "context": self.context}


def phase_of(cfg: LLMConfig, phase: object = None, seq_len: object = None, context: object = None) -> Phase:
    """The checked pass: ``phase`` prefill or decode (default decode); ``seq_len`` the prompt of a
    prefill (decode runs 1 token: a ``seq_len`` other than 1 is refused); ``context`` cached tokens.
    Each bad value is one SimulatorError naming it and the range."""
    phase = "decode" if phase is None else phase
    if phase not in PHASES:
        raise SimulatorError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    positions = cfg.max_positions
    if phase == "decode":
        if seq_len is not None and seq_len != 1:
            raise SimulatorError(f"a decode step runs 1 new token per sequence, got seq_len {seq_len!r}; "
                                 f"give the prompt with phase prefill, the cached tokens with context")
        tokens = 1
        context = min(DEFAULT_TOKENS, positions - 1) if context is None else context
        context = check_int(context, "context (cached tokens)", 0, positions - 1)
    else:
        context = 0 if context is None else check_int(context, "context (cached tokens)", 0, positions - 1)
        tokens = min(DEFAULT_TOKENS, positions - context) if seq_len is None else seq_len
        tokens = check_int(tokens, "seq_len (prompt tokens)", 1, positions - context)
    return Phase(phase, tokens, context)


def llm_network(model: str | Path | LLMConfig, phase: object = None, seq_len: object = None,
                context: object = None) -> tuple[Network, Phase]:
    """The network of one pass of ``model`` (a built-in LLM name, a config.json or an LLMConfig) and
    the checked pass."""
    cfg = load_config(model)
    step = phase_of(cfg, phase, seq_len, context)
    return build_network(cfg, step.tokens, step.context), step


def count_llm(model: str | Path | LLMConfig, batch: int = 1, phase: object = None, seq_len: object = None,
              context: object = None) -> NetworkCounts:
    """Counts of one pass of ``model`` at ``batch`` sequences (parameters: the whole model)."""
    network, _ = llm_network(model, phase, seq_len, context)
    return count_network(network, int(check_batches(batch)[0]))


def simulate_phase(model: str | Path | LLMConfig, device: str | Path | Device, batch: int = 1,
                   phase: object = None, seq_len: object = None, context: object = None,
                   precision: str | None = None, weight_precision: str | None = None,
                   activation_precision: str | None = None, kv_precision: str | None = None,
                   ideal: bool = False) -> SimulationResult:
    """One pass of ``model`` on ``device`` at ``batch`` sequences, as a SimulationResult.

    Precisions as ``roofline llm``: weights ``weight_precision`` or ``precision`` (default fp16),
    activations ``activation_precision`` or ``precision`` (default: fp8 for fp8 weights, else fp16,
    bf16 for bf16), the KV cache as the activations unless ``kv_precision``; arithmetic at the
    activations' precision. ``latency_s`` adds the runtime's fixed cost per forward pass to the
    layers' sum in the expected model.
    """
    cfg = load_config(model)
    step = phase_of(cfg, phase, seq_len, context)
    batches = check_batches(batch)
    if len(batches) != 1:
        raise SimulatorError(f"simulate takes one batch size, got {batch!r}")
    ideal = check_flag(ideal, "ideal")
    dev = resolve_device(device)
    weights = weight_precision or precision or "fp16"
    activations = activation_precision or precision or default_activation_precision(weights)
    kv = kv_precision or activations
    compute = llm_compute_precision(weights, activations)
    dev.peak_for(compute)  # an unknown precision on this device names its precisions
    wb = np.array([weight_bits(weights)])
    ab, kb = np.array([activation_bits(activations)]), np.array([kv_bits(kv)])
    context_arr = np.array([float(step.context)])

    def run(bound: bool):
        return run_phase(cfg, dev, step.tokens, 1, context_arr, batches, [compute], wb, ab, kb, bound, None)

    evaluation = run(ideal)
    expected_model = dev.efficiency is not None and not ideal
    network = build_network(cfg, step.tokens, step.context)
    result = simulation_result(
        cfg.name, dev, int(batches[0]), (compute, weights, activations),
        count_network(network, int(batches[0])),
        at_context(phase_workload(cfg, step.tokens), context_arr, wb), evaluation,
        float(run(True).totals["latency_s"][0]) if expected_model else None,
        ideal=ideal, fused=True, overrides={}, resolution=None, params=step.params(),
        attention=dev.attention, expected_model=expected_model)
    kv_bytes = kv_cache_bytes(cfg, step, int(batches[0]), float(kb[0]))
    result = dataclasses.replace(result, kv_cache_bytes=kv_bytes, memory=_with_kv(result.memory, kv_bytes))
    overhead_s = float(dev.efficiency.step_overhead_s) if expected_model else 0.0
    if not overhead_s:
        return result
    # the fixed cost per pass is time on the device: static power is drawn over it too
    breakdown = dict(result.energy_breakdown_j)
    static_j = breakdown.get("static", 0.0) * overhead_s / result.latency_s
    if static_j:
        breakdown["static"] += static_j
    return dataclasses.replace(result, latency_s=result.latency_s + overhead_s,
                               energy_j=result.energy_j + static_j, energy_breakdown_j=breakdown)


def kv_cache_bytes(cfg: LLMConfig, step: Phase, batch: int, kv_bits: float) -> int:
    """The KV cache a pass holds at its end [bytes]: ``ceil(batch · kv_bytes_per_sequence(context +
    tokens))`` (:func:`simulator.llm.memory.kv_bytes_per_sequence`: ``2·KV·hd·bits/8`` per position and
    layer, a sliding-window layer holding at most its window), as ``roofline llm``'s memory table."""
    return int(np.ceil(batch * kv_bytes_per_sequence(cfg, step.context + step.tokens, kv_bits)))


def _with_kv(checks: tuple[MemoryCheck, ...], kv_bytes: int) -> tuple[MemoryCheck, ...]:
    """The memory checks with the KV cache added to the store of the activations (it is activation
    state kept across passes), so that ``fits`` means weights + KV cache + peak activations fit."""
    held = [i for i, check in enumerate(checks) if "activations" in check.holds] or [len(checks) - 1]
    return tuple(dataclasses.replace(check, holds=check.holds.replace("activations", "activations + KV cache")
                                     if "activations" in check.holds else check.holds + " + KV cache",
                                     required_bytes=check.required_bytes + kv_bytes)
                 if i == held[0] else check for i, check in enumerate(checks))
