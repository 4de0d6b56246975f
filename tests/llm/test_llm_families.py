"""LLM families from their own config.json (issue 20): Phi-3, Qwen2.5, Gemma-2 and Mistral's sliding
window; a model folder and a hub id in the local Hugging Face cache. Expected parameter counts are
written out from each published config and checked against the model card's figure."""

from __future__ import annotations

import json

import pytest

from simulator.cli import main
from simulator.engine.workload import build_workload
from simulator.llm import load_config, simulate_llm
from simulator.llm.config import available_llms, is_llm, parse_config
from simulator.llm.memory import kv_elements_per_sequence
from simulator.llm.network import build_network
from simulator.llm.phases import at_context, phase_workload
from simulator.model.counts import count_network
from simulator.model.layers import CausalAttention, RMSNorm

PHI3 = json.loads(available_llms()["phi_3_mini_4k"].read_text())


def params(name: str) -> int:
    return count_network(build_network(load_config(name), 8), 1).params


def test_phi3_counts_as_a_llama_with_fused_projections():
    # microsoft/Phi-3-mini-4k-instruct: d 3072, 32 layers, 32 heads (MHA), I 8192, V 32064, untied;
    # qkv_proj (3d x d) and gate_up_proj (2I x d) hold Llama's q/k/v and gate/up exactly
    d, layers, inter, vocab = 3072, 32, 8192, 32064
    per_layer = 3 * d * d + d * d + 2 * inter * d + inter * d + 2 * d  # qkv, o, gate_up, down, 2 norms
    expected = vocab * d + layers * per_layer + d + vocab * d  # embed, layers, final norm, lm_head
    assert params("phi_3_mini_4k") == expected == 3_821_079_552  # "3.8B" (model card; keras-hub preset)


def test_qwen2_5_counts_its_qkv_biases():
    # Qwen/Qwen2.5-7B-Instruct: d 3584, 28 layers, 28 heads, 4 KV heads (hd 128), I 18944, V 152064
    d, layers, kv, inter, vocab = 3584, 28, 4 * 128, 18944, 152064
    attn = (d * d + d) + 2 * (d * kv + kv) + d * d  # q, k, v with biases; o without
    expected = 2 * vocab * d + layers * (attn + 3 * d * inter + 2 * d) + d
    assert params("qwen2_5_7b") == expected == 7_615_616_512
    # the model card: 7.61B parameters, 6.53B of them non-embedding
    assert abs(expected / 1e9 - 7.61) < 0.01 and abs((expected - 2 * vocab * d) / 1e9 - 6.53) < 0.01


def test_gemma_2_9b_is_hugging_faces_count():
    # google/gemma-2-9b: d 3584, 42 layers, 16 heads and 8 KV heads of head_dim 256 (not 3584/16 = 224),
    # I 14336 (GeGLU: gate, up, down), V 256000 tied, four RMSNorms per layer and a final one
    d, layers, heads, kv, hd, inter, vocab = 3584, 42, 16, 8, 256, 14336, 256000
    per_layer = d * heads * hd + 2 * d * kv * hd + heads * hd * d + 3 * d * inter + 4 * d
    expected = vocab * d + layers * per_layer + d
    assert params("gemma_2_9b") == expected == 9_241_705_984  # Hugging Face's count (issue 20)
    norms = [n for n in build_network(load_config("gemma_2_9b"), 8).nodes if isinstance(n.layer, RMSNorm)]
    assert len(norms) == 4 * 42 + 1


def test_gemma_2_alternates_local_and_global_layers():
    cfg = load_config("gemma_2_9b")
    assert [cfg.window(i) for i in range(4)] == [4096, 0, 4096, 0]  # even layers slide (Gemma2Config)
    # at 8,192 positions: 21 local layers hold 4,096 tokens, 21 global layers all 8,192, each token
    # 2 (K, V) x 8 KV heads x 256 head dim (the attention kind's own formula, through the memory table's)
    assert kv_elements_per_sequence(cfg, 8192) == 2 * 8 * 256 * (21 * 4096 + 21 * 8192)


def test_mistral_kv_cache_is_capped_by_its_window_at_a_16k_prompt():
    result = simulate_llm("mistral_7b", "h100-sxm", 1, 16384, 128)
    # 32 layers x (K, V) x 8 KV heads x 128 head dim x 4,096 window tokens x 2 bytes (fp16)
    assert result.metrics["kv_cache_bytes"][0] == 32 * 2 * 8 * 128 * 4096 * 2 == 536_870_912  # 0.54 GB
    # below the window every position is held, as without one
    short = simulate_llm("mistral_7b", "h100-sxm", 1, 1000, 24)
    assert short.metrics["kv_cache_bytes"][0] == 32 * 2 * 8 * 128 * 1024 * 2


def test_cli_reports_the_windowed_cache(capsys):
    assert main(["llm", "mistral_7b", "--device", "h100-sxm", "--prompt", "16384", "--generate", "128",
                 "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["configurations"][0]
    assert row["kv_cache_bytes"] == 2 * 32 * 8 * 128 * 4096 * 2


def brute_pairs(cached: int, tokens: int, window: int) -> int:
    """(query, key) pairs of transformers' sliding-window causal mask, enumerated: query position
    ``p`` sees key ``j`` when ``j <= p`` and ``p - j < window``."""
    return sum(1 for p in range(cached, cached + tokens) for j in range(p + 1)
               if not window or p - j < window)


@pytest.mark.parametrize("cached, tokens, window", [(0, 6, 4), (3, 3, 4), (0, 10, 0), (2, 5, 3), (9, 1, 4),
                                                    (0, 4, 8), (5, 7, 6), (100, 1, 4096)])
def test_windowed_attention_pairs_equal_the_mask(cached, tokens, window):
    layer = CausalAttention(4, 2, 8, cached, window)
    assert layer.attended_pairs(tokens) == brute_pairs(cached, tokens, window)


def test_attention_reads_at_most_the_window_in_decode():
    cfg = load_config("mistral_7b")
    attn = next(n for n in build_network(cfg, 1, 16384).nodes if isinstance(n.layer, CausalAttention))
    # one query sees its 4,095 latest cached positions and itself: K and V of 4,096 tokens
    assert attn.layer.kv_cache_elements(1) == 2 * 8 * 128 * 4096
    assert attn.layer.attended_pairs(1) == 4096


@pytest.mark.parametrize("name, context", [("mistral_7b", 100), ("mistral_7b", 4095), ("mistral_7b", 4096),
                                           ("mistral_7b", 16384), ("gemma_2_9b", 6000),
                                           ("deepseek_v2_lite", 3000)])
def test_decode_step_at_a_context_agrees_with_the_network_built_there(name, context):
    # the closed-form path (c = 0 workload plus slopes, capped at the window) equals the network
    # built at that context: MACs and element-wise ops (attention over min(c + 1, W) keys) per layer
    cfg = load_config(name)
    direct = build_workload(build_network(cfg, 1, context))
    capped = at_context(phase_workload(cfg, 1), [context], [16.0])
    assert capped.macs[0].tolist() == pytest.approx(direct.macs.tolist())
    assert capped.elementwise_ops[0].tolist() == pytest.approx(direct.elementwise_ops.tolist())


def test_a_model_folder_reads_its_config_json(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "Phi-3-mini-4k-instruct"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(PHI3))
    monkeypatch.chdir(tmp_path)
    assert is_llm("./Phi-3-mini-4k-instruct")
    assert main(["llm", "./Phi-3-mini-4k-instruct", "--device", "h100-sxm", "--prompt", "512"]) == 0
    assert "Phi-3-mini-4k-instruct" in capsys.readouterr().out
    assert count_network(build_network(load_config("./Phi-3-mini-4k-instruct"), 8), 1).params == 3_821_079_552


def test_a_folder_without_config_json_is_one_line(tmp_path, capsys):
    status = main(["llm", str(tmp_path), "--device", "h100-sxm"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err and "must hold a config.json" in err


def hub_snapshot(cache, hub_id: str, revision: str = "abc123", main_ref: bool = True):
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "snapshots" / revision / "config.json").write_text(json.dumps(PHI3))
    if main_ref:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)


@pytest.mark.parametrize("variable, sub", [("HF_HUB_CACHE", ""), ("HF_HOME", "hub")])
def test_a_hub_id_is_read_from_the_local_cache(tmp_path, monkeypatch, capsys, variable, sub):
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(tmp_path))
    hub_snapshot(tmp_path / sub if sub else tmp_path, "microsoft/Phi-3-mini-4k-instruct")
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    cfg = load_config("microsoft/Phi-3-mini-4k-instruct")
    assert (cfg.name, cfg.family, cfg.hidden_size) == ("microsoft/Phi-3-mini-4k-instruct", "phi3", 3072)
    assert main(["llm", "microsoft/Phi-3-mini-4k-instruct", "--device", "h100-sxm"]) == 0


def test_a_hub_id_without_refs_uses_its_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    hub_snapshot(tmp_path, "org/phi-copy", main_ref=False)
    monkeypatch.chdir(tmp_path)
    assert load_config("org/phi-copy").family == "phi3"


def test_a_hub_id_not_in_the_cache_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    status = main(["llm", "meta-llama/Llama-3.1-8B", "--device", "h100-sxm"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err and "Traceback" not in err
    assert "meta-llama/Llama-3.1-8B: not in the local Hugging Face cache" in err
    assert str(tmp_path) in err and "nothing is downloaded" in err


@pytest.mark.parametrize("model_type, closest", [("gemma3", "gemma3_text"), ("phi", "phi3"),
                                                 ("qwen3_moe", "qwen3"), ("llama4", "llama")])
def test_an_unsupported_model_type_names_the_supported_and_the_closest(model_type, closest):
    from simulator.errors import SimulatorError

    with pytest.raises(SimulatorError) as err:
        parse_config({**PHI3, "model_type": model_type}, "x")
    message = str(err.value)
    supported = ("llama, mistral, qwen2, mixtral, phi3, gemma, gemma2, qwen2_moe, deepseek_v2, deepseek_v3, "
                 "qwen3, gemma3_text, falcon, gptj, gpt2, opt")
    assert f"supported: {supported}" in message
    assert message.endswith(f"(closest: {closest})")


def test_qwen2_windows_only_with_use_sliding_window():
    qwen = json.loads(available_llms()["qwen2_5_7b"].read_text())
    assert parse_config(qwen, "q").sliding_window == 0  # use_sliding_window false: full attention
    windowed = {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 20}
    cfg = parse_config({**qwen, **windowed}, "q")
    assert [cfg.window(i) for i in (0, 19, 20, 27)] == [0, 0, 4096, 4096]  # layers from max_window_layers


def test_layer_types_name_the_windowed_layers():
    cfg = parse_config({**PHI3, "layer_types": ["full_attention", "sliding_attention"] * 16}, "x")
    assert [cfg.window(i) for i in range(3)] == [0, 2047, 0]
    from simulator.errors import SimulatorError

    with pytest.raises(SimulatorError, match="layer_types must list 32"):
        parse_config({**PHI3, "layer_types": ["sliding_attention"]}, "x")


def test_deepseek_v2_lite_is_hugging_faces_count():
    # deepseek-ai/DeepSeek-V2-Lite: d 2048, 27 layers, 16 heads, MLA (q_lora_rank null, kv_lora_rank 512,
    # qk_nope 128, qk_rope 64, v 128), layer 0 dense (I 10944), 26 MoE layers of 64 routed experts (1408
    # wide, 6 per token) + 2 shared experts + a 64-way gate, V 102400, untied
    d, heads, r, dn, dr, dv, vocab = 2048, 16, 512, 128, 64, 128, 102400
    attn = d * heads * (dn + dr) + d * (r + dr) + r + r * heads * (dn + dv) + heads * dv * d  # q, kv_a, norm,
    dense = 3 * d * 10944                                                                     # kv_b, o
    moe = 64 * 3 * d * 1408 + 3 * d * (2 * 1408) + d * 64  # routed, shared, gate
    expected = 2 * vocab * d + 27 * (attn + 2 * d) + dense + 26 * moe + d
    assert params("deepseek_v2_lite") == expected == 15_706_484_224  # model card: 15.7B total
    # activated per token: 6 of 64 routed experts; without the input embedding, the card's "2.4B"
    active = expected - 26 * (64 - 6) * 3 * d * 1408 - vocab * d
    assert abs(active / 1e9 - 2.4) < 0.06


def test_deepseek_caches_the_latent_not_keys_and_values():
    result = simulate_llm("deepseek_v2_lite", "h100-sxm", 1, 1000, 24)
    # 27 layers x (kv_lora_rank 512 + rope 64) x 1,024 tokens x 2 bytes; one latent for all 16 heads
    assert result.metrics["kv_cache_bytes"][0] == 27 * (512 + 64) * 1024 * 2
    sharded = simulate_llm("deepseek_v2_lite", "h100-sxm", 1, 1000, 24, tp=2)
    assert sharded.metrics["kv_cache_bytes"][0] == 2 * 27 * (512 + 64) * 1024 * 2  # replicated on both


def test_latent_attention_formula_by_hand():
    from simulator.model.formulas import layer_cost
    from simulator.model.layers import LatentAttention

    layer = LatentAttention(num_heads=2, qk_nope_dim=3, qk_rope_dim=2, v_head_dim=3, kv_lora_rank=4,
                            cached_tokens=5)
    inputs = ((2, 2 * (3 + 2)), (2, 2 * (3 + 3)), (2, 2))
    assert layer.output_shape(inputs) == (2, 2 * 3)
    cost = layer_cost(layer, inputs, (2, 6))
    pairs = 2 * 5 + 1 + 2  # T·c + T(T+1)/2 with T = 2, c = 5
    assert cost.params == 0
    assert cost.macs == 2 * ((4 + 2) + 4) * pairs  # per head: scores over r + dr, weighted r-latent
    assert layer.kv_cache_elements(2) == (4 + 2) * (5 + 2)


def test_a_compressed_query_counts_its_two_projections_and_norm():
    base = json.loads(available_llms()["deepseek_v2_lite"].read_text())
    small = {**base, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 4, "vocab_size": 100, "intermediate_size": 96,
             "moe_intermediate_size": 16, "n_routed_experts": 4, "num_experts_per_tok": 2,
             "n_shared_experts": 1, "kv_lora_rank": 8, "qk_nope_head_dim": 4, "qk_rope_head_dim": 2,
             "v_head_dim": 4}
    without = count_network(build_network(parse_config(small, "s"), 2), 1).params
    with_q = count_network(build_network(parse_config({**small, "q_lora_rank": 12}, "s"), 2), 1).params
    # per layer: q_proj 64·4·6 becomes q_a_proj 64·12 + q_a_layernorm 12 + q_b_proj 12·4·6
    assert with_q - without == 2 * (64 * 12 + 12 + 12 * 4 * 6 - 64 * 4 * 6)


def test_gemma_7b_ties_its_head_and_keeps_two_norms_per_layer():
    # google/gemma-7b's config.json (no tie_word_embeddings key: GemmaConfig ties by default)
    cfg = load_config("gemma_7b")
    d, hd, heads, inter, vocab = 3072, 256, 16, 24576, 256000
    per_layer = 4 * d * heads * hd + 3 * d * inter + 2 * d  # q, k, v, o (MHA, hd 256); GeGLU; 2 norms
    expected = vocab * d + 28 * per_layer + d
    assert count_network(build_network(cfg, 8), 1).params == expected == 8_537_680_896  # HF: 8.54B
    assert cfg.sliding_window == 0  # Gemma 1 has no window


@pytest.mark.parametrize("name", ["mistral_7b", "gemma_2_9b"])
def test_generation_across_the_window_equals_the_sum_of_its_steps(name):
    # the window (4,096) fills at c = 4,095, mid-generation: the closed form splits there
    prompt, generate = 4090, 12
    whole = simulate_llm(name, "jetson-agx-orin", 4, prompt, generate, ideal=True)
    steps = sum(simulate_llm(name, "jetson-agx-orin", 4, c, 2, ideal=True).metrics["tpot_s"][0]
                for c in range(prompt, prompt + generate - 1))
    assert whole.metrics["e2e_latency_s"][0] - whole.metrics["ttft_s"][0] == pytest.approx(steps, rel=1e-9)


def test_qwen1_5_moe_is_hugging_faces_count():
    # Qwen/Qwen1.5-MoE-A2.7B: d 2048, 24 layers, 16 heads (MHA, q/k/v biases), 60 experts of 1408
    # (4 per token) on every layer, a shared expert of 5632 with its sigmoid gate (d -> 1), V 151936
    d, vocab = 2048, 151936
    attn = 3 * (d * d + d) + d * d
    moe = 60 * 3 * d * 1408 + d * 60 + 3 * d * 5632 + d  # experts, router, shared expert, shared gate
    expected = 2 * vocab * d + 24 * (attn + moe + 2 * d) + d
    assert params("qwen1_5_moe_a2_7b") == expected == 14_315_784_192  # model card: 14.3B in total


def test_qwen_moe_dense_layers_follow_the_sparse_step_and_the_mlp_only_list():
    base = json.loads(available_llms()["qwen1_5_moe_a2_7b"].read_text())
    cfg = parse_config({**base, "decoder_sparse_step": 2, "mlp_only_layers": [3]}, "q")
    assert [cfg.is_moe_layer(i) for i in range(6)] == [False, True, False, False, False, True]


def test_qwen3_8b_counts_its_query_and_key_norms():
    # Qwen/Qwen3-8B: d 4096, 36 layers, 32 heads, 8 KV heads of head_dim 128, I 12288, V 151936,
    # untied, no biases; q_norm and k_norm of head_dim in every layer
    d, hd, inter, vocab = 4096, 128, 12288, 151936
    per_layer = d * 32 * hd + 2 * d * 8 * hd + 32 * hd * d + 2 * hd + 3 * d * inter + 2 * d
    expected = 2 * vocab * d + 36 * per_layer + d
    assert params("qwen3_8b") == expected == 8_190_735_360  # model card: 8.2B


def test_gemma_3_1b_is_hugging_faces_count_with_five_local_layers_per_global():
    # google/gemma-3-1b-pt: d 1152, 26 layers, 4 heads, 1 KV head of head_dim 256, I 6912, V 262144 tied,
    # four norms per layer and q/k norms of head_dim; sliding window 512 with sliding_window_pattern 6
    d, hd, inter, vocab = 1152, 256, 6912, 262144
    per_layer = d * 4 * hd + 2 * d * hd + 4 * hd * d + 2 * hd + 3 * d * inter + 4 * d
    expected = vocab * d + 26 * per_layer + d
    assert params("gemma_3_1b") == expected == 999_885_952  # Hugging Face's count ("1B")
    cfg = load_config("gemma_3_1b")
    assert [cfg.window(i) for i in range(12)] == [512] * 5 + [0] + [512] * 5 + [0]
    # at 32,768 positions: 22 local layers hold 512 tokens, the 4 global layers (5, 11, 17, 23) all;
    # 2 (K, V) x 1 KV head x 256 head dim per token
    assert kv_elements_per_sequence(cfg, 32768) == 2 * 1 * 256 * (22 * 512 + 4 * 32768)


def test_a_grouped_rms_norm_needs_a_multiple_of_its_width():
    from simulator.errors import ShapeError

    assert RMSNorm(4).output_shape(((3, 12),)) == (3, 12)  # three heads of 4 share one γ
    with pytest.raises(ShapeError, match="multiple of 4 features, got 10"):
        RMSNorm(4).output_shape(((3, 10),))


def test_opt_125m_is_hugging_faces_count():
    # facebook/opt-125m: d 768, 12 layers, ffn_dim 3072 (ReLU), V 50272 tied, learned positions of
    # max_position_embeddings + 2 rows (OPT's offset), biases everywhere, LayerNorms with biases
    d, ffn, vocab, rows = 768, 3072, 50272, 2048 + 2
    per_layer = 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d) + 2 * 2 * d
    expected = vocab * d + rows * d + 12 * per_layer + 2 * d
    assert params("opt_125m") == expected == 125_239_296  # model card: 125M


def test_opt_350m_projects_its_embeddings_and_has_no_final_norm():
    # facebook/opt-350m's fields: d 1024, 24 layers, 16 heads, ffn 4096, word_embed_proj_dim 512,
    # do_layer_norm_before false (post-norm: no final LayerNorm)
    base = json.loads(available_llms()["opt_125m"].read_text())
    cfg = parse_config({**base, "hidden_size": 1024, "ffn_dim": 4096, "num_hidden_layers": 24,
                        "num_attention_heads": 16, "word_embed_proj_dim": 512,
                        "do_layer_norm_before": False}, "opt_350m")
    d, ffn, vocab, proj = 1024, 4096, 50272, 512
    per_layer = 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d) + 2 * 2 * d
    expected = vocab * proj + 2 * proj * d + 2050 * d + 24 * per_layer  # embed, project_in/out, positions
    assert count_network(build_network(cfg, 8), 1).params == expected == 331_196_416  # HF: 331M


def test_falcon_7b_is_hugging_faces_count_with_one_kv_head():
    # tiiuae/falcon-7b: d 4544, 32 layers, 71 heads of 64, multi_query (1 KV head), parallel attention
    # and MLP on one LayerNorm, MLP 4d with GELU, no biases, V 65024 tied
    d, hd, vocab = 4544, 64, 65024
    per_layer = 2 * d + d * (71 + 2) * hd + d * d + 2 * d * 4 * d
    expected = vocab * d + 32 * per_layer + 2 * d
    assert params("falcon_7b") == expected == 6_921_720_704  # model card: 7B
    result = simulate_llm("falcon_7b", "h100-sxm", 1, 1000, 24)
    assert result.metrics["kv_cache_bytes"][0] == 32 * 2 * 1 * 64 * 1024 * 2  # MQA: one K and V head


def test_falcon_new_architecture_has_two_norms_and_grouped_kv_heads():
    base = json.loads(available_llms()["falcon_7b"].read_text())
    small = {**base, "hidden_size": 64, "num_attention_heads": 8, "num_hidden_layers": 2, "vocab_size": 100}
    old = count_network(build_network(parse_config(small, "f"), 2), 1).params
    cfg = parse_config({**small, "new_decoder_architecture": True, "num_kv_heads": 2}, "f")
    assert (cfg.num_kv_heads, cfg.parallel_block) == (2, 2)
    new = count_network(build_network(cfg, 2), 1).params
    # per layer: one more LayerNorm (2·64); K and V for 2 heads of 8 instead of 1
    assert new - old == 2 * (2 * 64 + 2 * 64 * (2 - 1) * 8)


def test_llama_3_2_1b_ties_its_lm_head():
    # meta-llama/Llama-3.2-1B: d 2048, 16 layers, 32 heads, 8 KV heads of 64, I 8192, V 128256, tied
    d, hd, inter, vocab = 2048, 64, 8192, 128256
    per_layer = d * 32 * hd + 2 * d * 8 * hd + 32 * hd * d + 3 * d * inter + 2 * d
    expected = vocab * d + 16 * per_layer + d  # the LM head shares the embedding's matrix
    assert params("llama_3_2_1b") == expected == 1_235_814_400  # model card: 1.23B
