"""Variable-length batches (simulator.model.lengths): each layer kind's cost follows the real lengths.

A tiny BERT (E = 64 hidden, F = 128 FFN, h = 4 heads, 2 layers) on the two-sequence batch [128, 256],
padding removed, counted by hand from the layer formulas (simulator/model/formulas.py):

* Linear ``c_i -> c_o`` on ``L`` tokens: ``L·c_i·c_o`` MACs, so over the batch ``(128 + 256)·c_i·c_o``:
  384 tokens, whatever the split.
* Self-attention on ``L`` tokens: ``4·L·E²`` (projections) ``+ 2·L²·E`` (``Q Kᵀ`` and ``A V``) MACs; the
  softmax and scaling ``(1 + 5)·h·L²`` operations. Over the batch: ``4·384·E² + 2·(128² + 256²)·E``:
  the sum of squares, not ``2·(mean L)²·E·B = 2·192²·E·2``.
* The pooler (Linear on token 0): ``E²`` per sequence, ``2·E²`` for the batch.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.engine.lengths import variable_length_workload
from simulator.errors import SimulatorError
from simulator.model.graph import NetworkBuilder
from simulator.model.lengths import lagrange_weights, load_distribution, parse_lengths
from simulator.networks.bert import bert
from simulator.simulation import simulate

E, F, HEADS, LAYERS = 64, 128, 4, 2


def tiny(length: int):
    return bert("tiny_bert", E, LAYERS, HEADS, F, length)


@pytest.fixture(scope="module")
def counts():
    """Layer counts of the batch [128, 256], padding removed, unfused (one node per layer)."""
    _, count = variable_length_workload(tiny, parse_lengths("128,256"), "none", fuse=False, attention="fused")
    return {layer.name: layer for layer in count(2).layers}


def test_linear_macs_follow_the_total_tokens(counts):
    tokens = 128 + 256
    for i in range(LAYERS):
        assert counts[f"encoder.layer.{i}.intermediate.dense"].macs == tokens * E * F
        assert counts[f"encoder.layer.{i}.output.dense"].macs == tokens * F * E
    assert counts["pooler.dense"].macs == 2 * E * E  # one token per sequence


def test_attention_scores_follow_the_sum_of_squares(counts):
    for i in range(LAYERS):
        layer = counts[f"encoder.layer.{i}.attention"]
        assert layer.macs == 4 * (128 + 256) * E * E + 2 * (128**2 + 256**2) * E
        # FLOPs: 2 per MAC, biases 4·L·E, scale + softmax (1 + 5) per score of h heads
        assert layer.flops == 2 * layer.macs + 4 * 384 * E + 6 * HEADS * (128**2 + 256**2)
        assert layer.macs != 4 * 384 * E * E + 2 * 2 * 192**2 * E  # not B·(mean L)²


def test_padding_max_runs_every_sequence_at_the_longest(counts):
    _, count = variable_length_workload(tiny, parse_lengths("128,256"), "max", fuse=False, attention="fused")
    padded = {layer.name: layer for layer in count(2).layers}
    assert padded["encoder.layer.0.intermediate.dense"].macs == 2 * 256 * E * F
    assert padded["encoder.layer.0.attention"].macs == 4 * 512 * E * E + 2 * 2 * 256**2 * E


def test_workload_arrays_are_per_sample_means():
    """The engine multiplies per-sample arrays by the batch: the attention node's MACs times 2 are the
    batch's, and its activation traffic is that of 384 tokens (input and output, E each)."""
    workload, _ = variable_length_workload(tiny, parse_lengths("128,256"), "none", fuse=False,
                                           attention="fused")
    i = workload.names.index("encoder.layer.0.attention")
    assert workload.macs[i] * 2 == pytest.approx(4 * 384 * E * E + 2 * (128**2 + 256**2) * E, rel=1e-12)
    assert workload.activation_elements[i] * 2 == pytest.approx(2 * 384 * E, rel=1e-12)


def test_lagrange_weights_give_the_moments():
    """Σ w_j = 1, Σ w_j·L_j = mean L, Σ w_j·L_j² = mean L² (for [128, 256]: 192 and 40,960)."""
    nodes = (256, 128, 64)
    w = lagrange_weights(nodes, parse_lengths("128,256"))
    assert sum(w) == 1
    assert sum(wj * n for wj, n in zip(w, nodes, strict=True)) == 192
    assert sum(wj * n * n for wj, n in zip(w, nodes, strict=True)) == (128**2 + 256**2) // 2


def test_squad_distribution():
    """MLPerf's BERT data set: 10,833 samples (mlperf.conf's bert performance_sample_count), none longer
    than max_seq_length 384, none shorter than [CLS] q [SEP] d [SEP] (5 tokens)."""
    squad = load_distribution("squad-v1.1")
    assert squad.samples == 10_833
    assert squad.padded_length == 384
    assert min(squad.lengths) >= 5 and max(squad.lengths) == 384
    assert squad.mean_length < squad.mean_square_length ** 0.5 < 384  # Var(L) > 0
    assert "bloomsburyai/question-generation@88cc78cb" in squad.source


def test_a_cost_that_is_not_quadratic_is_refused():
    def quartic(length: int):  # a Linear to L² features: L·L² MACs, not quadratic in L
        net = NetworkBuilder("quartic", (length, 8))
        return net.build(outputs=(net.linear(net.input, length * length),))

    with pytest.raises(SimulatorError, match="not a quadratic"):
        variable_length_workload(quartic, parse_lengths("3,9"), "none", fuse=False, attention="fused")


def test_simulate_variable_batch_is_faster_without_padding():
    kwargs = dict(device="h100-sxm", batch=2, precision="int8", ideal=True)
    none = simulate("bert_base", seq_lengths=[128, 256], padding="none", **kwargs)
    padded = simulate("bert_base", seq_lengths=[128, 256], padding="max", **kwargs)
    plain = simulate("bert_base", params={"seq_len": 256}, **kwargs)
    assert padded.latency_s == plain.latency_s  # max pads to the longest: today's padded run
    assert none.latency_s < padded.latency_s
    assert none.params["padding"] == "none" and none.params["seq_lengths"] == "128,256"


@pytest.mark.parametrize("kwargs, match", [
    ({"seq_lengths": "squad-v2"}, "squad-v1.1"),
    ({"seq_lengths": "128,0"}, "at least 1"),
    ({"seq_lengths": "squad-v1.1", "padding": "some"}, "none, max"),
    ({"seq_lengths": [128, 256], "batch": 3}, "batch of 2"),
    ({"seq_lengths": "512", "params": {"seq_len": 384}}, "shorter than the longest"),
    ({"padding": "none"}, "needs sequence lengths"),
])
def test_bad_lengths_are_one_line_errors(kwargs, match):
    kwargs = {"batch": 1, **kwargs}
    with pytest.raises(SimulatorError, match=match):
        simulate("bert_base", "h100-sxm", **kwargs)


def test_network_without_seq_len_is_refused():
    with pytest.raises(SimulatorError, match="bert_base, bert_large"):
        simulate("resnet18", "h100-sxm", seq_lengths="squad-v1.1")


def test_cli_reports_lengths_and_padding():
    run = [sys.executable, "-m", "simulator", "simulate", "bert_base", "--device", "h100-sxm",
           "--seq-lengths", "128,256", "--padding", "none", "--summary"]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert "sequences   128,256, padding none" in out and "batch 2" in out
    bad = subprocess.run([*run[:-3], "--padding", "sometimes"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
