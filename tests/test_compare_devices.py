"""One network on several devices (``compare_devices``, ``roofline compare NET --device A,B``), and
``--set`` in ``roofline compare`` and ``roofline plot``.

Independent figures: H100 SXM and H200 SXM share the GH100 compute (989.5 fp16 Tflop/s) and a
50 MiB L2 but not their HBM (3.35 TB/s and 4.8 TB/s, NVIDIA data sheets), so on the ideal
roofline a layer bound by DRAM runs 4.8 / 3.35 times faster on the H200 and no layer runs faster
than that.
"""

from __future__ import annotations

import json

import pytest

from simulator.cli import main
from simulator.compare import compare_devices
from simulator.simulation import simulate

HBM_RATIO = 4.8e12 / 3.35e12  # H200 / H100 HBM bandwidth, data sheets


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def hopper():
    return compare_devices("alexnet", ["h100-sxm", "h200-sxm"], ideal=True)


def test_the_devices_label_the_comparison(hopper):
    assert hopper.axis == "device" and hopper.labels == ("h100-sxm", "h200-sxm")
    assert list(hopper.kinds_frame().columns) == ["h100-sxm", "h200-sxm"]
    assert list(hopper.frame()["device"]) == ["h100-sxm", "h200-sxm"]


def test_speedup_between_equal_compute_and_the_hbm_ratio(hopper):
    # AlexNet's fully connected layers stream their weights from DRAM (arithmetic intensity ~1 op/byte)
    kinds = hopper.kinds_frame()
    assert kinds.loc["Linear", "h100-sxm"] / kinds.loc["Linear", "h200-sxm"] == pytest.approx(HBM_RATIO)
    assert 1.0 < hopper.speedups[1] <= HBM_RATIO * (1 + 1e-12)
    assert hopper.speedups[0] == 1.0


def test_speedup_is_the_ratio_of_the_single_simulations(hopper):
    h100, h200 = (simulate("alexnet", d, ideal=True).latency_s for d in ("h100-sxm", "h200-sxm"))
    assert hopper.speedups[1] == pytest.approx(h100 / h200, rel=1e-12)


def test_cli_compares_across_devices_comma_separated_or_repeated(capsys):
    argv = ("compare", "alexnet", "--ideal", "--format", "json")
    code, out, _ = run(capsys, *argv, "--device", "h100-sxm,h200-sxm")
    assert code == 0
    document = json.loads(out)
    assert document["compared"] == "device" and document["reference"] == "h100-sxm"
    assert [r["device"] for r in document["networks"]] == ["h100-sxm", "h200-sxm"]
    assert 1.0 < document["networks"][1]["speedup"] <= HBM_RATIO * (1 + 1e-12)
    code, again, _ = run(capsys, *argv, "--device", "h100-sxm", "--device", "h200-sxm")
    assert code == 0 and json.loads(again)["networks"] == document["networks"]
    code, out, _ = run(capsys, "compare", "alexnet", "--device", "h100-sxm,h200-sxm")
    assert code == 0 and "alexnet on 2 devices" in out and "latency on h100-sxm / latency on each" in out


def test_several_networks_on_several_devices_is_one_line(capsys):
    code, _, err = run(capsys, "compare", "alexnet", "vgg11", "--device", "h100-sxm,h200-sxm")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "2 networks" in err and "2 devices" in err


def test_compare_takes_set(capsys):
    """Twice the DRAM bandwidth halves the time of the DRAM-bound Linear layers of the ideal bound."""
    argv = ("compare", "alexnet", "--device", "h100-sxm", "--ideal", "--format", "json")
    code, out, _ = run(capsys, *argv)
    base = json.loads(out)["networks"][0]
    code, out, _ = run(capsys, *argv, "--set", "dram.bandwidth_scale=2")
    assert code == 0
    document = json.loads(out)
    fast = document["networks"][0]
    assert fast["latency_by_kind_s"]["Linear"] == pytest.approx(base["latency_by_kind_s"]["Linear"] / 2)
    assert document["settings"][0]["overrides"] == {"dram.bandwidth_scale": 2.0}


def test_plot_compares_across_devices_and_takes_set(capsys, tmp_path):
    output = tmp_path / "devices.svg"
    code, _, err = run(capsys, "plot", "compare", "alexnet", "--device", "h100-sxm", "--device", "h200-sxm",
                       "--set", "dram.bandwidth_scale=2", "-o", str(output))
    assert code == 0, err
    svg = output.read_text()
    assert "h100-sxm" in svg and "h200-sxm" in svg  # the bars are labelled by device
    code, _, err = run(capsys, "plot", "latency-throughput", "alexnet", "--device", "h100-sxm",
                       "--set", "dram.bandwidth_scale=2", "-o", str(tmp_path / "lt.svg"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--set" in err


def test_a_comparison_is_short_in_a_notebook(hopper):
    text = repr(hopper)
    assert "\n" not in text and len(text) < 200  # the dataclass repr held every layer of every result
    assert "h100-sxm" in text and "h200-sxm" in text and f"({hopper.speedups[1]:.3g}×)" in text
    html = hopper._repr_html_()
    assert html.count("<tr") == 1 + 2  # a header row and one row per device

