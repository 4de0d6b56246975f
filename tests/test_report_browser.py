"""``roofline report`` in a real headless browser: Chromium from the distribution's packages driven by
Selenium through the distribution's chromedriver (no browser download).

The page loads with no console error, moving each control redraws the charts that depend on it, and
the values it shows for a few configurations equal ``roofline simulate --format json`` to the
printed precision (four significant digits). The time a 4 networks × 3 devices × 3 precisions × 11
batches report takes to open is measured and printed, not asserted.

Skips where Selenium, Chromium or chromedriver is missing (CI installs them: ``apt-get install
chromium chromium-driver``, ``pip install selenium``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time

import pytest

from simulator.cli import main
from tests.browser import require_chromium

pytestmark = pytest.mark.once_per_ci  # a browser test: CI runs it on its first Python only
require_chromium()  # skips this module without Selenium, Chromium or chromedriver
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

CHARTS = ("summary", "roofline", "latency", "energy", "slowest", "kinds", "memory")
#: SI prefixes the page prints (four significant digits and a prefix)
PREFIXES = {"E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "": 1.0, "m": 1e-3, "µ": 1e-6,
            "n": 1e-9, "p": 1e-12}
REPORT = ["resnet50", "mobilenet_v2", "--device", "jetson-agx-orin,h100-sxm", "--precision", "fp16,int8",
          "--batch", "1..8", "--set", "dram.bandwidth_scale=0.5,1"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", *REPORT, "-o", str(path)]) == 0
    return path


def _open(browser, path) -> None:
    browser.get(path.resolve().as_uri())
    browser.get_log("browser")  # what an earlier page logged is not this one's


def _errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def _drawn(browser) -> dict[str, str]:
    """What each chart and table holds now (its children, not its own attributes)."""
    return {chart: browser.find_element(By.ID, chart).get_attribute("innerHTML") for chart in CHARTS}


def test_the_report_loads_with_no_console_error(browser, report):
    _open(browser, report)
    assert browser.find_element(By.ID, "v-latency").text
    assert browser.find_elements(By.CSS_SELECTOR, "#roofline circle.layer")
    assert browser.find_elements(By.CSS_SELECTOR, "#latency rect.measurement")  # published ResNet rows
    assert not _errors(browser)


def _move(browser, control: str) -> None:
    if control == "batch":
        browser.find_element(By.ID, "batch").send_keys(Keys.ARROW_RIGHT)
    else:
        select = Select(browser.find_element(By.ID, control))
        select.select_by_index((select.options.index(select.first_selected_option) + 1) % len(select.options))


@pytest.mark.parametrize(("control", "unchanged"), [
    ("network", ()), ("device", ()), ("precision", ()), ("batch", ()),
    ("whatif", ("memory",)),  # the DRAM bandwidth changes no memory need
])
def test_moving_each_control_redraws_the_charts(browser, report, control, unchanged):
    _open(browser, report)
    before = _drawn(browser)
    _move(browser, control)
    after = _drawn(browser)
    changed = {chart for chart in CHARTS if after[chart] != before[chart]}
    assert changed == set(CHARTS) - set(unchanged), control
    assert not _errors(browser)


def _number(text: str) -> float:
    """``"14.73 ms"`` -> 0.01473: the first number of a value the page shows, with its SI prefix."""
    found = re.match(r"\s*(-?[\d.]+(?:e[+-]?\d+)?)\s*([EPTGMkmµnp]?)", text)
    assert found, text
    return float(found.group(1)) * PREFIXES[found.group(2)]


def _four_digits(value: float) -> float:
    return float(f"{value:.4g}")


def _set(browser, network: str, device: str, precision: str, scale: float, batch: int) -> None:
    Select(browser.find_element(By.ID, "network")).select_by_visible_text(network)
    Select(browser.find_element(By.ID, "device")).select_by_visible_text(device)
    Select(browser.find_element(By.ID, "precision")).select_by_visible_text(precision)
    Select(browser.find_element(By.ID, "whatif")).select_by_visible_text(f"dram.bandwidth_scale={scale:g}")
    slider = browser.find_element(By.ID, "batch")
    slider.send_keys(Keys.HOME)
    for _ in range([1, 2, 4, 8].index(batch)):
        slider.send_keys(Keys.ARROW_RIGHT)
    assert browser.find_element(By.ID, "batch-value").text == str(batch)


@pytest.mark.parametrize(("network", "device", "precision", "scale", "batch"), [
    ("resnet50", "jetson-agx-orin", "int8", 0.5, 8),
    ("mobilenet_v2", "h100-sxm", "fp16", 1, 1),
    ("resnet50", "h100-sxm", "int8", 0.5, 4),
    ("mobilenet_v2", "jetson-agx-orin", "fp16", 1, 2),
])
def test_the_values_shown_are_simulates(browser, report, network, device, precision, scale, batch):
    _open(browser, report)
    _set(browser, network, device, precision, scale, batch)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["simulate", network, "--device", device, "--precision", precision, "--batch", str(batch),
                     "--set", f"dram.bandwidth_scale={scale:g}", "--format", "json"]) == 0
    expected = json.loads(output.getvalue())
    totals = expected["totals"]
    shown = {key: _number(browser.find_element(By.ID, f"v-{key}").text)
             for key in ("latency", "ideal-latency", "throughput", "energy", "power")}
    assert shown == pytest.approx({"latency": _four_digits(totals["latency_s"]),
                                   "ideal-latency": _four_digits(totals["ideal_latency_s"]),
                                   "throughput": _four_digits(totals["throughput_per_s"]),
                                   "energy": _four_digits(totals["energy_j"]),
                                   "power": _four_digits(totals["average_power_w"])}, rel=1e-12)
    slowest = max(expected["layers"], key=lambda layer: layer["latency_s"])
    first = browser.find_elements(By.CSS_SELECTOR, "#slowest tr")[0].find_elements(By.TAG_NAME, "td")
    assert first[0].text == slowest["name"]
    assert _number(first[2].text) == pytest.approx(_four_digits(slowest["latency_s"]), rel=1e-12)
    assert not _errors(browser)


def test_a_report_of_396_configurations_opens_quickly(browser, tmp_path):
    """4 networks × 3 devices × 3 precisions × 11 batches: the time to open it is printed."""
    path = tmp_path / "large.html"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", "resnet18", "mobilenet_v2", "efficientvit_b0", "alexnet",
                     "--device", "jetson-agx-orin,a100-sxm-80gb,h100-sxm", "--precision", "fp32,fp16,int8",
                     "--batch", "1..1024", "-o", str(path)]) == 0
    start = time.perf_counter()
    _open(browser, path)
    opened_s = time.perf_counter() - start
    assert browser.find_element(By.ID, "v-latency").text
    load_ms = browser.execute_script(
        "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime;")
    print(f"\n396-configuration report ({path.stat().st_size:,} bytes): opened in {opened_s:.2f} s "
          f"(navigation to load event {load_ms / 1000:.2f} s)")
    assert not _errors(browser)


LLM_REPORT = ["llama_3_8b", "resnet18", "--device", "h100-sxm,jetson-agx-orin", "--precision", "fp16,int8",
              "--batch", "1..16", "--context", "512,2048"]
LLM_CHARTS = ("llm-summary", "llm-batch", "llm-tokens", "llm-context", "llm-memory")


@pytest.fixture(scope="module")
def llm_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "llm.html"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", *LLM_REPORT, "-o", str(path)]) == 0
    return path


def _llm_drawn(browser) -> dict[str, str]:
    return {chart: browser.find_element(By.ID, chart).get_attribute("innerHTML") for chart in LLM_CHARTS}


def test_the_llm_panel_shows_for_an_llm_only(browser, llm_report):
    _open(browser, llm_report)
    assert browser.find_element(By.ID, "llm-panel").is_displayed()  # the first network: llama_3_8b
    assert browser.find_element(By.ID, "context-label").is_displayed()
    Select(browser.find_element(By.ID, "network")).select_by_visible_text("resnet18")
    assert not browser.find_element(By.ID, "llm-panel").is_displayed()
    assert not browser.find_element(By.ID, "context-label").is_displayed()
    assert not _errors(browser)


@pytest.mark.parametrize("control", ["context", "batch", "device", "precision"])
def test_moving_each_control_redraws_the_llm_charts(browser, llm_report, control):
    _open(browser, llm_report)
    before = _llm_drawn(browser)
    _move(browser, control)
    after = _llm_drawn(browser)
    # the TTFT/TPOT-against-batch and tokens/s charts mark the batch, so a new batch redraws them too
    assert {chart for chart in LLM_CHARTS if after[chart] != before[chart]} == set(LLM_CHARTS), control
    assert not _errors(browser)


@pytest.mark.parametrize(("device", "precision", "context", "batch"), [
    ("h100-sxm", "fp16", 2048, 1),
    ("jetson-agx-orin", "int8", 512, 8),
    ("h100-sxm", "int8", 512, 16),
])
def test_the_llm_values_shown_are_roofline_llms(browser, llm_report, device, precision, context, batch):
    _open(browser, llm_report)
    Select(browser.find_element(By.ID, "device")).select_by_visible_text(device)
    Select(browser.find_element(By.ID, "precision")).select_by_visible_text(precision)
    Select(browser.find_element(By.ID, "context")).select_by_visible_text(f"{context} tokens")
    slider = browser.find_element(By.ID, "batch")
    slider.send_keys(Keys.HOME)
    for _ in range([1, 2, 4, 8, 16].index(batch)):
        slider.send_keys(Keys.ARROW_RIGHT)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["llm", "llama_3_8b", "--device", device, "--precision", precision, "--batch", str(batch),
                     "--prompt", str(context), "--format", "json"]) == 0
    row = json.loads(output.getvalue())["configurations"][0]
    keys = {"ttft": "ttft_s", "tpot": "tpot_s", "e2e": "e2e_latency_s", "output": "output_tokens_per_s",
            "total": "total_tokens_per_s", "energy": "energy_per_token_j", "weights": "weight_bytes",
            "kv": "kv_cache_bytes", "activations": "activation_bytes", "memory": "memory_bytes"}
    shown = {key: _number(browser.find_element(By.ID, f"v-llm-{key}").text) for key in keys}
    assert shown == pytest.approx({key: _four_digits(row[name]) for key, name in keys.items()}, rel=1e-12)
    assert browser.find_element(By.ID, "v-llm-max-batch").text == str(row["max_batch"])
    assert browser.find_element(By.ID, "v-llm-fits").text == ("yes" if row["fits"] else "NO")
    assert not _errors(browser)
