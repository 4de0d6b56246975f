"""`roofline simulate` of an LLM pass carries its KV cache in the totals, as `compare` and `sweep` do
(issue 18, item 4: results carry the parameter count, model size and KV bytes); the figures are the hand
count of the published config."""

import json

import pytest

from simulator.cli import main

# Llama-2-7B (its config.json): 32 layers, 32 KV heads (multi-head attention), head size 4096 / 32 = 128
LAYERS, KV_HEADS, HEAD_DIM = 32, 32, 128
FP16_BYTES = 2


def hand_kv_bytes(positions: int, batch: int) -> int:
    """``2 (K and V) · KV · hd · L · positions · batch · bytes``."""
    return 2 * KV_HEADS * HEAD_DIM * LAYERS * positions * batch * FP16_BYTES


def simulate(capsys, *argv):
    code = main(["simulate", *map(str, argv), "--device", "h100-sxm"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize(("phase", "seq_len", "context", "batch", "positions"), [
    # a decode step over 512 cached tokens holds them and the new one: 513 positions
    ("decode", 1, 512, 2, 513),
    # a prefill of 64 tokens after 100 cached ones: 164 positions
    ("prefill", 64, 100, 1, 164),
])
def test_the_json_totals_carry_the_kv_cache_of_the_hand_count(capsys, phase, seq_len, context, batch,
                                                              positions):
    extra = ("--seq-len", seq_len) if phase == "prefill" else ()
    totals = json.loads(simulate(capsys, "llama_2_7b", "--phase", phase, "--context", context, *extra,
                                 "--batch", batch, "--format", "json"))["totals"]
    assert totals["kv_cache_bytes"] == hand_kv_bytes(positions, batch)
    # 2 × 6,738,415,616 bytes: Llama-2-7B's published parameter count in fp16
    assert totals["params"] == 6_738_415_616 and totals["model_size_bytes"] == 2 * 6_738_415_616


def test_the_text_view_names_the_kv_cache(capsys):
    out = simulate(capsys, "llama_2_7b", "--phase", "decode", "--context", 512)
    # 268,959,744 bytes, shown to three significant digits
    assert hand_kv_bytes(513, 1) == 268_959_744 and "KV cache    269 MB" in out


def test_a_network_without_a_kv_cache_reports_none(capsys):
    out = simulate(capsys, "resnet18", "--format", "json")
    assert "kv_cache_bytes" not in json.loads(out)["totals"]
    assert "KV cache" not in simulate(capsys, "resnet18")
