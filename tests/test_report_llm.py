"""The report's LLM views (:mod:`simulator.report_html_llm`) without a browser.

Hand-derived figure: Llama-3-8B (its config.json: 32 layers, 8 KV heads of head_dim 128) keeps a key
and a value per layer, KV head and channel for every token: 2 × 32 × 8 × 128 × 2 bytes (fp16) =
131,072 bytes per token, so a prompt of 512 tokens generating 128 holds 512 + 128 = 640 tokens per
sequence; 4 sequences need 4 × 640 × 131,072 = 335,544,320 bytes of KV cache. Its weights are
8,030,261,248 parameters (its model card) × 2 bytes.
"""

from __future__ import annotations

import pytest

from simulator.cli import main
from simulator.report_html import embedded_data, html_report_data, render_html_report

KV_BYTES_PER_TOKEN = 2 * 32 * 8 * 128 * 2  # K and V × layers × KV heads × head_dim × fp16 bytes
LLAMA_3_8B_PARAMS = 8_030_261_248


@pytest.fixture(scope="module")
def data() -> dict:
    return html_report_data(["llama_3_8b", "resnet18"], ["h100-sxm"], ["fp16", "fp32"], [1, 4],
                            contexts=[512, 8192], generate=128)


def _run(data, precision, prompt):
    return next(r for r in data["llm"]["llama_3_8b"]["runs"] if r["precision"] == precision
                and r["prompt"] == prompt)


def test_the_kv_cache_and_weights_are_the_hand_derived_bytes(data):
    run = _run(data, "fp16", 512)
    assert run["kv_cache_bytes"] == [1 * 640 * KV_BYTES_PER_TOKEN, 4 * 640 * KV_BYTES_PER_TOKEN]
    assert run["kv_cache_bytes"][1] == 335_544_320
    assert run["weight_bytes"] == [LLAMA_3_8B_PARAMS * 2] * 2


def test_contexts_beyond_the_models_positions_and_precisions_it_lacks_are_left_out(data):
    # Llama-3-8B has 8,192 positions: 8,192 + 128 - 1 is too many; fp32 is no LLM weight precision
    assert data["llm"]["llama_3_8b"]["contexts"] == [512]
    skipped = data["settings"]["skipped"]
    assert any(s.startswith("llama_3_8b context 8192") for s in skipped)
    assert any(s.startswith("llama_3_8b on h100-sxm fp32") for s in skipped)
    assert {r["precision"] for r in data["llm"]["llama_3_8b"]["runs"]} == {"fp16"}
    assert {c["precision"] for c in data["configs"] if c["network"] == "resnet18"} == {"fp16", "fp32"}
    assert "resnet18" not in data["llm"]


def test_the_other_views_show_one_decode_step(data):
    from simulator.llm.as_network import simulate_phase

    config = next(c for c in data["configs"] if c["network"] == "llama_3_8b" and c["batch"] == 4)
    step = simulate_phase("llama_3_8b", "h100-sxm", 4, phase="decode", context=512, weight_precision="fp16")
    assert config["latency_s"] == step.latency_s
    assert data["llm_pass"]["llama_3_8b"] == "one decode step over 512 cached tokens"


def test_the_page_embeds_the_llm_views(data):
    page = render_html_report(data)
    assert 'id="llm-panel"' in page and 'id="context"' in page
    assert embedded_data(page)["llm"] == data["llm"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--context", "0"], "--context"),
    (["--generate", "0"], "--generate"),
    (["--context", "9000"], "none of the contexts 9000 fits the LLM 'llama_3_8b'"),
    (["--set", "dram.bandwidth_scale=0.5"], "do not apply to the LLM 'llama_3_8b'"),
])
def test_bad_llm_input_is_one_line(tmp_path, capsys, argv, message):
    assert main(["report", "llama_3_8b", "--device", "h100-sxm", *argv, "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
