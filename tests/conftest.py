"""Fixtures shared by the test folders: small device profiles written for one test.

The tests mirror the package (``tests/model`` for :mod:`simulator.model`, ``tests/engine`` for
:mod:`simulator.engine`, ...; top-level modules at the top). A device profile here has round
numbers so that a test can derive its expected values by hand; shipped profiles are read through
:func:`simulator.hardware.loader.resolve_device` instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

#: A device without an on-chip activation buffer: DRAM (100 GB/s) and a register file only.
DRAM_ONLY_PROFILE = """
name = "dram-only"
source = "test device"

[energy]
table = "horowitz-45nm"

[peak]
fp32_tera_ops_per_s = 1
fp16_tera_ops_per_s = 2
int8_tera_ops_per_s = 4
source = "test"

[[memory]]
name = "dram"
capacity_gib = 8
bandwidth_gb_per_s = 100
stores = ["weights", "activations"]
energy_table_entry = "dram-32bit"
source = "test"

[[memory]]
name = "register-file"
capacity_kib = 64
bandwidth_tb_per_s = 10
stores = []
energy_table_entry = "rf-32bit"
source = "test"
"""


@pytest.fixture
def profile_file(tmp_path: Path) -> Callable[..., Path]:
    """``profile_file(text, name="tiny.toml")`` writes ``text`` to ``tmp_path / name`` (folders made)."""
    def write(text: str, name: str = "tiny.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
    return write


@pytest.fixture
def device_file(tmp_path: Path) -> Callable[[str, dict[str, float], list[dict]], Path]:
    """``device_file(name, peaks, levels)`` writes a device profile (TOML) with the given ``[peak]``
    keys and ``[[memory]]`` levels (outermost first), each level's keys written as JSON values."""
    def write(name: str, peaks: dict[str, float], levels: list[dict]) -> Path:
        lines = [f'name = "{name}"', 'source = "test device: round numbers for hand calculation"', "",
                 "[energy]", 'table = "horowitz-45nm"', "", "[peak]"]
        lines += [f"{key} = {value}" for key, value in peaks.items()]
        lines.append('source = "test"')
        for level in levels:
            lines += ["", "[[memory]]", *(f"{key} = {json.dumps(value)}" for key, value in level.items()),
                      'source = "test"']
        path = tmp_path / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    return write


@pytest.fixture(scope="session")
def dram_only_path(tmp_path_factory) -> Path:
    """:data:`DRAM_ONLY_PROFILE` written once per session."""
    path = tmp_path_factory.mktemp("devices") / "dram-only.toml"
    path.write_text(DRAM_ONLY_PROFILE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per browser test module (:func:`tests.browser.chromium`; the module calls
    :func:`tests.browser.require_chromium` first, so it is skipped where Chromium is missing)."""
    from tests.browser import chromium

    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served_folder(tmp_path_factory) -> Path:
    """The (empty) folder that the module's ``server`` serves; a test may write files into it."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
def server(served_folder: Path):
    """``roofline serve``'s server for :func:`served_folder` on a free port of 127.0.0.1, one per module
    (:func:`tests.helpers.serving`; send requests with :func:`tests.helpers.serve_request`)."""
    from tests.helpers import serving

    with serving(served_folder) as httpd:
        yield httpd


@pytest.fixture
def buffered_device(device_file):
    """The "buffered" test device (:func:`tests.helpers.buffered_levels`, fp32 peak
    :data:`tests.helpers.BUFFERED_PEAK_OPS_PER_S`): DRAM for weights and activations, a 1 MiB SRAM for
    activations, a register file."""
    from simulator.hardware.loader import load_device
    from tests.helpers import BUFFERED_PEAK_OPS_PER_S, buffered_levels

    return load_device(device_file("buffered", {"fp32_tera_ops_per_s": BUFFERED_PEAK_OPS_PER_S / 1e12},
                                   buffered_levels()))
