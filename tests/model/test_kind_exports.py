"""ONNX writers and readers of the MLPerf kinds (issue #20): EmbeddingBag, LSTM, the attention kinds without
some biases, CrossAttention, GEGLU, ConditioningInput; and extra graph inputs read back as conditioning.

Expected counts are hand arithmetic from each operator's definition (ONNX's ``LSTM``: ``W`` ``(1, 4h, n)``,
``R`` ``(1, 4h, h)``, ``B`` ``(1, 8h)``), and computed values are checked against NumPy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from simulator.model.counts import count_network  # noqa: E402
from simulator.model.graph import NetworkBuilder  # noqa: E402
from simulator.onnx.reader import UnsupportedOperatorWarning, import_onnx  # noqa: E402
from simulator.onnx.writer import to_onnx  # noqa: E402


def model_of(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "hand", inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", 17)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def tensor(name, *shape, elem_type=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem_type, list(shape))


def zeros(name, *shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def kinds(network):
    return [type(node.layer).__name__ for node in network.nodes]


def test_a_second_graph_input_reads_back_as_a_conditioning_input():
    model = model_of([helper.make_node("Add", ["a", "b"], ["y"])], [tensor("a", "N", 4), tensor("b", "N", 4)],
                     [tensor("y", "N", 4)])
    network = import_onnx(model)
    assert kinds(network) == ["ConditioningInput", "Add"]
    assert count_network(network).flops == 4                  # one add per element; the input costs nothing


def test_an_onnx_lstm_reads_back_as_one_lstm_layer_by_hand():
    steps, n, h = 5, 2, 3
    # a batch-first input (the batch is an input's first dimension), made sequence-first for the LSTM
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["xt", "W", "R", "B"], ["y"], hidden_size=h)]
    model = model_of(nodes, [tensor("x", "N", steps, n)], [tensor("y", steps, 1, "N", h)],
                     [zeros("W", 1, 4 * h, n), zeros("R", 1, 4 * h, h), zeros("B", 1, 8 * h)])
    counts = count_network(import_onnx(model))
    assert counts.params == 4 * h * (n + h) + 8 * h           # W_ih, W_hh, both biases: 84
    assert counts.macs == steps * 4 * h * (n + h)             # four gates per step over x_t and h_{t-1}: 300


def test_a_bidirectional_lstm_is_reported_not_counted():
    h = 3
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["xt", "W", "R", "B"], ["y"], hidden_size=h, direction="bidirectional")]
    model = model_of(nodes, [tensor("x", "N", 5, 2)], [tensor("y", 5, 2, "N", h)],
                     [zeros("W", 2, 4 * h, 2), zeros("R", 2, 4 * h, h), zeros("B", 2, 8 * h)])
    with pytest.warns(UnsupportedOperatorWarning, match="LSTM"):
        assert count_network(import_onnx(model)).macs == 0


@pytest.mark.parametrize(("op", "pooling_ops"), [("ReduceSum", (3 - 1) * 4), ("ReduceMean", 3 * 4)])
def test_gather_then_reduce_over_the_lookups_reads_back_as_an_embedding_bag(op, pooling_ops):
    # a (50, 4) table, 3 indices per sample: sum pools with 2 adds per element, mean adds a divide
    nodes = [helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0),
             helper.make_node("Constant", [], ["axes"], value=numpy_helper.from_array(np.array([1]), "axes")),
             helper.make_node(op, ["rows", "axes"] if op == "ReduceSum" else ["rows"], ["y"], keepdims=0,
                              **({} if op == "ReduceSum" else {"axes": [1]}))]
    model = model_of(nodes, [tensor("x", "N", 13), tensor("ids", "N", 3, elem_type=TensorProto.INT64)],
                     [tensor("y", "N", 4)], [zeros("table", 50, 4)])
    network = import_onnx(model)
    assert kinds(network) == ["ConditioningInput", "EmbeddingBag"]
    counts = count_network(network)
    assert (counts.params, counts.macs, counts.flops) == (50 * 4, 0, pooling_ops)


def run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def weights(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_an_exported_bag_sums_the_rows_it_looks_up():
    net = NetworkBuilder("bag", (13,))
    net.embedding_bag(net.input, 50, 4, 3, name="bag")
    model = to_onnx(net.build(), batch=None, seed=2)
    ids = np.array([[0, 7, 7], [49, 1, 2]], dtype=np.int64)
    (out,) = run(model, {"input": np.zeros((2, 13), np.float32), "bag.indices": ids})
    table = weights(model)["bag.weight"]
    np.testing.assert_allclose(out, table[ids].sum(axis=1), rtol=1e-6)


def test_an_exported_geglu_is_the_hidden_half_times_gelu_of_the_gate():
    net = NetworkBuilder("geglu", (3, 8))
    net.geglu(net.input)
    x = np.random.default_rng(0).standard_normal((2, 3, 8), dtype=np.float32)
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    for opset in (17, 21):                                   # the erf form, then the Gelu operator
        (out,) = run(to_onnx(net.build(), batch=None, opset=opset), {"input": x})
        np.testing.assert_allclose(out, x[..., :4] * gelu(x[..., 4:]), rtol=1e-5, atol=1e-6)


def test_exported_cross_attention_matches_a_numpy_reference():
    net = NetworkBuilder("cross", (4, 8))
    context = net.conditioning_input((3, 6), "context", name="context")
    net.cross_attention(net.input, context, 2, name="attn")
    model = to_onnx(net.build(), batch=None, seed=5)
    rng = np.random.default_rng(1)
    x, c = rng.standard_normal((1, 4, 8), dtype=np.float32), rng.standard_normal((1, 3, 6), dtype=np.float32)
    (out,) = run(model, {"input": x, "context": c})
    w = weights(model)
    q, k, v = x[0] @ w["attn.to_q.weight"], c[0] @ w["attn.to_k.weight"], c[0] @ w["attn.to_v.weight"]
    heads = []
    for head in range(2):                                    # head dim 4: softmax(q kᵀ / 2) v per head
        part = slice(4 * head, 4 * head + 4)
        scores = q[:, part] @ k[:, part].T / 2.0
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        heads.append(probabilities / probabilities.sum(axis=1, keepdims=True) @ v[:, part])
    expected = np.concatenate(heads, axis=1) @ w["attn.to_out.0.weight"] + w["attn.to_out.0.bias"]
    np.testing.assert_allclose(out[0], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("method", "biases"), [
    ("self_attention_no_key_bias", {"q_proj", "v_proj", "out_proj"}),
    ("self_attention_out_bias", {"out_proj"})])
def test_attention_without_some_biases_writes_exactly_those_biases(method, biases):
    net = NetworkBuilder("attention", (4, 8))
    getattr(net, method)(net.input, 2, name="attn")
    network = net.build()
    model = to_onnx(network, weights=False)
    written = {t.name.split(".")[1] for t in model.graph.initializer if t.name.endswith(".bias")}
    assert written == biases
    back, ours = count_network(import_onnx(model)), count_network(network)
    assert (back.params, back.macs, back.flops) == (ours.params, ours.macs, ours.flops)
    assert ours.params == 4 * 8 * 8 + 8 * len(biases)
