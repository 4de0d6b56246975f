"""An LLM as a network of the product: one forward pass (a phase) counted and simulated like any network.

``roofline count`` and ``roofline simulate`` take an LLM name or a ``config.json`` with

* ``phase="prefill"``: ``seq_len`` prompt tokens per sequence (after ``context`` cached ones, 0 by
  default): the network of :func:`simulator.llm.network.build_network` with ``tokens = seq_len``;
* ``phase="decode"`` (the default): one new token per sequence over ``context`` cached tokens.

Defaults: ``seq_len`` and ``context`` are 2,048 (``roofline llm``'s default prompt), held within the
model's positions. A pass holds ``context + tokens <= max_positions`` positions.

The simulation evaluates the network built at its context (:func:`simulator.llm.phases.run_phase` with
``cached`` the context, no slope), with the LLM entry point's own rules (the KV
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
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.llm.arguments import check_batches, check_flag
from simulator.llm.config import LLMConfig, check_int, is_llm, load_config
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
from simulator.precision import bits_of
from simulator.results import MemoryCheck, SimulationResult
from simulator.simulation import simulation_result

if TYPE_CHECKING:  # pandas is imported where a sweep's frame is built
    import pandas as pd

PHASES = ("prefill", "decode")
#: the parameters of a pass (:func:`phase_of`), as ``params`` of the API and the results
PASS_PARAMS = ("phase", "seq_len", "context")
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


def is_llm_network(network: object) -> bool:
    """Whether ``network`` names an LLM (a built-in LLM, a config.json, a model folder or a cached hub
    id) rather than a Network, a built-in network or an .onnx path."""
    from simulator.catalog import is_network_path
    from simulator.model.registry import NETWORKS

    if not isinstance(network, str | Path) or is_network_path(network) or str(network) in NETWORKS:
        return False
    return is_llm(network)


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
    # the network built at its context, evaluated as it stands (no cached tokens beyond it, no slope):
    # the other path to the step that roofline llm sums in closed form
    beyond = np.zeros(1)

    def run(bound: bool):
        return run_phase(cfg, dev, step.tokens, 1, beyond, batches, [compute], wb, ab, kb, bound, None,
                         cached=step.context)

    evaluation = run(ideal)
    expected_model = dev.efficiency is not None and not ideal
    network = build_network(cfg, step.tokens, step.context)
    result = simulation_result(
        cfg.name, dev, int(batches[0]), (compute, weights, activations),
        count_network(network, int(batches[0])),
        at_context(phase_workload(cfg, step.tokens, 1, step.context), beyond, wb), evaluation,
        float(run(True).totals.latency_s[0]) if expected_model else None,
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


#: the columns of :func:`simulator.sweeps.sweep` that an LLM pass's sweep (:func:`sweep_phase`) has too,
#: in its order (``energy_<level>_j`` columns follow ``energy_compute_j``); the sweep modules are of the
#: same layer as this package, so the tuple is restated here and a test pins it to theirs
SWEEP_COLUMNS = ("network", "device", "input_shape", "resolution", "batch", "precision", "weight_precision",
                 "activation_precision", "params", "macs", "flops", "model_size_bytes",
                 "peak_activation_bytes", "t_compute_s", "t_memory_s", "latency_s", "throughput_per_s",
                 "energy_j", "energy_per_sample_j", "energy_compute_j", "energy_static_j", "bound", "fits",
                 "memory_bound_fraction", "micro_batch")
#: columns of an LLM pass's sweep (:func:`sweep_phase`) after :data:`SWEEP_COLUMNS`
PHASE_COLUMNS = ("phase", "seq_len", "context", "kv_cache_bytes")


def sweep_phase(models: Sequence[str | Path] | str | Path,
                devices: Sequence[str | Path | Device] | str | Path | Device, batches: Sequence[int] = (1,),
                precisions: Sequence[str] | None = None,
                weight_precisions: Sequence[str] | None = None,
                activation_precisions: Sequence[str] | None = None, phase: str | None = None,
                seq_len: int | None = None, context: int | None = None, ideal: bool = False,
                skip_unsupported: bool = False) -> pd.DataFrame:
    """One row per LLM x device x batch x precision x weight precision x activation precision (the
    last varies fastest) of one forward pass (``phase``, ``seq_len``, ``context`` as
    :func:`simulator.llm.as_network.phase_of`), each row the :class:`~simulator.results.SimulationResult`
    of :func:`simulator.llm.as_network.simulate_phase` at that configuration (so a row equals the single
    call), in :data:`SWEEP_COLUMNS` plus :data:`PHASE_COLUMNS`: ``params`` is the whole model's parameter
    count, ``model_size_bytes`` its weights at their precision, ``kv_cache_bytes`` the cache held at the
    pass's end. Precisions absent: the LLM's (weights fp16, activations as
    :func:`~simulator.llm.precision.default_activation_precision`). A compute precision a device has
    no peak for is an error, or dropped with ``skip_unsupported``."""
    import pandas as pd

    models, devices = _items(models, str | Path), tuple(resolve_device(d) for d in _items(devices, Device))
    if not models or not devices:
        raise SimulatorError("a sweep needs at least one network and one device")
    ideal, skip_unsupported = check_flag(ideal, "ideal"), check_flag(skip_unsupported, "skip_unsupported")
    axes = [tuple(axis) if axis is not None else (None,) for axis in
            (precisions, weight_precisions, activation_precisions)]
    rows = []
    batches = [int(b) for b in check_batches(list(_items(batches, Integral)))]
    for model, device, batch in itertools.product(models, devices, batches):
        for precision, weights, activations in itertools.product(*axes):
            try:
                result = simulate_phase(model, device, batch, phase, seq_len, context, precision=precision,
                                        weight_precision=weights, activation_precision=activations,
                                        ideal=ideal)
            except SimulatorError as error:
                if skip_unsupported and "has no peak for precision" in str(error):
                    continue
                raise
            rows.append(_phase_row(result))
    if not rows:
        raise SimulatorError(f"no configuration of the sweep runs: the devices' precisions are "
                             f"{'; '.join(f'{d.name}: {chr(44).join(d.precisions)}' for d in devices)}")
    levels = list(dict.fromkeys(key for row in rows for key in row if key.startswith("energy_")
                                and key not in ("energy_j", "energy_per_sample_j", "energy_compute_j",
                                                "energy_static_j")))
    columns = list(SWEEP_COLUMNS)
    at = columns.index("energy_compute_j") + 1
    columns[at:at] = levels
    return pd.DataFrame(rows, columns=[*columns, *PHASE_COLUMNS])


def _items(items, kind) -> tuple:
    """One item (a name, a path, a number, a Device) or a sequence of them, as a tuple."""
    return (items,) if isinstance(items, str | Path | kind) else tuple(items)


def _level_column(level: str) -> str:
    """``energy_<level>_j`` as :mod:`simulator.sweeps` names it (``register file``: ``register_file``)."""
    return "energy_" + re.sub(r"[^0-9a-zA-Z]+", "_", level).strip("_").lower() + "_j"


def _phase_row(result: SimulationResult) -> dict[str, object]:
    """A sweep row of one LLM pass's result (SI units; counts exact)."""
    counts, bits = result.counts, bits_of(result.activation_precision)
    breakdown = result.energy_breakdown_j
    return {
        "network": result.network, "device": result.device,
        "input_shape": "×".join(map(str, counts.input_shape)), "resolution": None, "batch": result.batch,
        "precision": result.precision, "weight_precision": result.weight_precision,
        "activation_precision": result.activation_precision, "params": counts.params, "macs": counts.macs,
        "flops": counts.flops, "model_size_bytes": result.model_size_bytes,
        "peak_activation_bytes": -(-counts.peak_activations * int(bits) // 8) if float(bits).is_integer()
        else math.ceil(counts.peak_activations * bits / 8),
        "t_compute_s": result.t_compute_s, "t_memory_s": result.t_memory_s, "latency_s": result.latency_s,
        "throughput_per_s": result.throughput_per_s, "energy_j": result.energy_j,
        "energy_per_sample_j": result.energy_per_sample_j, "energy_compute_j": breakdown.get("compute", 0.0),
        **{_level_column(level): joules for level, joules in breakdown.items()
           if level not in ("compute", "static")},
        "energy_static_j": breakdown.get("static", 0.0), "bound": result.bound, "fits": result.fits,
        "memory_bound_fraction": result.memory_bound_fraction, "micro_batch": result.micro_batch,
        **{key: result.params.get(key) for key in PHASE_COLUMNS[:3]}, "kv_cache_bytes": result.kv_cache_bytes,
    }
