"""JSON output records what produced it: the tool's version and the settings (``--set`` overrides
in SI, the network's parameters resolved against its function's defaults, batch, precisions,
device and runtime), enough to run the same simulation again."""

from __future__ import annotations

import json

import pytest

import simulator
from simulator.cli import main


def run_json(capsys, *argv) -> dict:
    code = main([*argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_simulate_records_the_version_and_the_overrides_in_si(capsys):
    document = run_json(capsys, "simulate", "resnet50", "--device", "jetson-agx-orin", "--batch", "4",
                        "--resolution", "160", "--precision", "int8",
                        "--set", "dram.bandwidth_gb_per_s=409.6")
    assert document["tool"] == {"name": "roofline-simulator", "version": simulator.__version__}
    settings = document["settings"]
    assert settings["overrides"] == {"dram.bandwidth_bytes_per_s": pytest.approx(409.6e9)}  # GB/s -> B/s
    # torchvision's resnet50 defaults to 1000 classes; the resolution is the one given
    assert settings["params"] == {"resolution": 160, "num_classes": 1000}
    assert (settings["batch"], settings["precision"], settings["runtime"]) == (4, "int8", "")


def test_the_runtime_of_device_at_runtime_is_recorded(capsys):
    document = run_json(capsys, "simulate", "ds_cnn_kws", "--device", "stm32h743@cmsis-nn", "--summary")
    assert document["settings"]["runtime"] == "cmsis-nn"
    assert document["settings"]["device"] == "stm32h743@cmsis-nn"


def test_the_recorded_settings_run_the_same_simulation_again(capsys):
    document = run_json(capsys, "simulate", "segformer_b0", "--device", "h100-sxm", "--resolution", "256x512",
                        "--set", "l2.bandwidth_scale=0.5", "--ideal", "--no-fuse")
    settings = dict(document["settings"])
    params = dict(settings.pop("params"))
    resolution = tuple(params.pop("resolution"))
    again = simulator.simulate(settings["network"], settings["device"], batch=settings["batch"],
                               weight_precision=settings["weight_precision"],
                               activation_precision=settings["activation_precision"],
                               overrides=settings["overrides"], attention=settings["attention"],
                               fuse=settings["fused"], ideal=settings["ideal"], resolution=resolution,
                               params=params)
    assert again.latency_s == document["totals"]["latency_s"]
    assert again.counts.input_shape == (1, 3, 256, 512)


def test_count_records_the_version_and_its_settings(capsys):
    document = run_json(capsys, "count", "bert_base", "--seq-len", "64", "--batch", "2")
    assert document["tool"]["version"] == simulator.__version__
    assert document["settings"]["params"]["seq_len"] == 64 and document["settings"]["batch"] == 2
    assert document["input_shape"] == [2, 64]
