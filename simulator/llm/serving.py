"""LLM serving at a steady state of in-flight (continuous) batching over a paged KV cache.

Static batching (:func:`~simulator.llm.inference.simulate_llm`) runs ``B`` sequences from prompt to last
token together and reserves ``P + G`` tokens of KV cache for each. A serving engine (vLLM, TensorRT-LLM's
in-flight batching) keeps ``C`` sequences in flight instead: each engine step decodes one token for every
sequence in flight, and a sequence that finishes is replaced at once by a new one, whose prompt is
prefilled in the same step. This module models that engine at its steady state.

**Steady state.** With input length ``I`` and output length ``O`` (means over the data set), a sequence
occupies its slot for ``O`` steps (the step that prefills it and yields its first token, then ``O − 1``
decode steps), so ``C/O`` sequences finish, and as many start, per step. The ages of the ``C``
sequences are spread evenly over ``0 … O−1``.

**Paged KV cache** (vLLM's PagedAttention, Kwon et al., SOSP 2023, arXiv:2309.06180; vLLM's
``--block-size`` defaults to 16 tokens, ``vllm/config.py`` ``CacheConfig.block_size``): a sequence holds
the blocks its tokens fill, not the ``I + O`` it may reach. At age ``k`` (``k = 0`` is the prefill step)
it holds ``I + k`` tokens while the step runs (step ``k ≥ 1`` writes the K and V of the token at
position ``I + k − 1``), so over its life it holds ``I, I+1, …, I+O−1`` tokens, a mean of
``I + (O−1)/2`` (≈ ``I + O/2``), in ``⌈(I + k)/b⌉`` blocks of ``b`` tokens. The cache of the ``C``
sequences in flight is ``C`` times the mean over ages (:func:`mean_blocks_per_sequence`):
``(1/O) Σ_{k=0}^{O−1} ⌈(I + k)/b⌉`` blocks (on average half a block of internal fragmentation).
A sliding-window layer holds at most ``W`` tokens (the attention kind's own formula,
:func:`~simulator.llm.memory.kv_elements_per_sequence`).

**Memory.** ``KV pool = f · (capacity − weights − activations)`` per device, ``f`` the share of free
memory the engine gives its block pool (``kv_memory_fraction``: TensorRT-LLM's
``kv_cache_free_gpu_mem_fraction``, 0.90 in NVIDIA's MLPerf v4.1 configs,
``mlcommons/inference_results_v4.1`` ``closed/NVIDIA/configs/llama2-70b/Offline/__init__.py``
``kvcache_free_gpu_mem_frac``); activations are the prefill pass's peak (:mod:`simulator.llm.memory`).
The largest concurrency that fits: ``floor(pool / KV bytes per sequence)``.

**Step time** (no new fitted term: the prefill and decode passes of :mod:`simulator.llm.phases`):

* decode: one decode pass at batch ``C`` and the mean context ``c̄``. Every per-layer quantity of a
  decode pass is, per sequence, affine in its context ``c`` (attention MACs, element-wise ops and KV
  reads: ``a + s·c``) or independent of it (projections, MLP, weights read once per pass), so a batch
  whose sequences sit at contexts ``c_1 … c_C`` does ``Σ (a + s·c_i) = C·(a + s·c̄)``: exactly the work and
  traffic of ``C`` sequences at ``c̄``, layer by layer, hence the same roofline time. At steady state the
  ``C`` decoding sequences are at ``c = I … I+O−2`` (the contexts of a static generation), so
  ``c̄ = I + (O − 2)/2``. (A sliding-window layer caps ``c`` at ``W − 1`` per sequence, which is not
  affine: there the cap is applied to ``c̄``, an approximation.)
* prefill share: without chunking, new sequences are prefilled ``n = ⌈C/O⌉`` at a time, once every
  ``n·O/C`` steps, so each step carries ``(C/(n·O)) · t_prefill(n, I)`` on average; the step that
  carries a prefill is the slowest (``stall_s = t_decode + t_prefill(n, I)``) and a new sequence's first
  token comes at its end (``ttft_s``). With chunked prefill and a token budget ``T`` per step (vLLM's
  ``max_num_batched_tokens``, TensorRT-LLM's ``max_num_tokens``: the decode tokens count against it),
  each step prefills ``C·I/O`` prompt tokens spread evenly (``t_prefill(C/O, I)``: one pass, the
  weights read once per step); a prompt takes ``⌈I/(T − C)⌉`` steps, its first token at the end of the
  last (``ttft_s``). A budget that cannot keep up (``T − C < C·I/O``) caps the sequences in flight at
  ``⌊T / (1 + I/O)⌋`` (``active``).
* the runtime's fixed cost per forward pass (``step_overhead_us`` of the expected model) once per step,
  the pipeline hand-offs as in :mod:`simulator.llm.inference`.

``tpot_s`` is the mean step time (every sequence in flight gets one token per step, whatever its
length); ``output_tokens_per_s = active / tpot_s``; ``total_tokens_per_s`` adds the prompt tokens
prefilled (``active·I/O`` per step). Input and output lengths may be lists of samples (a small
distribution): the means drive the steady state; ``ttft_s`` is then the mean over the samples' own
prompts and ``ttft_p_s`` its ``percentile``. The context limit is that of static batching
(:func:`~simulator.llm.arguments.check_context`) for every sample. Not modelled: queueing before
admission (the Offline and saturated cases have none at steady state), preemption and swapping, prefix
caching, speculative decoding, and a fused mixed batch's single weight read (prefill and decode are two
passes here, an upper bound on the step time when the prefill share is small).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.llm.arguments import check_batches, check_context, check_flag, check_parallelism, positive_int
from simulator.llm.config import LLMConfig, load_config
from simulator.llm.inference import pp_factor
from simulator.llm.memory import (
    activation_bytes_per_sequence,
    capacity_bytes,
    kv_bytes_per_sequence,
    weight_bytes_per_device,
)
from simulator.llm.network import shard
from simulator.llm.parallel import link_arrays, pipeline_transfer_s
from simulator.llm.phases import run_phase
from simulator.llm.precision import (
    activation_bits,
    default_activation_precision,
    kv_bits,
    llm_compute_precision,
    weight_bits,
)

#: vLLM's default KV block size in tokens (``--block-size``, ``CacheConfig.block_size = 16``)
DEFAULT_BLOCK_TOKENS = 16
#: concurrencies up to this are all evaluated by :func:`concurrency_for_target`
EXHAUSTIVE_UP_TO = 4096
#: the share of free memory given to the KV block pool (TensorRT-LLM / NVIDIA's MLPerf configs: 0.90)
DEFAULT_KV_MEMORY_FRACTION = 0.90


@dataclass(frozen=True)
class ServingResult:
    """Steady-state serving figures of one model on one device for a list of concurrencies (arrays of
    length K, one per concurrency), with the lengths and the memory they were computed at."""

    model: str
    device: str
    tp: int
    pp: int
    input_tokens_mean: float
    output_tokens_mean: float
    block_tokens: int
    chunk_tokens: int | None
    kv_bytes_per_sequence: float  # per device, paged, mean over a sequence's life
    kv_pool_bytes: float  # per device
    max_concurrency: int
    concurrency: np.ndarray
    metrics: dict[str, np.ndarray]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per concurrency: the conditions, then the metrics."""
        out = []
        for i, c in enumerate(self.concurrency):
            row: dict[str, Any] = {
                "model": self.model, "device": self.device, "tp": self.tp, "pp": self.pp,
                "input_tokens": self.input_tokens_mean, "output_tokens": self.output_tokens_mean,
                "block_tokens": self.block_tokens, "chunk_tokens": self.chunk_tokens,
                "concurrency": int(c), "max_concurrency": self.max_concurrency,
            }
            for key, values in self.metrics.items():
                value = values[i]
                row[key] = value.item() if hasattr(value, "item") else value
            out.append(row)
        return out


def _lengths(value: Any, what: str) -> list[int]:
    """One length or a non-empty list of them, each an integer of at least 1."""
    values = list(value) if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) \
        else [value]
    if not values:
        raise SimulatorError(f"{what} must be an integer of at least 1 or a non-empty list of them, got []")
    return [positive_int(v, what) for v in values]


def mean_blocks_per_sequence(input_tokens: int, output_tokens: int, block_tokens: int) -> float:
    """``(1/O) Σ_{k=0}^{O−1} ⌈(I + k)/b⌉``: the KV blocks a sequence holds, averaged over its ``O`` steps
    in flight (``I + k`` tokens at age ``k``), in exact integer arithmetic."""
    i, o, b = input_tokens, output_tokens, block_tokens
    return sum(-(-(i + k) // b) for k in range(o)) / o


def paged_kv_bytes_per_sequence(
    cfg: LLMConfig, input_tokens: int, output_tokens: int, kv_bits_: float, block_tokens: int,
    tp: int = 1, pp: int = 1,
) -> float:
    """Per-device KV bytes of one sequence in flight, mean over its ages: each age's token count rounded up
    to whole blocks, then :func:`~simulator.llm.memory.kv_bytes_per_sequence` (``2·kv_heads/TP·head_dim·
    bits/8·Σ_layers min(t, W)``/PP). Without a window this is ``mean_blocks · b ·`` bytes per token."""
    i, o, b = input_tokens, output_tokens, block_tokens
    total = sum(kv_bytes_per_sequence(cfg, -(-(i + k) // b) * b, kv_bits_, tp, pp) for k in range(o))
    return total / o


@dataclass(frozen=True)
class _Setup:
    cfg: LLMConfig
    device: Device
    tp: int
    pp: int
    wb: float
    ab: float
    kb: float
    compute: str
    ideal: bool


def _pass(s: _Setup, tokens: int, context: np.ndarray, batch: np.ndarray) -> dict[str, np.ndarray]:
    """One forward pass (prefill of ``tokens`` or a decode step) per configuration: latency (with the
    pipeline hand-offs) and energy of all TP devices."""
    k = len(batch)
    link = link_arrays(s.device, np.full(k, float(s.tp)), s.ideal)
    ev = run_phase(s.cfg, s.device, tokens, s.tp, context, batch, [s.compute] * k, np.full(k, s.wb),
                   np.full(k, s.ab), np.full(k, s.kb), s.ideal, link)
    hand_off = pipeline_transfer_s(s.device, np.full(k, float(s.pp)), batch * s.cfg.hidden_size * s.ab / 8)
    latency = ev.totals.latency_s + (pp_factor(hand_off, tokens) if tokens > 1 else hand_off)
    return {"latency_s": latency, "energy_j": ev.totals.energy_j * s.tp}


def simulate_serving(
    model: str | LLMConfig,
    device: str | Device,
    concurrency: int | Sequence[int] = 64,
    input_tokens: int | Sequence[int] = 1024,
    output_tokens: int | Sequence[int] = 256,
    tp: int = 1,
    pp: int = 1,
    weight_precision: str = "fp16",
    activation_precision: str | None = None,
    kv_precision: str | None = None,
    block_tokens: int = DEFAULT_BLOCK_TOKENS,
    chunk_tokens: int | None = None,
    kv_memory_fraction: float = DEFAULT_KV_MEMORY_FRACTION,
    percentile: float = 99.0,
    ideal: bool = False,
    check_memory: bool = False,
) -> ServingResult:
    """Steady-state in-flight batching of ``concurrency`` sequences (one row each); see the module
    docstring for the model. ``input_tokens``/``output_tokens``: a mean or a list of samples.
    ``check_memory``: raise a one-line :class:`SimulatorError` when the first concurrency does not fit."""
    cfg = load_config(model)
    conc = check_batches(concurrency)
    inputs, outputs = _lengths(input_tokens, "input_tokens"), _lengths(output_tokens, "output_tokens")
    for i in sorted(set(inputs)):  # the context limit of static batching, for every sample
        check_context(cfg, i, max(outputs))
    tp, pp = check_parallelism(cfg, tp, pp)
    shard(cfg, tp)
    block_tokens = positive_int(block_tokens, "block_tokens", 1 << 20)
    if chunk_tokens is not None:
        chunk_tokens = positive_int(chunk_tokens, "chunk_tokens")
    if isinstance(kv_memory_fraction, bool) or not isinstance(kv_memory_fraction, int | float) \
            or not 0 < kv_memory_fraction <= 1:
        raise SimulatorError(f"kv_memory_fraction must be a number in (0, 1], got {kv_memory_fraction!r}")
    if isinstance(percentile, bool) or not isinstance(percentile, int | float) or not 0 <= percentile <= 100:
        raise SimulatorError(f"percentile must be a number from 0 to 100, got {percentile!r}")
    ideal = check_flag(ideal, "ideal")
    dev = resolve_device(device)
    weight_bits(weight_precision)
    activation_precision = activation_precision or default_activation_precision(weight_precision)
    kv_precision = kv_precision or activation_precision
    compute = llm_compute_precision(weight_precision, activation_precision)
    dev.peak_for(compute)
    s = _Setup(cfg, dev, tp, pp, weight_bits(weight_precision), activation_bits(activation_precision),
               kv_bits(kv_precision), compute, ideal)

    i_mean, o_mean = float(np.mean(inputs)), float(np.mean(outputs))
    i_step, o_step = round(i_mean), max(1, round(o_mean))  # the lengths the passes run at

    # memory: weights, the prefill pass's activations, then the KV block pool
    weights = weight_bytes_per_device(cfg, tp, pp, s.wb)
    act = activation_bytes_per_sequence(cfg, chunk_tokens or i_step, tp, s.ab)
    kv_seq = float(np.mean([paged_kv_bytes_per_sequence(cfg, i, o, s.kb, block_tokens, tp, pp)
                            for i, o in zip(*_pairs(inputs, outputs), strict=True)]))
    cap = capacity_bytes(dev)

    def pool_at(c: np.ndarray) -> np.ndarray:  # the prefill batch's activations: ⌈C/O⌉ prompts (chunked: T)
        prompts = np.ceil(c / o_step) if chunk_tokens is None else np.ones_like(c)
        return kv_memory_fraction * np.maximum(cap - weights - act * prompts, 0.0)

    max_conc = int(pool_at(np.ones(1))[0] // kv_seq)
    while max_conc > 0 and max_conc * kv_seq > pool_at(np.array([float(max_conc)]))[0]:
        max_conc -= 1  # a larger prefill batch's activations leave less room for blocks
    pool = float(pool_at(np.array([float(max(max_conc, 1))]))[0])
    fits = conc * kv_seq <= pool_at(conc)

    # sequences actually in flight: a chunk budget that cannot keep up with the prefill demand caps them
    active = conc.copy()
    if chunk_tokens is not None:
        if np.any(conc >= chunk_tokens):
            raise SimulatorError(f"chunk_tokens {chunk_tokens:,} must exceed the concurrency "
                                 f"{int(conc.max()):,} (the decode tokens count against the budget)")
        active = np.minimum(conc, np.floor(chunk_tokens / (1 + i_mean / o_mean)))

    c_bar = i_mean + (o_mean - 2) / 2  # mean decode context: c = I … I+O−2
    step = 0.0 if ideal or dev.efficiency is None else float(dev.efficiency.step_overhead_s)
    decode = _pass(s, 1, np.full(len(conc), max(c_bar, 0.0)), active)
    if chunk_tokens is None:
        n = np.ceil(active / o_step)
        prefill = _pass(s, i_step, np.zeros(len(conc)), n)
        share = active / (n * o_step)
        stall = decode["latency_s"] + prefill["latency_s"] + step
        ttft_samples = np.stack([decode["latency_s"] + _pass(s, i, np.zeros(len(conc)), n)["latency_s"] + step
                                 for i in inputs])
    else:
        n = active / o_step
        prefill = _pass(s, i_step, np.zeros(len(conc)), n)
        share = np.ones(len(conc))
        stall = decode["latency_s"] + prefill["latency_s"] + step
        budget = chunk_tokens - active
        ttft_samples = None
    tpot = decode["latency_s"] + share * prefill["latency_s"] + step
    if ttft_samples is None:
        ttft_samples = np.stack([np.ceil(i / budget) * tpot for i in inputs])
    energy = (decode["energy_j"] + share * prefill["energy_j"]) / active
    metrics = {
        "active": active.astype(np.int64),
        "fits": fits,
        "tpot_s": tpot,
        "stall_s": stall,
        "ttft_s": ttft_samples.mean(axis=0),
        "ttft_p_s": np.percentile(ttft_samples, percentile, axis=0),
        "output_tokens_per_s": active / tpot,
        "total_tokens_per_s": active * (1 + i_mean / o_mean) / tpot,
        "energy_per_token_j": energy,
        "kv_cache_bytes": active * kv_seq * tp * pp,
        "weight_bytes": np.full(len(conc), weights * tp * pp),
    }
    result = ServingResult(cfg.name, dev.name, tp, pp, i_mean, o_mean, block_tokens, chunk_tokens, kv_seq,
                           pool, max_conc, conc.astype(np.int64), metrics)
    if check_memory and not fits[0]:
        raise SimulatorError(refusal(result, weight_precision, 0))
    return result


def _pairs(inputs: list[int], outputs: list[int]) -> tuple[list[int], list[int]]:
    """The (input, output) samples for the KV mean: paired when both lists have one length, else every
    input with the mean output (rounded) and every output with the mean input."""
    if len(inputs) == len(outputs):
        return inputs, outputs
    o, i = max(1, round(float(np.mean(outputs)))), round(float(np.mean(inputs)))
    return [*inputs, *([i] * len(outputs))], [*([o] * len(inputs)), *outputs]


def refusal(result: ServingResult, weight_precision: str, index: int) -> str:
    """One line: why concurrency ``index`` does not fit, with the numbers."""
    c = int(result.concurrency[index])
    where = "one" if result.tp * result.pp == 1 else f"each of {result.tp * result.pp}"
    need = c * result.kv_bytes_per_sequence / 1e9
    return (f"{result.model} ({weight_precision} weights) at concurrency {c:,} does not fit on {where} "
            f"{result.device}: paged KV cache {need:.2f} GB ({result.kv_bytes_per_sequence / 1e6:.2f} MB "
            f"per sequence in {result.block_tokens}-token blocks) "
            f"> KV pool {result.kv_pool_bytes / 1e9:.2f} GB; "
            f"largest concurrency that fits: {result.max_concurrency:,} (try --tp, a smaller "
            f"--kv-precision or --weight-precision)")


def concurrency_for_target(
    model: str | LLMConfig,
    device: str | Device,
    target_tpot_s: float | None = None,
    target_ttft_s: float | None = None,
    **kwargs: Any,
) -> tuple[int, ServingResult]:
    """The largest concurrency (1 … the largest that fits) whose TPOT and TTFT (its ``percentile``) meet the
    targets, and the result at it; 0 and the result at concurrency 1 when none does. Up to
    :data:`EXHAUSTIVE_UP_TO` every concurrency is evaluated (no monotonicity assumed), in one vectorized
    pass; above it a geometric grid (ratio 1.02) finds the last grid point that meets the targets and a
    bisection the largest integer before the next one (the step time grows with the concurrency there)."""
    for name, value in (("target_tpot_s", target_tpot_s), ("target_ttft_s", target_ttft_s)):
        bad = isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        if value is not None and bad:
            raise SimulatorError(f"{name} must be a positive number of seconds, got {value!r}")
    if target_tpot_s is None and target_ttft_s is None:
        raise SimulatorError("give a target: target_tpot_s or target_ttft_s (seconds)")
    kwargs.pop("concurrency", None)
    kwargs.pop("check_memory", None)
    probe = simulate_serving(model, device, 1, **kwargs)
    top = probe.max_concurrency
    if kwargs.get("chunk_tokens") is not None:
        top = min(top, int(kwargs["chunk_tokens"]) - 1)

    def meets(levels: list[int]) -> np.ndarray:
        result = simulate_serving(model, device, levels, **kwargs)
        ok = np.ones(len(levels), dtype=bool)
        if target_tpot_s is not None:
            ok &= result.metrics["tpot_s"] <= target_tpot_s
        if target_ttft_s is not None:
            ok &= result.metrics["ttft_p_s"] <= target_ttft_s
        return ok

    if top < 1:
        return 0, probe
    grid = list(range(1, min(top, EXHAUSTIVE_UP_TO) + 1))
    while grid[-1] < top:
        grid.append(min(top, math.ceil(grid[-1] * 1.02)))
    ok = meets(grid)
    if not ok.any():
        return 0, probe
    last = int(np.flatnonzero(ok).max())
    best = grid[last]
    if last + 1 < len(grid) and grid[last + 1] > best + 1:  # between two grid points above 4,096
        low, high = best, grid[last + 1]  # low meets the targets, high does not
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if meets([mid])[0] else (low, mid)
        best = low
    return best, simulate_serving(model, device, best, **kwargs)

__all__ = [
    "DEFAULT_BLOCK_TOKENS",
    "DEFAULT_KV_MEMORY_FRACTION",
    "ServingResult",
    "concurrency_for_target",
    "mean_blocks_per_sequence",
    "paged_kv_bytes_per_sequence",
    "simulate_serving",
]
