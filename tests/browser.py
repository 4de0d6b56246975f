"""Headless Chromium for the browser tests (``test_report_browser.py``, ``test_serve_browser.py``):
the distribution's Chromium driven by Selenium through the distribution's chromedriver (no browser
download). The ``browser`` fixture of ``tests/conftest.py`` starts one per test module.

A browser test module calls :func:`require_chromium` before importing Selenium: the module is skipped
where Selenium, Chromium or chromedriver is missing (CI installs them: ``apt-get install chromium
chromium-driver``, ``pip install selenium``).
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


def require_chromium() -> None:
    """Skips the calling test module (at import) without Selenium, Chromium or chromedriver."""
    pytest.importorskip("selenium")
    if None in _binaries():
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                    allow_module_level=True)


def chromium() -> Any:
    """A headless Chromium WebDriver: 1400 × 1000 window, the browser console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver_path))
