"""Independent checks of the ONNX import (issue 12, "Tests that catch real bugs"): counts of an
imported model against counts taken from the model itself, not from an export round trip (which
passes when writer and reader share a mistake).

Params are the sizes of the model's initializers (numpy); MACs come from ONNX's own shape
inference (``onnx.shape_inference``): a MatMul or Gemm does one MAC per output element per
element of its contracted dimension (read from the weight initializer's shape, so a non-square
weight whose dimensions are swapped shows), a Conv ``C_in/groups · kh · kw`` per output element.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper, shape_inference  # noqa: E402

from simulator.model.counts import count_network  # noqa: E402
from simulator.onnx.reader import import_onnx  # noqa: E402

RNG = np.random.default_rng(12)


def init(name, *shape):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "m", inputs, outputs, initializers)
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(built)
    return built


def value(name, *shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def expected_counts(built, batch: int) -> tuple[int, int]:
    """``(params, MACs per batch)`` from the initializers and ONNX's inferred shapes alone."""
    inferred = shape_inference.infer_shapes(built)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    weights = {t.name: numpy_helper.to_array(t) for t in built.graph.initializer}
    params = sum(w.size for w in weights.values())
    macs = 0
    for node in built.graph.node:
        out = math.prod(shapes[node.output[0]])
        if node.op_type == "MatMul":
            macs += out * weights[node.input[1]].shape[0]
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            w = weights[node.input[1]]
            macs += out * (w.shape[1] if trans_b else w.shape[0])
        elif node.op_type == "Conv":
            groups = next((a.i for a in node.attribute if a.name == "group"), 1)
            w = weights[node.input[1]]
            macs += out * (w.shape[1] * w.shape[2] * w.shape[3])  # w.shape[1] is already C_in / groups
            assert w.shape[0] % groups == 0
    return params, macs


def mlp(batch: int):
    # non-square weights everywhere: 12 -> 5 (MatMul), 5 -> 7 (Gemm, transB=0), 7 -> 3 (Gemm, transB=1)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h1"]), helper.make_node("Add", ["h1", "b1"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]),
             helper.make_node("Gemm", ["r1", "w2", "b2"], ["h2"]),
             helper.make_node("Gemm", ["h2", "w3", "b3"], ["y"], transB=1)]
    return model(nodes, [value("x", batch, 12)], [value("y", batch, 3)],
                 [init("w1", 12, 5), init("b1", 5), init("w2", 5, 7), init("b2", 7), init("w3", 3, 7),
                  init("b3", 3)])


def tokens(batch: int):
    # a MatMul on a (tokens, features) input with a non-square weight: 6 tokens of 10 -> 4 features
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    return model(nodes, [value("x", batch, 6, 10)], [value("y", batch, 6, 4)], [init("w", 10, 4)])


def cnn(batch: int):
    # a strided, grouped convolution with a non-square kernel, then a 1x1 convolution
    nodes = [helper.make_node("Conv", ["x", "c1.weight", "c1.bias"], ["c1"], strides=[2, 1],
                              pads=[1, 2, 1, 2], group=2),
             helper.make_node("Relu", ["c1"], ["r"]),
             helper.make_node("Conv", ["r", "c2.weight"], ["y"])]
    return model(nodes, [value("x", batch, 4, 9, 7)], [value("y", batch, 6, 5, 7)],
                 [init("c1.weight", 8, 2, 3, 5), init("c1.bias", 8), init("c2.weight", 6, 8, 1, 1)])


@pytest.mark.parametrize("build", [mlp, tokens, cnn])
@pytest.mark.parametrize("batch", [1, 3])
def test_imported_counts_equal_the_models_own(build, batch):
    built = build(batch)
    params, macs = expected_counts(built, batch)
    counts = count_network(import_onnx(built), batch=batch)
    assert counts.params == params
    assert counts.macs == macs


def test_the_imported_output_shape_is_the_models():
    built = cnn(2)
    network = import_onnx(built)
    (output,) = built.graph.output
    dims = [d.dim_value for d in output.type.tensor_type.shape.dim]
    assert network.input_shape == (4, 9, 7)
    assert tuple(network.shape_of(network.outputs[0])) == tuple(dims[1:])


def asymmetric(batch: int):
    # pads begin (0, 1), end (1, 2): read as a Pad then a Conv; output (8 - 3) // 2 + 1 = 3 by
    # (9 - 3) // 2 + 1 = 4
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[0, 1, 1, 2], strides=[2, 2])]
    return model(nodes, [value("x", batch, 3, 7, 6)], [value("y", batch, 5, 3, 4)],
                 [init("w", 5, 3, 3, 3), init("b", 5)])


@pytest.mark.parametrize("batch", [1, 2])
def test_an_asymmetric_padding_is_a_pad_then_the_convolution(batch):
    built = asymmetric(batch)
    params, macs = expected_counts(built, batch)
    network = import_onnx(built)
    counts = count_network(network, batch=batch)
    assert (counts.params, counts.macs) == (params, macs)
    pad, conv = network.nodes
    assert pad.kind == "Pad" and pad.output_shape == (3, 7 + 0 + 1, 6 + 1 + 2)
    assert conv.output_shape == (5, 3, 4)


def test_a_learned_scalar_is_a_constant_and_a_learned_vector_a_parameter():
    # x * s + b with s a one-element initializer (a constant an exporter folds in) and b 5 elements
    nodes = [helper.make_node("Mul", ["x", "s"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    built = model(nodes, [value("x", 1, 5)], [value("y", 1, 5)], [init("s", 1), init("b", 5)])
    assert count_network(import_onnx(built)).params == 5


def test_nodes_with_the_same_name_get_numbered_names():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="act"),
             helper.make_node("Sigmoid", ["a"], ["b"], name="act"),
             helper.make_node("Tanh", ["b"], ["y"], name="act")]
    built = model(nodes, [value("x", 1, 4)], [value("y", 1, 4)], [])
    assert [node.name for node in import_onnx(built).nodes] == ["act", "act_2", "act_3"]


def test_a_dimension_of_one_is_accepted_and_of_zero_refused():
    from simulator.errors import SimulatorError

    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    one = model(nodes, [value("x", 1, 1, 4)], [value("y", 1, 1, 4)], [])
    assert import_onnx(one).input_shape == (1, 4)
    zero = helper.make_model(helper.make_graph(nodes, "m", [value("x", 1, 0, 4)], [value("y", 1, 0, 4)]),
                             opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(SimulatorError, match="dimension 1 has size 0"):
        import_onnx(zero)
