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
                                              (a refined class, e.g. gemv: the LLM decode projections,
                                              takes the figures it omits from the class it refines)
      step_overhead_us | _ms | _s             LLM: a runtime's fixed cost per forward pass
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

The parts: :mod:`~simulator.hardware.profile_files` (the shipped files, parsing, error lines),
:mod:`~simulator.hardware.profile_units` (the unit keys and their conversion to SI), this module
(a file to a Device, names to shipped profiles) and :mod:`~simulator.hardware.profile_cache` (each
shipped profile validated once, then read back without validation while its files are unchanged).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from simulator.errors import ProfileError, SimulatorError, UnknownNameError
from simulator.hardware import profile_cache
from simulator.hardware.device import Device, EnergyTable, Number
from simulator.hardware.error_band import note_borrowed, note_family
from simulator.hardware.extends import resolve_extends, shipped_base
from simulator.hardware.profile_files import SUFFIXES, FieldError, Loc, read_table, validate
from simulator.hardware.profile_files import shipped as shipped_files
from simulator.hardware.profile_units import (
    BANDWIDTH_UNITS,
    CAPACITY_UNITS,
    PEAK_UNITS,
    UNIT_FAMILIES,
    efficiency_fields,
    interconnect_fields,
    memory_level_fields,
    peak_fields,
)
from simulator.hardware.runtime import (
    RUNTIME_SEPARATOR,
    Runtime,
    with_borrowed,
    with_runtime,
)

#: what other modules import from here (the unit tables and file reading live in
#: :mod:`simulator.hardware.profile_units` and :mod:`simulator.hardware.profile_files`)
__all__ = ["BANDWIDTH_UNITS", "CAPACITY_UNITS", "PEAK_UNITS", "SUFFIXES", "EnergyReference",
           "available_devices", "available_energy_tables", "available_runtimes", "load_device",
           "load_energy_table", "load_runtime", "resolve_device", "resolve_runtime"]

#: a function that parses one file into a table of fields (:func:`read_table`, or one that also notes
#: which files were read, for the cache)
Reader = Callable[[Path], dict[str, Any]]


class EnergyReference(BaseModel):
    """The ``[energy]`` table of a device file: which energy table, and the process scale."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    table: str = Field(min_length=1)
    scale: Number = Field(default=1.0, gt=0)
    source: str = ""


def available_devices() -> dict[str, Path]:
    """Shipped device profiles by name (the file name without its suffix)."""
    return shipped_files()


def available_energy_tables() -> dict[str, Path]:
    """Shipped energy tables (``hardware_profiles/energy/``) by name."""
    return shipped_files("energy")


def available_runtimes() -> dict[str, Path]:
    """Shipped runtimes (``hardware_profiles/runtimes/``) by name."""
    return shipped_files("runtimes")


def _noting(files: list[Path]) -> Reader:
    """:func:`read_table`, appending each path it reads to ``files`` (what a cache entry depends on)."""
    def read(path: Path) -> dict[str, Any]:
        files.append(path)
        return read_table(path)
    return read


def load_runtime(path: str | Path, read: Reader = read_table) -> Runtime:
    """A runtime file (:class:`~simulator.hardware.runtime.Runtime`'s fields as they are)."""
    path = Path(path)
    runtime = validate(Runtime, read(path), path, {})
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
    cached = profile_cache.load(Runtime, "runtime", name, shipped[name])
    if cached is not None:
        return cached
    files: list[Path] = []
    runtime = load_runtime(shipped[name], _noting(files))
    if runtime.name != name:
        raise ProfileError(f"{shipped[name]}: name {runtime.name!r} must match the file name {name!r}")
    profile_cache.store(runtime, "runtime", name, [shipped[name], *files])
    return runtime


def _energy_table_path(name: str, device_path: Path) -> Path:
    """``<device dir>/energy/<name>.toml|.json`` first, then the shipped table of that name."""
    for suffix in SUFFIXES:
        local = device_path.parent / "energy" / f"{name}{suffix}"
        if local.is_file():
            return local
    shipped = available_energy_tables()
    if name in shipped:
        return shipped[name]
    raise FieldError("energy.table", str(UnknownNameError("energy table", name, shipped)))


def load_energy_table(path: str | Path, read: Reader = read_table) -> EnergyTable:
    """Reads an energy table file (the fields of EnergyTable, energies in pJ)."""
    path = Path(path)
    return validate(EnergyTable, read(path), path, {})


def load_device(path: str | Path) -> Device:
    """Reads a device file, converts its units to SI and resolves and scales its energy table.

    Raises ProfileError naming the file, the field and the reason for any invalid content. A
    ``name`` other than the file name is used as written, with a warning saying which is which (a
    shipped profile must match: :func:`resolve_device`).
    """
    device = _load_device(Path(path))
    note_family(device.name, shipped_base(Path(path), read_table, available_devices()))  # error bands
    if device.name != Path(path).stem:
        warnings.warn(f"{path}: the profile calls itself {device.name!r} but its file is named "
                      f"{Path(path).stem!r}; results name the device {device.name!r}", stacklevel=2)
    return device


def _load_device(path: Path, read: Reader = read_table) -> Device:
    """The device of the file ``path``, its units converted and its energy table resolved, validated."""
    raw = resolve_extends(path, read, available_devices(), UNIT_FAMILIES, tuple(PEAK_UNITS))
    locmap: dict[Loc, str] = {("memory_levels",): "memory", ("peak_ops_per_s",): "peak",
                              ("peak_source",): "peak.source"}
    try:
        fields = {key: value for key, value in raw.items()
                  if key not in ("energy", "peak", "memory", "efficiency", "interconnect")}
        if "energy" not in raw:
            raise FieldError("energy", "Field required (a table with table = \"<energy table>\")")
        reference = validate(EnergyReference, raw["energy"], path, {(): "energy"})
        table = load_energy_table(_energy_table_path(reference.table, path), read)
        if reference.scale != 1:
            try:
                table = table.scaled(reference.scale, reference.source)
            except SimulatorError as err:
                raise FieldError("energy.scale", str(err)) from None
        fields["energy"] = table
        if "peak" in raw:
            fields["peak_ops_per_s"], fields["peak_source"] = peak_fields(raw["peak"], locmap)
        if "memory" in raw:
            fields["memory_levels"] = memory_level_fields(raw["memory"], table, locmap)
        if "efficiency" in raw:
            fields["efficiency"] = efficiency_fields(raw["efficiency"], locmap)
        if "interconnect" in raw:
            fields["interconnect"] = interconnect_fields(raw["interconnect"], locmap)
    except FieldError as err:
        raise ProfileError(f"{path}: {err}") from None
    return validate(Device, fields, path, locmap)


def _with_runtime(device_part: str, runtime_name: str) -> Device:
    """``DEVICE@RUNTIME``: a shipped device's is kept (as the device itself is), a file's read afresh;
    a runtime version no file lists borrows the newest file at or below it (:func:`with_borrowed`)."""
    if runtime_name not in available_runtimes():
        runtimes = [resolve_runtime(n) for n in available_runtimes()]
        borrowed = with_borrowed(resolve_device(device_part), runtime_name, runtimes)
        if borrowed is not None:
            device, note = borrowed
            note_borrowed(device.name, note)  # its error band
            return device
    if device_part in available_devices():
        return _shipped_with_runtime(device_part, runtime_name)
    return with_runtime(resolve_device(device_part), resolve_runtime(runtime_name))


@functools.cache
def _shipped_with_runtime(device_name: str, runtime_name: str) -> Device:
    return with_runtime(_load_shipped(device_name), resolve_runtime(runtime_name))


@functools.cache
def _load_shipped(name: str) -> Device:
    """The shipped profile ``name``: validated once and cached (:mod:`simulator.hardware.profile_cache`),
    read back without validation while none of the files it was read from has changed."""
    path = available_devices()[name]
    cached = profile_cache.load(Device, "device", name, path)
    if cached is not None:
        return cached
    files: list[Path] = []
    device = _load_device(path, _noting(files))
    if device.name != name:
        raise ProfileError(f"{path}: name {device.name!r} must match the file name {name!r} (it is listed "
                           f"as {name!r}); rename the file or set name = {name!r}")
    profile_cache.store(device, "device", name, [path, *files])
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
