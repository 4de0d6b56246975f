"""Micro-batching checked by hand (issue 12, "Tests that catch real bugs"): the plan
:func:`simulator.engine.evaluate._run_batches` picks, and its latency, against the rule of its
docstring, derived here from the residency rule of :mod:`simulator.engine.workload`.

Network: two bias-free ``D → D`` linears over ``T`` tokens of ``D`` features (T = 256, D = 64,
fp32). The input and output live in DRAM; the intermediate tensor's largest live set is
``L = 2·T·D`` elements per sample (it is alive with the input while the first layer runs and with
the output while the second runs), so it stays in the 1 MiB SRAM when ``p·L·4 <= 1 MiB``, i.e.
for passes of ``p <= 8`` samples. Per pass of ``p`` samples, each layer moves, with
``W = D·D·4`` bytes of weights (read once per pass) and ``A = p·T·D·4`` bytes per tensor:

* DRAM: ``W + A`` (its DRAM-resident tensor) ``+ A`` if the intermediate spills;
* SRAM (stores activations only): ``2A`` (every activation access reaches it);
* compute: ``p·2·T·D·D`` ops;

and takes ``max(ops / peak, DRAM / 100 GB/s, SRAM / 10 TB/s)`` (ideal roofline). A batch of
``n`` in passes of ``m`` (``q = n // m`` of them, plus one of ``n − q·m``) takes
``q·t(m) + t(n − q·m)``; of ``m = n`` and the powers of two below it the fastest is kept.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from simulator.engine.evaluate import evaluate
from simulator.engine.workload import build_workload
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate
from tests.helpers import (
    BUFFERED_DRAM_BYTES_PER_S,
    BUFFERED_PEAK_OPS_PER_S,
    BUFFERED_SRAM_BYTES,
    BUFFERED_SRAM_BYTES_PER_S,
)

T, D = 256, 64
BYTES = 4  # fp32
PEAK_OPS_PER_S = BUFFERED_PEAK_OPS_PER_S  # 1000e12
DRAM_BYTES_PER_S = BUFFERED_DRAM_BYTES_PER_S  # 100e9
SRAM_BYTES_PER_S = BUFFERED_SRAM_BYTES_PER_S  # 10e12
SRAM_BYTES = BUFFERED_SRAM_BYTES  # 2**20
W = D * D * BYTES
L = 2 * T * D  # largest live set of the intermediate, elements per sample


def two_linears():
    net = NetworkBuilder("two-linears", (T, D))
    hidden = net.linear(net.input, D, bias=False)
    net.linear(hidden, D, bias=False)
    return net.build()


@pytest.fixture
def device(buffered_device):
    """Conftest's "buffered" device: the DRAM, SRAM and peak above."""
    return buffered_device


def pass_latency_s(p: int) -> float:
    """One pass of ``p`` samples, by the module docstring's formula."""
    if p == 0:
        return 0.0
    a = p * T * D * BYTES
    spills = p * L * BYTES > SRAM_BYTES
    dram = W + a + (a if spills else 0)
    layer = max(p * 2 * T * D * D / PEAK_OPS_PER_S, dram / DRAM_BYTES_PER_S, 2 * a / SRAM_BYTES_PER_S)
    return 2 * layer


def plan_latency_s(n: int, m: int) -> float:
    q = n // m
    return q * pass_latency_s(m) + pass_latency_s(n - q * m)


def best_plan(n: int) -> int:
    candidates = [n] + [2**j for j in range(int(math.log2(n)) + 1) if 2**j < n]
    return min(candidates, key=lambda m: (plan_latency_s(n, m), -m if m == n else m))


@pytest.mark.parametrize("n, micro", [(12, 8), (16, 8), (8, 8), (4, 4)])
def test_a_spilling_batch_runs_in_the_fastest_power_of_two_passes(device, n, micro):
    # 12 = 8 + 4 (two passes, one a remainder); 16 = 2 x 8; 8 and 4 fit and run whole
    assert best_plan(n) == micro  # the hand plan agrees with the comment above
    result = simulate(two_linears(), device, batch=n, precision="fp32", ideal=True)
    assert result.micro_batch == micro
    assert result.latency_s == pytest.approx(plan_latency_s(n, micro), rel=1e-12)
    if micro != n:  # splitting is strictly faster than the whole batch
        assert result.latency_s < plan_latency_s(n, n)


def test_with_micro_batching_off_the_batch_runs_whole(device):
    n = 16  # the intermediate spills: DRAM gets it twice per layer pair
    result = simulate(two_linears(), device, batch=n, precision="fp32", ideal=True, micro_batching=False)
    assert result.micro_batch == n
    assert result.latency_s == pytest.approx(plan_latency_s(n, n), rel=1e-12)


def test_micro_batching_saves_the_spilled_traffic_and_pays_the_weights_again(device):
    # 16 whole: each layer reads W and moves its DRAM tensor and the spilled intermediate, W + 2·A(16);
    # two passes of 8: each layer, per pass, W + A(8) (the intermediate stays in SRAM)
    a16 = 16 * T * D * BYTES
    whole_dram = 2 * (W + 2 * a16)
    split_dram = 2 * 2 * (W + a16 / 2)
    result = simulate(two_linears(), device, batch=16, precision="fp32", ideal=True)
    assert result.latency_s == pytest.approx(split_dram / DRAM_BYTES_PER_S, rel=1e-9)
    whole = simulate(two_linears(), device, batch=16, precision="fp32", ideal=True, micro_batching=False)
    assert whole.latency_s == pytest.approx(whole_dram / DRAM_BYTES_PER_S, rel=1e-9)


# Materialized attention: a linear, then self-attention with H = 4 heads over T = 256 tokens, so
# one sample's score matrices are S = H·T²·4 bytes = 1 MiB, exactly the SRAM. By the workload
# module's rule (build_workload, timing.level_bytes), an unfused attention makes
# MATERIALIZED_ACCESSES = 4 accesses (write, softmax read and write, P V read) per score element;
# they stay in the SRAM while the batch's scores fit (n·S <= 1 MiB) and reach DRAM otherwise.
# Every other byte is the same fused or materialized, so the difference is 4·n·S in SRAM (which
# every activation access reaches) and, spilled, 4·n·S in DRAM as well.
HEADS = 4
SCORE_BYTES = HEADS * T * T * BYTES
assert SCORE_BYTES == SRAM_BYTES


def linear_then_attention():
    net = NetworkBuilder("linear-attention", (T, D))
    net.self_attention(net.linear(net.input, D, bias=False), HEADS)
    return net.build()


@pytest.mark.parametrize("n", [1, 2])
def test_materialized_scores_add_four_accesses_per_element_where_the_batch_puts_them(device, n):
    kwargs = dict(batch=n, precision="fp32", ideal=True, micro_batching=False)
    fused = simulate(linear_then_attention(), device, attention="fused", **kwargs).level_bytes()
    unfused = simulate(linear_then_attention(), device, attention="materialized", **kwargs).level_bytes()
    extra = 4 * n * SCORE_BYTES
    assert unfused["sram"] - fused["sram"] == pytest.approx(extra, rel=1e-12)
    spilled = n * SCORE_BYTES > SRAM_BYTES  # one sample's scores fill the SRAM exactly: they fit
    assert unfused["dram"] - fused["dram"] == pytest.approx(extra if spilled else 0.0, rel=1e-12, abs=1e-3)


def test_a_batch_whose_scores_spill_runs_one_sample_a_pass(device):
    # two samples' scores (2 MiB) spill, one sample's (1 MiB) fit: the batch spills more than one
    # sample does. Two passes of 1 read the weights twice (about 80 KiB more) but
    # keep the 2·4·S = 8 MiB of score traffic off DRAM, so the engine runs 1 sample a pass; fused,
    # nothing spills more at 2 than at 1 (the linear's output, 2·T·D·4 = 128 KiB a sample, fits)
    # and the batch runs whole.
    unfused = simulate(linear_then_attention(), device, batch=2, precision="fp32", ideal=True,
                       attention="materialized")
    fused = simulate(linear_then_attention(), device, batch=2, precision="fp32", ideal=True,
                     attention="fused")
    assert (unfused.micro_batch, fused.micro_batch) == (1, 2)
    # the linear's weights, and attention's Q, K, V and output projections with their biases
    # (nn.MultiheadAttention: in_proj 3·D·D + 3·D, out_proj D·D + D)
    weights = (D * D + 4 * D * D + 4 * D) * BYTES
    whole = simulate(linear_then_attention(), device, batch=2, precision="fp32", ideal=True,
                     attention="materialized", micro_batching=False).level_bytes()["dram"]
    split = unfused.level_bytes()["dram"]
    # the split plan: the whole batch's DRAM bytes, less the spilled scores, plus a second weight read
    assert split == pytest.approx(whole - 4 * 2 * SCORE_BYTES + weights, rel=1e-12)


def test_a_workload_without_score_elements_is_planned_as_without_scores(device):
    # score_elements is optional (None: no attention layer materializes scores); the plan of
    # 16 samples is then the two linears' 2 x 8 (see the module docstring)
    work = dataclasses.replace(build_workload(two_linears()), score_elements=None)
    bits = np.array([32.0])
    ev = evaluate(work, device, ["fp32"], np.array([16.0]), bits, bits, ideal=True)
    assert ev.totals.micro_batch[0] == 8
    assert ev.totals.latency_s[0] == pytest.approx(plan_latency_s(16, 8), rel=1e-12)
