"""Property tests (issue 12): generated device profiles and CLI argument lists either succeed with
finite numbers or fail with one line and exit 2; never a traceback, never a non-finite number."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main
from simulator.compat import tomllib
from simulator.hardware.loader import available_devices

pytest.importorskip("tomli_w")
import tomli_w

REFERENCE = tomllib.loads(available_devices()["reference-45nm"].read_text())
REFERENCE["name"] = "dev"

numbers = st.one_of(
    st.integers(min_value=-10, max_value=10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, 1e-308, math.inf, -math.inf, math.nan]))
values = st.one_of(numbers, st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2),
                   st.sampled_from(["68", "13", "true", "inf"]))


def _leaves(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        for index, value in enumerate(data):
            yield from _leaves(value, (*path, index))
    else:
        yield path


LEAVES = [path for path in _leaves(REFERENCE) if path != ("name",)]


@st.composite
def profiles(draw):
    """The reference profile with some fields replaced, removed, added, or its levels reordered."""
    data = json.loads(json.dumps(REFERENCE))
    for path in draw(st.lists(st.sampled_from(LEAVES), max_size=3, unique=True)):
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "remove"]))
        if action == "remove":
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(values)
    if draw(st.booleans()):
        data.setdefault("peak", {})[draw(st.sampled_from(["fp8_tera_ops_per_s", "extra", "x_ops_per_s"]))] = \
            draw(values)
    if draw(st.booleans()):
        data[draw(st.sampled_from(["extra", "memory_levels", "peak_ops_per_s"]))] = draw(values)
    if draw(st.booleans()) and isinstance(data.get("memory"), list):
        data["memory"] = draw(st.permutations(data["memory"]))
    return data


def _finite_json(text: str) -> None:
    document = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))

    def walk(value):
        if isinstance(value, float):
            assert math.isfinite(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)


def _check(status: int, out: str, err: str, json_out: bool) -> None:
    assert "Traceback" not in err
    if status == 0:
        if json_out:
            _finite_json(out)
        for word in ("nan", "inf"):
            assert f" {word} " not in f" {out} ".lower().replace("\n", " ")
    else:
        assert status == 2, (status, err)
        errors = [line for line in err.splitlines() if "warning:" not in line and line.strip()]
        assert len(errors) == 1, err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=profiles())
def test_generated_profiles_succeed_finite_or_fail_in_one_line(tmp_path_factory, capsys, data):
    folder = tmp_path_factory.mktemp("profile")
    path = folder / "dev.toml"
    try:
        path.write_text(tomli_w.dumps(data))
    except (TypeError, ValueError):  # not expressible in TOML (e.g. a mixed list): try JSON
        path = folder / "dev.json"
        path.write_text(json.dumps(data))
    status = main(["simulate", "resnet18", "--device", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    _check(status, out, err, json_out=True)


def test_an_energy_scale_that_overflows_the_table_fails_in_one_line(tmp_path, capsys):
    # found by the property test above: 4.86e307 times any pJ entry above ~3.7 of the 45 nm table
    # overflows a double; it must be a one-line profile error, not a pydantic traceback
    data = json.loads(json.dumps(REFERENCE))
    data["energy"]["scale"] = 4.858630094222476e307
    path = tmp_path / "dev.toml"
    path.write_text(tomli_w.dumps(data))
    status = main(["simulate", "resnet18", "--device", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    _check(status, out, err, json_out=True)
    assert status == 2 and "energy.scale" in err


tokens = st.sampled_from([
    "resnet18", "mobilenet_v2", "nosuchnet", "reference-45nm", "jetson-agx-orin", "stm32f746", "nodevice",
    "--batch", "--precision", "--device", "--format", "--resolution", "--set", "--ideal", "--no-fuse",
    "--require-fit", "json", "csv", "table", "fp16", "FP16", "int8", "int4", "fp61", "0", "1", "-1", "4",
    "1..8", "1-3", "8..32:8", "3..1", "1e9", "inf", "nan", "abc", "", "dram.bandwidth_gb_per_s=100",
    "dram.bandwidth_gb_per_s=inf", "l2.capacity_gib=1000", "sram.capacity_gib=1000", "peak_scale=0",
    "dram.capacity_kib=nan", "224", "100000",
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["count", "simulate", "sweep", "list"]),
       rest=st.lists(tokens, max_size=7))
def test_generated_command_lines_succeed_finite_or_fail_in_one_line(capsys, command, rest):
    try:
        status = main([command, *rest])
    except SystemExit as exit_:  # argparse: usage and one error line, status 2
        status = exit_.code
        out, err = capsys.readouterr()
        assert status in (0, 2) and "Traceback" not in err
        if status == 2:
            last = err.strip().splitlines()[-1]
            assert "error:" in last, err
        return
    out, err = capsys.readouterr()
    _check(status, out, err, json_out="json" in rest and rest[rest.index("json") - 1] == "--format")
