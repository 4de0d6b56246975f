"""Repeated transformer blocks evaluated once (simulator.llm.phases.grouped_phase, GroupedEvaluation).

The group sizes are checked against the architecture (layers per block, windowed layers, dense and
mixture-of-experts layers); every metric against the per-layer evaluation of the same configurations,
within RTOL: a group's total is ``m·x`` summed over ``G`` columns where the reference sums ``x`` over
``L`` layers, so only the order of the float additions differs (≤ L ulps, ~1e-13 relative).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.engine.workload import Workload
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.inference import METRICS, evaluate_llm
from simulator.llm.parallel import link_arrays
from simulator.llm.phases import (
    PER_LAYER_FIELDS,
    WHOLE_NETWORK_FIELDS,
    GroupedEvaluation,
    grouped_phase,
    per_layer_evaluation,
    phase_workload,
    run_phase,
)
from simulator.llm.sweep import sweep_llm

RTOL = 1e-12
#: a Llama decoder layer's kernels: two norms, qkv, rope, attention, o_proj, add, gate_up, swiglu,
#: down, add (tests/llm/test_llm_decode_physics.py counts 355 = 11·32 + 3 for Llama-2-7B)
LLAMA_KERNELS_PER_LAYER = 11


def test_every_workload_field_is_per_layer_or_whole_network():
    """A field added to Workload must be classified, or grouping would keep it uncompressed."""
    names = {f.name for f in dataclasses.fields(Workload)}
    assert set(PER_LAYER_FIELDS) | set(WHOLE_NETWORK_FIELDS) == names
    assert not set(PER_LAYER_FIELDS) & set(WHOLE_NETWORK_FIELDS)


@pytest.mark.parametrize("tp", [1, 2])
def test_llama_blocks_collapse_to_one_group_per_kernel(tp):
    cfg = load_config("llama_3_8b")
    phase, groups = grouped_phase(cfg, 1, tp)
    reduces = 0 if tp == 1 else 2 * cfg.num_layers + 1  # AllReduce after o_proj, down and the embedding
    layers = LLAMA_KERNELS_PER_LAYER * cfg.num_layers + 3 + reduces  # + embedding, final norm, LM head
    assert len(groups.inverse) == phase_workload(cfg, 1, tp).workload.layers == layers
    assert groups.multiplicity.sum() == layers
    # each of the 11 kernels of a block is one group of num_layers layers (the last block's final add,
    # whose output is the network's, may stand alone on one device), plus the three single layers; the
    # all-reduces, all of (1, d), are one group of 2·num_layers + 1
    assert np.count_nonzero(groups.multiplicity >= cfg.num_layers - 1) == LLAMA_KERNELS_PER_LAYER + (tp > 1)
    assert len(groups.first) <= LLAMA_KERNELS_PER_LAYER + 4 + (tp > 1)
    assert phase.workload.layers == len(groups.first)
    # a group's members are layers of the same kernel in every block
    names = phase_workload(cfg, 1, tp).workload.names
    for g in np.flatnonzero(groups.multiplicity == cfg.num_layers):
        suffixes = {names[i].split(".", 1)[1] for i in np.flatnonzero(groups.inverse == g)}
        assert len(suffixes) == 1


def test_gemma2_windowed_and_global_attention_are_separate_groups():
    """Gemma-2 windows every other layer's attention: two attention groups of num_layers / 2."""
    cfg = load_config("gemma_2_9b")
    phase, groups = grouped_phase(cfg, 1)
    attention = [g for g, kind in enumerate(phase.workload.kinds) if kind == "CausalAttention"]
    windowed = sum(bool(cfg.window(i)) for i in range(cfg.num_layers))
    assert sorted(groups.multiplicity[attention]) == sorted([windowed, cfg.num_layers - windowed])
    assert windowed == cfg.num_layers // 2


def test_deepseek_first_dense_layer_is_not_grouped_with_the_moe_layers():
    cfg = load_config("deepseek_v2_lite")
    phase, groups = grouped_phase(cfg, 1)
    moe_layers = sum(cfg.is_moe_layer(i) for i in range(cfg.num_layers))
    assert moe_layers == cfg.num_layers - 1  # first_k_dense_replace = 1
    kinds = phase.workload.kinds
    experts = [g for g, kind in enumerate(kinds) if kind == "MoEExperts"]
    assert [groups.multiplicity[g] for g in experts] == [moe_layers]
    swiglu = sorted(groups.multiplicity[g] for g, kind in enumerate(kinds) if kind == "SwiGLU")
    assert swiglu == [1, moe_layers]  # the dense MLP's and the shared experts'


def _metrics(cfg, device, tp, prompt, generate, ideal):
    batch = np.array([1.0, 8.0, 64.0])
    n = len(batch)
    args = (cfg, resolve_device(device), batch, np.full(n, float(prompt)), np.full(n, float(generate)), tp,
            ["fp16", "fp8", "int4"][:n] if device == "h100-sxm" else ["fp16"] * n)
    weights = args[-1]
    acts = ["fp8" if w == "fp8" else "fp16" for w in weights]
    return evaluate_llm(*args, acts, acts, ideal=ideal)


@pytest.mark.parametrize(("model", "device", "tp", "prompt", "generate", "ideal"), [
    ("llama_3_8b", "h100-sxm", 2, 512, 64, False),
    ("llama_3_8b", "jetson-agx-orin", 1, 128, 16, True),
    ("gemma_2_9b", "h100-sxm", 1, 4000, 200, False),  # the window fills mid-generation
    ("deepseek_v2_lite", "h100-sxm", 1, 256, 32, False),
    ("mixtral_8x7b", "h100-sxm", 2, 256, 8, False),
])
def test_grouped_metrics_equal_the_per_layer_evaluation(model, device, tp, prompt, generate, ideal):
    cfg = load_config(model)
    grouped = _metrics(cfg, device, tp, prompt, generate, ideal)
    with per_layer_evaluation():
        reference = _metrics(cfg, device, tp, prompt, generate, ideal)
    for key in (*METRICS, "decode_s", "prefill_energy_j"):
        if reference[key].dtype.kind in "fc":
            np.testing.assert_allclose(grouped[key], reference[key], rtol=RTOL, atol=0, err_msg=key)
        else:
            np.testing.assert_array_equal(grouped[key], reference[key], err_msg=key)


def test_grouped_totals_and_per_layer_view_equal_the_per_layer_evaluation():
    cfg = load_config("llama_3_8b")
    device = resolve_device("h100-sxm")
    batch = np.array([1.0, 32.0])
    args = (cfg, device, 1, 2, np.array([100.0, 3000.0]), batch, ["fp16"] * 2, np.full(2, 16.0),
            np.full(2, 16.0), np.full(2, 16.0), False, link_arrays(device, np.full(2, 2.0), False))
    grouped = run_phase(*args, grouped=True)
    reference = run_phase(*args, grouped=False)
    assert isinstance(grouped, GroupedEvaluation) and not isinstance(reference, GroupedEvaluation)
    assert grouped.per_group.timing.latency_s.shape == (2, len(grouped.groups.first))
    for key, value in reference.totals.columns().items():
        if np.asarray(value).dtype.kind in "fc":
            np.testing.assert_allclose(getattr(grouped.totals, key), value, rtol=RTOL, atol=0, err_msg=key)
        else:
            np.testing.assert_array_equal(getattr(grouped.totals, key), value, err_msg=key)
    # the expanded view is the engine's own per-layer figures, element for element
    for name in ("ops", "level_bytes", "t_level_s", "latency_s", "t_comm_s", "memory_bound"):
        np.testing.assert_array_equal(getattr(grouped.timing, name), getattr(reference.timing, name))
    for name in ("compute_j", "level_j", "static_j", "total_j"):
        np.testing.assert_array_equal(getattr(grouped.energy, name), getattr(reference.energy, name))
    np.testing.assert_array_equal(grouped.bound, reference.bound)
    np.testing.assert_array_equal(grouped.binding, reference.binding)


def test_sweep_rows_equal_the_per_layer_sweep():
    args = ("llama_3_8b", ["h100-sxm", "l4"], [1, 16], [128, 1024], [32], ["fp16", "int4"])
    grouped = sweep_llm(*args)
    with per_layer_evaluation():
        reference = sweep_llm(*args)
    assert list(grouped.columns) == list(reference.columns) and len(grouped) == len(reference) == 16
    for column in reference.columns:
        if reference[column].dtype.kind in "fc":
            np.testing.assert_allclose(grouped[column], reference[column], rtol=RTOL, atol=0, err_msg=column)
        else:
            assert grouped[column].tolist() == reference[column].tolist(), column
