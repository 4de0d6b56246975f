"""Review fixes: counts printed as integers, an LLM's input as tokens, the shared resolution option in
export, help wording, left-aligned text in listings, and ``--set`` parsed one way in the server."""

from __future__ import annotations

import pytest

from simulator.cli import main

# llama_3_8b (Meta's config.json): vocab 128256, hidden 4096, 32 layers, MLP 14336, 8 KV heads of 128
LLAMA3_8B_LAYER = 4096 * 4096 * 2 + 4096 * 1024 * 2 + 3 * 4096 * 14336 + 2 * 4096  # q, o, k, v, MLP, norms
LLAMA3_8B_PARAMS = 2 * 128256 * 4096 + 32 * LLAMA3_8B_LAYER + 4096  # untied embedding and head, final norm


def _run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_llm_sweep_table_prints_counts_as_integers(capsys):
    out = _run(capsys, "sweep", "llama_3_8b", "--device", "h100-sxm", "--phase", "decode", "--context", "512",
               "--batch", "1,8")
    # decode at context 512 holds 513 tokens: 32 layers x (K, V) x 8 heads x 128 x 2 bytes (fp16) each
    kv_bytes = [batch * 32 * 2 * 8 * 128 * 2 * 513 for batch in (1, 8)]
    rows = [line.split() for line in out.splitlines() if line.startswith("llama_3_8b")]
    assert [row[5:7] for row in rows] == [[str(LLAMA3_8B_PARAMS), str(kv)] for kv in kv_bytes]
    assert "e+" not in out


def test_llm_compare_shows_tokens_and_context(capsys):
    out = _run(capsys, "compare", "llama_3_8b", "mistral_7b", "--device", "h100-sxm", "--phase", "decode",
               "--context", "512")
    row = next(line for line in out.splitlines() if line.startswith("input"))
    assert row.split("  ")[0] == "input"
    assert row.count("1 token, context 512") == 2
    assert "1×1" not in out


def test_by_kind_bytes_moved_is_an_int():
    from simulator import simulate

    frame = simulate("resnet50", "h100-sxm", precision="fp16").by_kind()
    # resnet50's fc at fp16: weights 2048 x 1000, bias 1000, input 2048, output 1000, 2 bytes each
    assert frame.loc["Linear", "bytes_moved"] == (2048 * 1000 + 1000 + 2048 + 1000) * 2
    assert all(isinstance(value, int) for value in frame["bytes_moved"].astype(object))
    assert str(frame["bytes_moved"].dtype) == "int64"


def test_export_takes_a_non_square_resolution(capsys, tmp_path):
    from simulator.catalog import build_network

    path = tmp_path / "resnet18.onnx"
    out = _run(capsys, "export", "resnet18", "--resolution", "64x96", "--no-weights", "-o", str(path))
    assert "input batchx3x64x96" in out
    network = build_network(path)
    assert tuple(network.input_shape) == (3, 64, 96)
    # conv1: 7x7, stride 2, pad 3, 3 -> 64 channels: each side halves
    assert tuple(network.nodes[0].output_shape) == (64, 64 // 2, 96 // 2)


@pytest.mark.parametrize("command", ["sweep", "export"])
def test_resolution_placeholder_is_size_or_hxw(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--resolution SIZE|HxW" in capsys.readouterr().out


def _help(capsys, command: str) -> str:
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit):
        patch.setenv("COLUMNS", "10000")  # no wrapping (argparse breaks lines after hyphens)
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse's wrapping undone


def test_plot_help_names_llms_and_the_llm_charts(capsys):
    text = _help(capsys, "plot")
    network_help = text[text.index("NETWORK built-in"):]
    assert "LLMs" in network_help and "config.json" in network_help
    description = text[text.index("Draw a chart"):text.index("positional arguments")]
    for chart in ("llm-throughput", "llm-ttft", "llm-memory"):
        assert chart in description


def test_compare_description_names_devices(capsys):
    text = _help(capsys, "compare")
    assert "one network on several devices" in text[:text.index("positional arguments")]


def test_llm_field_notes_name_every_deepseek_family():
    from simulator.cli.llm import epilog

    # the config reader's DeepSeek families: V2 and V3 (multi-head latent attention, DeepSeekMoE)
    lines = {line.split()[0]: line for line in epilog().splitlines() if line.startswith("  ")}
    for key in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                "moe_intermediate_size"):
        assert "deepseek_v2, deepseek_v3" in lines[key], lines[key]


def _column_starts(out: str) -> tuple[list[int], list[str]]:
    """Where each column starts (from the rule of dashes) and the data lines."""
    lines = out.splitlines()
    rule = lines[1]
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    return starts, lines[2:]


@pytest.mark.parametrize("what", ["runtimes", "devices"])
def test_listing_text_columns_are_left_aligned(capsys, what):
    starts, rows = _column_starts(_run(capsys, "list", what))
    # every column of these listings is text: each cell starts at its column's first character
    for row in rows:
        for start in starts:
            assert row[start] != " ", (start, row)


def test_serve_refuses_a_setting_given_twice(server):
    import json

    from tests.helpers import serve_request

    body = {"networks": "resnet18", "devices": "jetson-agx-orin",
            "settings": "dram.bandwidth_scale=0.5\ndram.bandwidth_scale=1"}
    status, data = serve_request(server, "POST", "/api/report", body)
    line = json.loads(data)["error"]
    assert status == 400
    assert "\n" not in line and "'dram.bandwidth_scale' a second time" in line
