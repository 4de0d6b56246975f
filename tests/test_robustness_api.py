"""The Python API's entry points and the CLI's arguments on bad input (issue 12): the project's error
(or a usable default) at the entry point, never an AttributeError or TypeError from deep inside."""

from __future__ import annotations

import pathlib

import pytest

from simulator.cli import main
from simulator.cli.sweep import parse_batches
from simulator.errors import SimulatorError, UnknownNameError
from simulator.hardware.loader import available_devices
from simulator.simulation import simulate
from simulator.units import format_bytes, format_count


@pytest.mark.parametrize("device", [None, 42, 4.5, ["jetson-agx-orin"]])
def test_simulate_with_a_device_that_is_not_one_names_the_argument(device):
    with pytest.raises(SimulatorError, match="device must be"):
        simulate("resnet18", device)


def test_simulate_with_a_path_simply_works():
    path = pathlib.Path(str(available_devices()["reference-45nm"]))
    by_path = simulate("resnet18", path)
    assert by_path.latency_s == simulate("resnet18", "reference-45nm").latency_s
    assert simulate("resnet18", pathlib.Path("reference-45nm")).device == "reference-45nm"


@pytest.mark.parametrize("argument", ["precision", "weight_precision", "activation_precision"])
def test_a_precision_that_is_not_a_name_names_the_argument(argument):
    with pytest.raises(SimulatorError, match=f"{argument} must be a precision name"):
        simulate("resnet18", "reference-45nm", **{argument: 8})


def test_precision_names_are_case_insensitive_with_did_you_mean(capsys):
    assert simulate("resnet18", "reference-45nm", precision="INT8").precision == "int8"
    with pytest.raises(UnknownNameError, match="did you mean 'fp16'"):
        simulate("resnet18", "reference-45nm", precision="fp61")
    assert main(["simulate", "resnet18", "--device", "reference-45nm", "--precision", "FP16"]) == 0
    assert main(["sweep", "resnet18", "--device", "reference-45nm", "--precision", "Fp16,INT8"]) == 0
    assert "int8" in capsys.readouterr().out
    assert main(["sweep", "resnet18", "--device", "reference-45nm", "--precision", "fp61"]) == 2
    assert "did you mean 'fp16'" in capsys.readouterr().err


def test_roofline_chart_of_none_is_the_projects_error():
    from simulator.plots import roofline_chart

    with pytest.raises(SimulatorError, match="expected a SimulationResult"):
        roofline_chart(None)
    with pytest.raises(SimulatorError, match="expected a SimulationResult"):
        roofline_chart("resnet18")


@pytest.mark.parametrize(("text", "expected"), [
    ("1..8", [1, 2, 4, 8]),                 # doubling, as before
    ("1..1024", [2**k for k in range(11)]),
    ("3..20", [3, 6, 12]),
    ("1-4", [1, 2, 3, 4]),                  # every integer
    ("8..32:8", [8, 16, 24, 32]),           # a linear step
    ("1..10:4", [1, 5, 9]),
    ("1-3,2,8..16:8", [1, 2, 3, 8, 16]),    # mixed, duplicates dropped
    ("5", [5]),
])
def test_batch_ranges(text, expected):
    assert parse_batches(text) == expected


@pytest.mark.parametrize("text", ["8..1", "4-2", "0-3", "1..8:0", "a-b", "1..", "-3", "1-1000000000"])
def test_bad_batch_ranges_are_one_line(capsys, text):
    assert main(["sweep", "resnet18", "--device", "reference-45nm", f"--batch={text}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--batch" in err


@pytest.mark.parametrize(("value", "count", "size"), [
    (4089184256e12, "4.09e+21", "4.09e+21 B"),   # past exa: scientific, never 4089184256T
    (6.1e15, "6.1P", "6.1 PB"),                  # never 6.1e+03 TB
    (2.5e18, "2.5E", "2.5 EB"),
    (999.9e12, "1P", "1 PB"),                    # rounding up moves to the next prefix
    (1234, "1.23k", "1.23 kB"),
])
def test_large_values_keep_a_prefix_or_go_scientific(value, count, size):
    assert format_count(value) == count
    assert format_bytes(value) == size


def test_sweep_help_does_not_refer_to_itself(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "roofline sweep --help" not in capsys.readouterr().out
