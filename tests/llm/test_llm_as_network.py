"""LLMs are networks of the product (issue 18): ``roofline count`` and ``roofline simulate`` take an LLM
name or config.json with ``--phase prefill|decode``, ``--seq-len`` and ``--context``
(:mod:`simulator.llm.as_network`); the results carry the parameter count.

Must-show figures: Meta-Llama-3-8B has 8,030,261,248 parameters (Hugging Face's published count,
derived here from its config.json), and a decode step at context 1,024 simulated as a network equals
``roofline llm``'s time per output token at that context (prompt 1,024, one output token: the step at
``c = P``).
"""

from __future__ import annotations

import json

import pytest

from simulator.api import count
from simulator.cli import main
from simulator.llm.as_network import simulate_phase
from simulator.llm.config import load_config
from simulator.llm.inference import simulate_llm

LLAMA_3_8B_PARAMS = 8_030_261_248   # huggingface.co/meta-llama/Meta-Llama-3-8B: "8.03B params"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_llama_3_8b_parameters_derived_from_its_config():
    """embed ``V·d`` + L·(q ``d·H·hd`` + k, v ``2·d·KV·hd`` + o ``H·hd·d`` + MLP ``3·d·ff`` + 2 norms ``d``)
    + final norm ``d`` + untied LM head ``V·d``: 128256·4096 + 32·(...) + 4096 + 128256·4096."""
    cfg = load_config("llama_3_8b")
    v, d, ff, layers = cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_layers
    h, kv, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    assert (v, d, ff, layers, h, kv, hd) == (128256, 4096, 14336, 32, 32, 8, 128)   # its config.json
    per_layer = d * h * hd + 2 * d * kv * hd + h * hd * d + 3 * d * ff + 2 * d
    expected = v * d + layers * per_layer + d + v * d
    assert expected == LLAMA_3_8B_PARAMS
    for phase in ({}, {"phase": "prefill", "seq_len": 7}, {"phase": "decode", "context": 100}):
        assert count("llama_3_8b", params=phase).params == expected   # every pass holds the whole model


def test_roofline_count_llama_3_8b(capsys):
    code, out, _ = run(capsys, "count", "llama_3_8b")
    assert code == 0 and "8,030,261,248 params" in out
    code, out, _ = run(capsys, "count", "llama_3_8b", "--phase", "prefill", "--seq-len", "512",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["totals"]["params"] == LLAMA_3_8B_PARAMS
    assert data["settings"]["params"] == {"phase": "prefill", "seq_len": 512, "context": 0}


def test_decode_step_equals_roofline_llm_time_per_output_token(capsys):
    """The same step through two entry points: simulate (a network) and simulate_llm (prompt 1024,
    generate 1: TPOT is the step at c = 1024), the runtime's fixed cost per pass included in both."""
    llm = simulate_llm("llama_3_8b", "h100-sxm", prompt=1024, generate=1).metrics["tpot_s"][0]
    result = simulate_phase("llama_3_8b", "h100-sxm", phase="decode", context=1024)
    assert result.latency_s == pytest.approx(llm, rel=1e-12)
    assert result.counts.params == LLAMA_3_8B_PARAMS
    assert result.params == {"phase": "decode", "seq_len": 1, "context": 1024}
    code, out, _ = run(capsys, "simulate", "llama_3_8b", "--device", "h100-sxm", "--phase", "decode",
                       "--context", "1024", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["totals"]["latency_s"] == pytest.approx(llm, rel=1e-12)
    assert data["totals"]["params"] == LLAMA_3_8B_PARAMS
    code, out, _ = run(capsys, "llm", "llama_3_8b", "--device", "h100-sxm", "--prompt", "1024", "--generate",
                       "1", "--format", "json")
    assert code == 0 and json.loads(out)["configurations"][0]["tpot_s"] == pytest.approx(llm, rel=1e-12)


def test_decode_steps_grow_with_the_context_and_the_ideal_bound_has_no_fixed_cost():
    short = simulate_phase("llama_3_8b", "h100-sxm", context=128, ideal=True)
    long = simulate_phase("llama_3_8b", "h100-sxm", context=8000, ideal=True)
    assert long.latency_s > short.latency_s   # the KV cache read grows with c
    assert short.latency_s == pytest.approx(sum(layer.latency_s for layer in short.layers), rel=1e-12)
    expected = simulate_phase("llama_3_8b", "h100-sxm", context=128)
    assert expected.ideal_latency_s == pytest.approx(short.latency_s, rel=1e-12)


def test_prefill_equals_roofline_llm_time_to_first_token():
    ttft = simulate_llm("llama_3_8b", "h100-sxm", prompt=512, generate=1).metrics["ttft_s"][0]
    assert simulate_phase("llama_3_8b", "h100-sxm", phase="prefill", seq_len=512).latency_s == pytest.approx(
        ttft, rel=1e-12)


@pytest.mark.parametrize(("argv", "words"), [
    (("count", "resnet18", "--phase", "decode"), "apply to LLMs"),
    (("simulate", "resnet18", "--device", "h100-sxm", "--context", "5"), "apply to LLMs"),
    (("count", "llama_3_8b", "--resolution", "224"), "do not apply to the LLM"),
    (("count", "llama_3_8b", "--param", "x=1"), "do not apply to the LLM"),
    (("count", "llama_3_8b", "--seq-len", "5"), "decode step runs 1 new token"),
    (("count", "llama_3_8b", "--context", "8192"), "context (cached tokens)"),
    (("count", "llama_3_8b", "--phase", "prefill", "--context", "8000", "--seq-len", "500"), "seq_len"),
    (("simulate", "llama_3_8b", "--device", "h100-sxm", "--set", "dram.bandwidth_scale=2"), "--set"),
])
def test_bad_llm_options_are_one_line_exit_2(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_llm_parameter_through_the_api():
    from simulator.errors import SimulatorError

    with pytest.raises(SimulatorError, match="takes the parameters phase, seq_len, context"):
        count("llama_3_8b", params={"tokens": 3})


def test_a_decode_step_reports_its_attention_work_at_its_context():
    """Llama-3-8B's decode step at c = 1,024: each of the 32 attention layers computes Q·Kᵀ and A·V over
    c + 1 keys, hd MACs each per head: ``2·H·hd·(c + 1)`` (was the c = 0 count, ``2·H·hd``, beside totals
    at the context); the layers' MACs add up to the network's at that context."""
    result = simulate_phase("llama_3_8b", "h100-sxm", phase="decode", context=1024)
    attention = [layer for layer in result.layers if layer.kind == "CausalAttention"]
    assert len(attention) == 32 and {layer.macs for layer in attention} == {2 * 32 * 128 * 1025}
    assert sum(layer.macs for layer in result.layers) == result.counts.macs
