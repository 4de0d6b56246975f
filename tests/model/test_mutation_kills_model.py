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


# --- attention and LLM kinds, from the formulas in their docstrings, with small uneven sizes ------
# (ReLU 1 op, softmax 5, SiLU 5, RoPE 3, bias and add 1 per element: the lecture's op counts)


def test_litemla_linear_and_quadratic_by_hand():
    from simulator.model.layers import ReLULinearAttention

    # G = 24 / (3·4) = 2 groups of d = 4, N = 3·5 = 15 tokens (linear: N > d)
    cost = layer_cost(ReLULinearAttention(head_dim=4), ((24, 3, 5),), (8, 3, 5))
    g, d, n = 2, 4, 15
    assert (cost.params, cost.macs) == (0, 2 * g * n * d * (d + 1))
    assert cost.elementwise_ops == 2 * g * d * n + g * n + g * d * n
    # the quadratic fallback when N = 3 <= d = 4
    cost = layer_cost(ReLULinearAttention(head_dim=4, quadratic_fallback=True), ((24, 1, 3),), (8, 1, 3))
    n = 3
    assert cost.macs == 2 * g * d * n * n
    assert cost.elementwise_ops == 2 * g * d * n + 2 * g * n * n + g * n


@pytest.mark.parametrize("bias", [True, False])
def test_spatial_reduction_attention_by_hand(bias: bool):
    from simulator.model.layers import SpatialReductionAttention

    n, m, c, h = 10, 4, 6, 2
    layer = SpatialReductionAttention(embed_dim=c, num_heads=h, bias=bias)
    cost = layer_cost(layer, ((n, c), (m, c)), (n, c))
    assert cost.params == 4 * c * c + (4 * c if bias else 0)
    assert cost.macs == 2 * n * c * c + 2 * m * c * c + 2 * n * m * c == 1488
    assert cost.elementwise_ops == ((2 * n + 2 * m) * c if bias else 0) + h * n * m * (1 + 5)


def test_windowed_attention_by_hand():
    from simulator.model.layers import WindowedAttention

    # a 4x5 grid of C = 8 in 3x3 windows: padded to 6x6 = 36 tokens, T = 9 per window, d = 8 / 2
    layer = WindowedAttention(embed_dim=8, num_heads=2, window=3, rel_pos=True, bias=True)
    cost = layer_cost(layer, ((4, 5, 8),), (4, 5, 8))
    p, t, c, d, h = 36, 9, 8, 4, 2
    assert cost.params == 4 * c * c + 4 * c + (2 * 3 - 1 + 2 * 3 - 1) * d == 328
    assert cost.macs == 4 * p * c * c + 2 * p * t * c + p * (3 + 3) * c == 16128
    assert cost.elementwise_ops == 4 * p * c + p * c + h * p * t * (5 + 2) == 5976
    # global attention (window 0), no rel-pos, no bias: every one of the 20 tokens sees all 20
    layer = WindowedAttention(embed_dim=8, num_heads=2, window=0, rel_pos=False, bias=False)
    cost = layer_cost(layer, ((4, 5, 8),), (4, 5, 8))
    assert (cost.params, cost.macs) == (4 * c * c, 4 * 20 * c * c + 2 * 20 * 20 * c)
    assert cost.elementwise_ops == 20 * c + h * 20 * 20 * 5


def test_llm_kinds_by_hand():
    from simulator.model.layers import CausalAttention, MoEExperts, RotaryEmbedding, SwiGLU

    # RoPE on T = 5 tokens of 4 query and 2 KV heads of 8: 3 ops per rotated element
    rope = layer_cost(RotaryEmbedding(num_heads=4, num_kv_heads=2, head_dim=8), ((5, 48),), (5, 48))
    assert (rope.params, rope.macs, rope.elementwise_ops) == (0, 0, 5 * (4 + 2) * 8 * 3)
    # causal attention, 3 cached + 5 new tokens: pairs 5·3 + 5·6/2 = 30 per head
    attention = CausalAttention(num_heads=4, num_kv_heads=2, head_dim=8, cached_tokens=3)
    cost = layer_cost(attention, ((5, 32), (5, 16), (5, 16)), (5, 32))
    assert (cost.macs, cost.elementwise_ops) == (2 * 4 * 8 * 30, 4 * 30 * (1 + 5))
    # SwiGLU: silu(gate)·up, 5 + 1 ops per output element
    assert layer_cost(SwiGLU(), ((5, 7), (5, 7)), (5, 7)).elementwise_ops == 35 * 6
    # 4 experts of d = 6, I = 10, top 2, on 3 tokens
    experts = MoEExperts(num_experts=4, top_k=2, hidden_size=6, intermediate_size=10)
    moe = layer_cost(experts, ((3, 6),), (3, 6))
    assert moe.params == 4 * 3 * 6 * 10
    assert moe.macs == 3 * 2 * 3 * 6 * 10
    assert moe.elementwise_ops == 3 * (2 * 10 * (5 + 1) + 2 * 6 + 4 * 5)


@pytest.mark.parametrize("affine", [True, False])
def test_norms_by_hand(affine: bool):
    from simulator.model.layers import GroupNorm, LayerNorm

    # statistics 5 ops per element, the affine 2 more (gamma·x + beta)
    per_element = 5 + (2 if affine else 0)
    ln = layer_cost(LayerNorm(normalized_shape=(6,), affine=affine), ((7, 6),), (7, 6))
    assert (ln.params, ln.macs, ln.elementwise_ops) == (2 * 6 if affine else 0, 0, 42 * per_element)
    gn = layer_cost(GroupNorm(num_groups=2, num_channels=4, affine=affine), ((4, 3, 3),), (4, 3, 3))
    assert (gn.params, gn.elementwise_ops) == (2 * 4 if affine else 0, 36 * per_element)


def test_an_add_of_three_operands_and_an_rms_norm_by_hand():
    from simulator.model.layers import RMSNorm

    # three operands: two adds per output element
    assert layer_cost(Add(), ((2, 5),) * 3, (2, 5)).elementwise_ops == 10 * 2
    # RMSNorm: square, mean add, scale (3) and the gamma multiply, per element; d params
    rms = layer_cost(RMSNorm(dim=6), ((7, 6),), (7, 6))
    assert (rms.params, rms.elementwise_ops) == (6, 42 * (3 + 1))


# --- the inference view (simulator/model/fusion.py), by the rules of its docstring ----------------


def test_a_tensor_with_two_readers_is_not_folded_away():
    from simulator.model.fusion import inference_view
    from simulator.model.graph import NetworkBuilder

    net = NetworkBuilder("two_readers", (4, 6, 6))
    c = net.conv2d(net.input, 4, 3, padding=1, name="conv")
    b = net.batch_norm(c, name="bn")
    net.add_(b, c, name="sum")  # the conv's output is read twice: the BatchNorm cannot be folded
    assert [node.name for node in inference_view(net.build()).nodes] == ["conv", "bn", "sum"]


def test_a_residual_block_folds_into_one_kernel_and_a_post_norm_sum_into_its_norm():
    from simulator.model.fusion import inference_view
    from simulator.model.graph import NetworkBuilder

    net = NetworkBuilder("block", (4, 6, 6))
    skip = net.relu(net.conv2d(net.input, 4, 3, padding=1, name="c1"), name="r1")
    x = net.batch_norm(net.conv2d(skip, 4, 3, padding=1, name="c2"), name="bn")
    net.relu(net.add_(x, skip, name="sum"), name="r2")
    names = [node.name for node in inference_view(net.build()).nodes]
    assert names == ["c1+r1", "c2+bn+sum+r2"]  # BatchNorm, the residual sum and its ReLU: one kernel

    net = NetworkBuilder("post_norm", (5, 8))
    h = net.linear(net.input, 8, name="fc")
    net.layer_norm(net.add_(h, net.input, name="sum"), name="ln")
    names = [node.name for node in inference_view(net.build()).nodes]
    assert names == ["fc", "sum+ln"]  # the linear takes no residual; the sum is normalized in place
