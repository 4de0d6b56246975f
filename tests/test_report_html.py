"""``roofline report`` without a browser: the page is one self-contained file (nothing to load from the
network) that embeds the library's numbers, and bad input is one line with exit status 2.

Hand-derived figures: Jetson AGX Orin (NVIDIA DS-10662-001) has 85 TOPS dense int8 on its Tensor
Cores and 204.8 GB/s of LPDDR5 (256 bit × 6400 MT/s / 8), so its int8 ridge point at DRAM is
85e12 / 204.8e9 = 415.04 ops/byte; halving the DRAM bandwidth (``dram.bandwidth_scale=0.5``)
doubles it.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.report_html import embedded_data, html_report_data, render_html_report
from simulator.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
ORIN_INT8_OPS_PER_S = 85e12  # DS-10662-001: 85 TOPS dense INT8
ORIN_DRAM_BYTES_PER_S = 256 * 6400e6 / 8  # 256-bit LPDDR5 at 6400 MT/s


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "resnet50", "mobilenet_v2", "--device", "jetson-agx-orin,h100-sxm",
                 "--precision", "int8,fp8", "--batch", "1..4", "--set", "dram.bandwidth_scale=0.5,1",
                 "-o", str(path)]) == 0
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data(page) -> dict:
    return embedded_data(page)


def test_the_page_loads_nothing_from_the_network(page):
    # every src/href/url() of the page: none names a scheme or a host (an inline data: icon is fine)
    targets = re.findall(r"""(?:\bsrc|\bhref)\s*=\s*["']?([^"'\s>]*)""", page, flags=re.I)
    targets += re.findall(r"url\(\s*['\"]?([^)'\"]*)", page, flags=re.I)
    assert targets and all(t.startswith("data:") for t in targets), targets
    loads = r"<script[^>]*\bsrc\b|<link[^>]*stylesheet|@import|\bimport\s*\(|fetch\(|XMLHttpRequest"
    assert not re.search(loads, page, flags=re.I)
    assert not re.search(r"https?://", page.replace("http:/\" + \"/www.w3.org/2000/svg", ""))


def test_the_page_embeds_every_configuration_of_the_product(data):
    # 2 networks x (Orin: int8 only; H100: int8, fp8) x 2 what-ifs x 3 batches
    assert len(data["configs"]) == 2 * (1 + 2) * 2 * 3
    assert data["settings"]["skipped"] == ["jetson-agx-orin fp8"]
    assert data["batches"] == [1, 2, 4]
    assert data["whatifs"] == [{"dram.bandwidth_scale": 0.5}, {"dram.bandwidth_scale": 1.0}]
    import simulator

    assert data["tool"]["version"] == simulator.__version__
    assert "roofline report resnet50 mobilenet_v2" in data["settings"]["command"]
    for device in data["devices"]:
        assert device["source"] and device["peak_source"]


def _config(data, network, device, precision, batch, whatif=1):
    d = next(i for i, record in enumerate(data["devices"]) if record["name"] == device)
    wanted = (network, d, precision, batch, whatif)
    return next(c for c in data["configs"]
                if (c["network"], c["device"], c["precision"], c["batch"], c["whatif"]) == wanted)


@pytest.mark.parametrize(("network", "device", "precision", "batch"), [
    ("resnet50", "jetson-agx-orin", "int8", 4), ("mobilenet_v2", "jetson-agx-orin", "int8", 1),
    ("mobilenet_v2", "h100-sxm", "fp8", 2)])
def test_the_totals_are_simulates(data, network, device, precision, batch):
    config = _config(data, network, device, precision, batch)
    result = simulate(network, device, batch=batch, precision=precision,
                      overrides={"dram.bandwidth_scale": 1})
    assert config["latency_s"] == result.latency_s and config["ideal_latency_s"] == result.ideal_latency_s
    assert config["energy_breakdown_j"] == result.energy_breakdown_j
    assert config["ideal_throughput_per_s"] == pytest.approx(batch / result.ideal_latency_s, rel=1e-12)
    # the engine's total is the sum of the layers' latencies (kept to 6 significant digits each)
    assert sum(config["layers"]["latency_s"]) == pytest.approx(result.latency_s, rel=1e-5)
    assert len(config["layers"]["latency_s"]) == len(result.layers)
    slowest = config["layers"]["slowest"]
    times = config["layers"]["latency_s"]
    assert times[slowest[0]] == max(times) and [times[i] for i in slowest] == sorted(
        (times[i] for i in slowest), reverse=True)


def test_ridge_points_are_the_datasheet_peak_over_the_bandwidth(data):
    orin = next(d for d in data["devices"] if d["name"] == "jetson-agx-orin")
    scaled, shipped = orin["roofs"][_config(data, "resnet50", "jetson-agx-orin", "int8", 1, 0)["roof"]], \
        orin["roofs"][_config(data, "resnet50", "jetson-agx-orin", "int8", 1, 1)["roof"]]
    dram = [level["name"] for level in shipped["levels"]].index("dram")
    assert shipped["peaks_ops_per_s"]["int8"] == ORIN_INT8_OPS_PER_S
    ridge = ORIN_INT8_OPS_PER_S / ORIN_DRAM_BYTES_PER_S  # 415.04 ops/byte
    assert shipped["ridges_ops_per_byte"]["int8"][dram] == pytest.approx(ridge)
    assert scaled["ridges_ops_per_byte"]["int8"][dram] == pytest.approx(2 * ridge)


def test_roofline_points_are_ops_over_latency(data):
    config = _config(data, "resnet50", "jetson-agx-orin", "int8", 4)
    result = simulate("resnet50", "jetson-agx-orin", batch=4, precision="int8")
    points = config["layers"]["points"]
    assert points
    for index, _, performance in points:
        layer = result.layers[index]
        assert performance == pytest.approx(layer.ops / layer.latency_s, rel=1e-5)
    # the bound codes are the first letters of the layers' bounds
    assert config["layers"]["bound"] == "".join(layer.bound[0] for layer in result.layers)


def test_the_published_measurements_of_the_reports_networks_are_embedded(data):
    table = ROOT / "hardware_profiles" / "measurements" / "gpu.csv"
    with open(table, newline="", encoding="utf-8") as handle:
        expected = {row["id"] for row in csv.DictReader(handle)
                    if row["network"] in ("resnet50", "mobilenet_v2") and row["device"] == "jetson-agx-orin"
                    and row["metric"] in ("latency_s", "throughput_per_s") and not row["params"]}
    assert expected and {m["id"] for m in data["measurements"]} >= expected


def test_the_error_band_is_the_devices_modelled_rows(data):
    orin = next(d for d in data["devices"] if d["name"] == "jetson-agx-orin")["accuracy"]
    assert orin["rows"] >= 1 and orin["min"] <= orin["median"] <= orin["max"]
    assert 0 <= orin["within_20"] <= orin["rows"]


def test_a_runtime_devices_error_band_is_its_runtimes_rows():
    """STM32H743 with TinyEngine's kernels: every row of that runtime on that board (mcu.csv: MCUNet-in0
    to in4, whatever their fit/check mark, which nothing reads), not the X-CUBE-AI rows the bare
    profile describes."""
    table = ROOT / "hardware_profiles" / "measurements" / "mcu.csv"
    with open(table, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle)
                if row["device"] == "stm32h743"]
    tinyengine = sum(row["runtime"] == "TinyEngine" for row in rows)
    cube = sum(row["runtime"] == "X-CUBE-AI" for row in rows)
    data = html_report_data(["mcunet_in0"], ["stm32h743@tinyengine", "stm32h743"])
    accuracy = {device["name"]: device["accuracy"] for device in data["devices"]}
    assert accuracy["stm32h743@tinyengine"]["rows"] == tinyengine == 5
    assert accuracy["stm32h743"]["rows"] == cube == 5
    # the band: measured = expected / (1 + error), error = expected / measured - 1 over those rows, so the
    # band's ends are expected x the smallest and the largest measured / expected ratio
    device = "stm32h743@tinyengine"
    ratios = [float(row["value"]) / simulate(row["network"], device, precision="int8").latency_s
              for row in rows if row["runtime"] == "TinyEngine"]
    config = next(c for c in data["configs"] if data["devices"][c["device"]]["name"] == device)
    assert config["measured_band_s"] == pytest.approx([config["latency_s"] * min(ratios),
                                                       config["latency_s"] * max(ratios)], rel=1e-9)


def test_the_peak_activation_layer_holds_the_peak(data):
    live = data["liveness"]["mobilenet_v2"]
    # MobileNetV2's peak (inference view): the second block's 1x1 expansion to 96 channels at 112x112,
    # read by its stride-2 depthwise convolution while that writes 96 channels at 56x56
    peak = 96 * 112 * 112 + 96 * 56 * 56
    assert max(live["elements"]) == live["elements"][live["peak_index"]] == peak
    assert "features.2" in live["names"][live["peak_index"]]
    assert _config(data, "mobilenet_v2", "h100-sxm", "fp8", 1)["peak_activations"] == peak


def test_no_string_of_the_data_can_close_the_script():
    data = html_report_data(["resnet8_cifar10"], ["stm32h743"])
    data["settings"]["command"] = "</script><script>alert(1)</script>"
    page = render_html_report(data)
    assert page.count("</script>") == 2  # the data's and the code's
    assert embedded_data(page)["settings"]["command"] == data["settings"]["command"]


def _status(argv: list[str]) -> int:
    """The exit status of ``roofline ARGV`` (argparse's actions exit with SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


@pytest.mark.parametrize(("argv", "named"), [
    (["resnet50", "--device", "nope"], "nope"),
    (["resnet50", "--device", "jetson-agx-orin", "--precision", "fp9"], "fp9"),
    (["resnet50", "--device", "stm32h743", "--precision", "fp16"], "fp16"),
    (["resnet50", "--device", "jetson-agx-orin", "--batch", "0"], "'0'"),
    (["resnet50", "--device", "jetson-agx-orin", "--set", "dram.nothing=1"], "dram.nothing"),
    (["resnet50", "--device", "jetson-agx-orin", "--set", "dram.bandwidth_scale=1",
      "--set", "dram.bandwidth_scale=2"], "second time"),
    (["nonet", "--device", "jetson-agx-orin"], "nonet"),
])
def test_bad_input_is_one_line_and_leaves_the_file(tmp_path, capsys, argv, named):
    path = tmp_path / "report.html"
    path.write_text("before", encoding="utf-8")
    assert _status(["report", *argv, "-o", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err, err
    assert path.read_text(encoding="utf-8") == "before"


def test_the_output_must_be_html(tmp_path, capsys):
    assert main(["report", "resnet8_cifar10", "--device", "stm32h743", "-o", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ".html" in err


def test_the_page_is_small(page):
    # 36 configurations of two CNNs: a few hundred kB, small enough to attach to an e-mail
    assert len(page.encode()) < 1_000_000
    assert math.isfinite(len(page))


def test_the_page_names_and_colours_every_bound_a_layer_can_have():
    """The page codes a layer's bound by its first letter; its script must map each letter back to the
    bound's name and the name to the colour the charts use (simulator.plots._common.BOUND_COLORS, which
    lists every bound the engine reports, "link" for a tensor-parallel all-reduce included)."""
    from simulator.plots._common import BOUND_COLORS
    from simulator.report_html_page import SCRIPT

    letters = dict(re.findall(r'(\w): "(\w+)"', re.search(r"const BOUND = \{([^}]*)\}", SCRIPT).group(1)))
    colours = dict(re.findall(r'(\w+): "(#[0-9a-f]{6})"', re.search(r"const COLORS = \{([^}]*)\}",
                                                                        SCRIPT).group(1)))
    assert letters == {name[0]: name for name in BOUND_COLORS}
    assert colours == BOUND_COLORS
