"""A profile's friendly units, converted to SI once: the unit keys a data file may use for each
quantity (:data:`CAPACITY_UNITS`, :data:`BANDWIDTH_UNITS`, :data:`PEAK_UNITS`, ...) and the conversion of
each section of a device file (``[[memory]]``, ``[peak]``, ``[efficiency]``, ``[interconnect]``) into the
fields of :class:`~simulator.hardware.device.Device`, recording where each field came from so that a
validation error names the key as written (:mod:`simulator.hardware.profile_files`).

Decimal factors are applied to the decimal value written in the file (``204.8`` GB/s becomes exactly
``204.8e9`` bytes/s): ``float(Decimal(repr(value)) * factor)``. The file format is described in
:mod:`simulator.hardware.loader`, which reads files with these.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator.errors import SimulatorError
from simulator.hardware.profile_files import FieldError, Loc
from simulator.kernels import EFFICIENCY_CLASSES

if TYPE_CHECKING:
    from simulator.hardware.device import EnergyTable

CAPACITY_UNITS: dict[str, int] = {
    "capacity_bytes": 1, "capacity_kib": 2**10, "capacity_mib": 2**20, "capacity_gib": 2**30,
    "capacity_kb": 10**3, "capacity_mb": 10**6, "capacity_gb": 10**9,
}
BANDWIDTH_UNITS: dict[str, int] = {
    "bandwidth_bytes_per_s": 1, "bandwidth_mb_per_s": 10**6, "bandwidth_gb_per_s": 10**9,
    "bandwidth_tb_per_s": 10**12,
}
#: Suffixes of peak keys, longest first so that ``_tera_ops_per_s`` wins over ``_ops_per_s``.
PEAK_UNITS: dict[str, int] = {
    "_mega_ops_per_s": 10**6, "_giga_ops_per_s": 10**9, "_tera_ops_per_s": 10**12, "_ops_per_s": 1,
}
#: Keys of the per-kernel overhead of an efficiency model -> the divisor to seconds.
KERNEL_OVERHEAD_UNITS: dict[str, int] = {"kernel_overhead_s": 1, "kernel_overhead_ms": 10**3,
                                         "kernel_overhead_us": 10**6}
#: Keys of an LLM runtime's fixed cost per forward pass -> the divisor to seconds.
STEP_OVERHEAD_UNITS: dict[str, int] = {"step_overhead_s": 1, "step_overhead_ms": 10**3,
                                       "step_overhead_us": 10**6}
#: Keys of a per-class overhead -> the divisor to seconds (``overhead_us = 12`` is 12e-6 s).
OVERHEAD_UNITS: dict[str, int] = {"overhead_s": 1, "overhead_ms": 10**3, "overhead_us": 10**6}
#: SI field of a memory level -> the unit keys that may give it in a file.
_LEVEL_UNITS = {"capacity_bytes": CAPACITY_UNITS, "bandwidth_bytes_per_s": BANDWIDTH_UNITS}
#: Keys of an interconnect's message latency -> the divisor to seconds.
LATENCY_UNITS: dict[str, int] = {"latency_s": 1, "latency_us": 10**6}
#: Keys of an all-reduce's fixed cost -> the divisor to seconds.
ALLREDUCE_OVERHEAD_UNITS: dict[str, int] = {"allreduce_overhead_s": 1, "allreduce_overhead_us": 10**6}
#: Groups of keys that give one quantity in different units (``extends`` replaces one by another).
UNIT_FAMILIES = (CAPACITY_UNITS, BANDWIDTH_UNITS, KERNEL_OVERHEAD_UNITS, STEP_OVERHEAD_UNITS, OVERHEAD_UNITS,
                 LATENCY_UNITS, ALLREDUCE_OVERHEAD_UNITS)


def _times(value: Any, factor: int) -> Any:
    """``value * factor``, exact for the decimal written in the file; non-numbers are left to pydantic."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int) or factor == 1:
        return value * factor
    return float(Decimal(repr(value)) * factor)


def _per(value: Any, divisor: int) -> Any:
    """``value / divisor`` (a time in ms or us to s), exact for the decimal written in the file;
    non-numbers are left to pydantic."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(Decimal(repr(value)) / divisor)
    return value


def _unit_key(table: dict[str, Any], units: dict[str, int], where: str) -> str | None:
    """The one key of ``units`` that ``table`` gives (None: none); an error naming them if several."""
    given = [key for key in units if key in table]
    if len(given) > 1:
        raise FieldError(where, f"give only one of {', '.join(given)}")
    return given[0] if given else None


#: ``[efficiency]`` keys read as they are written (no unit suffix)
PLAIN_EFFICIENCY_KEYS = ("parallel_units", "tile_outputs", "runtime", "llm_compute_fraction",
                         "buffer_capacity_fraction", "tensor_energy_pj")


def _convert_units(item: dict[str, Any], where: str, loc: Loc, locmap: dict[Loc, str]) -> None:
    """Replaces the unit keys of one memory level by its SI fields, in place, mapping them back."""
    for si_key, units in _LEVEL_UNITS.items():
        field_loc = (*loc, si_key)  # not inside the subscript: mypy reads [(*a, b)] as 3.11's [*a, b]
        given = [key for key in units if key in item]
        if len(given) > 1:
            raise FieldError(where, f"give only one of {', '.join(given)}")
        if given:
            item[si_key] = _times(item.pop(given[0]), units[given[0]])
            locmap[field_loc] = f"{where}.{given[0]}"
        else:
            stem = si_key.split("_")[0]
            locmap[field_loc] = f"{where}.{stem}_* (one of {', '.join(units)})"


def memory_level_fields(raw: Any, table: EnergyTable, locmap: dict[Loc, str]) -> Any:
    """The ``[[memory]]`` tables as MemoryLevel fields: capacity in bytes and bandwidth in bytes/s (the
    unit key's factor, :data:`CAPACITY_UNITS`, :data:`BANDWIDTH_UNITS`), and an ``energy_table_entry``
    replaced by that entry's access energy [pJ] and width [bits] from ``table`` (already scaled)."""
    if not isinstance(raw, list):
        return raw
    levels = []
    for index, entry in enumerate(raw):
        where, loc = f"memory[{index}]", ("memory_levels", index)
        locmap[loc] = where
        if not isinstance(entry, dict):
            levels.append(entry)
            continue
        item = dict(entry)
        _convert_units(item, where, loc, locmap)
        if "energy_table_entry" in item:
            name = item.pop("energy_table_entry")
            if not isinstance(name, str):
                raise FieldError(f"{where}.energy_table_entry",
                                 f"must be the name of an entry of {table.name!r} (a string), got {name!r}")
            if "energy_per_access_pj" in item or "access_bits" in item:
                raise FieldError(f"{where}.energy_table_entry",
                                 "give either energy_table_entry or energy_per_access_pj and access_bits")
            try:
                access = table.access(name)
            except SimulatorError as err:
                raise FieldError(f"{where}.energy_table_entry", str(err)) from None
            scaled = access.on_chip and table.scale != 1
            scale_note = f" (x {table.scale:g}: {table.scale_source})" if scaled else ""
            note = f"; {item['energy_source']}" if item.get("energy_source") else ""
            item["energy_source"] = f"{table.name} entry {name!r}: {access.source}{scale_note}{note}"
            item["energy_per_access_pj"] = access.energy_per_access_pj
            item["access_bits"] = access.access_bits
        levels.append(item)
    return levels


def peak_fields(raw: Any, locmap: dict[Loc, str]) -> tuple[Any, str]:
    """The ``[peak]`` table as ``(peak_ops_per_s, peak_source)``: ``<precision><suffix>`` keys, each
    value times its suffix's factor (:data:`PEAK_UNITS`: ``fp16_tera_ops_per_s = 275`` is 2.75e14 ops/s)."""
    if not isinstance(raw, dict):
        return raw, ""
    peaks: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "source":
            continue
        suffix = next((s for s in PEAK_UNITS if key.endswith(s) and len(key) > len(s)), None)
        if suffix is None:
            raise FieldError(f"peak.{key}", "expected <precision> followed by one of "
                              f"{', '.join(PEAK_UNITS)} (e.g. fp32_tera_ops_per_s)")
        precision = key.removesuffix(suffix)
        if precision in peaks:
            raise FieldError(f"peak.{key}", f"precision {precision!r} is given twice")
        peaks[precision] = _times(value, PEAK_UNITS[suffix])
        locmap[("peak_ops_per_s", precision)] = f"peak.{key}"
    return peaks, raw.get("source", "")


def efficiency_fields(raw: Any, locmap: dict[Loc, str]) -> Any:
    """The ``[efficiency]`` table as EfficiencyModel fields: class names checked, overheads in s."""
    if not isinstance(raw, dict):
        return raw
    locmap[("efficiency",)] = "efficiency"
    classes: dict[str, Any] = {}
    model: dict[str, Any] = {}
    if "gemv_bandwidth_fraction" in raw:  # the key before the gemv class (issue 18)
        raise FieldError("efficiency.gemv_bandwidth_fraction", "moved: write it as bandwidth_fraction "
                         "of an [efficiency.gemv] table (the decode projections' kernel class)")
    for si_key, units in (("kernel_overhead_s", KERNEL_OVERHEAD_UNITS),
                          ("step_overhead_s", STEP_OVERHEAD_UNITS)):
        key = _unit_key(raw, units, "efficiency")
        if key is not None:
            model[si_key] = _per(raw[key], units[key])
            locmap[("efficiency", si_key)] = f"efficiency.{key}"
    for key in PLAIN_EFFICIENCY_KEYS:
        if key in raw:
            model[key] = raw[key]
            locmap[("efficiency", key)] = f"efficiency.{key}"
    for name, entry in raw.items():
        if name in ("source", *PLAIN_EFFICIENCY_KEYS, *KERNEL_OVERHEAD_UNITS, *STEP_OVERHEAD_UNITS):
            continue
        if name not in EFFICIENCY_CLASSES:
            raise FieldError(f"efficiency.{name}", f"unknown efficiency class {name!r}; valid: "
                              f"{', '.join(EFFICIENCY_CLASSES)} (and source)")
        where, loc = f"efficiency.{name}", ("efficiency", "classes", name)
        locmap[loc] = where
        if not isinstance(entry, dict):
            classes[name] = entry
            continue
        item = dict(entry)
        key = _unit_key(item, OVERHEAD_UNITS, where)
        if key is not None:
            item["overhead_s"] = _per(item.pop(key), OVERHEAD_UNITS[key])
            field_loc = (*loc, "overhead_s")  # as in _convert_units
            locmap[field_loc] = f"{where}.{key}"
        classes[name] = item
    return {**({"source": raw["source"]} if "source" in raw else {}), "classes": classes, **model}


def interconnect_fields(raw: Any, locmap: dict[Loc, str]) -> Any:
    """The ``[interconnect]`` table with its bandwidth in bytes/s and its latency in s."""
    if not isinstance(raw, dict):
        return raw
    item = dict(raw)
    for si_key, units, to_si in (("bandwidth_bytes_per_s", BANDWIDTH_UNITS, _times),
                                 ("latency_s", LATENCY_UNITS, _per),
                                 ("allreduce_overhead_s", ALLREDUCE_OVERHEAD_UNITS, _per)):
        key = _unit_key(item, units, "interconnect")
        if key is not None:
            item[si_key] = to_si(item.pop(key), units[key])
            locmap[("interconnect", si_key)] = f"interconnect.{key}"
    return item
