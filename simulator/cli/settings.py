"""``--set KEY=VALUE``: hardware fields changed for one run (simulate, compare, plot) or swept over
several values (sweep, report, serve), in the override grammar of :mod:`simulator.engine.overrides`.
"""

from __future__ import annotations

import argparse

from simulator.cli.argtypes import split_list
from simulator.errors import SimulatorError


def parse_setting(text: str) -> tuple[str, list[float]]:
    """``"dram.bandwidth_gb_per_s=100,204.8"`` -> ``("dram.bandwidth_bytes_per_s", [1e11, 2.048e11])``,
    in the override grammar of :mod:`simulator.engine.overrides` (``_scale`` keys keep their values)."""
    from simulator.engine.overrides import ACCEPTED_KEYS, is_override_key, parse_overrides

    key, equals, values_text = (part.strip() for part in text.partition("="))
    if not equals or not key:
        raise SimulatorError(f"--set expects KEY=V1,V2,..., got {text!r}")
    if not is_override_key(key):
        raise SimulatorError(f"unknown --set key {key!r}; accepted: {', '.join(ACCEPTED_KEYS)}")
    (override,) = parse_overrides({key: split_list(values_text, f"--set {key}")})
    return override.key, list(override.values)


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): one hardware field of the override grammar, one value each."""
    from simulator.engine.overrides import RANGES_HELP

    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a hardware field, e.g. dram.bandwidth_gb_per_s=100, l2.capacity_scale=0.5 or "
                             "supply_voltage_v=3.0 (repeatable; `roofline sweep` takes several values). "
                             + RANGES_HELP.replace("%", "%%"))


def swept_settings(args: argparse.Namespace) -> dict[str, list[float]]:
    """The ``--set KEY=V1,V2,...`` options as overrides with their values (a key given twice: one line)."""
    overrides: dict[str, list[float]] = {}
    for text in args.settings:
        key, values = parse_setting(text)
        if key in overrides:
            raise SimulatorError(f"--set {text!r} sets {key!r} a second time")
        overrides[key] = values
    return overrides


def single_settings(args: argparse.Namespace) -> dict[str, float] | None:
    """The ``--set`` options as overrides with one value each (None when there are none)."""
    overrides: dict[str, float] = {}
    for text in args.settings:
        key, values = parse_setting(text)
        if key in overrides:
            raise SimulatorError(f"--set {text!r} sets {key!r} a second time")
        if len(values) != 1:
            raise SimulatorError(f"--set {text!r}: give one value here; `roofline sweep` sweeps several")
        overrides[key] = values[0]
    return overrides or None
