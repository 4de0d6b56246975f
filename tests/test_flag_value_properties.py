"""Generated values for ``--set``, ``--param`` and ``--batch`` (issue 23): each run either succeeds
with finite figures and integer counts, or fails with exactly one line and exit status 2, within a
time bound; never a traceback, never a non-finite number, never a float count."""

from __future__ import annotations

import json
import math
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main

#: the slowest a single generated run may take (a ResNet-18 simulation takes milliseconds)
TIME_BOUND_S = 20.0

value_texts = st.one_of(
    st.integers(min_value=-10**25, max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1", "2.5", "1e9", "1e-300", "1e300", "inf", "-inf", "nan", "True", "false",
                     "abc", "", " ", "0x10", "1_000", "9223372036854775807", "9223372036854775808",
                     "1..8", "1..1000000000000000000000", "3..1", "1,2,3", "½", "٣"]),
    st.text(max_size=6),
)
set_keys = st.sampled_from(["dram.bandwidth_gb_per_s", "dram.bandwidth_scale", "l2.capacity_scale",
                            "peak_ops_per_s", "peak_scale", "supply_voltage_v", "dram.capacity_gib",
                            "nosuch.key", "DRAM.bandwidth_scale"])
param_names = st.sampled_from(["num_classes", "width_mult", "nosuch", "seq_len", "resolution"])


def _counts_are_ints(document: dict) -> None:
    totals = document["totals"]
    for key in ("params", "macs", "flops", "total_activations", "peak_activations"):
        assert isinstance(totals[key], int) and totals[key] >= 0, (key, totals[key])
    for key in ("latency_s", "energy_j", "throughput_per_s"):
        assert math.isfinite(totals[key]) and totals[key] >= 0, (key, totals[key])


def _run(argv: list[str], capsys) -> None:
    start = time.perf_counter()
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors: one line too
        status = exit_.code
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert elapsed < TIME_BOUND_S, (argv, elapsed)
    assert "Traceback" not in err
    if status == 0:
        _counts_are_ints(json.loads(out))
    else:
        assert status == 2, (argv, status, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "error:" in lines[0], (argv, err)


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(key=set_keys, value=value_texts)
def test_generated_set_values(capsys, key, value):
    _run(["simulate", "resnet18", "--device", "jetson-agx-orin", "--format", "json", "--set",
          f"{key}={value}"], capsys)


@SETTINGS
@given(name=param_names, value=value_texts)
def test_generated_param_values(capsys, name, value):
    _run(["simulate", "resnet18", "--device", "h100-sxm", "--format", "json", "--param", f"{name}={value}"],
         capsys)


@SETTINGS
@given(value=value_texts)
def test_generated_batch_values(capsys, value):
    _run(["simulate", "resnet18", "--device", "h100-sxm", "--format", "json", "--batch", value], capsys)
