"""The link between tensor-parallel devices is a level of the hardware arrays (engine.configs.LinkLevel):
bandwidth, latency per transfer and a fixed cost per all-reduce, its stream an AllReduce node's activations.

Checked by hand from the h100-sxm profile's ``[interconnect]`` (NVLink 4 through NVSwitch: 450 GB/s per
direction per GPU, 2.5 us per message step) for Llama-2-7B's decode step at tensor parallelism 4: every
AllReduce node sums the ``(1, 4096)`` fp16 output of a row-parallel projection, ``D = 4096 · 2 = 8192`` bytes,
sent as a ring all-reduce, ``2(N−1) = 6`` transfers carrying ``2(N−1)/N · D = 1.5 · 8192 = 12288`` bytes.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.timing import link_bytes
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.parallel import link_arrays
from simulator.llm.phases import at_context, phase_workload, run_phase

H100 = resolve_device("h100-sxm")
LATENCY_S = 2.5e-6              # h100-sxm [interconnect] latency_us = 2.5
BANDWIDTH_BYTES_PER_S = 450e9   # h100-sxm [interconnect] bandwidth_gb_per_s = 450
DEVICES = 4
HIDDEN = 4096                   # Llama-2-7B's d_model
REDUCED_BYTES = HIDDEN * 2      # one token's fp16 activations
RING_BYTES = 2 * (DEVICES - 1) / DEVICES * REDUCED_BYTES  # 12288.0


CONTEXT, BITS = np.array([512.0]), np.array([16.0])


def _workload():
    """Llama-2-7B's decode step at tp = 4 over 512 cached tokens, as the engine evaluates it."""
    return at_context(phase_workload(load_config("llama_2_7b"), 1, DEVICES), CONTEXT, BITS)


def _decode(ideal: bool):
    link = link_arrays(H100, np.array([float(DEVICES)]), ideal)
    return run_phase(load_config("llama_2_7b"), H100, 1, DEVICES, CONTEXT, np.array([1.0]), ["fp16"],
                     BITS, BITS, BITS, ideal, link, grouped=False)


def test_profile_link_figures():
    assert H100.interconnect.latency_s == LATENCY_S
    assert H100.interconnect.bandwidth_bytes_per_s == BANDWIDTH_BYTES_PER_S
    assert RING_BYTES == 12288.0


@pytest.mark.parametrize("ideal", [True, False])
def test_allreduce_node_costs_its_link_level_by_hand(ideal: bool):
    ev = _decode(ideal)
    link = ev.hardware.link
    assert link is not None and link.name == "link"
    assert link.bandwidth_bytes_per_s[0] == BANDWIDTH_BYTES_PER_S and link.latency_s[0] == LATENCY_S
    assert link.transfers()[0, 0] == 2 * (DEVICES - 1)
    # the expected model's fixed cost: one NCCL kernel launch (the profile's per-kernel cost) plus the
    # link's allreduce_overhead_s (0 in the shipped profile); none in the ideal roofline
    overhead_s = 0.0 if ideal else H100.efficiency.kernel_overhead_s + H100.interconnect.allreduce_overhead_s
    assert ideal or overhead_s > 0
    expected_s = 2 * (DEVICES - 1) * LATENCY_S + RING_BYTES / BANDWIDTH_BYTES_PER_S + overhead_s
    workload = _workload()
    rows = [i for i, kind in enumerate(workload.kinds) if kind == "AllReduce"]
    assert len(rows) == 2 * 32 + 1  # after o_proj and down in each of 32 blocks, and the embedding
    others = [i for i in range(workload.layers) if i not in rows]
    sent = link_bytes(workload, link, np.array([1.0]), BITS)
    t = ev.timing
    for i in rows:
        assert sent[0, i] == RING_BYTES
        assert t.t_comm_s[0, i] == pytest.approx(expected_s, rel=1e-12)
        # the node's only cost: no compute, no memory traffic, so its latency is the link level's time
        assert t.t_compute_s[0, i] == 0.0 and t.t_memory_s[0, i] == 0.0
        assert t.latency_s[0, i] == t.t_comm_s[0, i]
    assert (t.t_comm_s[0, others] == 0.0).all() and (sent[0, others] == 0.0).all()


@pytest.mark.parametrize("ideal, ring_bytes", [(True, 6144.0), (False, 12288.0)])
def test_an_fp8_all_reduce_moves_16_bit_elements_in_the_expected_model(ideal: bool, ring_bytes: float):
    """With 8-bit activations, the ideal roofline all-reduces 8-bit elements, a ring of 1.5 · 4,096 · 1
    = 6,144 bytes per device at tp = 4; the expected model the 16-bit GEMM outputs a runtime reduces
    (TensorRT-LLM's all-reduce kernels take 16- and 32-bit elements only), 1.5 · 4,096 · 2 = 12,288."""
    link = link_arrays(H100, np.array([float(DEVICES)]), ideal)
    ev = run_phase(load_config("llama_2_7b"), H100, 1, DEVICES, CONTEXT, np.array([1.0]), ["fp8"],
                   np.array([8.0]), np.array([8.0]), np.array([8.0]), ideal, link, grouped=False)
    workload = _workload()
    rows = [i for i, kind in enumerate(workload.kinds) if kind == "AllReduce"]
    sent = link_bytes(workload, ev.hardware.link, np.array([1.0]), np.array([8.0]))
    assert (sent[0, rows] == ring_bytes).all()
