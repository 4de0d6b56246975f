"""One definition per quantity (issue 18), each pinned by two paths that compute it differently.

* **A decode step**: the public ``simulator.simulate()`` of an LLM pass evaluates the network built at its
  context (every count the layer kinds' own at ``c``); ``simulator.simulate_llm`` takes the step from the
  pass at ``c = 0`` plus ``c`` times the per-token slopes (:func:`simulator.llm.phases.at_context`).
* **A generation**: ``simulate_llm`` sums its ``G − 1`` decode steps in closed form
  (:func:`simulator.llm.phases.sum_max_affine` over the slopes); here they are summed one by one, each a
  ``simulate()`` of the network built at that context (across a sliding window's edge too).
* **Embedding traffic**: BERT's lookups through ``simulate()`` (the CNN path) and an LLM's token embedding
  through its pass read the rows the kind declares it gathers
  (:meth:`~simulator.model.layers.Embedding.gathered_weight_elements`), never the table.
* **KV bytes**: what a pass's result says it holds equals the memory table's (``roofline llm``) and
  the attention kinds' own reads at the last position.

The figures by hand come from each model's config.json (cited where used).
"""

from __future__ import annotations

import numpy as np
import pytest

import simulator
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.memory import memory_table
from simulator.llm.network import build_network
from simulator.model.layers import CausalAttention, Embedding, LatentAttention

RTOL = 1e-9


@pytest.mark.parametrize(("model", "context"), [
    ("llama_3_8b", 1024),         # grouped-query attention (the must-show)
    ("mistral_7b", 5000),         # past its 4,096 window: the built network caps each layer's reads
    ("gemma_2_9b", 300),          # tied LM head (V·d read, no parameters), local and global layers
    ("deepseek_v2_lite", 700),    # latent attention and routed experts
])
@pytest.mark.parametrize("ideal", [False, True])
def test_a_decode_step_through_simulate_equals_simulate_llms(model, context, ideal):
    step = simulator.simulate(model, "h100-sxm", params={"phase": "decode", "context": context}, ideal=ideal)
    llm = simulator.simulate_llm(model, "h100-sxm", prompt=context, generate=1, ideal=ideal)
    assert step.latency_s == pytest.approx(llm.metrics["tpot_s"][0], rel=RTOL)


@pytest.mark.parametrize(("model", "prompt", "generate"), [
    ("llama_3_2_1b", 100, 6),
    ("mistral_7b", 4090, 10),     # steps at c = 4090 … 4098 cross the window: W − 1 = 4095 keys at most
])
def test_the_closed_form_generation_equals_its_steps_simulated_one_by_one(model, prompt, generate):
    llm = simulator.simulate_llm(model, "jetson-agx-orin", batch=2, prompt=prompt, generate=generate)
    decode_s = llm.metrics["e2e_latency_s"][0] - llm.metrics["ttft_s"][0]
    steps_s = sum(simulator.simulate(model, "jetson-agx-orin", batch=2,
                                     params={"phase": "decode", "context": c}).latency_s
                  for c in range(prompt, prompt + generate - 1))
    assert decode_s == pytest.approx(steps_s, rel=RTOL)


def test_bert_embedding_traffic_through_simulate_is_the_gathered_rows():
    """bert-base-uncased at 128 tokens, batch 4, fp16: each lookup reads ``4·128·768`` elements of its
    table (``V`` = 30,522 words, 512 positions, 2 segments: never ``V·768``), reads 128 ids and writes
    ``128·768`` elements per sample; 2 bytes each."""
    batch, tokens, hidden, fp16 = 4, 128, 768, 2
    rows = Embedding(30522, hidden).gathered_weight_elements(((tokens,),))
    assert rows == tokens * hidden
    result = simulator.simulate("bert_base", "jetson-agx-orin", batch=batch, precision="fp16")
    by_name = {layer.name: layer for layer in result.layers}
    for name in ("embeddings.word_embeddings", "embeddings.position_embeddings",
                 "embeddings.token_type_embeddings"):
        assert by_name[name].bytes_moved == batch * (rows + tokens + tokens * hidden) * fp16


def test_an_llm_token_embedding_through_its_pass_is_the_gathered_rows():
    """Llama-3-8B prefill of 512 tokens (hidden 4096): the embedding reads 512 rows of 4096 at 16 bits
    (the head precision, whatever the weights'), 512 ids and writes ``512·4096`` activations (fp8 here:
    1 byte) — not the ``128256·4096`` table."""
    tokens, hidden = 512, 4096
    result = simulator.simulate("llama_3_8b", "h100-sxm", precision="fp8",
                                params={"phase": "prefill", "seq_len": tokens})
    (embed,) = [layer for layer in result.layers if layer.kind == "Embedding"]
    rows = Embedding(128256, hidden).gathered_weight_elements(((tokens,),))
    assert embed.bytes_moved == rows * 2 + (tokens + tokens * hidden) * 1


@pytest.mark.parametrize(("model", "context", "by_hand"), [
    # Llama-3-8B: 2 (K, V) · 32 layers · 8 KV heads · 128 hd per position, fp16
    ("llama_3_8b", 1024, 2 * 32 * 8 * 128 * 1025 * 2),
    # Mistral-7B: every layer's window keeps 4,096 of the 6,001 positions
    ("mistral_7b", 6000, 2 * 32 * 8 * 128 * 4096 * 2),
    # DeepSeek-V2-Lite: the latent kv_lora_rank 512 + rope 64 per position, 27 layers
    ("deepseek_v2_lite", 320, (512 + 64) * 27 * 321 * 2),
])
def test_kv_bytes_of_a_pass_equal_the_memory_tables_and_the_attention_kinds(model, context, by_hand):
    step = simulator.simulate(model, "h100-sxm", batch=3, params={"phase": "decode", "context": context})
    cfg = load_config(model)
    table = memory_table(cfg, resolve_device("h100-sxm"), np.array([3.0]), context, 1, 1, 1, 16.0, 16.0, 16.0)
    network = build_network(cfg, 1, context)
    reads = sum(node.layer.kv_cache_elements(1) for node in network.nodes
                if isinstance(node.layer, CausalAttention | LatentAttention))
    assert step.kv_cache_bytes == table["kv_cache_bytes"][0] == 3 * reads * 2 == 3 * by_hand
