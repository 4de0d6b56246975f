"""Materialized (unfused) attention by hand (issue 23): its traffic on a device without an on-chip
activation buffer, and the kernels it launches.

Traffic (:func:`simulator.engine.timing.level_bytes`, :func:`simulator.engine.workload.build_workload`):
an unfused attention writes each score element, the softmax reads it and writes it back, ``P V``
reads it: 4 accesses per element, on top of the layer's input and output. Without an on-chip
activation buffer every activation byte is DRAM traffic, so for ``n`` samples at 4 bytes (fp32)

``DRAM = weights + n·4·(input + output + 4·scores)``  (fused: without the ``4·scores``).

Kernels (:meth:`simulator.model.layers.base.Layer.kernel_count`, ``ReLULinearAttention.kernel_count``):
self-attention launches its 2 projections (packed QKV, output) plus 1 fused kernel, or 3 unfused
passes (``Q Kᵀ``, softmax, ``P V``); SegFormer's attention 3 projections plus 1 or 3; LiteMLA's core
1 fused kernel or 7 unfused steps. Each kernel pays the device's per-kernel overhead
(:func:`simulator.engine.efficiency.efficiency_arrays`), so the latency with an overhead ``t``
less the latency without is ``kernels·t``.

Device: ``dram-only`` of ``tests/conftest.py`` (fp32 1 TOPS, DRAM 100 GB/s, register file only).
"""

from __future__ import annotations

import pytest

from simulator.hardware.device import EfficiencyModel, KernelEfficiency
from simulator.hardware.loader import load_device
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

BYTES = 4  # fp32
PEAK_OPS_PER_S = 1e12
DRAM_BYTES_PER_S = 100e9
L, E, H = 256, 64, 4  # tokens, embedding, heads


def self_attention():
    net = NetworkBuilder("mha", (L, E))
    net.self_attention(net.input, H)
    return net.build()


def lite_mla(groups=2, head_dim=8, side=4, quadratic=False):
    net = NetworkBuilder("lite-mla", (3 * head_dim * groups, side, side))
    net.relu_linear_attention(net.input, head_dim, quadratic_fallback=quadratic)
    return net.build()


def segformer_attention():
    net = NetworkBuilder("sr-attention", (64, 32))
    reduced = net.linear(net.input, 32, bias=False)
    net.spatial_reduction_attention(net.input, reduced, 2)
    return net.build()


# Self-attention on (L, E) = (256, 64) with 4 heads (formulas._attention):
WEIGHTS = 4 * E * E + 4 * E                              # Q, K, V, output projections with biases
MACS = 4 * L * E * E + 2 * L * L * E                     # projections, Q Kᵀ and A V
OPS = 2 * MACS + 4 * L * E + H * L * L * (1 + 5)         # + biases, score scaling and softmax (5)
SCORES = H * L * L                                       # score elements per sample


@pytest.mark.parametrize("n", [1, 2])
def test_without_an_activation_buffer_the_unfused_scores_cross_dram_four_times(dram_only_path, n):
    device = load_device(dram_only_path)
    kwargs = dict(batch=n, precision="fp32", ideal=True)
    unfused = simulate(self_attention(), device, attention="materialized", **kwargs)
    fused = simulate(self_attention(), device, attention="fused", **kwargs)
    dram = WEIGHTS * BYTES + n * BYTES * (L * E + L * E + 4 * SCORES)
    assert unfused.level_bytes()["dram"] == pytest.approx(dram, rel=1e-12)
    assert fused.level_bytes()["dram"] == pytest.approx(dram - n * BYTES * 4 * SCORES, rel=1e-12)
    # 4.39 MB (n = 1) at 100 GB/s: 43.9 µs, above the 26.8 µs of arithmetic: memory-bound
    assert n * OPS / PEAK_OPS_PER_S < dram / DRAM_BYTES_PER_S
    assert unfused.latency_s == pytest.approx(dram / DRAM_BYTES_PER_S, rel=1e-12)
    # fused, the 0.20 MB (n = 1) take 2 µs: the arithmetic bounds it
    assert fused.latency_s == pytest.approx(n * OPS / PEAK_OPS_PER_S, rel=1e-12)
    # nothing is split without a buffer to keep the scores in
    assert unfused.micro_batch == n


@pytest.mark.parametrize("quadratic, scores", [
    (False, 2 * (8 + 1) * 8),   # linear form: the (d+1)×d context v kᵀ of each of G = 2 groups
    (True, 2 * 4 * 4),          # mit's fallback (N = 4 tokens <= d = 8): the N×N matrix kᵀ q per group
])
def test_lite_mla_unfused_moves_its_context_or_score_matrices_four_times(dram_only_path, quadratic, scores):
    network = lite_mla(side=4 if not quadratic else 2, quadratic=quadratic)
    tokens = 4 * 4 if not quadratic else 2 * 2
    device = load_device(dram_only_path)
    kwargs = dict(batch=1, precision="fp32", ideal=True)
    unfused = simulate(network, device, attention="materialized", **kwargs).level_bytes()["dram"]
    fused = simulate(network, device, attention="fused", **kwargs).level_bytes()["dram"]
    # no weights; input 3·d·G channels, output d·G, over the tokens
    assert fused == pytest.approx((3 * 8 * 2 + 8 * 2) * tokens * BYTES, rel=1e-12)
    assert unfused - fused == pytest.approx(4 * scores * BYTES, rel=1e-12)


def overhead_device(dram_only_path, kernel_overhead_s, units):
    model = EfficiencyModel(source="test", classes={"default": KernelEfficiency()},
                            kernel_overhead_s=kernel_overhead_s, parallel_units=units)
    return load_device(dram_only_path).model_copy(update={"efficiency": model})


@pytest.mark.parametrize("units", [None, 4])  # with and without the fill of a parallel device
@pytest.mark.parametrize("build, attention, kernels", [
    (self_attention, "materialized", 2 + 3),      # QKV and output projections + Q Kᵀ, softmax, P V
    (self_attention, "fused", 2 + 1),
    (segformer_attention, "materialized", 1 + 3 + 3),  # the reducing linear, q, kv, output + 3 passes
    (segformer_attention, "fused", 1 + 3 + 1),
    (lite_mla, "materialized", 7),  # reshape, ReLU(q, k), pad v, v kᵀ, (v kᵀ) q, divide, reshape back
    (lite_mla, "fused", 1),
])
def test_every_kernel_of_an_attention_pays_the_per_kernel_overhead(dram_only_path, units, build, attention,
                                                                    kernels):
    overhead_s = 7e-6

    def latency_s(kernel_overhead_s):
        device = overhead_device(dram_only_path, kernel_overhead_s, units)
        return simulate(build(), device, precision="fp32", attention=attention).latency_s

    assert latency_s(overhead_s) - latency_s(0.0) == pytest.approx(kernels * overhead_s, rel=1e-9)
