"""Tensor-parallel all-reduces are AllReduce nodes the LLM network builder adds (no node-name suffixes).

Megatron-LM's split all-reduces the ``(tokens, d)`` output of each row-parallel projection (attention's
``o_proj``, the MLP's ``down`` or the experts) and of the vocab-parallel embedding: ``2·L + 1`` per pass.
The time of each is the ring all-reduce ``2(N−1)·latency + 2(N−1)/N · bytes / bandwidth`` over the
profile's link, plus one NCCL kernel launch in the expected model.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.inference import simulate_llm
from simulator.llm.network import build_network
from simulator.llm.phases import kernels_per_step, phase_workload, run_phase

H100 = resolve_device("h100-sxm")
LATENCY_S = 2.5e-6              # h100-sxm [interconnect] latency_us 2.5 (NVLink 4, per message step)
BANDWIDTH_BYTES_PER_S = 450e9   # 450 GB/s per direction per GPU
#: h100-sxm [efficiency] kernel_overhead_us, one NCCL kernel per all-reduce: the datacenter family's fitted
#: launch cost (tools/fit_profiles.py, refitted when the dataset grows), in the 2-10 us the profiles state
LAUNCH_S = H100.efficiency.kernel_overhead_s


def reduced_after(cfg, tp: int, tokens: int = 1) -> set[str]:
    """The nodes whose output an AllReduce node of the built pass sums."""
    return {node.inputs[0] for node in build_network(cfg, tokens, 0, tp).nodes if node.kind == "AllReduce"}


def ring_s(devices: int, elements: int, bits: int = 16) -> float:
    """One ring all-reduce of ``elements`` activations across ``devices``, plus its kernel launch."""
    data = elements * bits / 8
    return (2 * (devices - 1) * LATENCY_S + 2 * (devices - 1) / devices * data / BANDWIDTH_BYTES_PER_S
            + LAUNCH_S)


def test_profile_figures_used_by_hand():
    assert H100.interconnect.latency_s == LATENCY_S
    assert H100.interconnect.bandwidth_bytes_per_s == BANDWIDTH_BYTES_PER_S
    assert 2e-6 <= LAUNCH_S <= 10e-6  # the launch range of the CUDA Graphs blog the profiles cite
    assert H100.interconnect.allreduce_overhead_s == 0.0


def test_llama_2_70b_at_tp_4_adds_two_all_reduces_per_layer_and_one_for_the_embedding():
    cfg = load_config("llama_2_70b")
    marked = reduced_after(cfg, 4)
    expected = {"embed"} | {f"l{i}.{part}" for i in range(80) for part in ("o_proj", "down")}
    assert marked == expected and len(marked) == 2 * 80 + 1 == 161
    reduced = phase_workload(cfg, 1, 4).workload.allreduce_elements
    assert np.count_nonzero(reduced) == 161
    assert set(reduced[reduced > 0]) == {8192}      # T·d: one token of d = 8192 per all-reduce
    # one NCCL kernel per all-reduce on top of the layers' own kernels
    assert kernels_per_step(cfg, 1, 4) == kernels_per_step(cfg, 1, 1) + 161
    assert reduced_after(cfg, 1) == set()   # one device: nothing to reduce


@pytest.mark.parametrize(("model", "tp", "layers"), [
    ("mixtral_8x7b", 2, 32),          # o_proj and the experts
    ("qwen1_5_moe_a2_7b", 2, 24),     # the shared expert's output joins the experts' one all-reduce
    ("deepseek_v2_lite", 2, 27),      # MLA's o_proj; a dense first layer's down, then the experts
    ("gpt2", 2, 12),                  # the plain MLP's down
])
def test_every_family_all_reduces_twice_per_layer_and_once_for_the_embedding(model, tp, layers):
    marked = reduced_after(load_config(model), tp)
    assert len(marked) == 2 * layers + 1 and "embed" in marked
    assert not any(name.endswith("shared_down") for name in marked)


def test_llama_2_70b_tp_4_time_per_output_token_is_the_step_plus_161_ring_all_reduces():
    """TPOT (prompt 128, one decode step at c = 128) = the step's layers without the link + the runtime's
    host cost per pass + 161 all-reduces of one token; the communication total adds the prefill's 161
    all-reduces of 128 tokens."""
    cfg = load_config("llama_2_70b")
    result = simulate_llm(cfg, H100, prompt=128, generate=2, tp=4)
    bits = np.array([16.0])
    step = run_phase(cfg, H100, 1, 4, np.array([128.0]), np.array([1.0]), ["fp16"], bits, bits, bits,
                     False, None)
    host_s = H100.efficiency.step_overhead_s
    decode_comm_s = 161 * ring_s(4, 8192)
    prefill_comm_s = 161 * ring_s(4, 128 * 8192)
    assert result.metrics["tpot_s"][0] == pytest.approx(step.totals.latency_s[0] + host_s + decode_comm_s,
                                                        rel=1e-9)
    assert result.metrics["t_comm_s"][0] == pytest.approx(prefill_comm_s + decode_comm_s, rel=1e-9)
