"""Output formats agree (issue 12): the same fields in table, JSON and CSV; shapes written one way;
JSON always valid; ``--require-fit`` turns a configuration that does not fit into exit 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from simulator.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def strict_json(text: str):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


def test_count_json_has_the_new_activations_of_the_csv(capsys):
    _, out, _ = run(capsys, "count", "resnet18", "--format", "json")
    layers = strict_json(out)["layers"]
    _, out, _ = run(capsys, "count", "resnet18", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [layer["new_activations"] for layer in layers] == [int(r["new_activations"]) for r in rows]
    # conv1's output is new, 64 x 112 x 112 (resnet18 at 224); a view or an in-place layer allocates none
    assert layers[0]["new_activations"] == 64 * 112 * 112


def test_shapes_are_written_with_an_ascii_x_everywhere(capsys):
    _, table, _ = run(capsys, "count", "resnet18")
    _, rows, _ = run(capsys, "count", "resnet18", "--format", "csv")
    assert "×" not in table and "×" not in rows
    assert "1x64x112x112" in table and "1x64x112x112" in rows and "1x3x224x224 in" in table


def test_simulate_csv_has_the_configuration_and_a_totals_row(capsys):
    _, out, _ = run(capsys, "simulate", "resnet18", "--device", "reference-45nm", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"network", "device", "batch", "precision", "fits"} <= set(rows[0])
    total = rows[-1]
    assert total["layer"] == "total" and total["device"] == "reference-45nm" and total["precision"] == "fp16"
    _, out, _ = run(capsys, "simulate", "resnet18", "--device", "reference-45nm", "--format", "json")
    totals = strict_json(out)["totals"]
    assert float(total["latency_s"]) == pytest.approx(totals["latency_s"])
    assert float(total["energy_j"]) == pytest.approx(totals["energy_j"])
    assert total["fits"] == str(totals["fits"])


@pytest.mark.parametrize("command", [
    ["simulate", "vgg16", "--device", "stm32f746", "--precision", "int8"],
    ["compare", "resnet18", "vgg16", "--device", "stm32f746", "--precision", "int8"],
    ["sweep", "vgg16", "--device", "stm32f746", "--precision", "int8", "--batch", "1,2"],
    ["sweep", "llama_2_70b", "--device", "jetson-agx-orin", "--precision", "fp16", "--batch", "1"],
])
def test_require_fit_makes_not_fitting_an_error(capsys, command):
    status, _, err = run(capsys, *command)
    assert status == 0
    status, _, err = run(capsys, *command, "--require-fit")
    assert status == 2
    lines = [line for line in err.splitlines() if "warning" not in line]
    assert len(lines) == 1 and "not fit" in lines[0] and ("vgg16" in lines[0] or "llama_2_70b" in lines[0])


def test_require_fit_passes_a_configuration_that_fits(capsys):
    status, _, _ = run(capsys, "simulate", "resnet18", "--device", "jetson-agx-orin", "--require-fit")
    assert status == 0


def test_sweep_require_fit_counts_the_rows_that_do_not_fit_and_still_writes_them(capsys, tmp_path):
    # stm32f746: 1 MiB of flash; vgg16's 138 M int8 weights never fit, resnet8_cifar10's 78 k do
    path = tmp_path / "rows.csv"
    status, _, err = run(capsys, "sweep", "vgg16", "resnet8_cifar10", "--device", "stm32f746",
                         "--precision", "int8", "--batch", "1,2", "--require-fit", "-o", str(path))
    assert status == 2
    assert "2 of 4 configurations do not fit, the first: vgg16 on stm32f746 at batch 1" in err
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    expected = [("vgg16", "False")] * 2 + [("resnet8_cifar10", "True")] * 2
    assert [(r["network"], r["fits"]) for r in rows] == expected


def test_one_configuration_is_singular(capsys):
    _, out, _ = run(capsys, "sweep", "resnet18", "--device", "jetson-agx-orin", "--batch", "1")
    assert out.rstrip().endswith("\n1 configuration")
