"""Llama-3.1 8B / 70B / 405B and GPT-J 6B from their published config.json (issue 20, items 1 and 4).

Parameter counts are derived here from the shipped JSON files with the architectures' formulas and
compared with the published figures: Hugging Face's 8,030,261,248 / 70,553,706,496 /
405,853,388,800 for Llama-3.1 (the model cards' 8.03B / 70.6B / 406B), and for GPT-J the model card's
6,053,381,344, which counts mesh-transformer-jax's 8-shard checkpoint (replicated parameters 8 times);
transformers' GPTJForCausalLM holds 6,050,882,784.
"""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from simulator.api import count
from simulator.errors import SimulatorError
from simulator.llm.arguments import check_context
from simulator.llm.as_network import llm_network, phase_of
from simulator.llm.config import load_config, parse_config
from simulator.model.counts import count_network

LLAMA_31 = {"llama_3_1_8b": 8_030_261_248, "llama_3_1_70b": 70_553_706_496, "llama_3_1_405b": 405_853_388_800}
GPTJ_MODEL_CARD = 6_053_381_344   # huggingface.co/EleutherAI/gpt-j-6b: "n_parameters 6053381344"
GPTJ_HF = 6_050_882_784           # sum of GPTJForCausalLM's parameters (derived below)


def shipped(name: str) -> dict:
    return json.loads((files("simulator.llm") / "configs" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(LLAMA_31))
def test_llama_31_parameters_from_its_config(name):
    """Embedding and untied LM head ``2·V·d`` + L·(q, o ``2·d²`` + k, v ``2·d·KV·d/H`` + gate, up, down
    ``3·d·ff`` + two RMSNorms ``2·d``) + the final RMSNorm ``d``."""
    c = shipped(name)
    d, layers, heads, kv = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"], \
        c["num_key_value_heads"]
    per_layer = 2 * d * d + 2 * d * kv * (d // heads) + 3 * d * c["intermediate_size"] + 2 * d
    expected = 2 * c["vocab_size"] * d + layers * per_layer + d
    assert expected == LLAMA_31[name]
    assert count(name).params == expected


@pytest.mark.parametrize("name", sorted(LLAMA_31))
def test_llama_31_context_follows_max_position_embeddings(name):
    c = shipped(name)
    assert c["rope_scaling"] == {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 8192, "rope_type": "llama3"}
    assert c["max_position_embeddings"] == 131_072 and c["tie_word_embeddings"] is False
    cfg = load_config(name)
    assert cfg.max_positions == 128 * 1024   # 128k, not the 8,192 of pre-training (RoPE scaled by 8)
    assert phase_of(cfg, "decode", context=131_071).context == 131_071   # 131,072 positions in all
    with pytest.raises(SimulatorError, match="context") as error:
        phase_of(cfg, "decode", context=131_072)
    assert "\n" not in str(error.value)


def test_a_16k_prompt_fits_llama_31_but_not_llama_3():
    check_context(load_config("llama_3_1_8b"), 16_384, 128)
    with pytest.raises(SimulatorError):
        check_context(load_config("llama_3_8b"), 16_384, 128)   # 8,192 positions


def test_gptj_parameters_derived_by_hand():
    """Per layer: ``ln_1`` (weight and bias ``2·d``), q, k, v, out ``4·d²`` (no bias), ``fc_in``
    ``d·I + I``, ``fc_out`` ``I·d + d`` (I = 4·d as ``n_inner`` is null); ``wte`` ``V·d``, ``ln_f``
    ``2·d``, the untied ``lm_head`` ``V·d + V`` (its bias). Rotary positions have no parameters."""
    c = shipped("gpt_j_6b")
    d, layers, v = c["n_embd"], c["n_layer"], c["vocab_size"]
    assert (d, layers, c["n_head"], c["n_positions"], v, c["rotary_dim"], c["n_inner"]) == \
        (4096, 28, 16, 2048, 50400, 64, None)
    inner = 4 * d
    per_layer = 2 * d + 4 * d * d + (d * inner + inner) + (inner * d + d)
    hf = v * d + layers * per_layer + 2 * d + (v * d + v)
    assert hf == GPTJ_HF
    assert count("gpt_j_6b").params == hf
    # the model card's figure: mesh-transformer-jax holds each replicated parameter once per shard (8):
    # ln_1 and fc_out's bias in every layer and ln_f 7 more times, and an input-embedding bias of d on
    # each shard (its embedding is a one-hot Linear with a bias; Hugging Face's wte has none)
    shards = 8
    replicated = layers * (2 * d + d) + 2 * d
    assert hf + (shards - 1) * replicated + shards * d == GPTJ_MODEL_CARD


def test_gptj_block_structure():
    """One LayerNorm per block feeds attention and the MLP side by side; the LM head has its bias."""
    network, _ = llm_network("gpt_j_6b", "prefill", 16)
    kinds = {node.name: node.layer for node in network.nodes}
    assert kinds["l0.attn_norm"].kind == "LayerNorm" and "l0.mlp_norm" not in kinds
    assert "l0.branch_add" in kinds and kinds["l0.rope"].kind == "RoPE"
    assert not kinds["l0.qkv"].bias and not kinds["l0.o_proj"].bias
    assert kinds["l0.fc"].bias and kinds["l0.down"].bias
    head = kinds["lm_head"]
    assert head.bias and not head.tied
    (layer,) = [layer for layer in count_network(network, 1).layers if layer.name == "lm_head"]
    d, v = 4096, 50400
    assert layer.params == v * d + v


def test_gptj_bad_rotary_dim_is_one_line():
    cfg = dict(shipped("gpt_j_6b"), rotary_dim=512)   # a head has 4096 / 16 = 256 dimensions
    with pytest.raises(SimulatorError, match="rotary_dim") as error:
        parse_config(cfg, "gptj")
    assert "\n" not in str(error.value)
