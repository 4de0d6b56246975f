"""Network counts: the lecture's AlexNet table, activations and peak on chains and DAGs, exact ints."""

import pytest

from simulator.errors import SimulatorError
from simulator.model.counts import count_network, live_activations
from simulator.model.graph import NetworkBuilder
from simulator.networks.alexnet import alexnet

# The lecture's AlexNet table: (layer, output C×H×W, weights with bias ignored, MACs)
LECTURE_ALEXNET = [
    ("conv1", (96, 55, 55), 96 * 3 * 11 * 11, 96 * 3 * 11 * 11 * 55 * 55),
    ("conv1.pool", (96, 27, 27), 0, 0),
    ("conv2", (256, 27, 27), 256 * 96 * 5 * 5 // 2, 256 * 96 * 5 * 5 * 27 * 27 // 2),
    ("conv2.pool", (256, 13, 13), 0, 0),
    ("conv3", (384, 13, 13), 384 * 256 * 3 * 3, 384 * 256 * 3 * 3 * 13 * 13),
    ("conv4", (384, 13, 13), 384 * 384 * 3 * 3 // 2, 384 * 384 * 3 * 3 * 13 * 13 // 2),
    ("conv5", (256, 13, 13), 256 * 384 * 3 * 3 // 2, 256 * 384 * 3 * 3 * 13 * 13 // 2),
    ("conv5.pool", (256, 6, 6), 0, 0),
    ("fc6", (4096,), 4096 * 256 * 6 * 6, 4096 * 256 * 6 * 6),
    ("fc7", (4096,), 4096 * 4096, 4096 * 4096),
    ("fc8", (1000,), 1000 * 4096, 1000 * 4096),
]


def test_alexnet_layer_by_layer_matches_the_lecture():
    counts = count_network(alexnet())
    by_name = {layer.name: layer for layer in counts.layers}
    for name, shape, weights, macs in LECTURE_ALEXNET:
        layer = by_name[name]
        bias = shape[0] if layer.params else 0  # the lecture ignores bias; PyTorch counts c_o of them
        assert layer.output_shape == (1, *shape), name
        assert layer.params - bias == weights, name
        assert layer.macs == macs, name
    # the lecture's figures, written out
    assert by_name["conv1"].macs == 105_415_200
    assert by_name["conv2"].macs == 223_948_800
    assert by_name["conv3"].params - 384 == 884_736


def test_alexnet_totals_match_the_lecture():
    counts = count_network(alexnet())
    weights = sum(w for _, _, w, _ in LECTURE_ALEXNET)
    biases = 96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000
    assert counts.params == weights + biases
    assert round(counts.params / 1e6) == 61          # "61M in total"
    assert round(counts.macs / 1e6) == 724           # "724M in total!"
    assert counts.macs == sum(m for _, _, _, m in LECTURE_ALEXNET)
    assert counts.total_activations == 932_264       # lecture: input plus every layer output
    assert counts.total_activations == 3 * 224 * 224 + sum(
        c * h * w for (c, h, w) in [s if len(s) == 3 else (s[0], 1, 1) for _, s, _, _ in LECTURE_ALEXNET])
    assert counts.peak_activations == 440_928        # lecture: 150,528 + 290,400
    assert counts.peak_activations == 3 * 224 * 224 + 96 * 55 * 55


def test_counts_scale_with_batch_and_params_do_not():
    one, eight = count_network(alexnet()), count_network(alexnet(), batch=8)
    assert eight.params == one.params
    assert (eight.macs, eight.flops) == (8 * one.macs, 8 * one.flops)
    assert (eight.total_activations, eight.peak_activations) == (8 * 932_264, 8 * 440_928)
    assert eight.input_shape == (8, 3, 224, 224)


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_invalid_batch_is_rejected(batch):
    with pytest.raises(SimulatorError, match="batch size must be an integer of at least 1"):
        count_network(alexnet(), batch)


def residual_block():
    """x → conv a → relu (in place) → conv b → add(b, x) → relu; the skip x stays alive."""
    net = NetworkBuilder("residual", (4, 8, 8))
    a = net.conv2d(net.input, 8, 3, padding=1, name="a")
    r = net.relu(a, inplace=True, name="relu_a")
    b = net.conv2d(r, 4, 3, padding=1, name="b")
    s = net.add_(b, net.input, name="add")
    net.relu(s, inplace=True, name="relu_out")
    return net.build()


def test_dag_peak_keeps_the_skip_tensor_alive():
    x, a, b, s = 4 * 64, 8 * 64, 4 * 64, 4 * 64
    live = live_activations(residual_block())
    # a: x + a; relu_a (in place): x + a; b: x (skip) + a + b; add: x + b + s; relu (in place): s
    assert live == [x + a, x + a, x + a + b, x + b + s, s]
    counts = count_network(residual_block())
    assert counts.peak_activations == x + a + b
    assert counts.total_activations == x + a + b + s  # the in-place ReLUs add no tensor


def test_views_create_no_tensor_but_keep_their_base_alive():
    net = NetworkBuilder("view", (2, 3, 3))
    f = net.flatten(net.input, name="flat")
    net.linear(f, 5, name="fc")
    counts = count_network(net.build())
    assert counts.total_activations == 18 + 5
    assert counts.peak_activations == 18 + 5  # the input lives on through the view


def test_huge_input_counts_are_exact_python_ints():
    net = NetworkBuilder("huge", (3, 10_000, 10_000))
    x = net.conv2d(net.input, 512, 3, padding=1, name="conv")
    net.relu(x, inplace=True)
    counts = count_network(net.build(), batch=64)
    expected_macs = 64 * 512 * 3 * 3 * 3 * 10_000 * 10_000  # ≈ 8.8e13, far past int32 and exact
    assert counts.macs == expected_macs
    assert isinstance(counts.macs, int) and isinstance(counts.peak_activations, int)
    assert counts.peak_activations == 64 * (3 + 512) * 10_000 * 10_000
