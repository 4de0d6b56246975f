"""One definition per quantity (issue 18), pinned by tests that cross two paths.

* KV-cache bytes: the LLM memory table (capacity, :mod:`simulator.llm.memory`) equals what the attention
  kinds of the built network read in the last decode step, and what the phases' workload carries.
* Generation slopes: the per-token slopes of :mod:`simulator.llm.phases` equal the difference of two built
  networks, by hand for grouped-query attention, and the counts are affine in the context (checked on
  networks built at other contexts).
* Errors: every bad-input error is a :class:`~simulator.errors.SimulatorError` (one line, exit 2 in the
  CLI), still a ``ValueError``/``TypeError`` where it was one.
* Precisions: one compute-precision rule for CNNs and LLMs (the wider of weights and activations), and
  one group-scale rule (int4 group-quantized weights store 4 + 16/128 bits) in :mod:`simulator.precision`.

(The decode step through ``simulate()`` equals ``roofline llm``'s, the generation equals its steps
simulated one by one, and the embedding and KV bytes cross paths too: ``tests/llm/test_cross_paths.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.cli.progress import Progress
from simulator.engine.workload import build_workload
from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.inference import evaluate_llm, simulate_llm
from simulator.llm.memory import kv_bytes_per_token, memory_table, weight_bytes_per_device
from simulator.llm.network import build_network
from simulator.llm.phases import at_context, context_slopes, phase_workload
from simulator.llm.precision import WEIGHT_BITS, llm_compute_precision
from simulator.model.counts import count_network
from simulator.model.layers import CausalAttention, LatentAttention
from simulator.model.registry import height_width
from simulator.precision import compute_precision, weight_bits
from simulator.simulation import simulate

ATTENTION = (CausalAttention, LatentAttention)


def attention_reads(model: str, positions: int, tp: int) -> int:
    """KV elements the attention kinds of the decode step at ``c = positions − 1`` read and write."""
    network = build_network(load_config(model), 1, positions - 1, tp)
    return sum(node.layer.kv_cache_elements(1) for node in network.nodes if isinstance(node.layer, ATTENTION))


@pytest.mark.parametrize(("model", "tp", "prompt", "generate", "by_hand"), [
    # 2 (K, V) · 32 layers · 32 KV heads · 128 hd · 600 positions
    ("llama_2_7b", 1, 500, 100, 2 * 32 * 32 * 128 * 600),
    # Llama-2-70B at TP 4: 8 KV heads split into 2 per device, 80 layers
    ("llama_2_70b", 4, 1000, 24, 2 * 80 * (8 // 4) * 128 * 1024),
    # Mistral-7B: 6,000 positions, but every layer's window keeps 4,096
    ("mistral_7b", 1, 5000, 1000, 2 * 32 * 8 * 128 * 4096),
    # Gemma-2-9B: 21 local layers keep 4,096 of 6,000 positions, 21 global layers keep all
    ("gemma_2_9b", 1, 5000, 1000, 2 * 8 * 256 * (21 * 4096 + 21 * 6000)),
    # DeepSeek-V2-Lite (MLA): the latent kv_lora_rank 512 + rope 64, 27 layers, replicated under TP
    ("deepseek_v2_lite", 2, 300, 20, (512 + 64) * 27 * 320),
])
def test_kv_bytes_of_the_memory_table_equal_the_attention_kinds_reads(model, tp, prompt, generate, by_hand):
    cfg = load_config(model)
    table = memory_table(cfg, resolve_device("h100-sxm"), np.array([1.0, 3.0]), prompt, generate, tp, 1,
                         16.0, 16.0, 8.0)
    reads = attention_reads(model, prompt + generate, tp)
    assert reads == by_hand
    assert table["kv_cache_bytes"][0] == reads * 8 / 8           # fp8 cache: 1 byte per element
    assert table["kv_cache_bytes"][1] == 3 * reads               # per sequence
    # the phases' decode workload at the last position carries the same elements
    decode = at_context(phase_workload(cfg, 1, tp), np.array([prompt + generate - 1]), np.array([16.0]))
    assert float(np.sum(decode.kv_elements)) == reads


def test_kv_bytes_per_token_is_one_position_of_the_attention_kinds():
    # Llama-2-7B: 2 · 32 layers · 32 heads · 128 · 2 bytes = 512 KiB per token, 128 KiB per device at TP 4
    assert kv_bytes_per_token(load_config("llama_2_7b"), 16.0) == attention_reads("llama_2_7b", 1, 1) * 2
    assert kv_bytes_per_token(load_config("llama_2_7b"), 16.0, tp=4) == 2 * 32 * 8 * 128 * 2


def _counts(model: str, tokens: int, cached: int):
    w = build_workload(build_network(load_config(model), tokens, cached))
    return w.macs, w.elementwise_ops


@pytest.mark.parametrize("tokens", [1, 16])
def test_generation_slopes_equal_the_difference_of_two_built_networks(tokens):
    cfg = load_config("llama_2_7b")
    d_macs, d_ops, d_kv = context_slopes(cfg, tokens)
    (m0, o0), (m1, o1) = _counts("llama_2_7b", tokens, 0), _counts("llama_2_7b", tokens, 1)
    np.testing.assert_array_equal(d_macs, m1 - m0)
    np.testing.assert_array_equal(d_ops, o1 - o0)
    attention = np.flatnonzero(d_macs)
    assert len(attention) == 32                                  # one attention per layer, nothing else
    # each of T queries sees one more key per cached token: Q·Kᵀ and A·V, hd MACs each, per head
    assert set(d_macs[attention]) == {2 * 32 * 128 * tokens}
    assert set(d_kv[attention]) == {2 * 32 * 128}                # one more cached K and V per layer
    assert np.count_nonzero(d_kv) == 32


@pytest.mark.parametrize(("model", "context"), [
    ("llama_2_7b", 7), ("llama_2_7b", 3000), ("mistral_7b", 100), ("mistral_7b", 4095), ("mistral_7b", 9000),
    ("deepseek_v2_lite", 513),
])
def test_counts_are_affine_in_the_context_on_other_built_networks(model, context):
    """The closed-form decode (base + c · slope, capped at a window's W − 1) equals the network built at c."""
    cfg = load_config(model)
    closed = at_context(phase_workload(cfg, 1), np.array([context]), np.array([16.0]))
    built = build_workload(build_network(cfg, 1, context))
    np.testing.assert_allclose(closed.macs[0], built.macs, rtol=0, atol=0)
    np.testing.assert_allclose(closed.elementwise_ops[0], built.elementwise_ops, rtol=0, atol=0)


@pytest.mark.parametrize(("weights", "activations", "by_hand"), [
    ("int4", "fp16", "fp16"),   # W4A16: dequantized into fp16 (AWQ)
    ("int8", "fp16", "fp16"),   # W8A16
    ("int4", "int8", "int8"),   # W4A8
    ("fp8", "fp8", "fp8"),      # W8A8 FP8
    ("fp8", "int8", "int8"),    # a tie: the activations'
    ("bf16", "fp16", "fp16"),   # a tie: the activations'
    ("fp16", "fp8", "fp16"),    # wider weights: the multiply runs at the weights' width (was fp8 for LLMs)
    ("bf16", "int8", "bf16"),
])
def test_one_compute_precision_rule_for_cnns_and_llms(weights, activations, by_hand):
    assert compute_precision(weights, activations) == by_hand
    assert llm_compute_precision(weights, activations) == by_hand
    cnn = simulate("resnet18", "h100-sxm", weight_precision=weights, activation_precision=activations)
    llm = simulate_llm("llama_3_2_1b", "h100-sxm", prompt=8, generate=2, weight_precision=weights,
                       activation_precision=activations)
    assert cnn.precision == llm.compute_precision == by_hand


def test_group_scale_rule_in_one_place():
    # AWQ/GPTQ: one 16-bit scale per 128 weights; the CNN path's per-channel scales are not counted
    assert WEIGHT_BITS["int4"] == weight_bits("int4", group_scales=True) == 4 + 16 / 128
    assert WEIGHT_BITS["int8"] == 8 + 16 / 128 and WEIGHT_BITS["fp8"] == 8.0
    assert weight_bits("int4") == 4.0
    cfg = load_config("llama_2_7b")
    # Llama-2-7B: embedding + LM head 2 · 32000 · 4096 at 16 bits, the other 6,476,005,376 at 4.125 bits
    head = 2 * 32000 * 4096
    body = 6_738_415_616 - head
    assert weight_bytes_per_device(cfg, 1, 1, WEIGHT_BITS["int4"]) == (head * 16 + body * 4.125) / 8


def _two_prompt_lengths():
    evaluate_llm(load_config("llama_3_2_1b"), resolve_device("h100-sxm"), np.array([1.0, 1.0]),
                 np.array([8, 16]), np.array([2, 2]), 1, ["fp16"] * 2, ["fp16"] * 2, ["fp16"] * 2)


@pytest.mark.parametrize(("call", "builtin", "words"), [
    (_two_prompt_lengths, ValueError, "one prompt length per call, got [8, 16]"),
    (lambda: height_width(2.5), ValueError, "resolution must be an int or (height, width), got 2.5"),
    (lambda: count_network("resnet18"), TypeError, "takes a Network"),
    (lambda: Progress("sweep", mode="loud"), ValueError, "progress mode must be one of auto"),
])
def test_bad_input_errors_are_simulator_errors_and_keep_their_builtin_base(call, builtin, words):
    with pytest.raises(SimulatorError) as caught:
        call()
    assert isinstance(caught.value, builtin) and words in str(caught.value)


def test_no_command_module_shadows_a_builtin():
    """``roofline list`` lives in ``simulator/cli/listing.py``: a module named ``list`` bound ``list`` in
    the package's namespace when imported."""
    import builtins
    import pkgutil

    import simulator.cli as cli

    modules = {info.name for info in pkgutil.iter_modules(cli.__path__)}
    assert not modules & set(dir(builtins)), modules & set(dir(builtins))
    assert {cli.command_module(c).rsplit(".", 1)[1] for c in cli.COMMANDS} <= modules
    assert cli.command_module("list") == "simulator.cli.listing"
