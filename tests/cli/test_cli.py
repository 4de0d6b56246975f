"""The ``roofline`` command: output formats, exit codes and error messages."""

import json
import subprocess
import sys

import pytest

from simulator import cli
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
    assert set(first) == {"name", "kind", "output_shape", "params", "macs", "flops", "new_activations"}
    assert first["output_shape"] == [2, 96, 55, 55]
    assert first["new_activations"] == 2 * 96 * 55 * 55  # conv1 writes a new tensor
    assert sum(layer["macs"] for layer in document["layers"]) == document["totals"]["macs"]
    # total activations: the input (2x3x224x224) plus every tensor a layer creates
    assert (2 * 3 * 224 * 224 + sum(layer["new_activations"] for layer in document["layers"])
            == document["totals"]["total_activations"])


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


# Network size and parameters: --resolution HxW, --seq-len, --param; --attention.

def test_non_square_resolution_and_square_shorthand(capsys):
    code, out, _ = run(capsys, "count", "segformer_b0", "--resolution", "256x512", "--format", "json")
    assert code == 0 and json.loads(out)["input_shape"] == [1, 3, 256, 512]
    code, out, _ = run(capsys, "count", "resnet18", "--resolution", "96", "--format", "json")
    assert code == 0 and json.loads(out)["input_shape"] == [1, 3, 96, 96]
    code, _, err = run(capsys, "count", "resnet18", "--resolution", "2x3x4")
    assert code == 2 and "HEIGHTxWIDTH" in err and len(err.strip().splitlines()) == 1


def test_seq_len_and_param_reach_the_network(capsys):
    code, out, _ = run(capsys, "count", "bert_base", "--seq-len", "64", "--format", "json")
    assert code == 0 and json.loads(out)["input_shape"] == [1, 64]
    code, out, _ = run(capsys, "count", "bert_base", "--param", "seq_len=32", "--format", "json")
    assert code == 0 and json.loads(out)["input_shape"] == [1, 32]
    # segformer's head with 150 classes (ADE20K) instead of 19: 256 · (150 − 19) more weights and biases
    counts = {}
    for classes in ("19", "150"):
        code, out, _ = run(capsys, "count", "segformer_b0", "--resolution", "64", "--param",
                           f"num_classes={classes}", "--format", "json")
        counts[classes] = json.loads(out)["totals"]["params"]
    assert counts["150"] - counts["19"] == (256 + 1) * (150 - 19)


def test_param_values_are_typed():
    from simulator.cli.common import param, parse_value, resolution

    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("64x128") == (64, 128)
    assert parse_value("ade20k") == "ade20k"
    assert param("num_classes=150") == ("num_classes", 150)
    assert resolution("1024x2048") == (1024, 2048) and resolution("224") == 224


def test_unknown_param_is_one_line_listing_the_parameters(capsys):
    code, _, err = run(capsys, "count", "bert_base", "--param", "depth=3")
    assert code == 2 and "has no parameter 'depth'" in err and "seq_len=128" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "count", "bert_base", "--seq-len", "8", "--param", "seq_len=16")
    assert code == 2 and "given twice" in err


def test_resolution_and_params_are_refused_for_onnx_models(capsys, tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "r.onnx"
    assert main(["export", "resnet18", "--resolution", "64", "-o", str(path)]) == 0
    capsys.readouterr()
    for extra in (["--resolution", "64"], ["--param", "num_classes=10"]):
        code, _, err = run(capsys, "simulate", str(path), "--device", "jetson-agx-orin", *extra)
        assert code == 2 and "apply to built-in networks, not to the ONNX model" in err


def test_attention_option_reaches_simulate_and_sweep(capsys):
    latencies = {}
    for mode in ("fused", "materialized"):
        code, out, _ = run(capsys, "simulate", "segformer_b0", "--device", "jetson-agx-orin", "--resolution",
                           "256x512", "--attention", mode, "--format", "json")
        assert code == 0
        latencies[mode] = json.loads(out)["totals"]["latency_s"]
    assert latencies["materialized"] > latencies["fused"]   # the score matrices cross DRAM
    code, out, _ = run(capsys, "sweep", "segformer_b0", "--device", "jetson-agx-orin", "--resolution",
                       "256x512,128", "--attention", "fused")
    assert code == 0 and "3x256x512" in out and "3x128x128" in out
    code, out, _ = run(capsys, "sweep", "bert_base", "--device", "jetson-agx-orin", "--seq-len", "64")
    assert code == 0 and "bert_base" in out


def test_simulate_set_changes_a_hardware_field_for_one_simulation(capsys):
    # ResNet-50 fp16 on Orin: doubling the LPDDR5 bandwidth (204.8 -> 409.6 GB/s) halves every DRAM time,
    # so the ideal bound cannot grow and the DRAM-bound layers get faster
    argv = ("simulate", "resnet50", "--device", "jetson-agx-orin", "--format", "json")
    base = json.loads(run(capsys, *argv)[1])
    fast = json.loads(run(capsys, *argv, "--set", "dram.bandwidth_gb_per_s=409.6")[1])
    assert fast["totals"]["ideal_latency_s"] < base["totals"]["ideal_latency_s"]
    assert fast["totals"]["latency_s"] < base["totals"]["latency_s"]


def test_simulate_set_takes_one_value(capsys):
    code, _, err = run(capsys, "simulate", "resnet8_cifar10", "--device", "nucleo-l4r5zi",
                       "--set", "supply_voltage_v=1.8,3.0")
    assert code == 2 and "give one value here" in err and len(err.strip().splitlines()) == 1


def test_a_run_loads_only_its_own_command_module():
    # roofline --help lists every command without importing one; a command imports only its module
    script = ("import contextlib, sys\nfrom simulator.cli import main\n"
              "with contextlib.suppress(SystemExit):\n    main({argv})\n"
              "print(sorted(m for m in sys.modules if m.startswith('simulator.cli.')))")
    # the shared options and argument grammar (cli.common and the modules it gathers), no other command
    counting = [f"simulator.cli.{name}" for name in
                ("argtypes", "batches", "common", "count", "network_options", "settings")]
    for argv, expected in ((["--help"], []), ([], []), (["list", "devices"], ["simulator.cli.listing"]),
                           (["count", "alexnet"], counting)):
        run = subprocess.run([sys.executable, "-c", script.format(argv=argv)], capture_output=True, text=True,
                             check=True)
        assert run.stdout.strip().splitlines()[-1] == str(expected), argv
    # simulate one network: its definition only, no frames or charts
    loaded = ("print(sorted(m for m in sys.modules if m.startswith('simulator.networks.')\n"
              "    or m.split('.')[0] in ('pandas', 'matplotlib')))")
    simulate = script.rsplit("\n", 1)[0].format(argv=["simulate", "resnet50", "--device", "jetson-agx-orin"])
    run = subprocess.run([sys.executable, "-c", f"{simulate}\n{loaded}"], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip().splitlines()[-1] == "['simulator.networks.resnet']"
    helped = subprocess.run([sys.executable, "-m", "simulator", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    for command, help_text in cli.COMMANDS.items():
        assert f"    {command}" in helped.stdout and help_text.split()[0] in helped.stdout


def test_every_command_module_configures_its_parser():
    # the full parser (the default) imports and configures every command: each has a handler
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert sorted(commands) == sorted(cli.COMMANDS)
    for name, sub in commands.items():
        assert sub.get_default("handler") is not None, name


def test_unknown_command_is_one_line_with_a_suggestion(capsys):
    assert main(["simulat", "resnet50"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean 'simulate'" in err
