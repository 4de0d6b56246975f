"""Shape inference of every layer kind, and clear errors for impossible shapes."""

import re

import pytest

from simulator.errors import GraphError, ShapeError
from simulator.model.graph import NetworkBuilder
from simulator.model.layers import (
    Concat,
    Conv,
    Flatten,
    Linear,
    MatMul,
    Pool,
    Reshape,
    adaptive_windows,
    window_output_size,
)


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "expected"), [
    (224, 11, 4, 2, 55),  # lecture: (224 + 2×2 - 11) / 4 + 1 = 55 (floor)
    (55, 3, 2, 0, 27),    # lecture: (55 + 0 - 3) / 2 + 1 = 27
    (27, 5, 1, 2, 27),    # lecture: (27 + 2×2 - 5) / 1 + 1 = 27
    (27, 3, 2, 0, 13),    # lecture: (27 + 0 - 3) / 2 + 1 = 13
    (13, 3, 1, 1, 13),    # lecture: (13 + 2×1 - 3) / 1 + 1 = 13
    (13, 3, 2, 0, 6),     # lecture: (13 + 0 - 3) / 2 + 1 = 6
    (4, 3, 1, 0, 2),      # lecture: 4 - 3 + 1 = 2 without padding
    (5, 3, 1, 1, 5),      # lecture: 5 + 2×1 - 3 + 1 = 5 with zero padding
])
def test_window_output_size_reproduces_the_lecture_formula(size, kernel, stride, padding, expected):
    assert window_output_size(size, kernel, stride, padding, 1, "height") == expected


def test_dilation_widens_the_kernel():
    # a 3-tap kernel with dilation 2 spans 2×(3-1)+1 = 5 inputs: (10 - 5) / 1 + 1 = 6
    assert window_output_size(10, 3, 1, 0, 2, "width") == 6


def test_ceil_mode_rounds_up_but_keeps_the_last_window_inside():
    # (6 - 3) / 2 = 1.5 → ceil 2 → 3 outputs; the third starts at 4 < 6, so it stays
    assert window_output_size(6, 3, 2, 0, 1, "h", ceil_mode=True) == 3
    assert window_output_size(6, 3, 2, 0, 1, "h", ceil_mode=False) == 2


def test_conv_shapes_with_groups_and_stride():
    layer = Conv(64, (3, 3), (2, 2), (1, 1), (1, 1), groups=32)
    assert layer.output_shape(((32, 56, 56),)) == (64, 28, 28)  # (56 + 2 - 3) // 2 + 1 = 28
    conv1d = Conv(8, (5,), (1,), (0,), (1,))
    assert conv1d.output_shape(((4, 100),)) == (8, 96)  # 100 - 5 + 1


@pytest.mark.parametrize(("layer", "shape", "message"), [
    (Conv(64, (3, 3), (1, 1), (0, 0), (1, 1), groups=3), (32, 8, 8), "not divisible by groups=3"),
    (Conv(64, (7, 7), (1, 1), (0, 0), (1, 1)), (3, 5, 5), "height: input 5 + 2×0 padding is smaller"),
    (Conv(64, (3, 3), (1, 1), (0, 0), (1, 1)), (3, 5), "expects a Conv2d input of 3 dimensions"),
    (Linear(10, in_features=20), (30,), "expects 20 input features, got 30"),
    (Pool("max", (2, 2), (2, 2), (2, 2), (1, 1)), (3, 8, 8), "at most half the kernel"),
    (Reshape((5, -1)), (3, 4), "cannot reshape"),
    (MatMul(), None, "inner dimensions differ"),
    (Concat(0), None, "differ outside the concatenation"),
])
def test_impossible_shapes_raise_with_the_reason(layer, shape, message):
    inputs = {MatMul: ((4, 5), (6, 7)), Concat: ((2, 3), (2, 4))}.get(type(layer), (shape,))
    with pytest.raises(ShapeError, match=re.escape(message)):
        layer.output_shape(inputs)


def test_builder_error_names_network_layer_and_input():
    net = NetworkBuilder("tiny", (3, 8, 8))
    expected = "network 'tiny', layer 'big' (Conv2d, input (3, 8, 8)): height"
    with pytest.raises(ShapeError, match=re.escape(expected)):
        net.conv2d(net.input, 4, 11, name="big")


def test_builder_rejects_unknown_tensors_duplicates_and_unsafe_inplace():
    net = NetworkBuilder("tiny", (4,))
    x = net.linear(net.input, 4, name="fc")
    with pytest.raises(GraphError, match="duplicate layer name 'fc'"):
        net.linear(x, 4, name="fc")
    with pytest.raises(GraphError, match="unknown input tensor 'nope'"):
        net.relu("nope")
    net.relu(x, inplace=True, name="relu")  # overwrites fc's output...
    net.add_(x, "relu", name="add")        # ...which this layer still reads
    with pytest.raises(GraphError, match="in-place layer 'relu' overwrites tensor 'fc'"):
        net.build()


def test_flatten_permute_and_select_token():
    assert Flatten().output_shape(((256, 6, 6),)) == (9216,)
    net = NetworkBuilder("seq", (8, 4, 4))
    x = net.reshape(net.input, (8, 16))
    x = net.permute(x, (1, 0))
    assert net.shape(x) == (16, 8)
    x = net.class_token(x)
    assert net.shape(x) == (17, 8)
    assert net.shape(net.select_token(x)) == (8,)


def test_adaptive_windows_match_pytorch_start_end_rule():
    # 7 → 3: starts floor(i·7/3) = 0, 2, 4; ends ceil((i+1)·7/3) = 3, 5, 7
    assert adaptive_windows(7, 3) == [3, 3, 3]
    assert adaptive_windows(14, 7) == [2] * 7
    # 5 → 7: starts floor(i·5/7) = 0,0,1,2,2,3,4; ends ceil((i+1)·5/7) = 1,2,3,3,4,5,5
    assert adaptive_windows(5, 7) == [1, 2, 2, 1, 2, 2, 1]
