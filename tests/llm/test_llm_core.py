"""LLM inference against hand arithmetic and published figures (the issue's must-show)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.cli import main
from simulator.hardware.loader import resolve_device
from simulator.llm import load_config, simulate_llm
from simulator.llm.memory import kv_bytes_per_token
from simulator.llm.network import build_network
from simulator.llm.phases import phase_workload, sum_max_affine
from simulator.model.counts import count_network

#: published parameter counts (HF model cards / sum(p.numel()) of the *ForCausalLM, research/llm)
PUBLISHED = {"llama_2_7b": 6_738_415_616, "llama_2_13b": 13_015_864_320, "llama_2_70b": 68_976_648_192,
             "llama_3_8b": 8_030_261_248, "llama_3_1_70b": 70_553_706_496, "mistral_7b": 7_241_732_096,
             "mixtral_8x7b": 46_702_792_704, "gpt2": 124_439_808}


def formula_params(cfg):
    """The HF modules' parameters, written out (research/llm/param_counts.py)."""
    d, v, hd = cfg.hidden_size, cfg.vocab_size, cfg.head_dim
    if cfg.family == "gpt2":
        per_layer = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d)
        return v * d + cfg.max_positions * d + cfg.num_layers * per_layer + 2 * d
    attn = d * cfg.num_heads * hd + 2 * d * cfg.num_kv_heads * hd + cfg.num_heads * hd * d
    mlp = 3 * d * cfg.intermediate_size
    if cfg.is_moe:
        mlp = cfg.num_experts * mlp + d * cfg.num_experts
    return v * d + cfg.num_layers * (attn + mlp + 2 * d) + d + (0 if cfg.tie_word_embeddings else d * v)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_are_exact(name):
    cfg = load_config(name)
    params = count_network(build_network(cfg, 8), 1).params
    assert params == formula_params(cfg) == PUBLISHED[name]


def test_mixtral_active_parameters():
    cfg = load_config("mixtral_8x7b")
    active = formula_params(dataclasses.replace(cfg, num_experts=cfg.experts_per_token)) - \
        cfg.num_layers * cfg.hidden_size * (cfg.experts_per_token - cfg.num_experts)  # router stays d x 8
    assert active == 12_879_925_248


def test_kv_cache_bytes_per_token():
    # 2 (K, V) x layers x kv heads x head dim x 2 bytes (fp16)
    assert kv_bytes_per_token(load_config("llama_2_7b"), 16) == 2 * 32 * 32 * 128 * 2 == 524_288
    assert kv_bytes_per_token(load_config("llama_2_70b"), 16) == 2 * 80 * 8 * 128 * 2 == 327_680


def test_decode_at_batch_one_is_memory_bound_and_reads_weights_and_cache():
    cfg, device = load_config("llama_2_7b"), resolve_device("h100-sxm")
    prompt = 1000
    result = simulate_llm("llama_2_7b", device, 1, prompt, 2, ideal=True)   # one decode step at c = P
    assert result.metrics["decode_bound"][0] == "memory"
    d, v = cfg.hidden_size, cfg.vocab_size
    weights = (formula_params(cfg) - v * d) * 2          # fp16; the embedding is gathered, not read whole
    kv = 524_288 * prompt + 524_288                       # read the cache, write one token
    bandwidth = device.weight_store.bandwidth_bytes_per_s
    assert result.metrics["tpot_s"][0] == pytest.approx((weights + kv) / bandwidth, rel=2e-3)


def test_prefill_at_a_long_prompt_is_compute_bound():
    result = simulate_llm("llama_3_8b", "h100-sxm", 1, 4096, 2, ideal=True)
    assert result.metrics["prefill_bound"][0] == "compute"


def test_moe_expected_experts():
    cfg = load_config("mixtral_8x7b")
    workload = phase_workload(cfg, 1).workload
    assert workload.expected_experts(np.array([1.0]))[0] == pytest.approx(2)        # k
    assert workload.expected_experts(np.array([4096.0]))[0] == pytest.approx(8)     # E


def test_tensor_parallel_never_moves_less_than_weights_over_n():
    cfg = load_config("llama_2_70b")
    one = simulate_llm(cfg, "h100-sxm", 1, 128, 2, ideal=True)
    for tp in (2, 4, 8):
        phase = phase_workload(cfg, 1, tp)
        per_device = phase.workload.weight_elements.sum() * 2
        total = phase_workload(cfg, 1, 1).workload.weight_elements.sum() * 2
        assert per_device * tp >= total
        sharded = simulate_llm(cfg, "h100-sxm", 1, 128, 2, tp=tp, ideal=True)
        assert sharded.metrics["tpot_s"][0] >= one.metrics["tpot_s"][0] / tp


def test_closed_form_generation_equals_the_sum_over_steps():
    rng = np.random.default_rng(0)
    y0, y1 = rng.uniform(0, 1, (3, 50)), rng.uniform(0, 1, (3, 50))
    n = rng.integers(1, 300, 50)
    for j in range(50):
        x = np.arange(n[j])
        slope = (y1[:, j] - y0[:, j]) / max(n[j] - 1, 1)
        explicit = sum(max(y0[k, j] + slope[k] * xi for k in range(3)) for xi in x)   # the slow loop
        assert sum_max_affine(y0[:, j:j + 1], y1[:, j:j + 1], n[j:j + 1])[0] == pytest.approx(explicit)


def test_generation_sum_matches_step_by_step_simulation():
    prompt, generate = 100, 9
    whole = simulate_llm("llama_3_8b", "jetson-agx-orin", 4, prompt, generate, ideal=True)
    steps = sum(simulate_llm("llama_3_8b", "jetson-agx-orin", 4, c, 2, ideal=True).metrics["tpot_s"][0]
                for c in range(prompt, prompt + generate - 1))
    assert whole.metrics["e2e_latency_s"][0] - whole.metrics["ttft_s"][0] == pytest.approx(steps, rel=1e-9)


def test_cli_must_show(capsys):
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--batch", "1,64", "--prompt", "1024",
                 "--generate", "128", "--format", "json"]) == 0
    import json
    rows = json.loads(capsys.readouterr().out)["configurations"]
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "weight_bytes", "kv_cache_bytes",
                "fits", "max_batch", "energy_per_token_j"):
        assert key in rows[0]
    assert main(["llm", "llama_2_70b", "--device", "h100-sxm", "--batch", "1,64", "--prompt", "1024",
                 "--generate", "128", "--tp", "2"]) == 0
    capsys.readouterr()
    assert main(["llm", "llama_2_70b", "--device", "jetson-agx-orin"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "does not fit" in err and "GB" in err


@pytest.mark.once_per_ci
def test_validation_ideal_is_never_slower_than_measured():
    from simulator.llm.validation import load_rows, predict
    for row in load_rows():
        ideal, measured = predict(row)["ideal"], float(row["value"])
        if row["metric"] == "output_tokens_per_s":
            assert ideal >= measured, row["id"]
        else:
            assert ideal <= measured, row["id"]


def test_llm_takes_precision_as_the_weights_precision(capsys):
    # Llama-2-70B at fp16: 68,976,648,192 params x 2 bytes = 137.95 GB (> Orin's 64 GiB); at int4 ~34.5 GB
    assert main(["llm", "llama_2_70b", "--device", "jetson-agx-orin", "--precision", "fp16"]) == 2
    assert "fp16 weights" in capsys.readouterr().err
    assert main(["llm", "llama_2_70b", "--device", "jetson-agx-orin", "--precision", "int4",
                 "--format", "json"]) == 0
    import json
    row = json.loads(capsys.readouterr().out)["configurations"][0]
    assert row["weight_precision"] == "int4" and row["fits"]
