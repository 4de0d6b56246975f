"""LLMs are networks everywhere (issue 18, item 4): count, simulate, compare, sweep, plot and export take
an LLM name or a config.json, and report the figures a hand count of the config gives; a bad name is one
line naming the choices, LLMs included."""

import csv
import json

import pytest

from simulator.cli import main
from simulator.errors import SimulatorError

# a tiny Llama-layout config: d, heads, KV heads (GQA), head size d/H, MLP, layers, vocabulary
D, H, KV, HD, FFN, LAYERS, VOCAB = 64, 4, 2, 16, 96, 2, 100
CONTEXT = 8


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D,
        "intermediate_size": FFN, "num_attention_heads": H, "num_key_value_heads": KV,
        "num_hidden_layers": LAYERS, "vocab_size": VOCAB, "max_position_embeddings": 64,
        "tie_word_embeddings": False}))
    return str(path)


def llama_params(vocab, d, layers, ffn, kv_width):
    """Token table and untied head ``2·V·d``; per layer two RMSNorms ``2d``, the QKV ``d·(d + kv_width)``
    (``kv_width = 2·KV·hd``), o_proj ``d²``, gate/up/down ``3·d·I``; the final norm ``d``."""
    return 2 * vocab * d + layers * (2 * d + d * (d + kv_width) + d * d + 3 * d * ffn) + d


TINY_PARAMS = llama_params(VOCAB, D, LAYERS, FFN, 2 * KV * HD)
#: a decode step over CONTEXT cached tokens: the weights once per token, attention ``2·H·hd·(c + 1)``
#: per layer, the LM head ``V·d``
TINY_DECODE_MACS = (LAYERS * (D * (D + 2 * KV * HD) + D * D + 3 * D * FFN + 2 * H * HD * (CONTEXT + 1))
                    + VOCAB * D)
#: the cache at the step's end in fp16: ``2 (K and V) · KV · hd · layers · (c + 1) · 2 bytes``
TINY_KV_BYTES = 2 * KV * HD * LAYERS * (CONTEXT + 1) * 2


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_count_of_a_config_gives_the_hand_count(capsys, config):
    code, out, _ = run(capsys, "count", config, "--context", CONTEXT, "--format", "json")
    counts = json.loads(out)["totals"]
    assert code == 0 and counts["params"] == TINY_PARAMS and counts["macs"] == TINY_DECODE_MACS


def test_count_of_llama_2_7b_by_name_gives_its_hand_count(capsys):
    code, out, _ = run(capsys, "count", "llama_2_7b", "--phase", "decode", "--context", 512)
    # Llama-2-7B: V 32,000, d 4,096, 32 layers, I 11,008, multi-head (KV = H: kv_width = 2·d)
    assert code == 0 and f"{llama_params(32_000, 4096, 32, 11_008, 2 * 4096):,} params" in out


def test_simulate_of_a_config_carries_params_and_the_kv_cache(capsys, config):
    code, out, _ = run(capsys, "simulate", config, "--device", "h100-sxm", "--phase", "decode",
                       "--context", CONTEXT, "--format", "json")
    result = json.loads(out)
    assert code == 0 and result["totals"]["params"] == TINY_PARAMS
    assert result["totals"]["macs"] == TINY_DECODE_MACS
    assert result["totals"]["model_size_bytes"] == 2 * TINY_PARAMS   # fp16 weights
    # the memory check holds weights, peak activations and the KV cache together
    (held,) = [m for m in result["memory"] if "KV cache" in m["holds"]]
    assert held["required_bytes"] >= 2 * TINY_PARAMS + TINY_KV_BYTES


def test_compare_takes_a_config_beside_an_llm_name(capsys, config):
    code, out, _ = run(capsys, "compare", config, "llama_2_7b", "--device", "h100-sxm", "--context", CONTEXT,
                       "--format", "json")
    tiny, llama = json.loads(out)["networks"]
    assert code == 0 and (tiny["params"], tiny["macs"], tiny["kv_cache_bytes"]) == (
        TINY_PARAMS, TINY_DECODE_MACS, TINY_KV_BYTES)
    assert llama["params"] == llama_params(32_000, 4096, 32, 11_008, 2 * 4096)


def test_sweep_of_a_config_writes_one_row_per_batch(capsys, config, tmp_path):
    out = tmp_path / "sweep.csv"
    code, _, _ = run(capsys, "sweep", config, "--device", "h100-sxm", "--context", CONTEXT, "--batch", "1,2",
                     "-o", out)
    rows = list(csv.DictReader(out.open()))
    assert code == 0 and [int(r["batch"]) for r in rows] == [1, 2]
    assert {int(r["params"]) for r in rows} == {TINY_PARAMS}
    assert [int(r["macs"]) for r in rows] == [TINY_DECODE_MACS, 2 * TINY_DECODE_MACS]   # per sequence
    assert [int(r["kv_cache_bytes"]) for r in rows] == [TINY_KV_BYTES, 2 * TINY_KV_BYTES]


@pytest.mark.parametrize("chart", ["roofline", "layers", "energy", "memory"])
def test_plot_draws_a_config(capsys, config, tmp_path, chart):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{chart}.png"
    code, _, err = run(capsys, "plot", chart, config, "--device", "h100-sxm", "--context", CONTEXT,
                       "-o", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_of_a_config_reads_back_with_the_hand_count(capsys, config, tmp_path):
    pytest.importorskip("onnx")
    out = tmp_path / "tiny.onnx"
    assert run(capsys, "export", config, "-o", out, "--context", CONTEXT)[0] == 0
    code, printed, _ = run(capsys, "count", out)
    assert code == 0 and f"{TINY_PARAMS:,} params, {TINY_DECODE_MACS:,} MACs" in printed


COMMANDS = {
    "count": (), "simulate": ("--device", "h100-sxm"), "compare": ("--device", "h100-sxm"),
    "sweep": ("--device", "h100-sxm"), "plot": ("--device", "h100-sxm", "-o", "x.png"),
    "export": ("-o", "x.onnx"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_misspelt_llm_is_one_line_naming_it_among_the_choices(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    chart = ("roofline",) if command == "plot" else ()
    code, _, err = run(capsys, command, *chart, "lama_2_7b", *COMMANDS[command])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "did you mean 'llama_2_7b'" in err and "resnet50" in err and "config.json" in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_config_json_is_one_line(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    chart = ("roofline",) if command == "plot" else ()
    code, _, err = run(capsys, command, *chart, tmp_path / "none.json", *COMMANDS[command])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no config.json at" in err and "llama_2_7b" in err


def test_the_public_simulate_checks_its_settings_against_the_one_signature():
    from simulator import simulate

    with pytest.raises(SimulatorError, match=r"takes the settings precision, .*padding, got 'precison'"):
        simulate("resnet18", "h100-sxm", precison="int8")
    with pytest.raises(SimulatorError, match="fuse do not apply to the LLM"):
        simulate("llama_2_7b", "h100-sxm", fuse=False)
