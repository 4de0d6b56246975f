"""The out-of-sample error printed beside an expected value: the cross-validation's own figures.

``hardware_profiles/measurements/out_of_sample.json`` is written by ``python tools/update_readme_accuracy.py``
from the same cross-validation as the README's out-of-sample table; here each class's figures are
read back from that table's text (a second path) and from a simulation's output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.hardware.error_band import NO_BAND, PROTOCOL, error_band
from simulator.hardware.loader import available_devices

ROOT = Path(__file__).resolve().parents[1]
BANDS_PATH = ROOT / "hardware_profiles" / "measurements" / "out_of_sample.json"
BANDS = json.loads(BANDS_PATH.read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINE = re.compile(r"^\| \*\*(?P<cls>[^*]+)\*\* \| (?P<protocol>[a-z-]+) \| [^|]+ \| (?P<n>\d+) \| "
                  r"\d+ \(\d+%\) \| (?P<within20>\d+) \(\d+%\) \| (?P<median>\d+)% \| (?P<p90>\d+)% \|$")


def readme_lines() -> dict[str, dict[str, int]]:
    start, end = "<!-- out-of-sample:start -->", "<!-- out-of-sample:end -->"
    block = README.split(start, 1)[1].split(end, 1)[0]
    found = {}
    for text in block.splitlines():
        match = LINE.match(text)
        if match and match["protocol"] == PROTOCOL:
            found[match["cls"]] = {key: int(match[key]) for key in ("n", "within20", "median", "p90")}
    return found


def test_every_class_of_the_readme_table_has_its_band_with_the_same_figures():
    lines = readme_lines()
    assert set(lines) == set(BANDS["classes"]) and lines
    for cls, figures in BANDS["classes"].items():
        line = lines[cls]
        assert figures["n"] == line["n"]
        assert round(figures["within_20_share"] * figures["n"]) == line["within20"]
        assert round(100 * figures["median_abs_error"]) == line["median"]
        assert round(100 * figures["p90_abs_error"]) == line["p90"]


def test_the_classified_devices_are_shipped_profiles():
    assert set(BANDS["devices"]) <= set(available_devices())
    assert set(BANDS["devices"].values()) <= set(BANDS["classes"])


def test_simulate_prints_and_records_its_class_band(capsys):
    assert main(["simulate", "resnet50", "--device", "jetson-agx-orin", "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    cls = BANDS["devices"]["jetson-agx-orin"]
    assert totals["expected_error_band"] == BANDS["classes"][cls]
    assert main(["simulate", "resnet50", "--device", "jetson-agx-orin", "--summary"]) == 0
    out = capsys.readouterr().out
    median = round(100 * BANDS["classes"][cls]["median_abs_error"])
    assert f"typically within ±{median}%" in out and "not fitted to" in out


def test_the_ideal_bound_carries_no_band_and_an_unclassified_device_says_so(capsys):
    assert main(["simulate", "resnet50", "--device", "h100-sxm", "--ideal", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["expected_error_band"] is None
    assert error_band("reference-45nm") is None
    assert main(["simulate", "resnet18", "--device", "reference-45nm", "--summary"]) == 0
    out = capsys.readouterr().out
    if "expected" in out.split("latency", 1)[1].split("\n", 1)[0]:
        assert NO_BAND in out


@pytest.mark.parametrize("device", ["h100-sxm@hf-transformers", "jetson-agx-orin@hf-transformers"])
def test_a_runtime_suffix_reads_the_devices_class(device):
    band = error_band(device)
    if device.partition("@")[0] in BANDS["devices"]:
        assert band is not None and band.device_class == BANDS["devices"][device.partition("@")[0]]


def test_llm_prints_and_records_the_llm_class_band(capsys):
    args = ["llm", "llama_3_8b", "--device", "h100-sxm", "--prompt", "256", "--generate", "16"]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["expected_error_band"] == BANDS["classes"]["LLM"]
    assert main(args) == 0
    median = round(100 * BANDS["classes"]["LLM"]["median_abs_error"])
    assert f"typically within ±{median}%" in capsys.readouterr().out
    assert main([*args, "--ideal", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["expected_error_band"] is None


def test_compare_across_devices_records_each_devices_band(capsys):
    """An expected figure carries its class's band; a device with only the ideal bound (no efficiency
    model, e.g. a data-sheet B200: no shipped Blackwell profile has an expected model) carries none and
    prints no trust line."""
    assert main(["compare", "resnet50", "--device", "h100-sxm,b200", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)["networks"]
    assert records[0]["expected_error_band"] == BANDS["classes"][BANDS["devices"]["h100-sxm"]]
    assert records[1]["expected_error_band"] is None
    assert main(["compare", "resnet50", "--device", "h100-sxm,b200"]) == 0
    out = capsys.readouterr().out
    assert "trust (h100-sxm): expected value typically within" in out and "trust (b200)" not in out


def test_llm_json_records_the_tool_and_the_settings_that_produced_it(capsys):
    from importlib.metadata import version

    args = ["llm", "llama_3_8b", "--device", "h100-sxm", "--batch", "1,4", "--prompt", "128",
            "--generate", "8", "--tp", "2", "--format", "json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["tool"] == {"name": "roofline-simulator", "version": version("roofline-simulator")}
    assert document["settings"] | {} == {**document["settings"], "model": "llama_3_8b", "batch": [1, 4],
                                         "prompt": 128, "generate": 8, "tp": 2, "pp": 1, "ideal": False}


def test_an_llm_pass_through_simulate_carries_the_llm_band(capsys):
    """An LLM pass (roofline simulate LLM --phase decode) is an LLM figure: the LLM class's band, as
    `roofline llm` prints for the same device."""
    assert main(["simulate", "llama_3_8b", "--device", "h100-sxm", "--phase", "decode", "--context", "512",
                 "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["expected_error_band"] == BANDS["classes"]["LLM"]
