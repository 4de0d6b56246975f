"""Memory of LLM inference against a device's memory, per device.

``weights + KV cache + activations <= capacity of the weight store`` (DRAM/HBM), with

* weights: the per-device parameters (:mod:`simulator.llm.network` shards them over TP) at their
  stored bits (int4: 4.125 with group scales; embedding and LM head at 16 bits), divided over PP stages;
* KV cache: ``2 · layers · kv_heads · head_dim · bytes · tokens`` for ``B · (P + G)`` tokens, per
  device ``kv_heads/TP`` and ``layers/PP``; a sliding-window layer holds ``min(P + G, W)`` tokens
  (Mistral-7B at a 16k prompt holds 4,096). One definition: each attention kind's own
  ``kv_cache_elements`` (:func:`kv_elements_per_sequence`), what the last decode step reads;
* activations: the peak live activations of the prefill pass (``B · P`` tokens) at the activations'
  precision (the engine's ``peak_activations``; decode needs less).

The largest batch that fits: ``floor((capacity − weights) / (KV + activations per sequence))``.
Workspace, CUDA context and allocator fragmentation are not counted.
"""

from __future__ import annotations

import collections
import dataclasses
import functools

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.llm.config import LLMConfig
from simulator.llm.network import build_network
from simulator.llm.phases import phase_workload
from simulator.llm.precision import HEAD_BITS
from simulator.model.formulas import layer_cost
from simulator.model.layers import CausalAttention, Embedding, LatentAttention, LMHead

GB = 1e9


class LLMMemoryError(SimulatorError):
    """A configuration does not fit in device memory; the message gives the numbers."""


def weight_bytes_per_device(cfg: LLMConfig, tp: int, pp: int, weight_bits: float) -> float:
    """``(embedding and LM head params · 16 + other params · bits) / 8 / PP`` on one TP device."""
    head, body = _params_by_head(cfg, tp)
    return (head * HEAD_BITS + body * weight_bits) / 8 / pp


@functools.lru_cache(maxsize=64)
def _params_by_head(cfg: LLMConfig, tp: int) -> tuple[int, int]:
    """Per-device parameters of (embedding + LM head, everything else)."""
    head = body = 0
    for node in build_network(cfg, 1, 0, tp).nodes:
        params = layer_cost(node.layer, node.input_shapes, node.output_shape).params
        if isinstance(node.layer, Embedding | LMHead):
            head += params
        else:
            body += params
    return head, body


@functools.lru_cache(maxsize=64)
def _attention_layers(cfg: LLMConfig, tp: int) -> tuple[tuple[CausalAttention | LatentAttention, int], ...]:
    """The distinct attention layers of one device's network (:func:`build_network`) with how many
    times each occurs (Llama: one layer kind × ``L``; Gemma-2: a windowed and a full one, ``L/2`` each)."""
    layers = [node.layer for node in build_network(cfg, 1, 0, tp).nodes
              if isinstance(node.layer, CausalAttention | LatentAttention)]
    return tuple(collections.Counter(layers).items())


def kv_elements_per_sequence(cfg: LLMConfig, positions: int, tp: int = 1) -> int:
    """KV-cache elements one sequence of ``positions`` positions holds on one of ``tp`` devices (all its
    layers): what the decode step of its last position reads and writes, by each attention kind's own
    formula (:meth:`~simulator.model.layers.CausalAttention.kv_cache_elements` at ``c = positions − 1``,
    ``T = 1``): ``Σ_layers 2·KV/TP·hd·min(positions, W)`` for grouped-query attention (a windowed layer
    keeps its last ``W`` positions, Mistral's rolling buffer), MLA's latent ``(r + dr)·positions``
    (replicated on every device, as vLLM holds it)."""
    if positions < 1:
        return 0
    return sum(count * dataclasses.replace(layer, cached_tokens=positions - 1).kv_cache_elements(1)
               for layer, count in _attention_layers(cfg, tp))


def kv_bytes_per_token(cfg: LLMConfig, kv_bits: float, tp: int = 1, pp: int = 1) -> float:
    """KV-cache bytes per token on one device when no window caps it: the elements of one position
    (:func:`kv_elements_per_sequence` of 1) · bits/8 (/PP): ``2 · layers · KV/TP · hd · bits/8``."""
    return kv_elements_per_sequence(cfg, 1, tp) * kv_bits / 8 / pp


def kv_bytes_per_sequence(cfg: LLMConfig, tokens: int, kv_bits: float, tp: int = 1, pp: int = 1) -> float:
    """KV-cache bytes of one sequence of ``tokens`` positions on one device:
    :func:`kv_elements_per_sequence` · bits/8 (/PP): ``2 · KV/TP · hd · bits/8 · Σ_layers min(tokens, W)``."""
    return kv_elements_per_sequence(cfg, tokens, tp) * kv_bits / 8 / pp


def activation_bytes_per_sequence(cfg: LLMConfig, prompt: int, tp: int, activation_bits: float) -> float:
    return phase_workload(cfg, prompt, tp).workload.peak_activations * activation_bits / 8


def capacity_bytes(device: Device) -> float:
    return float(device.weight_store.capacity_bytes)


def memory_table(
    cfg: LLMConfig,
    device: Device,
    batch: np.ndarray,
    prompt: int,
    generate: int,
    tp: int,
    pp: int,
    weight_bits: float,
    activation_bits: float,
    kv_bits: float,
) -> dict[str, np.ndarray]:
    """Per-device bytes: ``weight_bytes``, ``kv_cache_bytes``, ``activation_bytes``, ``total_bytes``,
    ``capacity_bytes``, ``fits`` and ``max_batch`` (0 when not even one sequence fits)."""
    batch = np.asarray(batch, dtype=float)
    weights = weight_bytes_per_device(cfg, tp, pp, weight_bits)
    kv_seq = kv_bytes_per_sequence(cfg, prompt + generate, kv_bits, tp, pp)
    act_seq = activation_bytes_per_sequence(cfg, prompt, tp, activation_bits)
    cap = capacity_bytes(device)
    kv, act = batch * kv_seq, batch * act_seq
    total = weights + kv + act
    max_batch = max(0, int((cap - weights) // (kv_seq + act_seq))) if cap > weights else 0
    return {
        "weight_bytes": np.full_like(batch, weights),
        "kv_cache_bytes": kv,
        "activation_bytes": act,
        "total_bytes": total,
        "capacity_bytes": np.full_like(batch, cap),
        "fits": total <= cap,
        "max_batch": np.full(batch.shape, max_batch),
    }


def refusal(
    cfg: LLMConfig,
    device: Device,
    table: dict[str, np.ndarray],
    index: int,
    weight_precision: str,
    tp: int,
    pp: int,
    batch: int,
) -> str:
    """One line: why configuration ``index`` does not fit, with the numbers."""
    w, kv, a = (float(table[k][index]) / GB for k in ("weight_bytes", "kv_cache_bytes", "activation_bytes"))
    cap = float(table["capacity_bytes"][index]) / GB
    devices = tp * pp
    where = "one" if devices == 1 else f"each of {devices}"
    return (
        f"{cfg.name} ({weight_precision} weights, batch {batch}) does not fit on {where} {device.name}: "
        f"weights {w:.2f} GB + KV cache {kv:.2f} GB + activations {a:.2f} GB = {w + kv + a:.2f} GB "
        f"> {cap:.2f} GB of {device.weight_store.name}; largest batch that fits: "
        f"{int(table['max_batch'][index])} (try a smaller --weight-precision or more --tp)"
    )
