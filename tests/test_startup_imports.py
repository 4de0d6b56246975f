"""Commands import only what they use (issue 21): ``roofline count`` needs neither pandas (data
frames) nor pydantic (device profiles), nor numpy (it counts in Python ints); ``roofline simulate``
needs no pandas to print its table. Each command runs in a fresh interpreter, which then lists the
heavy packages it loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "pydantic", "matplotlib")

#: a fresh interpreter runs the command in process, then prints which of HEAVY it imported
_PROBE = f"""
import contextlib, io, json, sys
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:])
print(json.dumps({{"status": status, "loaded": [name for name in {HEAVY!r} if name in sys.modules]}}))
"""


def loaded_by(*argv: str) -> set[str]:
    """The packages of :data:`HEAVY` in ``sys.modules`` after ``roofline ARGV`` ran (exit status 0)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0, done.stderr
    return set(report["loaded"])


@pytest.mark.parametrize("output", [(), ("--format", "json"), ("--format", "csv"), ("--fused",)])
def test_count_imports_no_pandas_pydantic_or_numpy(output: tuple[str, ...]) -> None:
    assert loaded_by("count", "resnet50", *output) == set()


def test_simulate_imports_no_pandas() -> None:
    loaded = loaded_by("simulate", "resnet50", "--device", "jetson-agx-orin")
    assert "pandas" not in loaded and "matplotlib" not in loaded
    assert "numpy" in loaded  # the probe sees imports: the engine's arrays are there


def test_simulate_json_imports_no_pandas() -> None:
    assert "pandas" not in loaded_by("simulate", "resnet50", "--device", "h100-sxm", "--format", "json")
