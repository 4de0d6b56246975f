"""``validate`` on a profile of another machine warns; a model ONNX Runtime rejects is one line;
counting a name instead of a Network names the argument."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from simulator.calibration.session import make_session  # noqa: E402
from simulator.calibration.validate import measured_here, validate  # noqa: E402
from simulator.catalog import build_network  # noqa: E402
from simulator.cli import main  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.hardware.loader import resolve_device  # noqa: E402
from simulator.model.counts import count_network  # noqa: E402
from simulator.model.graph import NetworkBuilder  # noqa: E402
from simulator.onnx.writer import export_onnx  # noqa: E402


@pytest.fixture
def tiny_model(tmp_path):
    net = NetworkBuilder("tiny", (8,))
    net.relu(net.linear(net.input, 4, name="fc"), name="act")
    return export_onnx(net.build(), tmp_path / "tiny.onnx", batch=None)


def test_a_shipped_gpu_profile_is_not_this_machine():
    assert not measured_here(resolve_device("jetson-agx-orin"))


def test_validate_against_another_machines_profile_warns(tiny_model):
    with pytest.warns(UserWarning, match="was not measured on this machine"):
        frame = validate(tiny_model, "jetson-agx-orin", batches=(1,), repeats=1, warmup=0, patience_s=0.0)
    assert len(frame) == 1 and frame.measured_median_s.iloc[0] > 0


def test_the_cli_prints_the_warning_as_one_line(tiny_model, capsys):
    code = main(["validate", str(tiny_model), "--device", "jetson-agx-orin", "--batch", "1",
                 "--repeats", "1", "--patience", "0"])
    err = capsys.readouterr().err
    assert code == 0
    assert [line for line in err.splitlines() if "not measured on this machine" in line]


def test_a_model_onnx_runtime_rejects_is_one_line(tmp_path):
    node = helper.make_node("Mystery", ["x"], ["y"], domain="com.example")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([node], "custom", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                     helper.make_opsetid("com.example", 1)])
    with pytest.raises(SimulatorError, match="ONNX Runtime cannot run the model") as caught:
        make_session(model.SerializeToString(), 1)
    assert "\n" not in str(caught.value)


def test_count_network_of_a_name_names_the_argument():
    with pytest.raises(TypeError, match="takes a Network"):
        count_network("resnet50")
    assert count_network(build_network("resnet18")).params == 11_689_512   # torchvision's num_params
