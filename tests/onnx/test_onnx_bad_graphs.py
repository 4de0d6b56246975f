"""Malformed ONNX graphs are refused with one line naming the node, the tensor or the opset
(issue 23; the rules: :mod:`simulator.onnx.structure`).

Each model is built here with ``onnx.helper`` on a ``(N, 4)`` input and read both through the
library (:func:`~simulator.onnx.reader.import_onnx` raises a :class:`SimulatorError`) and through
``roofline count`` (exit 2, one stderr line, no traceback). Where ONNX Runtime is installed, it is
the independent witness that the model is indeed invalid.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from simulator.cli import main  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.model.counts import count_network  # noqa: E402
from simulator.onnx.reader import import_onnx  # noqa: E402
from simulator.onnx.structure import MIN_OPSET  # noqa: E402

NEWEST_OPSET = onnx.defs.onnx_opset_version()


def value(name, *dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims) if dims else None)


def model_of(nodes, initializers=(), opset=17, outputs=("y",), domains=None):
    graph = helper.make_graph(nodes, "g", [value("x", "N", 4)], [value(out) for out in outputs],
                              list(initializers))
    opsets = domains if domains is not None else [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets)


def refused(tmp_path, capsys, model, *needles):
    """The library and the CLI both refuse ``model`` with one line holding every needle."""
    with pytest.raises(SimulatorError) as raised:
        import_onnx(model)
    message = str(raised.value)
    assert "\n" not in message
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    assert main(["count", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in message and needle in err, (needle, err)
    return path


def onnxruntime_refuses(path):
    ort = pytest.importorskip("onnxruntime")
    # ORT raises its own (C++-bound) error types
    with pytest.raises(Exception):  # noqa: B017
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_two_nodes_writing_one_tensor_are_refused_naming_the_tensor_and_both_nodes(tmp_path, capsys):
    # before: counted as Relu + Sigmoid + Relu (24 FLOPs), exit 0
    model = model_of([helper.make_node("Relu", ["x"], ["t"], name="first"),
                      helper.make_node("Sigmoid", ["x"], ["t"], name="second"),
                      helper.make_node("Relu", ["t"], ["y"], name="last")])
    path = refused(tmp_path, capsys, model, "tensor 't'", "'first' (Relu)", "'second' (Sigmoid)",
                   "written by two nodes")
    onnxruntime_refuses(path)


def test_unnamed_nodes_writing_one_tensor_are_named_by_their_position(tmp_path, capsys):
    model = model_of([helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Sigmoid", ["x"], ["t"]),
                      helper.make_node("Relu", ["t"], ["y"])])
    refused(tmp_path, capsys, model, "tensor 't'", "#0 (Relu)", "#1 (Sigmoid)")


def test_a_node_overwriting_a_weight_is_refused(tmp_path, capsys):
    weight = numpy_helper.from_array(np.ones((4,), np.float32), "scale")
    model = model_of([helper.make_node("Relu", ["x"], ["scale"], name="clobber"),
                      helper.make_node("Mul", ["x", "scale"], ["y"], name="mul")], [weight])
    refused(tmp_path, capsys, model, "tensor 'scale'", "an initializer", "'clobber' (Relu)")


def test_a_cycle_is_refused_naming_its_nodes_and_tensors(tmp_path, capsys):
    # add reads u, which relu writes from add's t: before, "shape inference cannot tell the shape of 't'"
    model = model_of([helper.make_node("Add", ["x", "u"], ["t"], name="add"),
                      helper.make_node("Relu", ["t"], ["u"], name="relu"),
                      helper.make_node("Relu", ["u"], ["y"], name="out")])
    path = refused(tmp_path, capsys, model, "cycle",
                   "'add' (Add) -> 't' -> 'relu' (Relu) -> 'u' -> 'add' (Add)", "acyclic")
    onnxruntime_refuses(path)


def test_a_node_reading_its_own_output_is_a_cycle_of_one(tmp_path, capsys):
    model = model_of([helper.make_node("Add", ["x", "y"], ["y"], name="accumulate")])
    refused(tmp_path, capsys, model, "cycle", "'accumulate' (Add) -> 'y' -> 'accumulate' (Add)")


def test_a_dangling_input_is_refused_naming_the_node_and_the_tensor(tmp_path, capsys):
    # before: "ONNX shape inference cannot tell the shape of 'y'", naming neither 'ghost' nor its reader
    model = model_of([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                      helper.make_node("Add", ["r", "ghost"], ["y"], name="add")])
    path = refused(tmp_path, capsys, model, "'add' (Add)", "tensor 'ghost'",
                   "no node, initializer or graph input")
    onnxruntime_refuses(path)


def test_a_graph_output_nothing_writes_is_refused(tmp_path, capsys):
    model = model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")], outputs=("y", "missing"))
    refused(tmp_path, capsys, model, "graph output 'missing'", "written by no node")


def test_an_if_is_refused_as_control_flow(tmp_path, capsys):
    # before: the branch reads x from the outer graph, invisibly: "network 'bad' has no layers"
    then_branch = helper.make_graph([helper.make_node("Relu", ["x"], ["a"])], "then", [],
                                    [value("a", "N", 4)])
    else_branch = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["b"])], "else", [],
                                    [value("b", "N", 4)])
    condition = numpy_helper.from_array(np.array(True), "condition")
    model = model_of([helper.make_node("If", ["condition"], ["y"], name="branch", then_branch=then_branch,
                                       else_branch=else_branch)], [condition])
    refused(tmp_path, capsys, model, "node 'branch' (If)", "control flow", "subgraph")


def loop_model(outputs=("y",)):
    """``y = Loop(3 times: v = Relu(v))(x)``, a loop-carried value and no scan output."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["go_in"], ["go_out"]), helper.make_node("Relu", ["v_in"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("go_in", TensorProto.BOOL, []), value("v_in", "N", 4)],
        [helper.make_tensor_value_info("go_out", TensorProto.BOOL, []), value("v_out", "N", 4)])
    trips = numpy_helper.from_array(np.array(3, np.int64), "trips")
    return model_of([helper.make_node("Loop", ["trips", "", "x"], ["y"], name="loop0", body=body)], [trips],
                    outputs=outputs)


def test_a_loop_is_refused_as_control_flow(tmp_path, capsys):
    refused(tmp_path, capsys, loop_model(), "node 'loop0' (Loop)", "control flow", "'body'")


@pytest.mark.parametrize("opset", [1, MIN_OPSET - 1, NEWEST_OPSET + 1])
def test_an_opset_outside_the_supported_range_is_refused_naming_both(tmp_path, capsys, opset):
    # before: opset 1 gave "ONNX shape inference cannot tell the shape of 'y'"
    model = model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")], opset=opset)
    refused(tmp_path, capsys, model, f"opset {opset}", f"opsets {MIN_OPSET} to {NEWEST_OPSET}")


@pytest.mark.parametrize("opset", [MIN_OPSET, NEWEST_OPSET])
def test_the_ends_of_the_opset_range_are_read(opset):
    network = import_onnx(model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")], opset=opset))
    assert count_network(network).flops == 4  # one comparison per element of the (4,) sample


def test_standard_operators_without_a_default_domain_opset_are_refused(tmp_path, capsys):
    model = model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                     domains=[helper.make_opsetid("com.example", 1)])
    refused(tmp_path, capsys, model, "no opset of the default ONNX domain", "'relu' (Relu)")


def test_nodes_out_of_topological_order_are_read_in_order():
    # y = Gemm(Relu(x)): the Gemm stored before the Relu it reads. Sorted, the counts are those of
    # the stored-in-order model: 4·2 weights + 2 biases, 4·2 MACs
    weight = numpy_helper.from_array(np.ones((2, 4), np.float32), "fc.weight")
    bias = numpy_helper.from_array(np.ones((2,), np.float32), "fc.bias")
    gemm = helper.make_node("Gemm", ["r", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1)
    relu = helper.make_node("Relu", ["x"], ["r"], name="relu")
    unsorted = model_of([gemm, relu], [weight, bias])
    counts = count_network(import_onnx(unsorted))
    assert (counts.params, counts.macs) == (4 * 2 + 2, 4 * 2)
    assert [node.name for node in unsorted.graph.node] == ["fc", "relu"]  # the caller's model is untouched
    ordered = count_network(import_onnx(model_of([relu, gemm], [weight, bias])))
    assert (counts.params, counts.macs, counts.flops) == (ordered.params, ordered.macs, ordered.flops)
