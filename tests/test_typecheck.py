"""The type checker on the engine, the hardware model and the result types (issue 18).

mypy runs with the project's ``[tool.mypy]`` settings (pyproject.toml: ``simulator/engine``,
``simulator/hardware`` and ``simulator/results.py``, the modules they import followed silently) and
must report no error. Its cache lives in the system's temporary folder, so only the first run on a
machine pays for a full check (about 15 s on 2 cores; later runs re-check what changed, under 1 s).
Skipped where mypy is not installed (it is in the ``dev`` extra); CI also runs ``mypy`` once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]


def test_engine_hardware_and_results_type_check(monkeypatch):
    monkeypatch.chdir(ROOT)  # the configured files are relative to the repository root
    cache = Path(tempfile.gettempdir()) / "roofline-simulator-mypy-cache"
    stdout, stderr, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache), "--no-error-summary"])
    assert status == 0, f"mypy found errors:\n{stdout}{stderr}"
    assert stdout.strip() == ""
