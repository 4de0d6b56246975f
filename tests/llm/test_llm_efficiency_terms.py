"""The LLM terms of the expected model: a runtime's fixed cost per forward pass, a fixed cost per
all-reduce, the decode projections' share of bandwidth. Expected values from the counts of the model
(all-reduces: two per decoder layer, Megatron-LM, plus the vocab-parallel embedding), not the code's."""

import pytest

from simulator.calibration.cv_llm import with_llm_figures
from simulator.hardware.loader import resolve_device
from simulator.llm.inference import simulate_llm


def _with(device, efficiency=None, interconnect=None):
    """``device`` with the LLM terms ``efficiency`` (the GEMV share: the ``[efficiency.gemv]`` entry's
    bandwidth fraction; None: no entry, the ``gemm`` class's) and the link's fields ``interconnect``."""
    update = {}
    if efficiency:
        update["efficiency"] = with_llm_figures(device.efficiency, efficiency)
    if interconnect:
        update["interconnect"] = device.interconnect.model_copy(update=interconnect)
    return device.model_copy(update=update)


def _metrics(device, **kw):
    args = dict(batch=4, prompt=64, generate=9, weight_precision="fp16")
    args.update(kw)
    return {k: float(v[0]) for k, v in simulate_llm("llama_2_7b", device, **args).metrics.items()
            if k in ("ttft_s", "tpot_s", "t_comm_s", "e2e_latency_s")}


def test_step_overhead_once_per_prefill_and_per_decode_step():
    base = _with(resolve_device("a100-sxm-80gb"), {"step_overhead_s": 0.0})
    step = 1.5e-3
    a, b = _metrics(base), _metrics(_with(base, {"step_overhead_s": step}))
    assert b["ttft_s"] - a["ttft_s"] == pytest.approx(step, rel=1e-9)
    assert b["tpot_s"] - a["tpot_s"] == pytest.approx(step, rel=1e-9)
    assert b["e2e_latency_s"] - a["e2e_latency_s"] == pytest.approx(9 * step, rel=1e-9)  # prefill + 8 steps


def test_allreduce_overhead_per_collective():
    base = _with(resolve_device("h100-sxm"), {"step_overhead_s": 0.0}, {"allreduce_overhead_s": 0.0})
    cost = 40e-6
    a = _metrics(base, tp=2, generate=1)
    b = _metrics(_with(base, interconnect={"allreduce_overhead_s": cost}), tp=2, generate=1)
    collectives = 2 * 32 + 1  # Llama-2-7B: 32 layers x (o_proj, down) + the embedding
    assert b["ttft_s"] - a["ttft_s"] == pytest.approx(collectives * cost, rel=1e-9)


def test_ideal_ignores_the_llm_terms():
    dev = resolve_device("h100-sxm")
    tuned = _with(dev, {"step_overhead_s": 0.01}, {"allreduce_overhead_s": 1e-3})
    assert _metrics(dev, tp=2, ideal=True) == _metrics(tuned, tp=2, ideal=True)


def test_gemv_fraction_changes_memory_bound_projections_only():
    """The gemv class's fraction is a decode step's one-row projections' (a prefill's projections are
    gemm, at that class's share): a batch-1 decode step (memory-bound) slows; a long prompt's
    first-token time barely moves (only the last token's LM head, one row per sequence, is gemv: 0.04%
    of that prefill)."""
    dev = resolve_device("jetson-agx-orin")
    off = _with(dev, {"gemv_bandwidth_fraction": None})
    half = _with(dev, {"gemv_bandwidth_fraction": 0.45})  # half the gemm class's 0.9
    a, b = _metrics(off, batch=1), _metrics(half, batch=1)
    assert b["tpot_s"] > 1.5 * a["tpot_s"]  # batch-1 decode is dominated by the projections' weights
    a100 = resolve_device("a100-sxm-80gb")
    long = dict(batch=8, prompt=1024, generate=1)
    fast = _metrics(_with(a100, {"gemv_bandwidth_fraction": 0.9}), **long)["ttft_s"]
    slow = _metrics(_with(a100, {"gemv_bandwidth_fraction": 0.6}), **long)["ttft_s"]
    assert slow == pytest.approx(fast, rel=2e-3)
