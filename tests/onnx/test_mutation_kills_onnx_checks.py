"""The ONNX reader's checks of a graph against its initializers, and its multi-output and
symbolic-batch paths (issue 12, "Tests that catch real bugs").

:func:`simulator.onnx.reader._check_weights` says: a Conv's input channels must equal its
weight's ``W[1]`` times ``group``; a Gemm's inner dimension (``X[1]``, or ``X[0]`` with ``transA``)
its weight's (``W[0]``, or ``W[1]`` with ``transB``); a MatMul's ``X[-1]`` its constant matrix's
``W[-2]``; a BatchNormalization's channels ``X[1]`` its scale's length. Each model below breaks one
equation (or keeps it, as a real exporter's model does) with sizes chosen so that every number in
the message is distinct; the expected message is the docstring's rule applied by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from simulator.errors import ShapeError  # noqa: E402
from simulator.model.counts import count_network  # noqa: E402
from simulator.onnx.reader import import_onnx  # noqa: E402


def init(name, *shape, dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype), name)


def value(name, *shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape) if shape else None)


def model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "m", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# --- Conv: C_in = W[1] · group --------------------------------------------------------------------


def grouped_conv(channels, per_group, group, bias=True):
    inputs = ["x", "w", "b"] if bias else ["x", "w"]
    node = helper.make_node("Conv", inputs, ["y"], name="conv", kernel_shape=[3, 3], group=group)
    inits = [init("w", 6, per_group, 3, 3)] + ([init("b", 6)] if bias else [])
    return model([node], [value("x", 1, channels, 8, 8)], [value("y")], inits)


@pytest.mark.parametrize("bias", [True, False])
def test_a_grouped_conv_whose_channels_disagree_names_both_counts(bias):
    # the input has 8 channels; the weight's 2 per group in 3 groups expect 2·3 = 6
    with pytest.raises(ShapeError, match=r"'conv' \(Conv\): its input has 8 channels but its weight 'w' "
                                         r"\[6, 2, 3, 3\] expects 6 \(2 per group x 3 groups\)"):
        import_onnx(grouped_conv(8, 2, 3, bias))


def test_a_grouped_conv_whose_channels_agree_is_read():
    # 6 channels = 2 per group x 3 groups: params 6·2·3·3 + 6 (the initializers' sizes)
    assert count_network(import_onnx(grouped_conv(6, 2, 3))).params == 6 * 2 * 3 * 3 + 6


# --- Gemm: inner dimensions -----------------------------------------------------------------------


def gemm(features, weight, trans_b=0):
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=trans_b)
    return model([node], [value("x", 1, features)], [value("y")], [init("w", *weight)])


@pytest.mark.parametrize("weight, trans_b, inner", [((4, 3), 0, 4), ((3, 7), 1, 7)])
def test_a_gemm_whose_inner_dimension_disagrees_names_both(weight, trans_b, inner):
    # the input has 5 features; W [4, 3] expects W[0] = 4, W [3, 7] with transB expects W[1] = 7
    with pytest.raises(ShapeError, match=rf"'fc' \(Gemm\): its input has 5 features but its weight 'w' "
                                         rf"\[{weight[0]}, {weight[1]}\] expects {inner}$"):
        import_onnx(gemm(5, weight, trans_b))


@pytest.mark.parametrize("weight, trans_b", [((5, 3), 0), ((3, 5), 1)])
def test_a_gemm_whose_inner_dimensions_agree_is_read(weight, trans_b):
    network = import_onnx(gemm(5, weight, trans_b))
    assert network.shape_of(network.outputs[0]) == (3,)  # 5 features in, 3 out
    assert count_network(network).macs == 5 * 3


# --- MatMul: X[-1] = W[-2] ------------------------------------------------------------------------


def test_a_matmul_whose_inner_dimension_disagrees_names_both():
    # x (1, 6 tokens, 5 features) @ W [4, 3]: W[-2] = 4 is not X[-1] = 5
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    built = model([node], [value("x", 1, 6, 5)], [value("y")], [init("w", 4, 3)])
    with pytest.raises(ShapeError, match=r"'proj' \(MatMul\): its input's last dimension is 5 but its weight "
                                         r"'w' \[4, 3\] expects 4$"):
        import_onnx(built)


# --- BatchNormalization: X[1] = len(scale) --------------------------------------------------------


def batch_norm(x_shape, channels):
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")
    inits = [init(name, channels) for name in ("s", "b", "m", "v")]
    return model([node], [value("x", *x_shape)], [value("y")], inits)


@pytest.mark.parametrize("x_shape", [(1, 3), (1, 3, 5, 5)], ids=["features", "images"])
def test_a_batch_norm_whose_channels_disagree_names_both(x_shape):
    # 3 channels in the input (a BatchNorm1d's (N, C) or a BatchNorm2d's (N, C, H, W)), 4 in the scale
    with pytest.raises(ShapeError, match=r"'bn' \(BatchNormalization\): its input has 3 channels but its "
                                         r"scale 's' has 4$"):
        import_onnx(batch_norm(x_shape, 4))


def test_a_batch_norm_on_features_whose_channels_agree_is_read():
    # a BatchNorm1d on (N, 3): scale and shift per channel, 2·3 params (mean and variance are buffers)
    network = import_onnx(batch_norm((1, 3), 3))
    assert network.shape_of(network.outputs[0]) == (3,)


# --- parameters: learned floating-point tensors only --------------------------------------------


def test_a_computed_constant_and_an_integer_initializer_are_not_parameters():
    # x (1, 5) + c, c a Constant node's 5 floats (computed, not learned), then Tile by an int64
    # initializer [1, 2]: the only initializer is integral, so the model learns nothing
    repeats = numpy_helper.from_array(np.array([1, 2], np.int64), "repeats")
    nodes = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones(5, np.float32))),
             helper.make_node("Add", ["x", "c"], ["a"]), helper.make_node("Tile", ["a", "repeats"], ["y"])]
    built = model(nodes, [value("x", 1, 5)], [value("y", 1, 10)], [repeats])
    network = import_onnx(built)
    assert network.shape_of(network.outputs[0]) == (10,)
    assert count_network(network).params == 0


# --- a node's second output ---------------------------------------------------------------------


@pytest.mark.parametrize("second_is_output", [True, False])
def test_a_second_output_is_read_when_the_graph_returns_it(second_is_output):
    # Split x (1, 6) into (1, 2) and (1, 4); the first goes through a Relu; the second is a graph
    # output or unused (then nothing computes it)
    split = numpy_helper.from_array(np.array([2, 4], np.int64), "split")
    nodes = [helper.make_node("Split", ["x", "split"], ["p", "q"], axis=1),
             helper.make_node("Relu", ["p"], ["y"])]
    outputs = [value("y", 1, 2)] + ([value("q", 1, 4)] if second_is_output else [])
    network = import_onnx(model(nodes, [value("x", 1, 6)], outputs, [split]))
    assert [network.shape_of(o) for o in network.outputs] == ([(2,), (4,)] if second_is_output else [(2,)])
    assert len(network.nodes) == (3 if second_is_output else 2)  # one layer per used output, and the Relu


# --- a symbolic batch: per-sample shapes from two batch sizes -----------------------------------


@pytest.mark.parametrize("batch", [1, 2])
def test_a_flatten_by_the_input_batch_reads_per_sample(batch):
    # x.view(x.size(0), -1), as PyTorch exports it: Reshape(x, Concat(Shape(x)[0:1], [-1])) on a
    # symbolic batch; per sample (3, 4, 5) -> (60,)
    minus_one = numpy_helper.from_array(np.array([-1], np.int64), "minus_one")
    nodes = [helper.make_node("Shape", ["x"], ["s"], start=0, end=1),
             helper.make_node("Concat", ["s", "minus_one"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 60])
    network = import_onnx(model(nodes, [x], [y], [minus_one]), batch=batch)
    assert network.input_shape == (3, 4, 5)
    assert network.shape_of(network.outputs[0]) == (3 * 4 * 5,)


# --- graph outputs: a declared shape must be the computed one (a bug fixed in issue 12) ---------


def linear_model(x_dims, y_dims):
    # x (batch, 5) @ W [5, 3]: the graph computes (batch, 3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_dims)
    return model([helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [y], [init("w", 5, 3)])


@pytest.mark.parametrize("declared, message", [
    ([1, 7], r"output 'y' is declared with shape \[1, 7\] but the graph computes \[1, 3\]"),
    ([1, 3, 1], r"output 'y' is declared with shape \[1, 3, 1\] but the graph computes \[1, 3\]"),
    (["N", 4], r"output 'y' is declared with shape \['N', 4\] but the graph computes \[1, 3\]"),
], ids=["a dimension", "the rank", "beside a symbolic one"])
def test_an_output_declared_with_another_shape_is_refused(declared, message):
    with pytest.raises(ShapeError, match=message):
        import_onnx(linear_model([1, 5], declared))


@pytest.mark.parametrize("declared", [["N", 3], [1, 3], ["N", None], None],
                         ids=["symbolic batch", "batch fixed at 1", "unknown", "no shape"])
@pytest.mark.parametrize("batch", [1, 4])
def test_symbolic_unknown_or_batch_dimensions_of_an_output_are_accepted(declared, batch):
    # exporters write a dynamic batch as a name ("N"), leave dimensions unknown, or keep the batch
    # they traced with (1) on the output while the input's is dynamic: none of these disagree
    network = import_onnx(linear_model(["N", 5], declared), batch=batch)
    assert network.shape_of(network.outputs[0]) == (3,)
