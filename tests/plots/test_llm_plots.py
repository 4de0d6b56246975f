"""LLM charts draw the metrics of simulate_llm (computed here) and the device memory of the profile."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from simulator.cli import plot as plot_cli
from simulator.compat import tomllib
from simulator.errors import SimulatorError
from simulator.llm import simulate_llm
from simulator.plots import llm_memory_chart, llm_throughput_chart, llm_ttft_chart

PROFILES = Path(__file__).resolve().parents[2] / "hardware_profiles"
BATCHES = [1, 4, 16, 64]
PROMPTS = [128, 512, 2048]


def line(figure: Figure, gid: str):
    (found,) = [ln for ax in figure.axes for ln in ax.lines if ln.get_gid() == gid]
    return found


def test_throughput_chart_plots_tokens_per_s_and_tpot():
    result = simulate_llm("llama_3_8b", "h100-sxm", BATCHES, 1024, 64)
    figure = llm_throughput_chart(result)
    tokens, tpot = line(figure, "output_tokens_per_s"), line(figure, "tpot_ms")
    assert np.array_equal(tokens.get_xdata(), BATCHES)
    # tokens/s = B·G / e2e; TPOT drawn in ms
    expected = np.array(BATCHES) * 64 / result.metrics["e2e_latency_s"]
    np.testing.assert_allclose(tokens.get_ydata(), expected, rtol=1e-12)
    np.testing.assert_allclose(tpot.get_ydata(), result.metrics["tpot_s"] * 1e3, rtol=1e-12)
    title = figure._suptitle.get_text().replace("\n", " ")
    assert "llama_3_8b" in title and "h100-sxm" in title and "prompt 1024" in title and "fp16" in title


def test_ttft_chart_plots_one_line_per_batch_over_prompts():
    results = [simulate_llm("llama_3_8b", "jetson-agx-orin", [1, 8], p, 1, weight_precision="int4")
               for p in PROMPTS]
    figure = llm_ttft_chart(results)
    for i, batch in enumerate([1, 8]):
        drawn = line(figure, f"ttft_batch_{batch}")
        assert np.array_equal(drawn.get_xdata(), PROMPTS)
        np.testing.assert_allclose(drawn.get_ydata(), [r.metrics["ttft_s"][i] * 1e3 for r in results])
    assert "int4" in figure._suptitle.get_text()


@pytest.mark.parametrize(("device", "toml", "tp"), [("h100-sxm", "h100-sxm.toml", 1),
                                                    ("jetson-agx-orin", "jetson-agx-orin.toml", 1),
                                                    ("h100-sxm", "h100-sxm.toml", 2)])
def test_memory_chart_stacks_the_parts_under_the_device_memory(device, toml, tp):
    by_batch = simulate_llm("llama_2_7b", device, BATCHES, 2048, 128, tp=tp)
    by_context = [simulate_llm("llama_2_7b", device, 8, p, 128, tp=tp) for p in PROMPTS]
    figure = llm_memory_chart(by_batch, by_context)
    profile = tomllib.loads((PROFILES / toml).read_text())
    dram = next(level for level in profile["memory"] if level["name"] == "dram")
    capacity_bytes = dram["capacity_gib"] * 2**30
    for ax in figure.axes:
        (capacity,) = [ln for ln in ax.lines if ln.get_gid() == "capacity"]
        assert capacity.get_ydata()[0] == pytest.approx(capacity_bytes / 1e9)
    left, right = figure.axes[:2]
    # per device: weights /TP; KV cache 2·layers·heads·hd·2 bytes per token (Llama-2-7B: 32 layers,
    # 32 KV heads, hd 128), heads split over TP
    kv_per_token = 2 * 32 * 32 * 128 * 2 / tp
    heights = {gid: [p.get_height() for p in left.patches if p.get_gid() == gid]
               for gid in ("weight_bytes", "kv_cache_bytes")}
    kv_expected = np.array(BATCHES) * kv_per_token * (2048 + 128) / 1e9
    np.testing.assert_allclose(heights["kv_cache_bytes"], kv_expected)
    # fp16: 2 bytes per parameter (6,738,415,616, the HF count), split over TP (the norms, 65 x 4096
    # parameters, are replicated: within 1e-4)
    np.testing.assert_allclose(heights["weight_bytes"], 6_738_415_616 * 2 / tp / 1e9, rtol=1e-4)
    kv_right = [p.get_height() for p in right.patches if p.get_gid() == "kv_cache_bytes"]
    np.testing.assert_allclose(kv_right, [8 * kv_per_token * (p + 128) / 1e9 for p in PROMPTS])


def test_charts_refuse_mixed_results():
    a = simulate_llm("gpt2", "h100-sxm", 1, 128, 8)
    b = simulate_llm("gpt2", "jetson-agx-orin", 1, 256, 8)
    with pytest.raises(SimulatorError, match="differ in device"):
        llm_ttft_chart([a, b])


@pytest.mark.parametrize("chart", plot_cli.LLM_CHARTS)
def test_plot_command_draws_llm_charts(chart, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    plot_cli.configure(parser)
    out = tmp_path / "chart.png"
    prompts = ["--prompt", "128,256"] if chart != "llm-throughput" else []
    args = parser.parse_args([chart, "gpt2", "--device", "h100-sxm", "--batches", "1,8", *prompts,
                              "--generate", "8", "-o", str(out)])
    assert args.handler(args) == 0 and out.stat().st_size > 0
