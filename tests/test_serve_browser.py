"""``roofline serve`` in a real headless browser (Chromium and chromedriver from the distribution, as
in ``test_report_browser.py``): one what-if walked through the page, and a malformed upload answered
with one line on the page while the server stays up. The server runs in a thread on a free port of
127.0.0.1 (conftest's ``server``) and is always shut down."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from simulator.cli import main
from tests.browser import require_chromium

pytestmark = pytest.mark.once_per_ci  # a browser test: CI runs it on its first Python only
require_chromium()  # skips this module without Selenium, Chromium or chromedriver
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.test_report_browser import _errors, _four_digits, _number  # noqa: E402

WAIT_S = 60


@pytest.fixture(scope="module")
def url(server):
    """The page of conftest's ``server``."""
    return f"http://127.0.0.1:{server.server_address[1]}/"


def _fill(browser, field: str, text: str) -> None:
    node = browser.find_element(By.ID, f"f-{field}")
    node.clear()
    node.send_keys(text)


def _compute(browser) -> None:
    browser.execute_script("document.getElementById('status').textContent = '';"
                           "document.getElementById('error').textContent = '';")
    browser.find_element(By.ID, "compute").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda b: b.find_element(By.ID, "error").text or "computed" in b.find_element(By.ID, "status").text)


def _simulate(network: str, device: str, batch: int) -> dict:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["simulate", network, "--device", device, "--batch", str(batch), "--format", "json"]) == 0
    return json.loads(output.getvalue())["totals"]


def _shown(browser) -> dict[str, float]:
    return {key: _number(browser.find_element(By.ID, f"v-{key}").text)
            for key in ("latency", "ideal-latency", "throughput", "energy")}


def _expected(totals: dict) -> dict[str, float]:
    keys = {"latency": "latency_s", "ideal-latency": "ideal_latency_s", "throughput": "throughput_per_s",
            "energy": "energy_j"}
    return {key: _four_digits(totals[name]) for key, name in keys.items()}


def test_a_what_if_walked_through_the_page_is_simulates(browser, url):
    browser.get(url)
    _fill(browser, "networks", "mobilenet_v2")
    _fill(browser, "devices", "jetson-agx-orin")
    _fill(browser, "batches", "1,8")
    _compute(browser)
    assert browser.find_element(By.ID, "error").text == ""
    first = _shown(browser)
    assert first == pytest.approx(_expected(_simulate("mobilenet_v2", "jetson-agx-orin", 1)), rel=1e-12)
    browser.find_element(By.ID, "batch").send_keys(Keys.ARROW_RIGHT)  # batch 1 -> 8
    assert browser.find_element(By.ID, "batch-value").text == "8"
    eighth = _shown(browser)
    assert eighth != first
    assert eighth == pytest.approx(_expected(_simulate("mobilenet_v2", "jetson-agx-orin", 8)), rel=1e-12)
    assert not _errors(browser)


def test_a_malformed_upload_is_one_line_on_the_page_and_the_server_stays_up(browser, url, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not a protobuf")
    browser.get(url)
    _fill(browser, "networks", "")
    _fill(browser, "devices", "h100-sxm")
    browser.find_element(By.ID, "f-network-file").send_keys(str(bad))
    _compute(browser)
    line = browser.find_element(By.ID, "error").text
    assert line.startswith("error: cannot read ONNX model 'broken.onnx (uploaded)'"), line
    assert "\n" not in line and str(tmp_path) not in line
    # still up: the next what-if on the same page is answered
    browser.find_element(By.ID, "f-network-file").clear()
    _fill(browser, "networks", "resnet18")
    _compute(browser)
    assert browser.find_element(By.ID, "error").text == ""
    assert _number(browser.find_element(By.ID, "v-latency").text) == pytest.approx(
        _four_digits(_simulate("resnet18", "h100-sxm", 1)["latency_s"]), rel=1e-12)
