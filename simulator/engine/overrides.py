"""The grammar of what-if overrides of a device's figures, and their ranges.

Override keys are parsed here, once, for :func:`simulator.simulation.simulate`,
:func:`simulator.sweeps.sweep` and the CLI's ``--set`` (:mod:`simulator.engine.configs` applies them
to a device's figures, :func:`~simulator.engine.configs.hardware_arrays`):

* ``peak_ops_per_s`` | ``peak_mega_ops_per_s`` (1e6) | ``peak_giga_ops_per_s`` (1e9) |
  ``peak_tera_ops_per_s`` (1e12): the peak at every precision; ``peak_scale``: times the
  device's peak at each configuration's compute precision;
* ``<level>.bandwidth_bytes_per_s`` | ``_mb_per_s`` | ``_gb_per_s`` | ``_tb_per_s``;
  ``<level>.capacity_bytes`` | ``_kib`` | ``_mib`` | ``_gib`` | ``_kb`` | ``_mb`` | ``_gb``;
  ``<level>.energy_per_byte_pj``: a memory level's figure (level names as in the profile,
  case-insensitive), converted to SI exactly for the decimal written (``204.8`` GB/s is
  ``204.8e9`` bytes/s);
* ``<level>.bandwidth_scale`` | ``<level>.capacity_scale`` | ``<level>.energy_per_byte_scale``:
  times the level's own figure (after an absolute override of the same field, if both are given);
* ``supply_voltage_v``: the board's supply voltage, for a device behind a linear regulator
  (:class:`~simulator.hardware.device.Supply`): every energy (operations, memory, static power) times
  ``V / supply.voltage_v``; times are unchanged.

Capacities are whole bytes: an overridden capacity is rounded down, ``floor(capacity × scale)``.

Ranges (:func:`check_applies`, :func:`override_arrays`; :data:`RANGES_HELP` says them in a line): every
overridden figure stays within :data:`FACTOR_LIMIT` (10^4) of the profile's own, either way. A scale
is a factor from 1e-4 to 1e4; an absolute peak lies from the device's lowest peak / 1e4 to its
highest × 1e4; an absolute bandwidth, capacity or energy per byte from the level's own / 1e4 to its
own × 1e4, except that the capacity of a level holding data inside another is bounded above by that
level's instead. Four orders of magnitude either
way hold every what-if from a microcontroller's figure to a data-centre GPU's, and keep every time
and energy finite (``peak_ops_per_s=1e-300`` would make latency infinite). ``supply_voltage_v``
lies in the part's operating range stated in its profile (``[supply] min_voltage_v`` ..
``max_voltage_v``, from its data sheet). Levels keep their order (checked on the overridden figures
by :func:`simulator.engine.configs.hardware_arrays`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from numbers import Real

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import BANDWIDTH_UNITS, CAPACITY_UNITS, PEAK_UNITS

#: Level fields that may be overridden, in SI units.
LEVEL_FIELDS = ("bandwidth_bytes_per_s", "capacity_bytes", "energy_per_byte_pj")
#: Relative keys of a level: ``<level>.<scale key>`` multiplies that field.
LEVEL_SCALES = {"bandwidth_scale": "bandwidth_bytes_per_s", "capacity_scale": "capacity_bytes",
                "energy_per_byte_scale": "energy_per_byte_pj"}
#: Friendly level keys -> (SI field, factor to SI).
LEVEL_UNITS: dict[str, tuple[str, int]] = {
    **{key: ("capacity_bytes", factor) for key, factor in CAPACITY_UNITS.items()},
    **{key: ("bandwidth_bytes_per_s", factor) for key, factor in BANDWIDTH_UNITS.items()},
    "energy_per_byte_pj": ("energy_per_byte_pj", 1),
}
#: the supply-voltage key, in volts
SUPPLY_KEY = "supply_voltage_v"
#: every key the grammar accepts: SI keys first, then relative scales, then friendly units
ACCEPTED_KEYS = ("peak_ops_per_s", "peak_scale", *(f"<level>.{field}" for field in LEVEL_FIELDS),
                 *(f"<level>.{key}" for key in LEVEL_SCALES),
                 *(f"peak{suffix}" for suffix in PEAK_UNITS if suffix != "_ops_per_s"),
                 *(f"<level>.{key}" for key in LEVEL_UNITS if key not in LEVEL_FIELDS), SUPPLY_KEY)
#: an overridden figure lies within this factor of the profile's own, either way; a scale key's factor
#: lies from 1 / FACTOR_LIMIT to FACTOR_LIMIT
FACTOR_LIMIT = 10_000
#: the unit of each overridden field, for messages
_UNITS = {"peak_ops_per_s": "ops/s", "bandwidth_bytes_per_s": "bytes/s", "capacity_bytes": "bytes",
          "energy_per_byte_pj": "pJ/byte", SUPPLY_KEY: "V"}
#: the range of every --set key, in one line (the CLI's --help)
RANGES_HELP = ("Ranges: a *_scale factor from 1e-4 to 1e4; an absolute peak, bandwidth, capacity or energy "
               "per byte from 1e-4 to 1e4 times the profile's own (a peak: its lowest peak / 1e4 to its "
               "highest x 1e4), except that the capacity of a level inside another that holds data is at "
               "most that level's instead; capacities at least 1 byte after rounding down; bandwidths not "
               f"falling from the outermost level inwards; {SUPPLY_KEY} within the part's operating range "
               "stated in its profile ([supply] min_voltage_v..max_voltage_v: 1.71..3.6 V on "
               "nucleo-l4r5zi).")


@dataclass(frozen=True)
class Override:
    """One overridden hardware field: ``key`` (the SI key, or the scale key as given), the ``level``
    (None for the peak), the SI ``field`` it sets, whether ``values`` are relative ``scale`` factors,
    and the values (SI units, or factors)."""

    key: str
    level: str | None
    field: str
    scale: bool
    values: tuple[float, ...]


def is_override_key(key: object) -> bool:
    """Whether ``key`` is in the grammar (its level, if any, is checked against a device later)."""
    try:
        _parse_key(key)
    except SimulatorError:
        return False
    return True


def _parse_key(key: object) -> tuple[str, str | None, str, bool, int]:
    """``key`` -> (SI or scale key, level, SI field, is a scale, factor to SI)."""
    if not isinstance(key, str):
        raise SimulatorError(f"override keys must be strings, got {key!r}")
    level, dot, name = key.partition(".")
    if not dot:
        if key == "peak_scale":
            return key, None, "peak_ops_per_s", True, 1
        if key == SUPPLY_KEY:
            return key, None, SUPPLY_KEY, False, 1
        if key.startswith("peak") and key.removeprefix("peak") in PEAK_UNITS:
            return "peak_ops_per_s", None, "peak_ops_per_s", False, PEAK_UNITS[key.removeprefix("peak")]
    elif level and name in LEVEL_SCALES:
        return key, level, LEVEL_SCALES[name], True, 1
    elif level and name in LEVEL_UNITS:
        field, factor = LEVEL_UNITS[name]
        return f"{level}.{field}", level, field, False, factor
    raise SimulatorError(f"unknown override {key!r}; accepted keys: {', '.join(ACCEPTED_KEYS)}")


def _to_si(value: object, factor: int) -> float | None:
    """``value × factor`` exactly for the decimal written (a number, a Decimal or a numeric string), or
    None when it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real | Decimal | str):
        return None
    try:
        si = Decimal(str(value).strip()) * factor
    except ArithmeticError:
        return None
    return float(si) if si.is_finite() and si > 0 else None


def _to_si_many(values: Sequence[object], factor: int) -> list[float | None]:
    """:func:`_to_si` of each of ``values``, the same floats, without a Decimal per value where it
    cannot change the result: a float64 (``float``, ``np.float64``) times a factor of 1 is itself
    (its ``str`` is the shortest decimal that reads back as it, so the exact decimal read of that
    string rounds back to it), so those are checked as an array (finite, > 0); every other value is
    read once per distinct written form (a sweep's column repeats the same few strings)."""
    out: list[float | None] = [None] * len(values)
    floats = (float, np.float64) if factor == 1 else ()
    fast = [k for k, v in enumerate(values) if type(v) in floats]
    if fast:
        array = np.array([values[k] for k in fast], dtype=np.float64)
        good = np.isfinite(array) & (array > 0)
        for k, value, ok in zip(fast, array.tolist(), good.tolist(), strict=True):
            out[k] = value if ok else None
    seen: dict[tuple[type, str], float | None] = {}
    skip = set(fast)
    for k, value in enumerate(values):
        if k in skip:
            continue
        if isinstance(value, bool) or not isinstance(value, Real | Decimal | str):
            continue
        written = (type(value), str(value))
        if written not in seen:
            seen[written] = _to_si(value, factor)
        out[k] = seen[written]
    return out


def _values(key: str, raw: object) -> tuple[object, ...]:
    """An override's value or values as a tuple; anything else is an error naming the key."""
    if isinstance(raw, Real | Decimal | str):
        return (raw,)
    if isinstance(raw, np.ndarray):
        return tuple(raw.ravel())
    if isinstance(raw, Mapping | bytes) or not isinstance(raw, Iterable):
        raise SimulatorError(f"override {key!r} takes a number or a list of numbers, got {raw!r}")
    return tuple(raw)


def parse_overrides(overrides: Mapping[str, Sequence[float] | float] | None) -> list[Override]:
    """Validates override keys and values (finite numbers > 0, at least one per key), in SI units.

    ``overrides`` is a mapping (None: no override) of keys to a number (int, float, Decimal or a
    numeric string) or a list of them; anything else (a string ``"key=value"``, a list of pairs) is
    an error that says what is expected. Ranges depend on the device: :func:`check_applies`."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise SimulatorError(f"overrides must be a mapping of override key to value(s), e.g. "
                             f"{{'dram.bandwidth_scale': 2}}, got {type(overrides).__name__} {overrides!r}"
                             + (" (dict(...) of a list of pairs gives one)"
                                if isinstance(overrides, list | tuple) else ""))
    parsed: list[Override] = []
    for key, raw in (overrides or {}).items():
        si_key, level, field, scale, factor = _parse_key(key)
        values = _values(key, raw)
        si_values = [si for si in _to_si_many(values, factor) if si is not None]
        if not values or len(si_values) != len(values):
            raise SimulatorError(f"override {key!r} needs one or more finite numbers greater than 0, "
                                 f"got {list(values)!r}")
        same = [o.key for o in parsed if (o.level or "").lower() == (level or "").lower()
                and o.field == field and o.scale == scale]
        if same:
            raise SimulatorError(f"override {key!r} sets the same field as {same[0]!r}; give it once")
        parsed.append(Override(si_key, level, field, scale, tuple(si_values)))
    return parsed


def level_index(device: Device, override: Override) -> int:
    """Index of the memory level an override names; an unknown level is an error naming the levels."""
    if override.level is None:
        raise SimulatorError(f"override {override.key!r} names no memory level")
    names = [level.name.lower() for level in device.memory_levels]
    if override.level.lower() not in names:
        raise SimulatorError(f"cannot override {override.key!r} on device {device.name!r}: it has no level "
                             f"{override.level!r}; its levels: "
                             f"{', '.join(lv.name for lv in device.memory_levels)}")
    return names.index(override.level.lower())


def check_applies(device: Device, override: Override) -> None:
    """Raises SimulatorError when ``override`` cannot apply to ``device``: a level it does not have, a
    supply voltage on a device whose profile states no ``[supply]`` (or no operating range), or a
    value out of its range (module docstring: a scale from 1e-4 to 1e4, an absolute figure within
    :data:`FACTOR_LIMIT` of the profile's own, a supply voltage in the part's operating range)."""
    if override.field == SUPPLY_KEY:
        supply = device.supply
        if supply is None:
            raise SimulatorError(f"cannot override {SUPPLY_KEY!r} on device {device.name!r}: its profile "
                                 "states no [supply] (voltage and a linear regulator)")
        low, high = getattr(supply, "min_voltage_v", None), getattr(supply, "max_voltage_v", None)
        if low is None or high is None:
            raise SimulatorError(f"cannot override {SUPPLY_KEY!r} on device {device.name!r}: its profile's "
                                 "[supply] states no operating range (min_voltage_v, max_voltage_v)")
        _check_range(device, override, override.values, low, high, "the part's operating range")
        return
    if override.level is not None:
        level_index(device, override)
    if override.scale:
        _check_range(device, override, override.values, 1 / FACTOR_LIMIT, FACTOR_LIMIT,
                     "four orders of magnitude either way")
    else:
        low, high = figure_range(device, override)
        own = "own" if override.level else "lowest and highest peaks"
        _check_range(device, override, override.values, low, high,
                     f"within {FACTOR_LIMIT:,}x of the profile's {own}")


def figure_range(device: Device, override: Override) -> tuple[float, float]:
    """The range [SI units] an overridden figure must lie in: the profile's own figure (peaks: its
    lowest and highest) divided and multiplied by :data:`FACTOR_LIMIT`; no upper bound (inf) for the
    capacity of a level holding data inside another (the level order bounds it)."""
    if override.level is None:
        peaks = device.peak_ops_per_s.values()
        return min(peaks) / FACTOR_LIMIT, max(peaks) * FACTOR_LIMIT
    index = level_index(device, override)
    level = device.memory_levels[index]
    own = float(getattr(level, override.field))
    inner = override.field == "capacity_bytes" and level.stores and any(
        outer.stores for outer in device.memory_levels[:index])
    return own / FACTOR_LIMIT, math.inf if inner else own * FACTOR_LIMIT


def _check_range(device: Device, override: Override, values, low: float, high: float, what: str) -> None:
    """Raises SimulatorError naming the first of ``values`` outside ``[low, high]``, and the range."""
    array = np.asarray(values, dtype=float).ravel()
    bad = array[~((array >= low) & (array <= high))]
    if bad.size:
        unit = "times the profile's figure" if override.scale else _UNITS[override.field]
        top = "" if math.isinf(high) else f" to {high:.6g}"
        above = ", and at most the capacity of the level outside it" if math.isinf(high) else ""
        raise SimulatorError(
            f"override {override.key!r} = {bad[0]:.6g} is out of range on device {device.name!r}: it must be "
            f"a finite number greater than 0, from {low:.6g}{top} {unit} ({what}{above})")


def override_arrays(device: Device, overrides: Sequence[Override], compute: Sequence[str],
                    values: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-configuration SI arrays for :func:`hardware_arrays`: absolute values replace the device's
    figure, scales multiply it (absolute first), capacities are rounded down to whole bytes."""
    fields: dict[str, np.ndarray] = {}
    given = sorted(zip(overrides, values, strict=True), key=lambda pair: pair[0].scale)  # absolute first
    for override, column in given:
        check_applies(device, override)
        if override.field == SUPPLY_KEY:
            fields[SUPPLY_KEY] = column
            continue
        if override.level is None:
            key = "peak_ops_per_s"
            base = fields.get(key)
            if base is None:
                peaks = {p: device.peak_for(p) for p in set(compute)}
                base = np.array([peaks[p] for p in compute], dtype=float)
        else:
            level = device.memory_levels[level_index(device, override)]
            key = f"{level.name}.{override.field}"
            base = fields.get(key)
            if base is None:
                base = np.full(len(compute), float(getattr(level, override.field)))
        if override.scale and key in fields:  # an absolute figure times a scale: in its range too
            _check_combined(device, override, key, base * column)
        fields[key] = base * column if override.scale else column
    for key in fields:
        if key.endswith(".capacity_bytes"):
            fields[key] = np.floor(fields[key])
    return fields


def _check_combined(device: Device, override: Override, key: str, combined: np.ndarray) -> None:
    """An absolute override times a scale of the same field must lie in :func:`figure_range` too."""
    low, high = figure_range(device, override)
    bad = combined[(combined < low) | (combined > high)]
    if bad.size:
        raise SimulatorError(f"overrides of {key} together make it {bad[0]:.6g} {_UNITS[override.field]} on "
                             f"device {device.name!r}, out of its range: from {low:.6g} to {high:.6g} "
                             f"(within {FACTOR_LIMIT:,}x of the profile's own)")
