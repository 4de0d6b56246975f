"""DeepSeek-V3 from its published config.json (deepseek-ai/DeepSeek-V3): parameters derived by hand from
the config, checked against the model card's 671B main model + 14B MTP module = 685B."""

from __future__ import annotations

import json

from simulator.cli import main
from simulator.llm import load_config, simulate_llm
from simulator.llm.config import available_llms, parse_config
from simulator.llm.network import build_network
from simulator.model.counts import count_network

# config.json: d 7168, 61 layers (3 dense, I 18432; 58 MoE), 128 heads, MLA (q_lora_rank 1536,
# kv_lora_rank 512, qk_nope 128, qk_rope 64, v 128), 256 routed experts of 2048 (8 per token),
# 1 shared expert, V 129280, untied
D, LAYERS, DENSE, HEADS, Q_LORA, R, DN, DR, DV = 7168, 61, 3, 128, 1536, 512, 128, 64, 128
EXPERTS, EXPERT_I, VOCAB, DENSE_I = 256, 2048, 129280, 18432
MOE_LAYERS = LAYERS - DENSE  # first_k_dense_replace 3, moe_layer_freq 1

ATTN = (D * Q_LORA + Q_LORA + Q_LORA * HEADS * (DN + DR)  # q_a_proj, q_a_layernorm, q_b_proj
        + D * (R + DR) + R                                # kv_a_proj_with_mqa, kv_a_layernorm
        + R * HEADS * (DN + DV) + HEADS * DV * D)         # kv_b_proj, o_proj
NORMS = 2 * D  # input_layernorm, post_attention_layernorm
DENSE_MLP = 3 * D * DENSE_I
MOE = (EXPERTS * 3 * D * EXPERT_I  # routed experts (gate, up, down)
       + 3 * D * EXPERT_I          # 1 shared expert of moe_intermediate_size
       + EXPERTS * D + EXPERTS)    # router weight + e_score_correction_bias
MAIN = 2 * VOCAB * D + DENSE * (ATTN + NORMS + DENSE_MLP) + MOE_LAYERS * (ATTN + NORMS + MOE) + D
# the MTP module (model.layers.61 in the checkpoint): enorm, hnorm, eh_proj (2d -> d), one MoE decoder
# layer, shared_head.norm, and its own stored copies of embed_tokens and shared_head.head
MTP = 2 * D + 2 * D * D + ATTN + NORMS + MOE + D + 2 * VOCAB * D



def blocks(out_features: int, in_features: int) -> int:
    """float32 scales of a (out, in) FP8 weight quantized in 128x128 blocks."""
    return -(-out_features // 128) * -(-in_features // 128)


ATTN_SCALES = (blocks(Q_LORA, D) + blocks(HEADS * (DN + DR), Q_LORA) + blocks(R + DR, D)
               + blocks(HEADS * (DN + DV), R) + blocks(D, HEADS * DV))
EXPERT_SCALES = 2 * blocks(EXPERT_I, D) + blocks(D, EXPERT_I)
MOE_SCALES = ATTN_SCALES + (EXPERTS + 1) * EXPERT_SCALES  # routed + shared
FP8_SCALES = (DENSE * (ATTN_SCALES + 2 * blocks(DENSE_I, D) + blocks(D, DENSE_I))
              + (MOE_LAYERS + 1) * MOE_SCALES)  # the MTP module's MoE layer too


def test_deepseek_v3_counts_hugging_faces_main_model():
    cfg = load_config("deepseek_v3")
    assert (cfg.family, cfg.num_experts, cfg.experts_per_token) == ("deepseek_v3", 256, 8)
    assert cfg.router_bias and cfg.max_positions == 163_840
    params = count_network(build_network(cfg, 8), 1).params
    assert params == MAIN
    assert round(MAIN / 1e9) == 671  # model card / README_WEIGHTS: 671B main model
    assert round(MTP / 1e9) == 13  # the card's "14B" MTP: 11.6B unique + its stored embedding and head
    # the Hub's 685B is the checkpoint's safetensors total, 684,531,386,000 (BF16 3,918,786,560 +
    # F8_E4M3 680,571,043,840 + F32 41,555,600): main + MTP + one float32 weight_scale_inv per 128x128
    # block of every FP8 projection (the routers, embeddings, eh_proj and norms are BF16)
    assert MAIN + MTP + FP8_SCALES == 684_531_386_000
    # activated per token (README_WEIGHTS: 36.6B, including 0.9B of output head): 8 of 256 routed experts
    active = MAIN - MOE_LAYERS * (EXPERTS - 8) * 3 * D * EXPERT_I - VOCAB * D
    assert abs(active / 1e9 - 36.6) < 0.2


def test_the_correction_bias_is_v3s_only():
    base = json.loads(available_llms()["deepseek_v3"].read_text())
    as_v2 = parse_config({**base, "model_type": "deepseek_v2"}, "v2")
    v3 = parse_config(base, "v3")
    diff = count_network(build_network(v3, 1), 1).params - count_network(build_network(as_v2, 1), 1).params
    assert diff == MOE_LAYERS * EXPERTS  # one bias per routed expert per MoE layer
    assert not parse_config({**base, "topk_method": "greedy"}, "g").router_bias


def test_deepseek_v3_decode_step_macs_follow_the_active_experts():
    # one token, nothing cached: every projection once; 8 routed experts + the shared one per MoE layer
    macs = count_network(build_network(load_config("deepseek_v3"), 1), 1).macs
    attn_proj = ATTN - Q_LORA - R  # the projections' weights (the norms have no MACs)
    attn_core = HEADS * (2 * R + DR)  # absorbed MLA over 1 position: scores on r + dr, the r-latent sum
    per_moe = (8 + 1) * 3 * D * EXPERT_I + EXPERTS * D
    expected = (DENSE * (attn_proj + attn_core + DENSE_MLP) + MOE_LAYERS * (attn_proj + attn_core + per_moe)
                + VOCAB * D)  # the LM head on the last token
    assert macs == expected


def test_deepseek_v3_runs_through_the_cli(capsys):
    assert main(["count", "deepseek_v3"]) in (0, None)
    assert f"{MAIN:,} params" in capsys.readouterr().out  # roofline count: the main model, no MTP
    result = simulate_llm("deepseek_v3", "b200", 1, 128, 4, tp=8)  # 168 GB of bf16 each
    assert result is not None
