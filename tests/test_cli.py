"""The ``roofline`` command: output formats, exit codes and error messages."""

import json
import subprocess
import sys

import pytest

from simulator.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_count_json_has_the_documented_fields(capsys):
    code, out, _ = run(capsys, "count", "alexnet", "--format", "json", "--batch", "2")
    assert code == 0
    document = json.loads(out)
    assert document["network"] == "alexnet" and document["batch"] == 2
    assert document["input_shape"] == [2, 3, 224, 224]
    assert document["totals"]["total_activations"] == 2 * 932_264
    assert document["totals"]["peak_activations"] == 2 * 440_928
    first = document["layers"][0]
    assert set(first) == {"name", "kind", "output_shape", "params", "macs", "flops"}
    assert first["output_shape"] == [2, 96, 55, 55]
    assert sum(layer["macs"] for layer in document["layers"]) == document["totals"]["macs"]


def test_count_table_and_csv(capsys):
    code, out, _ = run(capsys, "count", "resnet18")
    assert code == 0 and "layer1.0.conv1" in out and "11,689,512 params" in out
    code, out, _ = run(capsys, "count", "mobilenet_v2", "--format", "csv", "--fused")
    lines = out.strip().splitlines()
    assert lines[0] == "layer,kind,output_shape,params,macs,flops,new_activations"
    assert sum(int(line.split(",")[3]) for line in lines[1:]) == 3_504_872


def test_count_at_another_resolution(capsys):
    code, out, _ = run(capsys, "count", "vgg16", "--resolution", "32", "--format", "json")
    assert code == 0 and json.loads(out)["input_shape"] == [1, 3, 32, 32]


def test_list_networks(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and {"alexnet", "vgg16", "resnet50", "mobilenet_v2", "vit_b_16"} <= set(out.split())


def test_unknown_network_suggests_close_names_and_fails(capsys):
    code, _, err = run(capsys, "count", "resnet05")
    assert code == 2
    assert "unknown network 'resnet05'; did you mean" in err and "'resnet50'" in err


def test_impossible_resolution_names_the_layer(capsys):
    code, _, err = run(capsys, "count", "alexnet", "--resolution", "32")
    assert code == 2 and "layer 'conv5.pool'" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["count", "alexnet", "--batch", "0"], ["count", "alexnet", "--batch", "x"]])
def test_bad_batch_exits_non_zero(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code != 0
    assert "--batch" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "simulator", "count", "alexnet", "--format", "json"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert json.loads(result.stdout)["totals"]["macs"] == 724_406_816
