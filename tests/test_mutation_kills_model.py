"""Independent checks of the cost formulas (issue 12, "Tests that catch real bugs"): costs of single
layers and of fused layers written out by hand from the formulas' definitions (lecture: a
convolution does ``c_o·(c_i/g)·k_h·k_w`` MACs per output pixel; a bias adds one op per output
element; inference BatchNorm is folded into the weights), not compared with another count of
the code."""

from __future__ import annotations

import dataclasses

import pytest

from simulator.model.formulas import LayerCost, layer_cost
from simulator.model.layers import Activation, Add, BatchNorm, Conv, Einsum, Fused, GenericOp


def conv(bias: bool, groups: int = 1) -> Conv:
    return Conv(out_channels=8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                groups=groups, bias=bias)


def test_costs_add_field_by_field_and_are_immutable():
    total = LayerCost(1, 20, 300) + LayerCost(4000, 50000, 600000)
    assert (total.params, total.macs, total.elementwise_ops) == (4001, 50020, 600300)
    assert total.flops == 2 * 50020 + 600300
    with pytest.raises(dataclasses.FrozenInstanceError):
        total.macs = 0  # type: ignore[misc]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("groups", [1, 2])
def test_a_convolution_by_hand(bias: bool, groups: int):
    # 4 -> 8 channels, 3x3, 6x6 output: weights 8·(4/g)·9; MACs weights·36; a bias: 8 params, 8·36 adds
    weights = 8 * (4 // groups) * 9
    cost = layer_cost(conv(bias, groups), ((4, 6, 6),), (8, 6, 6))
    assert cost.params == weights + (8 if bias else 0)
    assert cost.macs == weights * 36
    assert cost.elementwise_ops == (8 * 36 if bias else 0)


@pytest.mark.parametrize(("operands", "macs", "adds"), [(2, 6 * 5 * 7, 0), (1, 0, 6 * 5 * 7)])
def test_an_einsum_contracts_with_macs_or_sums_with_adds(operands: int, macs: int, adds: int):
    # output 6x5, 7 summed over per output element: two operands multiply-accumulate, one only adds
    layer = Einsum(equation="ik,kj->ij" if operands == 2 else "ijk->ij", output=(6, 5), num_inputs=operands,
                   operands=operands, contracted=7, params=11)
    inputs = ((6, 7), (7, 5)) if operands == 2 else ((6, 5, 7),)
    cost = layer_cost(layer, inputs, (6, 5))
    assert (cost.params, cost.macs, cost.elementwise_ops) == (11, macs, adds)


@pytest.mark.parametrize(("first", "output", "elements"), [((2, 10), (2, 3), 20), ((2, 3), (4, 10), 40)])
def test_a_generic_operator_costs_per_element_of_the_larger_side(first, output, elements):
    layer = GenericOp(op="Custom", output=output, num_inputs=1, ops_per_element=3, params=5)
    cost = layer_cost(layer, (first,), output)
    assert (cost.params, cost.macs, cost.elementwise_ops) == (5, 0, 3 * elements)


def test_a_fused_convolution_batchnorm_relu_and_residual_add_by_hand():
    # conv (no bias) 4 -> 8, 3x3 on 6x6; BatchNorm folded: its 2·8 params, no ops; ReLU: 1 op per
    # element; the residual add (a second operand from outside): 1 add per element
    shape = (8, 6, 6)
    layer = Fused(base=conv(False), epilogue=(BatchNorm(num_features=8), Activation(function="relu"), Add()),
                  epilogue_shapes=(shape, shape, shape), epilogue_operands=(1, 1, 2))
    cost = layer_cost(layer, ((4, 6, 6), shape), shape)
    elements = 8 * 36
    assert cost.params == 8 * 4 * 9 + 2 * 8
    assert cost.macs == 8 * 4 * 9 * 36
    assert cost.elementwise_ops == elements * 1 + elements * 1


def test_an_early_network_output_stays_alive_to_the_end():
    # x (4x8x8 = 256) -> a = relu(x) (256, an output) -> b = 1x1 conv to 16 channels (1024) -> c = 1x1
    # conv back to 4 (256), outputs (a, c). Alive while each node runs: x + a; a + b; a + b + c (a is
    # read last at step 1 but, as an output, is kept to the end).
    from simulator.model.counts import count_network, live_activations
    from simulator.model.graph import NetworkBuilder

    net = NetworkBuilder("two_outputs", (4, 8, 8))
    a = net.relu(net.input, inplace=False)
    c = net.conv2d(net.conv2d(a, 16, 1), 4, 1)
    network = net.build([a, c])
    assert live_activations(network) == [256 + 256, 256 + 1024, 256 + 1024 + 256]
    assert count_network(network, batch=3).peak_activations == 3 * 1536
