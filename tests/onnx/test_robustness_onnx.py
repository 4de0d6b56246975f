"""ONNX input that used to give wrong numbers or misleading messages (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from simulator.cli import main  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.onnx.reader import import_onnx  # noqa: E402


def conv_model(input_channels: int, weight_channels: int, dims=None) -> onnx.ModelProto:
    """x [1, C_in, 8, 8] -> Conv with an 8 x C_w x 3 x 3 weight."""
    dims = dims or [1, input_channels, 8, 8]
    weight = numpy_helper.from_array(np.ones((8, weight_channels, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", kernel_shape=[3, 3])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def one_line(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_a_consistent_conv_counts_the_initializers_params(tmp_path):
    network = import_onnx(conv_model(3, 3))
    from simulator.model.counts import count_network

    assert count_network(network).params == 8 * 3 * 3 * 3  # 216, the initializer's elements


def test_input_channels_that_disagree_with_the_weight_name_the_node(tmp_path, capsys):
    path = tmp_path / "bad.onnx"
    onnx.save(conv_model(5, 3), str(path))  # the input says 5 channels, the weight 3 (216 params, not 360)
    with pytest.raises(SimulatorError, match="conv0"):
        import_onnx(path)
    one_line(capsys, ["count", str(path)], "conv0", "5 channels", "expects 3")


def test_an_empty_onnx_file_says_empty(tmp_path, capsys):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    one_line(capsys, ["count", str(path)], "empty file")


def test_a_zero_sized_dimension_is_not_called_symbolic(tmp_path, capsys):
    path = tmp_path / "zero.onnx"
    onnx.save(conv_model(3, 3, dims=[1, 3, 0, 8]), str(path))
    one_line(capsys, ["count", str(path)], "dimension 2 has size 0")
    with pytest.raises(SimulatorError) as raised:
        import_onnx(path)
    assert "symbolic" not in str(raised.value)


def test_export_refuses_an_onnx_input(tmp_path, capsys):
    model = tmp_path / "model.onnx"
    onnx.save(conv_model(3, 3), str(model))
    before = model.read_bytes()
    one_line(capsys, ["export", str(model), "-o", str(model)], "already an ONNX model")
    assert model.read_bytes() == before


def test_export_refuses_an_output_it_could_not_read_back(tmp_path, capsys):
    one_line(capsys, ["export", "resnet18", "-o", str(tmp_path / "r.txt")], "must end in .onnx")
    assert not (tmp_path / "r.txt").exists()


@pytest.mark.parametrize("target", ["directory", "missing/parent.onnx"])
def test_export_to_an_unwritable_place_is_one_line(tmp_path, capsys, target):
    path = tmp_path / target
    if target == "directory":
        path = tmp_path / "out.onnx"
        path.mkdir()
    one_line(capsys, ["export", "resnet18", "-o", str(path)], "cannot write")


def test_a_weight_mismatch_after_another_domains_operator_says_its_shape_was_a_guess(tmp_path, capsys):
    # ONNX Runtime's optimized models use com.microsoft.nchwc operators ONNX has no shapes for; the
    # reader passes their first input's shape through, so a later Gemm's mismatch is that guess.
    weight = numpy_helper.from_array(np.ones((4, 16), np.float32), "w")
    nchwc = "com.microsoft.nchwc"
    nodes = [helper.make_node("ReorderInput", ["x"], ["x_nchwc"], name="reorder", domain=nchwc),
             helper.make_node("Gemm", ["x_nchwc", "w"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(nchwc, 1)])
    path = tmp_path / "optimized.onnx"
    onnx.save(model, path)
    one_line(capsys, ["count", str(path)], "'fc' (Gemm)", "com.microsoft.nchwc.ReorderInput x1",
             "runtime-optimized", "8 features", "expects 16")
