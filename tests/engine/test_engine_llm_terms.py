"""The engine's LLM terms against hand arithmetic: KV-cache traffic at its own precision, expected
mixture-of-experts weight traffic, and the tensor-parallel all-reduce time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.engine.configs import LinkLevel, hardware_arrays
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import build_workload
from simulator.hardware.loader import resolve_device
from simulator.model.graph import NetworkBuilder

K, N = 4096, 4096  # one linear layer: a projection of a 4096-wide hidden state


def linear_workload():
    net = NetworkBuilder("proj", (K,))
    net.linear(net.input, N, bias=False, name="proj")
    return build_workload(net.build(), fuse=False)


def h100(configs=1):
    return hardware_arrays(resolve_device("h100-sxm"), ["fp16"] * configs, ideal=True)


def dram(levels, config=0):
    return levels[config, 0, 0]


def test_kv_cache_bytes_use_their_own_precision_and_always_reach_dram():
    kv = 2 * 1000 * 8 * 128              # K and V of 1000 cached tokens, 8 KV heads of 128
    workload = dataclasses.replace(linear_workload(), kv_elements=np.array([float(kv)]))
    batch = np.array([4.0, 4.0])
    fp16, fp8 = np.array([16.0, 16.0]), np.array([16.0, 8.0])
    timing = roofline_timing(workload, h100(2), batch, fp16, fp16, kv_bits=fp8)
    weights, activations = K * N * 2, (K + N) * 2          # bytes, fp16
    for config, kv_bytes_per_element in enumerate((2, 1)):
        # the network's input and output live in DRAM; so does the KV cache of the 4 sequences
        assert dram(timing.level_bytes, config) == weights + 4 * activations + 4 * kv * kv_bytes_per_element
        assert timing.activation_bytes[config, 0] == 4 * activations + 4 * kv * kv_bytes_per_element


def test_expected_experts_is_k_for_one_token_and_tends_to_e():
    workload = dataclasses.replace(linear_workload(), expert_weight_elements=np.array([float(K * N)]),
                                   weight_elements=np.array([0.0]), num_experts=8, experts_per_token=2,
                                   routed_tokens_per_sample=1)
    batch = np.array([1.0, 2.0, 1000.0])
    experts = workload.expected_experts(batch)
    assert experts[0] == pytest.approx(2.0)                       # one token: exactly k experts
    assert experts[1] == pytest.approx(8 * (1 - (1 - 2 / 8) ** 2))  # 3.5 for two tokens
    assert experts[2] == pytest.approx(8.0)                       # many tokens: all E
    timing = roofline_timing(workload, h100(3), batch, np.full(3, 16.0), np.full(3, 16.0))
    assert timing.weight_bytes[0, 0] == pytest.approx(2 * K * N * 2)   # two experts' fp16 weights


def test_allreduce_costs_latency_steps_plus_ring_traffic():
    workload = dataclasses.replace(linear_workload(), allreduce_elements=np.array([float(N)]))
    link = {"devices": np.array([1.0, 2.0, 8.0]), "link_bandwidth_bytes_per_s": np.full(3, 450e9),
            "link_latency_s": np.full(3, 5e-6)}
    hardware = dataclasses.replace(h100(3), link=LinkLevel(
        link["devices"], link["link_bandwidth_bytes_per_s"], link["link_latency_s"]))
    batch = np.full(3, 16.0)
    timing = roofline_timing(workload, hardware, batch, np.full(3, 16.0), np.full(3, 16.0))
    data = 16 * N * 2                                      # bytes all-reduced: 16 tokens, fp16
    assert timing.t_comm_s[0, 0] == 0.0                     # one device: no communication
    for config, n in ((1, 2), (2, 8)):
        expected = 2 * (n - 1) * 5e-6 + 2 * (n - 1) / n * data / 450e9
        assert timing.t_comm_s[config, 0] == pytest.approx(expected)
        no_comm = max(timing.t_compute_s[config, 0], timing.t_memory_s[config, 0])
        assert timing.latency_s[config, 0] == pytest.approx(no_comm + expected)   # not overlapped
