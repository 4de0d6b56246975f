"""Each layer kind's formulas against hand arithmetic; every kind has a formula."""

import pytest

from simulator.errors import FormulaError
from simulator.model.formulas import FORMULAS, OPS_PER_MAC, LayerCost, layer_cost
from simulator.model.layers import (
    ACTIVATIONS,
    LAYER_KINDS,
    Activation,
    AdaptivePool,
    Add,
    BatchNorm,
    ClassToken,
    Concat,
    Conv,
    Flatten,
    Fused,
    GroupNorm,
    Layer,
    LayerNorm,
    LayerNorm2d,
    Linear,
    MatMul,
    Mul,
    MultiheadSelfAttention,
    Pad,
    Permute,
    Pool,
    PositionalEmbedding,
    Reshape,
    Resize,
    SelectToken,
    Softmax,
)

ALL_LAYER_KINDS = tuple(kind for kind in LAYER_KINDS.values() if kind is not Fused)


def cost(layer, *inputs):
    return layer_cost(layer, inputs, layer.output_shape(inputs))


def test_every_layer_kind_has_a_formula():
    for kind in ALL_LAYER_KINDS:
        assert kind in FORMULAS, kind.__name__
    assert Fused in FORMULAS


def test_every_layer_kind_is_listed():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    assert set(subclasses(Layer)) - {Fused} == set(ALL_LAYER_KINDS)


def test_a_kind_without_formula_is_an_error_not_zero():
    class Mystery(Layer):
        kind = "Mystery"
    with pytest.raises(FormulaError, match="no cost formula for layer kind Mystery"):
        layer_cost(Mystery(), ((1,),), (1,))


def test_flops_are_two_per_mac_plus_elementwise():
    assert OPS_PER_MAC == 2
    assert LayerCost(0, 10, 3).flops == 2 * 10 + 3


def test_linear():
    c = cost(Linear(1000), (4096,))
    assert c.params == 1000 * 4096 + 1000      # weights c_o·c_i plus bias c_o
    assert c.macs == 1000 * 4096               # lecture: c_o·c_i
    assert c.elementwise_ops == 1000           # one bias add per output
    seq = cost(Linear(3072, bias=False), (197, 768))
    assert seq.macs == 197 * 768 * 3072 and seq.params == 768 * 3072 and seq.elementwise_ops == 0


def test_conv_dense_grouped_depthwise_and_1d():
    dense = cost(Conv(96, (11, 11), (4, 4), (2, 2), (1, 1)), (3, 224, 224))
    assert dense.params == 96 * 3 * 11 * 11 + 96
    assert dense.macs == 96 * 3 * 11 * 11 * 55 * 55          # lecture: 105,415,200
    assert dense.elementwise_ops == 96 * 55 * 55
    grouped = cost(Conv(256, (5, 5), (1, 1), (2, 2), (1, 1), groups=2, bias=False), (96, 27, 27))
    assert grouped.params == 256 * 96 * 5 * 5 // 2           # lecture: c_o·c_i·k_h·k_w / g
    assert grouped.macs == 256 * 96 * 5 * 5 * 27 * 27 // 2   # lecture: 223,948,800
    depthwise = cost(Conv(32, (3, 3), (1, 1), (1, 1), (1, 1), groups=32, bias=False), (32, 112, 112))
    assert depthwise.params == 32 * 3 * 3                    # lecture: c_o·k_h·k_w
    assert depthwise.macs == 32 * 3 * 3 * 112 * 112          # lecture: k_h·k_w·h_o·w_o·c_o
    conv1d = cost(Conv(8, (5,), (2,), (2,), (1,)), (4, 100))
    assert conv1d.macs == 8 * 4 * 5 * 50  # length (100 + 4 - 5) // 2 + 1 = 50
    dilated = cost(Conv(1, (3, 3), (1, 1), (0, 0), (2, 2), bias=False), (1, 9, 9))
    assert dilated.macs == 9 * 5 * 5      # span 5 → 9 - 5 + 1 = 5 outputs per side, 9 taps each


def test_pooling():
    mx = cost(Pool("max", (3, 3), (2, 2), (0, 0), (1, 1)), (96, 55, 55))
    assert mx == LayerCost(0, 0, 96 * 27 * 27 * (9 - 1))   # 8 comparisons per 3×3 window
    avg = cost(Pool("avg", (2, 2), (2, 2), (0, 0), (1, 1)), (4, 8, 8))
    assert avg == LayerCost(0, 0, 4 * 4 * 4 * 4)            # 3 adds + 1 divide per 2×2 window
    gap = cost(AdaptivePool("avg", (1, 1)), (2048, 7, 7))
    assert gap == LayerCost(0, 0, 2048 * 49)               # 48 adds + 1 divide per channel
    uneven = cost(AdaptivePool("avg", (3, 1)), (1, 7, 2))
    assert uneven.elementwise_ops == (3 + 3 + 3) * 2      # windows of 3 rows (see test_layers) × 2 columns


def test_normalizations():
    assert cost(BatchNorm(64), (64, 10, 10)) == LayerCost(2 * 64, 0, 2 * 64 * 100)  # x·scale + shift
    # LayerNorm: 5 statistics ops + 2 affine ops per element
    assert cost(LayerNorm((768,)), (197, 768)) == LayerCost(2 * 768, 0, 7 * 197 * 768)
    assert cost(GroupNorm(8, 32), (32, 4, 4)) == LayerCost(2 * 32, 0, 7 * 32 * 16)
    # LayerNorm2d: over C at each of the H·W positions; γ, β per channel
    assert cost(LayerNorm2d(256), (256, 64, 64)) == LayerCost(2 * 256, 0, 7 * 256 * 64 * 64)
    assert cost(LayerNorm2d(8, affine=False), (8, 3, 5)) == LayerCost(0, 0, 5 * 8 * 15)


def test_resize_costs_ops_per_output_element_and_no_macs():
    # bicubic ×4 of a (32, 16, 32) map: 5 separable 4-tap interpolations of 4 multiplies + 3 adds
    assert cost(Resize("bicubic", (64, 128)), (32, 16, 32)) == LayerCost(0, 0, 5 * (4 + 3) * 32 * 64 * 128)
    # bilinear: 3 lerps of 2 multiplies + 1 add per output element; downscaling costs per output too
    assert cost(Resize("bilinear", (5, 7)), (3, 10, 14)) == LayerCost(0, 0, 3 * (2 + 1) * 3 * 5 * 7)
    assert cost(Resize("nearest", (20, 20)), (3, 10, 10)) == LayerCost(0, 0, 0)   # a gather
    assert cost(Resize("bicubic", (64, 64)), (256, 64, 64)) == LayerCost(0, 0, 0)  # same size: a copy
    assert Resize("bilinear", (7, 9)).output_shape(((4, 2, 3),)) == (4, 7, 9)


def test_pad_is_data_movement():
    layer = Pad((3, 1), (4, 2))   # H: 3 before, 4 after; W: 1 before, 2 after
    assert layer.output_shape(((8, 10, 20),)) == (8, 10 + 3 + 4, 20 + 1 + 2)
    assert cost(layer, (8, 10, 20)) == LayerCost(0, 0, 0)


@pytest.mark.parametrize(("function", "per_element"), [
    ("relu", 1), ("relu6", 2), ("sigmoid", 4), ("silu", 5), ("tanh", 1), ("gelu", 5), ("hardswish", 5),
    # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): x³ 2, ·κ, +x, ·√(2/π), tanh, +1, ·x, ·0.5
    ("gelu_tanh", 2 + 7)])
def test_activations(function, per_element):
    assert function in ACTIVATIONS
    assert cost(Activation(function), (3, 4, 5)) == LayerCost(0, 0, per_element * 60)


def test_softmax_add_mul():
    assert cost(Softmax(), (12, 197, 197)).elementwise_ops == 5 * 12 * 197 * 197
    assert cost(Add(), (8, 4), (8, 4), (8, 4)).elementwise_ops == 2 * 32  # 3 operands: 2 adds each
    assert cost(Mul(), (64, 7, 7), (64, 1, 1)).elementwise_ops == 64 * 49  # broadcast scale


def test_pure_data_movement_is_explicitly_zero():
    for layer, shapes in [(Flatten(), ((4, 2, 2),)), (Reshape((16,)), ((4, 2, 2),)),
                          (Permute((1, 0)), ((3, 4),)), (SelectToken(0), ((5, 8),)),
                          (Concat(0), ((2, 3), (4, 3)))]:
        assert cost(layer, *shapes) == LayerCost(0, 0, 0)


def test_matmul():
    assert cost(MatMul(), (12, 197, 64), (12, 64, 197)).macs == 12 * 197 * 197 * 64  # heads·m·n·k


def test_attention_counts_projections_and_both_matmuls():
    tokens, embed, heads = 197, 768, 12
    c = cost(MultiheadSelfAttention(embed, heads), (tokens, embed))
    assert c.params == 3 * (embed * embed + embed) + (embed * embed + embed)  # in_proj + out_proj
    projections = 4 * tokens * embed * embed
    scores = heads * tokens * tokens * (embed // heads)  # Q K^T over all heads
    context = heads * tokens * tokens * (embed // heads)  # A V
    assert c.macs == projections + scores + context
    assert c.elementwise_ops == 4 * tokens * embed + heads * tokens * tokens * (1 + 5)  # bias, scale, softmax


def test_vit_tokens():
    assert cost(ClassToken(768), (196, 768)) == LayerCost(768, 0, 0)
    assert cost(PositionalEmbedding(197, 768), (197, 768)) == LayerCost(197 * 768, 0, 197 * 768)
