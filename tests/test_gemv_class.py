"""The ``gemv`` kernel class: a projection of one row per sequence (an LLM decode step's Linear, LM head
and experts) runs as ``gemv``, whose figures a profile gives in ``[efficiency.gemv]`` (the figures it
omits, and a profile without the table, fall back to ``gemm``'s). Expected times are derived by hand
from the TOML files' figures, not from the code's lookup."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from simulator.compat import tomllib
from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device, resolve_runtime
from simulator.kernels import CLASS_FALLBACK, EFFICIENCY_CLASSES
from simulator.llm.config import load_config
from simulator.llm.phases import phase_workload, run_phase
from simulator.model.layers import Linear, LMHead, MoEExperts
from simulator.model.layers.fused import Fused
from simulator.model.layers.llm import RMSNorm

PROFILES = Path(__file__).resolve().parents[1] / "hardware_profiles"
#: Llama-3-8B's MLP down projection: d = 4096 outputs from I = 14336 inputs, no bias, fp16
D, INNER = 4096, 14336
DOWN_WEIGHT_BYTES = D * INNER * 2


def _toml(name: str) -> dict:
    return tomllib.loads((PROFILES / f"{name}.toml").read_text(encoding="utf-8"))


def _dram_bandwidth_bytes_per_s(profile: dict) -> float:
    dram = next(level for level in profile["memory"] if level["name"] == "dram")
    return dram["bandwidth_gb_per_s"] * 1e9


def _decode_down_latency_s(device) -> float:
    """Latency of layer 0's MLP down projection in a Llama-3-8B decode step at batch 1, fp16, 16
    cached tokens (every layer evaluated: no grouping)."""
    cfg = load_config("llama_3_8b")
    ev = run_phase(cfg, device, 1, 1, np.array([16.0]), np.array([1]), ["fp16"], np.array([16.0]),
                   np.array([16.0]), np.array([16.0]), False, None, grouped=False)
    names = phase_workload(cfg, 1).workload.names
    return float(ev.timing.latency_s[0, names.index("l0.down")])


def test_gemv_is_a_refinement_of_gemm():
    assert "gemv" in EFFICIENCY_CLASSES
    assert CLASS_FALLBACK["gemv"] == "gemm"


def test_a_projection_of_one_row_per_sequence_is_a_gemv():
    linear = Linear(D, INNER, bias=False)
    assert linear.efficiency_class_for(((1, INNER),)) == "gemv"        # a decode step's token
    assert linear.efficiency_class_for(((7, INNER),)) == "gemm"        # a prefill of 7 tokens
    assert linear.efficiency_class_for(((1, 1, INNER),)) == "gemv"
    assert linear.efficiency_class_for(((INNER,),)) == "gemm"          # a CNN head's feature vector
    fused = Fused(linear, (RMSNorm(D),), ((1, D),))
    assert fused.efficiency_class_for(((1, INNER),)) == "gemv"         # the base kernel's class
    assert LMHead(128_256, D).efficiency_class_for(((1, D),)) == "gemv"
    assert LMHead(128_256, D, last_only=True).efficiency_class_for(((9, D),)) == "gemm"  # prefill
    assert MoEExperts(8, 2, D, INNER).efficiency_class_for(((1, D),)) == "gemv"
    assert MoEExperts(8, 2, D, INNER).efficiency_class_for(((5, D),)) == "gemm"


def test_a_decode_pass_runs_its_projections_as_gemv_and_a_prefill_as_gemm():
    cfg = load_config("llama_3_8b")

    def classes(tokens):
        workload = phase_workload(cfg, tokens).workload
        return dict(zip(workload.names, workload.efficiency_classes, strict=True))

    decode, prefill = classes(1), classes(8)
    for name in ("l0.qkv", "l0.o_proj", "l0.gate_up", "l0.down", "lm_head"):
        assert (decode[name], prefill[name]) == ("gemv", "gemm"), name


def test_batch1_decode_linear_streams_its_weights_at_the_gemv_bandwidth_fraction():
    """A100 80GB: the down projection (4096 x 14336 fp16 weights, 117 MB, beyond the 40 MiB L2) at
    batch 1 is memory-bound: weight bytes / (HBM bandwidth x [efficiency.gemv] bandwidth_fraction)
    plus one kernel's launch (``kernel_overhead_us``; the class's own overhead is ``default``'s, none).
    Its activations (36 kB) stay in L2, and its compute time, 2 x 4096 x 14336 ops at the fp16 peak x
    llm_compute_fraction x the fill of 4 tiles of 1024 outputs over 108 SMs, is under a third of it."""
    profile = _toml("a100-sxm-80gb")
    efficiency = profile["efficiency"]
    fraction = efficiency["gemv"]["bandwidth_fraction"]
    assert "compute_fraction" not in efficiency["gemv"] and "overhead_us" not in efficiency["default"]
    bandwidth = _dram_bandwidth_bytes_per_s(profile)
    expected_s = DOWN_WEIGHT_BYTES / (bandwidth * fraction) + efficiency["kernel_overhead_us"] * 1e-6
    fill = D / (108 * 1024)
    compute_s = 2 * D * INNER / (312e12 * efficiency["llm_compute_fraction"] * fill)
    assert compute_s < DOWN_WEIGHT_BYTES / (bandwidth * fraction) / 3
    assert _decode_down_latency_s(resolve_device("a100-sxm-80gb")) == pytest.approx(expected_s, rel=1e-9)


def test_a_profile_without_a_gemv_entry_streams_at_the_gemm_class_figures(tmp_path):
    """The same profile with its [efficiency.gemv] table removed: the decode projection falls back to
    the gemm class, which this profile answers with its ``default`` table (bandwidth_fraction 0.9)."""
    text = (PROFILES / "a100-sxm-80gb.toml").read_text(encoding="utf-8")
    profile = _toml("a100-sxm-80gb")
    value = profile["efficiency"]["gemv"]["bandwidth_fraction"]
    gemv = f"[efficiency.gemv]\nbandwidth_fraction = {value!r}\n"
    assert text.count(gemv) == 1
    path = tmp_path / "a100-no-gemv.toml"
    path.write_text(text.replace(gemv, "").replace('name = "a100-sxm-80gb"', 'name = "a100-no-gemv"'),
                    encoding="utf-8")
    device = resolve_device(path)
    assert "gemv" not in device.efficiency.classes
    efficiency = profile["efficiency"]
    assert "gemm" not in efficiency
    expected_s = (DOWN_WEIGHT_BYTES / (_dram_bandwidth_bytes_per_s(profile)
                                       * efficiency["default"]["bandwidth_fraction"])
                  + efficiency["kernel_overhead_us"] * 1e-6)
    assert _decode_down_latency_s(device) == pytest.approx(expected_s, rel=1e-9)


def test_a_shipped_profile_without_gemv_answers_with_its_gemm_table_not_default():
    """STM32H743: a [efficiency.gemm] table (compute 0.19) apart from [efficiency.default] (0.40), no
    gemv table: a one-row projection computes at the gemm table's fraction."""
    figures = _toml("stm32h743")["efficiency"]
    assert "gemv" not in figures and figures["gemm"] != figures["default"]
    entry = resolve_device("stm32h743").efficiency.for_class("gemv")
    assert (entry.compute_fraction, entry.bandwidth_fraction) == (figures["gemm"]["compute_fraction"],
                                                                  figures["gemm"]["bandwidth_fraction"])


def test_a_gemv_entry_takes_the_figures_it_omits_from_gemm_as_a_runtime_scales_them():
    """Orin: [efficiency.gemv] gives only bandwidth_fraction; its compute fraction is the gemm table's,
    times the hf-transformers runtime file's gemm factor when that runtime runs."""
    figures = _toml("jetson-agx-orin")["efficiency"]
    gemm, gemv = figures["gemm"], figures["gemv"]
    assert set(gemv) == {"bandwidth_fraction"}
    entry = resolve_device("jetson-agx-orin").efficiency.for_class("gemv")
    assert (entry.compute_fraction, entry.bandwidth_fraction) == (gemm["compute_fraction"],
                                                                  gemv["bandwidth_fraction"])
    factor = resolve_runtime("hf-transformers").compute_scale["gemm"]
    scaled = resolve_device("jetson-agx-orin@hf-transformers").efficiency.for_class("gemv")
    assert scaled.compute_fraction == pytest.approx(gemm["compute_fraction"] * factor, rel=1e-12)
    assert scaled.bandwidth_fraction == gemv["bandwidth_fraction"]


def test_the_old_key_is_refused_in_one_line_naming_the_new_table(tmp_path):
    """A profile written before the class (the figure as an [efficiency] key) is refused, not read as
    the gemm class's figure without a word."""
    text = (PROFILES / "a100-sxm-80gb.toml").read_text(encoding="utf-8")
    value = _toml("a100-sxm-80gb")["efficiency"]["gemv"]["bandwidth_fraction"]
    gemv = f"[efficiency.gemv]\nbandwidth_fraction = {value!r}\n"
    assert text.count(gemv) == 1 and text.count("\nllm_compute_fraction = ") == 1
    old = text.replace(gemv, "").replace(
        "\nllm_compute_fraction = ", f"\ngemv_bandwidth_fraction = {value!r}\nllm_compute_fraction = ")
    path = tmp_path / "old.toml"
    path.write_text(old.replace('name = "a100-sxm-80gb"', 'name = "old"'), encoding="utf-8")
    with pytest.raises(SimulatorError, match=r"gemv_bandwidth_fraction.*\[efficiency\.gemv\]"):
        resolve_device(path)
    from simulator.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["simulate", "resnet18", "--device", str(path)])
    assert status == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "[efficiency.gemv]" in lines[0]
