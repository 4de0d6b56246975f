"""Conv3d and ConvTranspose3d (3D-UNet): shapes, parameters and MACs by hand, and their refusals."""

import pytest

from simulator.errors import ShapeError
from simulator.model.counts import count_network
from simulator.model.formulas import layer_cost
from simulator.model.graph import NetworkBuilder
from simulator.model.layers import Conv3d, ConvTranspose3d


def _layer(build, input_shape):
    net = NetworkBuilder("t", input_shape)
    build(net, net.input)
    node = net.build().nodes[0]
    return node, layer_cost(node.layer, node.input_shapes, node.output_shape)


def test_conv3d_3x3x3_stride_2_by_hand():
    node, cost = _layer(lambda net, x: net.conv3d(x, 64, 3, stride=2, padding=1, bias=False),
                        (32, 16, 12, 10))
    # each axis floor((n + 2 − 3)/2) + 1: 16 -> 8, 12 -> 6, 10 -> 5
    assert node.output_shape == (64, 8, 6, 5)
    assert cost.params == 64 * 32 * 27                   # c_o · c_i · k³, no bias
    assert cost.macs == 64 * 32 * 27 * (8 * 6 * 5)       # weights × output voxels
    assert cost.elementwise_ops == 0


def test_conv3d_bias_grouped_and_anisotropic_kernel():
    node, cost = _layer(lambda net, x: net.conv3d(x, 8, (1, 3, 3), padding=(0, 1, 1), groups=4),
                        (4, 5, 7, 7))
    assert node.output_shape == (8, 5, 7, 7)
    weights = 8 * (4 // 4) * 1 * 3 * 3                   # groups 4: one input channel per output
    assert cost.params == weights + 8
    assert cost.macs == weights * 5 * 7 * 7
    assert cost.elementwise_ops == 8 * 5 * 7 * 7         # one bias add per output element


def test_conv_transpose3d_2x2x2_stride_2_doubles_each_side():
    node, cost = _layer(lambda net, x: net.conv_transpose3d(x, 256, 2, stride=2), (320, 4, 4, 4))
    # (n − 1)·2 − 0 + (2 − 1) + 0 + 1 = 2n
    assert node.output_shape == (256, 8, 8, 8)
    assert cost.params == 320 * 256 * 8 + 256            # weight (c_i, c_o, 2, 2, 2) and bias
    # every input voxel meets every weight once: 320·256·8 MACs per input voxel, 4³ of them; equal to
    # each output voxel receiving c_i = 320 products per output channel: 256·8³·320
    assert cost.macs == 320 * 256 * 8 * 4**3 == 256 * 8**3 * 320
    assert cost.elementwise_ops == 256 * 8**3


def test_conv_transpose3d_padding_and_output_padding_follow_pytorch():
    node, _ = _layer(lambda net, x: net.conv_transpose3d(x, 4, 3, stride=2, padding=1, output_padding=1),
                     (2, 5, 6, 7))
    # (n − 1)·2 − 2 + 2 + 1 + 1 = 2n
    assert node.output_shape == (4, 10, 12, 14)


@pytest.mark.parametrize("build, shape, words", [
    (lambda net, x: net.conv3d(x, 8, 3), (4, 8, 8), "(C, D, H, W)"),
    (lambda net, x: net.conv3d(x, 8, 5), (4, 3, 8, 8), "depth: input 3"),
    (lambda net, x: net.conv3d(x, 6, 3, groups=4), (4, 8, 8, 8), "not divisible by groups=4"),
    (lambda net, x: net.conv_transpose3d(x, 8, 2, stride=2, output_padding=2), (4, 2, 2, 2),
     "output_padding 2 must be smaller"),
    (lambda net, x: net.conv_transpose3d(x, 8, 1, padding=1), (4, 1, 4, 4), "empty output"),
])
def test_impossible_3d_shapes_are_one_line_naming_the_axis(build, shape, words):
    with pytest.raises(ShapeError) as error:
        _layer(build, shape)
    assert "\n" not in str(error.value) and words in str(error.value)


def test_a_tiny_3d_encoder_decoder_totals_add_up():
    net = NetworkBuilder("tiny3d", (1, 8, 8, 8))
    x = net.conv3d(net.input, 4, 3, padding=1, bias=False)          # 4·1·27 params, 4·27·8³ MACs
    down = net.conv3d(x, 8, 3, stride=2, padding=1, bias=False)     # 8·4·27, 8·4·27·4³
    up = net.conv_transpose3d(down, 4, 2, stride=2)                 # 8·4·8 + 4, 8·4·8·4³
    net.concat(up, x, dim=0)
    counts = count_network(net.build())
    assert counts.params == 4 * 27 + 8 * 4 * 27 + 8 * 4 * 8 + 4
    assert counts.macs == 4 * 27 * 8**3 + 8 * 4 * 27 * 4**3 + 8 * 4 * 8 * 4**3


def _tiny3d():
    net = NetworkBuilder("tiny3d", (1, 8, 8, 8))
    x = net.conv3d(net.input, 4, 3, padding=1, bias=False)
    up = net.conv_transpose3d(net.conv3d(x, 8, 3, stride=2, padding=1), 4, 2, stride=2)
    net.concat(up, x, dim=0)
    return net.build()


def test_3d_kinds_round_trip_through_onnx_and_onnx_runtime_runs_them():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from simulator.onnx.reader import import_onnx, unsupported_operators
    from simulator.onnx.writer import to_onnx

    network = _tiny3d()
    back = import_onnx(to_onnx(network, weights=False))
    assert unsupported_operators(back) == {}
    assert {node.kind for node in back.nodes} >= {"Conv3d", "ConvTranspose3d"}
    ours, theirs = count_network(network), count_network(back)
    assert (theirs.params, theirs.macs, theirs.flops) == (ours.params, ours.macs, ours.flops)
    model = to_onnx(network, batch=2)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = np.random.default_rng(0).standard_normal((2, 1, 8, 8, 8), dtype=np.float32)
    (out,) = session.run(None, {session.get_inputs()[0].name: feed})
    assert out.shape == (2, 8, 8, 8, 8)                    # 4 upsampled + 4 skip channels, 8³
    assert Conv3d.exportable and ConvTranspose3d.exportable
