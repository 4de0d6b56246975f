"""Reads device profiles and energy tables from TOML (or JSON) files into :mod:`simulator.hardware`.

Shipped files live in the repository's ``hardware_profiles/`` folder, installed as the
``simulator.hardware_profiles`` package: one device per file, energy tables in
``hardware_profiles/energy/``. Data files use friendly units with the unit in the key; they are
converted to SI once, here:

Device file::

    extends = "h100-sxm" | "base.toml"       optional: start from that profile, override what follows
                                              (simulator.hardware.extends: tables merged, memory
                                              levels matched by name)
    name, description, source                 strings (name = the file name without suffix)
    static_power_w, static_power_source       power drawn whatever the work [W] (idle, leakage, board)
    max_power_w, max_power_source             the device's or board's power limit (TDP) [W]
    [energy]  table = "horowitz-45nm"         an energy table: <device dir>/energy/ or the shipped one
              scale = 0.28, source = "..."    process scale factor (default 1) and its rationale
    [peak]    source = "..."                  dense peak per precision, a MAC counting 2 ops:
              <precision>_ops_per_s | _mega_ops_per_s (1e6) | _giga_ops_per_s (1e9) | _tera_ops_per_s (1e12)
    [[memory]]                                one per level, outermost (DRAM/Flash) first
      name, source, stores = ["weights", "activations"] (either, both or none)
      capacity_bytes | capacity_kib (2**10) | capacity_mib (2**20) | capacity_gib (2**30)
                     | capacity_kb (1e3) | capacity_mb (1e6) | capacity_gb (1e9)
                     (shipped profiles use the binary keys only: a vendor's memory "GB" is 2**30)
      bandwidth_bytes_per_s | bandwidth_mb_per_s (1e6) | bandwidth_gb_per_s (1e9) | bandwidth_tb_per_s (1e12)
      energy: either energy_table_entry = "<entry of the table>" (scaled with the table; gives the
              access width too) or access_bits and energy_per_access_pj; energy_source = "..."
    [interconnect]                            optional device-to-device link for tensor parallelism:
      name, source, bandwidth_gb_per_s | bandwidth_bytes_per_s (per direction per device),
      latency_us | latency_s (one message),
      allreduce_overhead_us | allreduce_overhead_s   expected model: fixed cost per all-reduce
    [efficiency]  source = "..."              optional calibrated kernel efficiencies (see
                                              simulator.engine.efficiency); without it, the ideal roofline
      [efficiency.<class>]                    one per class of EFFICIENCY_CLASSES (conv, gemm, ...)
        compute_fraction, bandwidth_fraction  achieved fractions of peak and bandwidth, in (0, 1]
        overhead_s | overhead_ms (1e-3) | overhead_us (1e-6)   fixed cost per layer (default 0)
      step_overhead_us | _ms | _s             LLM: a runtime's fixed cost per forward pass
      gemv_bandwidth_fraction                 LLM decode projections' share of bandwidth
      llm_compute_fraction                    LLM GEMM-like kernels' share of the dense tensor peak
      buffer_capacity_fraction                the share of the on-chip activation buffer (L2) that
                                              activations stay resident in (expected model only)

    [supply]  voltage_v, regulator = "ldo", source   optional: the supply the energy figures hold for
                                              (simulator.hardware.device.Supply)
      min_voltage_v, max_voltage_v            the part's operating range (data sheet), which a
                                              supply_voltage_v override must lie in

Energy file: the fields of :class:`~simulator.hardware.EnergyTable` as they are (already in pJ).
Runtime file (``hardware_profiles/runtimes/``): the fields of
:class:`~simulator.hardware.runtime.Runtime` as they are; ``DEVICE@RUNTIME`` names a device running it.

Decimal factors are applied to the decimal value written in the file (``204.8`` GB/s becomes
exactly ``204.8e9`` bytes/s). A bad file raises :class:`~simulator.errors.ProfileError` naming the
file, the field as written in the file (``memory[1].bandwidth_gb_per_s``) and the reason.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.compat import tomllib
from simulator.errors import ProfileError, SimulatorError, UnknownNameError
from simulator.hardware.device import Device, EnergyTable, Number
from simulator.hardware.error_band import note_family
from simulator.hardware.extends import resolve_extends, shipped_base
from simulator.hardware.runtime import RUNTIME_SEPARATOR, Runtime, with_runtime
from simulator.kernels import EFFICIENCY_CLASSES

SUFFIXES = (".toml", ".json")

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

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class EnergyReference(BaseModel):
    """The ``[energy]`` table of a device file: which energy table, and the process scale."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str = Field(min_length=1)
    scale: Number = Field(default=1.0, gt=0)
    source: str = ""


class _FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")


def _shipped(folder: str | None = None) -> dict[str, Path]:
    root = importlib.resources.files("simulator.hardware_profiles")
    if folder:
        root = root / folder
    return {Path(str(entry)).stem: Path(str(entry)) for entry in sorted(root.iterdir(), key=str)
            if entry.is_file() and Path(str(entry)).suffix in SUFFIXES}


def available_devices() -> dict[str, Path]:
    """Shipped device profiles by name (the file name without its suffix)."""
    return _shipped()


def available_energy_tables() -> dict[str, Path]:
    """Shipped energy tables (``hardware_profiles/energy/``) by name."""
    return _shipped("energy")


def available_runtimes() -> dict[str, Path]:
    """Shipped runtimes (``hardware_profiles/runtimes/``) by name."""
    return _shipped("runtimes")


def load_runtime(path: str | Path) -> Runtime:
    """A runtime file (:class:`~simulator.hardware.runtime.Runtime`'s fields as they are)."""
    path = Path(path)
    runtime = _validate(Runtime, _read(path), path, {})
    if runtime.fitted_on not in runtime.devices:
        raise ProfileError(f"{path}: fitted_on: {runtime.fitted_on!r} must be one of devices "
                           f"({', '.join(runtime.devices)})")
    shipped = available_devices()
    for name in runtime.devices:
        if name not in shipped:
            raise ProfileError(f"{path}: devices: {UnknownNameError('device', name, shipped)}")
    return runtime


@functools.cache
def resolve_runtime(name: str) -> Runtime:
    """A shipped runtime by name; an unknown name raises UnknownNameError, which suggests close names."""
    shipped = available_runtimes()
    if name not in shipped:
        raise UnknownNameError("runtime", name, shipped)
    runtime = load_runtime(shipped[name])
    if runtime.name != name:
        raise ProfileError(f"{shipped[name]}: name {runtime.name!r} must match the file name {name!r}")
    return runtime


def _read(path: Path) -> dict[str, Any]:
    """Parses a TOML or JSON file into a dict; any failure is a ProfileError naming the file."""
    if path.suffix not in SUFFIXES:
        raise ProfileError(f"{path}: unsupported file type {path.suffix!r}; use {' or '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(f"{path}: cannot read file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ProfileError(f"{path}: not a text file (byte {err.start} is not UTF-8); a profile is TOML "
                           "or JSON text") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ProfileError(f"{path}: invalid {path.suffix[1:].upper()}: {err}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: the file must hold a table of fields, not {type(data).__name__}")
    return data


def _format_loc(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _field_path(loc: Loc, locmap: dict[Loc, str]) -> str:
    """The field as written in the file: the longest mapped prefix of ``loc``, then the rest."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in locmap:
            rest = _format_loc(loc[n:])
            return locmap[loc[:n]] + ("" if not rest else rest if rest.startswith("[") else "." + rest)
    return _format_loc(loc) or "(file)"


def _profile_error(path: Path, err: ValidationError, locmap: dict[Loc, str]) -> ProfileError:
    """One line: the file, then each bad field as written in the file and its reason."""
    parts = []
    for error in err.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{_field_path(error['loc'], locmap)}: {message}")
    return ProfileError(f"{path}: {'; '.join(parts)}")


def _validate(model: type[M], data: Any, path: Path, locmap: dict[Loc, str]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise _profile_error(path, err, locmap) from None


def _times(value: Any, factor: int) -> Any:
    """``value * factor``, exact for the decimal written in the file; non-numbers are left to pydantic."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int) or factor == 1:
        return value * factor
    return float(Decimal(repr(value)) * factor)


def _convert_units(item: dict[str, Any], where: str, loc: Loc, locmap: dict[Loc, str]) -> None:
    """Replaces the unit keys of one memory level by its SI fields, in place, mapping them back."""
    for si_key, units in _LEVEL_UNITS.items():
        field_loc = (*loc, si_key)  # not inside the subscript: mypy reads [(*a, b)] as 3.11's [*a, b]
        given = [key for key in units if key in item]
        if len(given) > 1:
            raise _FieldError(where, f"give only one of {', '.join(given)}")
        if given:
            item[si_key] = _times(item.pop(given[0]), units[given[0]])
            locmap[field_loc] = f"{where}.{given[0]}"
        else:
            stem = si_key.split("_")[0]
            locmap[field_loc] = f"{where}.{stem}_* (one of {', '.join(units)})"


def _memory_levels(raw: Any, table: EnergyTable, locmap: dict[Loc, str]) -> Any:
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
                raise _FieldError(f"{where}.energy_table_entry",
                                  f"must be the name of an entry of {table.name!r} (a string), got {name!r}")
            if "energy_per_access_pj" in item or "access_bits" in item:
                raise _FieldError(f"{where}.energy_table_entry",
                                  "give either energy_table_entry or energy_per_access_pj and access_bits")
            try:
                access = table.access(name)
            except SimulatorError as err:
                raise _FieldError(f"{where}.energy_table_entry", str(err)) from None
            scaled = access.on_chip and table.scale != 1
            scale_note = f" (x {table.scale:g}: {table.scale_source})" if scaled else ""
            note = f"; {item['energy_source']}" if item.get("energy_source") else ""
            item["energy_source"] = f"{table.name} entry {name!r}: {access.source}{scale_note}{note}"
            item["energy_per_access_pj"] = access.energy_per_access_pj
            item["access_bits"] = access.access_bits
        levels.append(item)
    return levels


def _peaks(raw: Any, locmap: dict[Loc, str]) -> tuple[Any, str]:
    if not isinstance(raw, dict):
        return raw, ""
    peaks: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "source":
            continue
        suffix = next((s for s in PEAK_UNITS if key.endswith(s) and len(key) > len(s)), None)
        if suffix is None:
            raise _FieldError(f"peak.{key}", "expected <precision> followed by one of "
                              f"{', '.join(PEAK_UNITS)} (e.g. fp32_tera_ops_per_s)")
        precision = key.removesuffix(suffix)
        if precision in peaks:
            raise _FieldError(f"peak.{key}", f"precision {precision!r} is given twice")
        peaks[precision] = _times(value, PEAK_UNITS[suffix])
        locmap[("peak_ops_per_s", precision)] = f"peak.{key}"
    return peaks, raw.get("source", "")


def _efficiency(raw: Any, locmap: dict[Loc, str]) -> Any:
    """The ``[efficiency]`` table as EfficiencyModel fields: class names checked, overheads in s."""
    if not isinstance(raw, dict):
        return raw
    locmap[("efficiency",)] = "efficiency"
    classes: dict[str, Any] = {}
    model: dict[str, Any] = {}
    given = [key for key in KERNEL_OVERHEAD_UNITS if key in raw]
    if len(given) > 1:
        raise _FieldError("efficiency", f"give only one of {', '.join(given)}")
    if given:
        value = raw[given[0]]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = float(Decimal(repr(value)) / KERNEL_OVERHEAD_UNITS[given[0]])
        model["kernel_overhead_s"] = value
        locmap[("efficiency", "kernel_overhead_s")] = f"efficiency.{given[0]}"
    for key in ("parallel_units", "tile_outputs", "runtime", "gemv_bandwidth_fraction",
                "llm_compute_fraction", "buffer_capacity_fraction"):
        if key in raw:
            model[key] = raw[key]
            locmap[("efficiency", key)] = f"efficiency.{key}"
    given = [key for key in STEP_OVERHEAD_UNITS if key in raw]
    if len(given) > 1:
        raise _FieldError("efficiency", f"give only one of {', '.join(given)}")
    if given:
        value = raw[given[0]]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = float(Decimal(repr(value)) / STEP_OVERHEAD_UNITS[given[0]])
        model["step_overhead_s"] = value
        locmap[("efficiency", "step_overhead_s")] = f"efficiency.{given[0]}"
    for name, entry in raw.items():
        if name in ("source", "parallel_units", "tile_outputs", "runtime", "gemv_bandwidth_fraction",
                    "llm_compute_fraction", "buffer_capacity_fraction", *KERNEL_OVERHEAD_UNITS,
                    *STEP_OVERHEAD_UNITS):
            continue
        if name not in EFFICIENCY_CLASSES:
            raise _FieldError(f"efficiency.{name}", f"unknown efficiency class {name!r}; valid: "
                              f"{', '.join(EFFICIENCY_CLASSES)} (and source)")
        where, loc = f"efficiency.{name}", ("efficiency", "classes", name)
        locmap[loc] = where
        if not isinstance(entry, dict):
            classes[name] = entry
            continue
        item = dict(entry)
        given = [key for key in OVERHEAD_UNITS if key in item]
        if len(given) > 1:
            raise _FieldError(where, f"give only one of {', '.join(given)}")
        if given:
            value = item.pop(given[0])
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = float(Decimal(repr(value)) / OVERHEAD_UNITS[given[0]])
            item["overhead_s"] = value
            field_loc = (*loc, "overhead_s")  # as in _convert_units
            locmap[field_loc] = f"{where}.{given[0]}"
        classes[name] = item
    return {**({"source": raw["source"]} if "source" in raw else {}), "classes": classes, **model}


#: Keys of an interconnect's message latency -> the divisor to seconds.
LATENCY_UNITS: dict[str, int] = {"latency_s": 1, "latency_us": 10**6}
#: Keys of an all-reduce's fixed cost -> the divisor to seconds.
ALLREDUCE_OVERHEAD_UNITS: dict[str, int] = {"allreduce_overhead_s": 1, "allreduce_overhead_us": 10**6}
#: Groups of keys that give one quantity in different units (``extends`` replaces one by another).
_UNIT_FAMILIES = (CAPACITY_UNITS, BANDWIDTH_UNITS, KERNEL_OVERHEAD_UNITS, STEP_OVERHEAD_UNITS, OVERHEAD_UNITS,
                  LATENCY_UNITS, ALLREDUCE_OVERHEAD_UNITS)


def _interconnect(raw: Any, locmap: dict[Loc, str]) -> Any:
    """The ``[interconnect]`` table with its bandwidth in bytes/s and its latency in s."""
    if not isinstance(raw, dict):
        return raw
    item = dict(raw)
    for si_key, units, to_si in (("bandwidth_bytes_per_s", BANDWIDTH_UNITS, _times),
                                 ("latency_s", LATENCY_UNITS, None),
                                 ("allreduce_overhead_s", ALLREDUCE_OVERHEAD_UNITS, None)):
        given = [key for key in units if key in item]
        if len(given) > 1:
            raise _FieldError("interconnect", f"give only one of {', '.join(given)}")
        if given:
            value = item.pop(given[0])
            if to_si is not None:
                value = to_si(value, units[given[0]])
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = float(Decimal(repr(value)) / units[given[0]])
            item[si_key] = value
            locmap[("interconnect", si_key)] = f"interconnect.{given[0]}"
    return item


def _energy_table_path(name: str, device_path: Path) -> Path:
    """``<device dir>/energy/<name>.toml|.json`` first, then the shipped table of that name."""
    for suffix in SUFFIXES:
        local = device_path.parent / "energy" / f"{name}{suffix}"
        if local.is_file():
            return local
    shipped = available_energy_tables()
    if name in shipped:
        return shipped[name]
    raise _FieldError("energy.table", str(UnknownNameError("energy table", name, shipped)))


def load_energy_table(path: str | Path) -> EnergyTable:
    """Reads an energy table file (the fields of EnergyTable, energies in pJ)."""
    path = Path(path)
    return _validate(EnergyTable, _read(path), path, {})


def load_device(path: str | Path) -> Device:
    """Reads a device file, converts its units to SI and resolves and scales its energy table.

    Raises ProfileError naming the file, the field and the reason for any invalid content. A
    ``name`` other than the file name is used as written, with a warning saying which is which (a
    shipped profile must match: :func:`resolve_device`).
    """
    device = _load_device(Path(path))
    note_family(device.name, shipped_base(Path(path), _read, available_devices()))  # error bands
    if device.name != Path(path).stem:
        warnings.warn(f"{path}: the profile calls itself {device.name!r} but its file is named "
                      f"{Path(path).stem!r}; results name the device {device.name!r}", stacklevel=2)
    return device


def _load_device(path: Path) -> Device:
    raw = resolve_extends(path, _read, available_devices(), _UNIT_FAMILIES, tuple(PEAK_UNITS))
    locmap: dict[Loc, str] = {("memory_levels",): "memory", ("peak_ops_per_s",): "peak",
                              ("peak_source",): "peak.source"}
    try:
        fields = {key: value for key, value in raw.items()
                  if key not in ("energy", "peak", "memory", "efficiency", "interconnect")}
        if "energy" not in raw:
            raise _FieldError("energy", "Field required (a table with table = \"<energy table>\")")
        reference = _validate(EnergyReference, raw["energy"], path, {(): "energy"})
        table = load_energy_table(_energy_table_path(reference.table, path))
        if reference.scale != 1:
            try:
                table = table.scaled(reference.scale, reference.source)
            except SimulatorError as err:
                raise _FieldError("energy.scale", str(err)) from None
        fields["energy"] = table
        if "peak" in raw:
            fields["peak_ops_per_s"], fields["peak_source"] = _peaks(raw["peak"], locmap)
        if "memory" in raw:
            fields["memory_levels"] = _memory_levels(raw["memory"], table, locmap)
        if "efficiency" in raw:
            fields["efficiency"] = _efficiency(raw["efficiency"], locmap)
        if "interconnect" in raw:
            fields["interconnect"] = _interconnect(raw["interconnect"], locmap)
    except _FieldError as err:
        raise ProfileError(f"{path}: {err}") from None
    return _validate(Device, fields, path, locmap)


def _with_runtime(device_part: str, runtime_name: str) -> Device:
    """``DEVICE@RUNTIME``: a shipped device's is kept (as the device itself is), a file's read afresh."""
    if device_part in available_devices():
        return _shipped_with_runtime(device_part, runtime_name)
    return with_runtime(resolve_device(device_part), resolve_runtime(runtime_name))


@functools.cache
def _shipped_with_runtime(device_name: str, runtime_name: str) -> Device:
    return with_runtime(_load_shipped(device_name), resolve_runtime(runtime_name))


@functools.cache
def _load_shipped(name: str) -> Device:
    path = available_devices()[name]
    device = _load_device(path)
    if device.name != name:
        raise ProfileError(f"{path}: name {device.name!r} must match the file name {name!r} (it is listed "
                           f"as {name!r}); rename the file or set name = {name!r}")
    return device


def resolve_device(name_or_path: Device | str | Path) -> Device:
    """A Device as given, a shipped device by name (``"jetson-agx-orin"``) or a device file by path
    (``.toml``/``.json``), either followed by ``@RUNTIME`` for that device running a shipped runtime
    (:mod:`simulator.hardware.runtime`: ``"nucleo-l4r5zi@x-cube-ai-9.0"``).

    An unknown name raises UnknownNameError, which suggests close names.
    """
    if isinstance(name_or_path, Device):
        return name_or_path
    if not isinstance(name_or_path, str | Path):
        raise SimulatorError(f"device must be a Device, a shipped device name or a profile path, "
                             f"got {name_or_path!r}")
    text = str(name_or_path)
    if isinstance(name_or_path, str) and RUNTIME_SEPARATOR in text and not text.endswith(SUFFIXES):
        device_part, runtime_name = text.rsplit(RUNTIME_SEPARATOR, 1)
        return _with_runtime(device_part, runtime_name)
    if isinstance(name_or_path, str) and RUNTIME_SEPARATOR in text and not Path(text).exists():
        device_part, runtime_part = text.rsplit(RUNTIME_SEPARATOR, 1)  # DEVICE@./x.toml: a path as runtime
        raise SimulatorError(f"device {text!r}: no profile file of that name, and the runtime after "
                             f"{RUNTIME_SEPARATOR!r} must be a shipped runtime's name, not a path "
                             f"({runtime_part!r}); runtimes: {', '.join(sorted(available_runtimes()))}")
    shipped = available_devices()
    if isinstance(name_or_path, Path) and not name_or_path.suffix and text in shipped:
        return _load_shipped(text)  # Path("jetson-agx-orin"): the shipped profile of that name
    if isinstance(name_or_path, Path) or text.endswith(SUFFIXES) or "/" in text or "\\" in text:
        return load_device(Path(name_or_path))
    if text not in shipped:
        raise UnknownNameError("device", text, shipped)
    return _load_shipped(text)
