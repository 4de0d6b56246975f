"""LLM inference metrics for a block of configurations: prefill, the generation, memory, energy.

For a batch of ``B`` sequences with ``P`` prompt tokens generating ``G`` tokens each:

* ``ttft_s``: prefill (:mod:`simulator.llm.phases`), plus pipeline transfers;
* the expected model (not ``ideal``) times a forward pass as its kernels' rooflines (the projections'
  weights streamed at ``[efficiency.gemv] bandwidth_fraction`` of bandwidth in a decode step, a batch-1
  decode Linear being a GEMV: ``weight bytes / (bandwidth · fraction)``), plus one launch per kernel of
  the built network (:func:`~simulator.llm.phases.kernels_per_step` × ``kernel_overhead_us``,
  all-reduces one NCCL kernel each), plus the runtime's documented host cost per pass (``[efficiency]
  step_overhead_us``: TensorRT-LLM's per-step sampling launches and synchronization, 20 µs), added once
  to the prefill and once to each decode step. No fitted catch-all per step;
* decode: ``G − 1`` steps at ``c = P … P+G−2``, summed exactly (:func:`~simulator.llm.phases.sum_max_affine`;
  split where a sliding window fills, :func:`_window_fill`);
  ``tpot_s`` is their mean (for ``G = 1``: the one step at ``c = P`` that would come next);
* ``e2e_latency_s = ttft_s + Σ decode``; ``output_tokens_per_s = B·G / e2e``;
  ``total_tokens_per_s = B·(P+G) / e2e`` (prompt and output tokens);
* ``energy_per_token_j``: energy of all ``TP·PP`` devices over prefill and decode, per output token.
  Each pipeline stage holds and computes ``1/PP`` of the layers, so the ``PP`` stages of one
  tensor-parallel rank together spend one pass of the whole model: the energy is that of the whole
  model on one rank times ``TP`` (never times ``PP``). A stage's static power while it waits for the
  others is not charged (as in a pipeline kept busy by micro-batches), nor the stage hand-offs' energy;
* ``weight_bytes``, ``kv_cache_bytes`` (all devices), ``fits``, ``max_batch`` (:mod:`simulator.llm.memory`);
* per phase: ``bound`` (memory or compute, by where most of the time goes) and ``dominant`` (the term
  with the largest share of the time: ``compute``, a memory level's name, or ``comm``); for decode, at
  the middle of the generation.

``ideal=True``: the pure roofline; otherwise the device's efficiency model when it has one (else the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.engine.evaluate import Evaluation
from simulator.errors import InvalidValueError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.llm.arguments import check_batches, check_context, check_flag, check_parallelism
from simulator.llm.config import LLMConfig, load_config
from simulator.llm.memory import LLMMemoryError, memory_table, refusal
from simulator.llm.network import shard
from simulator.llm.parallel import link_arrays, pipeline_transfer_s
from simulator.llm.phases import components, run_phase, sum_max_affine
from simulator.llm.precision import (
    activation_bits,
    default_activation_precision,
    kv_bits,
    llm_compute_precision,
    weight_bits,
)

#: the keys of every configuration's totals, in the CLI's column order
METRICS = (
    "ttft_s",
    "tpot_s",
    "e2e_latency_s",
    "output_tokens_per_s",
    "total_tokens_per_s",
    "energy_per_token_j",
    "weight_bytes",
    "kv_cache_bytes",
    "activation_bytes",
    "memory_bytes",
    "capacity_bytes",
    "fits",
    "max_batch",
    "prefill_bound",
    "prefill_dominant",
    "decode_bound",
    "decode_dominant",
    "t_comm_s",
)


@dataclass(frozen=True)
class LLMResult:
    """The metrics of one model on one device for a list of batch sizes (arrays of length C)."""

    model: str
    device: str
    prompt: int
    generate: int
    tp: int
    pp: int
    weight_precision: str
    activation_precision: str
    kv_precision: str
    compute_precision: str
    ideal: bool
    batch: np.ndarray
    metrics: dict[str, np.ndarray]

    def rows(self) -> list[dict[str, object]]:
        """One dict per batch size: the conditions, then :data:`METRICS`."""
        head = {
            "model": self.model,
            "device": self.device,
            "prompt": self.prompt,
            "generate": self.generate,
            "tp": self.tp,
            "pp": self.pp,
            "weight_precision": self.weight_precision,
            "activation_precision": self.activation_precision,
            "kv_precision": self.kv_precision,
            "compute_precision": self.compute_precision,
        }
        out = []
        for i, b in enumerate(self.batch):
            row = {**head, "batch": int(b)}
            for key in METRICS:
                value = self.metrics[key][i]
                row[key] = value.item() if hasattr(value, "item") else value
            out.append(row)
        return out


def _dominant(ev: Evaluation, lines: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(C,)`` bound and dominant term: per layer the largest component takes the layer's time."""
    t = ev.timing
    lines = components(ev)[0] if lines is None else lines
    names = ["compute", *ev.hardware.level_names]
    winner = lines.argmax(axis=0)  # (C, L)
    peak = lines.max(axis=0)
    shares = np.stack([np.where(winner == k, peak, 0.0).sum(axis=1) for k in range(len(names))])
    comm = t.t_comm_s.sum(axis=1) if t.t_comm_s is not None else np.zeros(len(ev.batch))
    shares = np.concatenate([shares, comm[None]])
    labels = np.array([*names, "comm"], dtype=object)
    dominant = labels[shares.argmax(axis=0)]
    bound = np.where(shares[0] >= shares[1:-1].sum(axis=0), "compute", "memory")
    return bound, dominant


def evaluate_llm(
    cfg: LLMConfig,
    device: Device,
    batch: np.ndarray,
    prompt: np.ndarray,
    generate: np.ndarray,
    tp: int,
    weight_precision: Sequence[str],
    activation_precision: Sequence[str],
    kv_precision: Sequence[str],
    pp: np.ndarray | None = None,
    ideal: bool = False,
) -> dict[str, np.ndarray]:
    """Metrics for C configurations sharing one model, device, tensor parallelism and prompt length
    (``prompt`` may still be an array of that one value); arrays of length C otherwise."""
    batch = np.asarray(batch, dtype=float)
    count = len(batch)
    prompt = np.broadcast_to(np.asarray(prompt, dtype=float), (count,))
    generate = np.broadcast_to(np.asarray(generate, dtype=float), (count,))
    pp = np.ones(count) if pp is None else np.broadcast_to(np.asarray(pp, dtype=float), (count,))
    tps = np.full(count, float(tp))
    wb = np.array([weight_bits(w) for w in weight_precision], dtype=float)
    ab = np.array([activation_bits(a) for a in activation_precision], dtype=float)
    kb = np.array([kv_bits(k) for k in kv_precision], dtype=float)
    compute = [
        llm_compute_precision(w, a) for w, a in zip(weight_precision, activation_precision, strict=True)
    ]
    link = link_arrays(device, tps, ideal)
    step = 0.0 if ideal or device.efficiency is None else float(device.efficiency.step_overhead_s)
    p = int(prompt[0])
    if np.any(prompt != p):
        lengths = sorted({int(n) for n in prompt})
        raise InvalidValueError(f"evaluate_llm takes one prompt length per call, got {lengths}")
    prefill = run_phase(cfg, device, p, tp, np.zeros(count), batch, compute, wb, ab, kb, ideal, link)
    hand_off = pipeline_transfer_s(device, pp, batch * cfg.hidden_size * ab / 8)
    ttft = prefill.totals.latency_s + pp_factor(hand_off, p) + step
    steps = np.maximum(generate - 1, 0)
    first = run_phase(cfg, device, 1, tp, prompt, batch, compute, wb, ab, kb, ideal, link)
    last = run_phase(
        cfg, device, 1, tp, prompt + np.maximum(steps - 1, 0), batch, compute, wb, ab, kb, ideal, link
    )
    y0, _ = components(first)
    y1, _ = components(last)
    segments = [(first, last, steps)]
    fill = _window_fill(cfg, prompt, steps)
    if fill is not None and np.any((fill > 0) & (fill < steps)):  # the window fills mid-generation

        def decode_at(context: np.ndarray) -> Evaluation:
            return run_phase(cfg, device, 1, tp, context, batch, compute, wb, ab, kb, ideal, link)

        segments = [(first, decode_at(prompt + np.maximum(fill - 1, 0)), fill),
                    (decode_at(prompt + fill), last, steps - fill)]
    decode_sum = steps * (hand_off + step)
    decode_energy = np.zeros(count)
    decode_comm = np.zeros(count)
    for a, b, n in segments:  # each layer's cost is affine in c within a segment
        ya, const_a = components(a)
        yb, _ = components(b)
        decode_sum = decode_sum + (sum_max_affine(ya, yb, n[:, None]) + n[:, None] * const_a).sum(axis=1)
        decode_energy = decode_energy + n * (a.totals.energy_j + b.totals.energy_j) / 2
        decode_comm = decode_comm + n * (a.totals.t_comm_or_zero_s + b.totals.t_comm_or_zero_s) / 2
    step_first = first.totals.latency_s + hand_off + step
    tpot = np.where(steps > 0, decode_sum / np.maximum(steps, 1), step_first)
    e2e = ttft + decode_sum
    devices = tps * pp
    # the PP stages split the layers: together, one whole-model pass per tensor-parallel rank
    energy = (prefill.totals.energy_j + decode_energy) * tps
    prefill_bound, prefill_dominant = _dominant(prefill)
    decode_bound, decode_dominant = _dominant(first, (y0 + y1) / 2)
    comm = prefill.totals.t_comm_or_zero_s + decode_comm
    memory = {
        key: np.zeros(count)
        for key in (
            "weight_bytes",
            "kv_cache_bytes",
            "activation_bytes",
            "total_bytes",
            "capacity_bytes",
            "max_batch",
        )
    }
    memory["fits"] = np.zeros(count, dtype=bool)
    for key in set(zip(wb, ab, kb, pp, generate, strict=True)):
        rows = np.flatnonzero(
            (wb == key[0]) & (ab == key[1]) & (kb == key[2]) & (pp == key[3]) & (generate == key[4])
        )
        table = memory_table(
            cfg, device, batch[rows], p, int(key[4]), tp, int(key[3]), key[0], key[1], key[2]
        )
        for name, values in table.items():
            memory[name][rows] = values
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "ttft_s": ttft,
            "tpot_s": tpot,
            "e2e_latency_s": e2e,
            "output_tokens_per_s": batch * generate / e2e,
            "total_tokens_per_s": batch * (prompt + generate) / e2e,
            "energy_per_token_j": energy / (batch * generate),
            "weight_bytes": memory["weight_bytes"] * devices,
            "kv_cache_bytes": memory["kv_cache_bytes"] * devices,
            "activation_bytes": memory["activation_bytes"] * devices,
            "memory_bytes": memory["total_bytes"],
            "capacity_bytes": memory["capacity_bytes"],
            "fits": memory["fits"],
            "max_batch": memory["max_batch"].astype(np.int64),
            "prefill_bound": prefill_bound,
            "prefill_dominant": prefill_dominant,
            "decode_bound": decode_bound,
            "decode_dominant": decode_dominant,
            "t_comm_s": comm,
            "decode_s": decode_sum,
            "prefill_energy_j": prefill.totals.energy_j * tps,
        }


def _window_fill(cfg: LLMConfig, prompt: np.ndarray, steps: np.ndarray) -> np.ndarray | None:
    """Decode steps at contexts ``c <= W − 1``, where a sliding-window layer's cost still grows with
    ``c`` (after them it is constant: the query sees ``W`` keys); None without a window. Summing the
    generation in these two segments keeps it exact across the window."""
    if not cfg.sliding_window:
        return None
    return np.clip(cfg.sliding_window - prompt, 0, steps)


def pp_factor(hand_off: np.ndarray, prompt: int) -> np.ndarray:
    """Prefill hands ``P`` tokens' activations per sequence from stage to stage (the per-message latency
    once): the transfer of ``B·d`` activations scaled by ``P`` in its bandwidth term, approximated by
    ``P ×`` the one-token transfer (an upper bound)."""
    return hand_off * prompt


def simulate_llm(
    model: str | LLMConfig,
    device: str | Device,
    batch: int | Sequence[int] = 1,
    prompt: int = 2048,
    generate: int = 128,
    tp: int = 1,
    pp: int = 1,
    weight_precision: str = "fp16",
    activation_precision: str | None = None,
    kv_precision: str | None = None,
    ideal: bool = False,
    check_memory: bool = False,
) -> LLMResult:
    """Prefill of ``prompt`` tokens and generation of ``generate`` tokens for each batch size.

    ``activation_precision`` defaults to fp8 for fp8 weights, else fp16 (bf16 for bf16 weights); the
    KV cache to the activations'. ``check_memory``: raise :class:`LLMMemoryError` (one line with the
    numbers) when the first batch size does not fit. Each argument's range is in
    :mod:`simulator.llm.arguments` (``prompt + generate − 1`` at most the model's positions, ``pp`` at
    most its layers, ...); a value outside it is a :class:`SimulatorError` naming it.
    """
    cfg = load_config(model)
    batches = check_batches(batch)
    prompt, generate = check_context(cfg, prompt, generate)
    tp, pp = check_parallelism(cfg, tp, pp)
    shard(cfg, tp)  # tp must divide the heads and the intermediate size
    ideal = check_flag(ideal, "ideal")
    check_memory = check_flag(check_memory, "check_memory")
    dev = resolve_device(device)
    weight_bits(weight_precision)  # an unknown name is an error naming the precisions
    activation_precision = activation_precision or default_activation_precision(weight_precision)
    kv_precision = kv_precision or activation_precision
    compute = llm_compute_precision(weight_precision, activation_precision)
    dev.peak_for(compute)  # an unknown precision on this device is an error naming its precisions
    n = len(batches)
    metrics = evaluate_llm(
        cfg,
        dev,
        batches,
        np.full(n, float(prompt)),
        np.full(n, float(generate)),
        tp,
        [weight_precision] * n,
        [activation_precision] * n,
        [kv_precision] * n,
        np.full(n, float(pp)),
        ideal,
    )
    if check_memory and not metrics["fits"][0]:
        table = {
            "weight_bytes": metrics["weight_bytes"] / (tp * pp),
            "kv_cache_bytes": metrics["kv_cache_bytes"] / (tp * pp),
            "activation_bytes": metrics["activation_bytes"] / (tp * pp),
            "capacity_bytes": metrics["capacity_bytes"],
            "max_batch": metrics["max_batch"],
        }
        raise LLMMemoryError(refusal(cfg, dev, table, 0, weight_precision, tp, pp, int(batches[0])))
    return LLMResult(
        cfg.name,
        dev.name,
        prompt,
        generate,
        tp,
        pp,
        weight_precision,
        activation_precision,
        kv_precision,
        compute,
        ideal,
        batches,
        metrics,
    )
