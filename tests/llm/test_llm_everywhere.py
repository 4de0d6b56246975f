"""LLMs are networks everywhere (issue 18, item 4): ``compare``, ``sweep``, ``plot`` and ``export`` take
an LLM name or config.json with ``--phase``, ``--seq-len`` and ``--context``; results carry the parameter
count, model size and KV-cache bytes.

Expected values are derived here from the configs (Hugging Face's counts), not read back from the code:
Meta-Llama-3-8B has 8,030,261,248 parameters (its model card's "8.03B", Hugging Face's count), and its KV
cache holds ``2 (K and V) · L · KV · hd`` elements per position.
"""

from __future__ import annotations

import json

import pytest

from simulator.cli import main
from simulator.compare import compare, compare_devices
from simulator.errors import SimulatorError
from simulator.llm.as_network import SWEEP_COLUMNS, simulate_phase, sweep_phase
from simulator.llm.config import load_config
from simulator.sweeps import COLUMNS

LLAMA_3_8B_PARAMS = 8_030_261_248   # huggingface.co/meta-llama/Meta-Llama-3-8B ("8.03B params")


def llama_params(name: str) -> int:
    """Embedding ``V·d`` + L·(q ``d·H·hd`` + k, v ``2·d·KV·hd`` + o ``H·hd·d`` + gate, up, down ``3·d·ff``
    + two RMSNorms ``2·d``) + final norm ``d`` + untied LM head ``V·d``."""
    c = load_config(name)
    d, hd = c.hidden_size, c.head_dim
    layer = d * c.num_heads * hd * 2 + 2 * d * c.num_kv_heads * hd + 3 * d * c.intermediate_size + 2 * d
    return 2 * c.vocab_size * d + c.num_layers * layer + d


def kv_bytes(name: str, batch: int, positions: int, bytes_per_element: int = 2) -> int:
    """``batch · positions · 2 · L · KV · hd · bytes``: K and V of every layer for every position held."""
    c = load_config(name)
    return batch * positions * 2 * c.num_layers * c.num_kv_heads * c.head_dim * bytes_per_element


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_derivation_matches_hugging_face():
    assert llama_params("llama_3_8b") == LLAMA_3_8B_PARAMS
    assert kv_bytes("llama_3_8b", 1, 1) == 131_072   # 128 KiB per token: 2 · 32 · 8 · 128 · 2 B


def test_compare_llms_on_one_device_carries_params_model_size_and_kv():
    """Decode at context 1,024 and batch 8: the pass holds 1,025 positions per sequence."""
    comparison = compare(["llama_3_8b", "mistral_7b"], "h100-sxm", batch=8, params={"context": 1024})
    frame = comparison.frame().set_index("network")
    for name in ("llama_3_8b", "mistral_7b"):
        assert frame.loc[name, "params"] == llama_params(name)
        assert frame.loc[name, "model_size_bytes"] == 2 * llama_params(name)   # fp16: 2 bytes a weight
        assert frame.loc[name, "kv_cache_bytes"] == kv_bytes(name, 8, 1025)
    assert frame.loc["llama_3_8b", "params"] == LLAMA_3_8B_PARAMS
    single = simulate_phase("mistral_7b", "h100-sxm", 8, context=1024)
    assert comparison.results[1].latency_s == single.latency_s
    assert comparison.speedups[1] == comparison.results[0].latency_s / single.latency_s


def test_compare_an_llm_across_devices():
    comparison = compare_devices("llama_3_8b", ["h100-sxm", "a100-sxm-80gb"],
                                 params={"phase": "prefill", "seq_len": 512})
    assert comparison.axis == "device" and comparison.labels == ("h100-sxm", "a100-sxm-80gb")
    for result, device in zip(comparison.results, ("h100-sxm", "a100-sxm-80gb"), strict=True):
        assert result.counts.params == LLAMA_3_8B_PARAMS
        assert result.kv_cache_bytes == kv_bytes("llama_3_8b", 1, 512)
        single = simulate_phase("llama_3_8b", device, phase="prefill", seq_len=512)
        assert result.latency_s == single.latency_s


def test_compare_cli_json_and_refusals(capsys):
    code, out, _ = run(capsys, "compare", "llama_3_8b", "mistral_7b", "--device", "h100-sxm",
                       "--context", "1024", "--format", "json")
    records = json.loads(out)["networks"]
    assert code == 0 and [r["params"] for r in records] == [LLAMA_3_8B_PARAMS, llama_params("mistral_7b")]
    assert records[0]["kv_cache_bytes"] == kv_bytes("llama_3_8b", 1, 1025)
    code, out, _ = run(capsys, "compare", "llama_3_8b", "--device", "h100-sxm")
    assert code == 0 and "KV cache" in out and "8.03G" in out
    for argv in (("resnet50", "--device", "h100-sxm", "--phase", "prefill"),
                 ("llama_3_8b", "--device", "h100-sxm", "--resolution", "224"),
                 ("llama_3_8b", "--device", "h100-sxm", "--set", "dram.bandwidth_gb_per_s=100")):
        code, out, err = run(capsys, "compare", *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_fit_counts_the_kv_cache():
    """Llama-3-8B, batch 256 at context 8,000: weights 16.06 GB fit 80 GiB, the KV cache of
    256 · 8,001 · 128 KiB = 268.5 GB does not."""
    result = simulate_phase("llama_3_8b", "h100-sxm", 256, context=8000)
    assert result.kv_cache_bytes == kv_bytes("llama_3_8b", 256, 8001) == 268_469_010_432
    assert not result.fits
    assert simulate_phase("llama_3_8b", "h100-sxm", 1, context=8000).fits


def test_sweep_rows_equal_single_passes():
    table = sweep_phase(["llama_3_8b", "mistral_7b"], ["h100-sxm", "a100-sxm-80gb"], batches=[1, 8],
                        precisions=["fp16", "fp8"], context=1024, skip_unsupported=True)
    assert len(table) == 2 * (2 * 2 + 2)   # A100 has no fp8 peak: its fp8 rows are dropped
    for row in table.to_dict(orient="records"):
        single = simulate_phase(row["network"], row["device"], row["batch"], context=1024,
                                precision=row["precision"])
        assert row["latency_s"] == single.latency_s and row["energy_j"] == single.energy_j
        assert row["params"] == llama_params(row["network"]) == single.counts.params
        assert row["kv_cache_bytes"] == kv_bytes(row["network"], row["batch"], 1025,
                                                  1 if row["precision"] == "fp8" else 2)
        assert row["fits"] == single.fits
        assert (row["phase"], row["seq_len"], row["context"]) == ("decode", 1, 1024)
    assert [c for c in table.columns if c in COLUMNS] == list(COLUMNS) == list(SWEEP_COLUMNS)


def test_sweep_cli(capsys, tmp_path):
    path = tmp_path / "pass.json"
    code, _, err = run(capsys, "sweep", "llama_3_8b", "--device", "h100-sxm", "--batch", "1,4", "--phase",
                       "prefill", "--seq-len", "128", "-o", str(path))
    rows = json.loads(path.read_text())
    assert code == 0 and "wrote 2 configurations" in err
    assert [r["params"] for r in rows] == [LLAMA_3_8B_PARAMS] * 2
    assert [r["kv_cache_bytes"] for r in rows] == [kv_bytes("llama_3_8b", b, 128) for b in (1, 4)]
    path = tmp_path / "generate.json"
    code, _, _ = run(capsys, "sweep", "llama_3_8b", "--device", "h100-sxm", "--prompt", "128", "--generate",
                     "8", "-o", str(path))
    assert code == 0 and json.loads(path.read_text())[0]["params"] == LLAMA_3_8B_PARAMS
    for argv in (("resnet50", "--device", "h100-sxm", "--context", "8"),
                 ("llama_3_8b", "--device", "h100-sxm", "--phase", "decode", "--tp", "2")):
        code, out, err = run(capsys, "sweep", *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("chart", ["roofline", "layers", "compare"])
def test_plot_an_llm_pass(capsys, tmp_path, chart):
    path = tmp_path / f"{chart}.png"
    code, _, _ = run(capsys, "plot", chart, "llama_3_2_1b", "--device", "h100-sxm", "--phase", "decode",
                       "--context", "256", "-o", str(path))
    assert code == 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_refusals(capsys, tmp_path):
    for argv in (("latency-throughput", "llama_3_2_1b"), ("roofline", "resnet18", "--phase", "decode"),
                 ("roofline", "llama_3_2_1b", "resnet18")):
        code, _, err = run(capsys, "plot", *argv, "--device", "h100-sxm", "-o", str(tmp_path / "x.png"))
        assert code == 2 and len(err.strip().splitlines()) == 1


def test_export_refuses_what_it_cannot_write_in_one_line(capsys, tmp_path):
    """An LLM pass exports (tests/onnx/test_llm_export.py); a mixture of experts has no ONNX writer,
    and --context applies to LLMs only: each a one-line refusal, nothing written."""
    path = tmp_path / "llm.onnx"
    code, out, err = run(capsys, "export", "mixtral_8x7b", "--no-weights", "-o", str(path))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "MoEExperts" in err and not path.exists()
    code, _, err = run(capsys, "export", "resnet18", "--context", "4", "-o", str(path))
    assert code == 2 and "--context" in err


def test_library_refusals():
    with pytest.raises(SimulatorError, match="resolution"):
        compare(["llama_3_8b"], "h100-sxm", resolution=224)
    with pytest.raises(SimulatorError, match="phase applies to LLMs"):
        compare(["resnet18"], "h100-sxm", params={"phase": "decode"})
    with pytest.raises(SimulatorError, match="no peak for precision"):
        sweep_phase("llama_3_8b", "a100-sxm-80gb", precisions=["fp8"])
