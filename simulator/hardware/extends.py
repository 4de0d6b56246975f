"""``extends``: a device profile written as the changes to another one.

A profile with ``extends = "h100-sxm"`` (a shipped device's name) or ``extends = "base.toml"`` (a
profile file, relative to the extending file's folder) starts from that profile's fields and
overrides what it gives itself:

* tables (``[energy]``, ``[peak]``, ``[efficiency]`` and its classes, ``[interconnect]``,
  ``[supply]``) are merged key by key, recursively;
* ``[[memory]]`` levels are matched by ``name`` (ignoring case, as ``--set`` matches them): a
  matched level is merged key by key; a level the base does not have is inserted after the level
  the extending file lists before it (first, when it is listed first);
* anything else (a string, a number, a list) replaces the base's value;
* a quantity that can be written in several units replaces the base's value in whichever unit it
  is given: ``capacity_gb = 141`` drops the base level's ``capacity_gib``, ``fp16_giga_ops_per_s``
  the base's ``fp16_tera_ops_per_s``.

``name`` is never inherited: without one, the device is named after its file. A base may itself
extend another profile; a cycle is an error. The merge is done on the files' raw tables, before
units are converted and the result is validated as any profile is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.errors import ProfileError, UnknownNameError

EXTENDS_KEY = "extends"

Table = dict[str, Any]


def resolve_extends(path: Path, read: Callable[[Path], Table], shipped: dict[str, Path],
                    unit_families: tuple[dict[str, int], ...], peak_suffixes: tuple[str, ...],
                    _chain: tuple[Path, ...] = ()) -> Table:
    """The raw table of the profile at ``path`` with its ``extends`` chain merged in (module docstring).

    ``read`` parses one file; ``shipped`` maps shipped device names to their files;
    ``unit_families`` are the groups of keys that give one quantity in different units, and
    ``peak_suffixes`` the unit suffixes of ``[peak]`` keys."""
    raw = read(path)
    if EXTENDS_KEY not in raw:
        return raw
    raw = dict(raw)
    base_name = raw.pop(EXTENDS_KEY)
    base_path = _base_path(base_name, path, shipped)
    chain = (*_chain, path.resolve())
    if base_path.resolve() in chain:
        cycle = " -> ".join(p.name for p in (*chain, base_path.resolve()))
        raise ProfileError(f"{path}: {EXTENDS_KEY}: {base_name!r} leads back to a profile already "
                           f"being extended ({cycle}); a profile cannot extend itself")
    base = resolve_extends(base_path, read, shipped, unit_families, peak_suffixes, chain)
    base.pop("name", None)
    merged = _merge(base, raw, _Keys(unit_families, peak_suffixes), path)
    merged.setdefault("name", path.stem)
    return merged


def shipped_base(path: Path, read: Callable[[Path], Table], shipped: dict[str, Path]) -> str | None:
    """The shipped device that the ``extends`` chain of the profile at ``path`` starts from (through
    any profile files in between), or None when the chain names none. Call it on a profile that
    :func:`resolve_extends` has read: the chain is known to be valid and to end."""
    base_name = read(path).get(EXTENDS_KEY)
    if base_name is None:
        return None
    if base_name in shipped:
        return base_name
    return shipped_base(_base_path(base_name, path, shipped), read, shipped)


def _base_path(name: object, path: Path, shipped: dict[str, Path]) -> Path:
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"{path}: {EXTENDS_KEY}: must name a shipped device or a profile file (a string), "
                           f"got {name!r}")
    if name in shipped:
        return shipped[name]
    if name.endswith((".toml", ".json")) or "/" in name or "\\" in name:
        candidate = Path(name) if Path(name).is_absolute() else path.parent / name
        if candidate.is_file():
            return candidate
        raise ProfileError(f"{path}: {EXTENDS_KEY}: no profile file {str(candidate)!r}")
    raise ProfileError(f"{path}: {EXTENDS_KEY}: {UnknownNameError('device', name, shipped)} or a profile "
                       "file ending in .toml or .json")


class _Keys:
    """Which keys give the same quantity (a unit family, or one precision's peak)."""

    def __init__(self, unit_families: tuple[dict[str, int], ...], peak_suffixes: tuple[str, ...]):
        self.families = [set(family) for family in unit_families]
        self.families.append({"energy_table_entry", "energy_per_access_pj", "access_bits"})
        self.peak_suffixes = peak_suffixes

    def same_quantity(self, key: str) -> set[str]:
        """The keys that ``key`` replaces (itself included)."""
        for family in self.families:
            if key in family:
                return family
        suffix = next((s for s in self.peak_suffixes if key.endswith(s) and len(key) > len(s)), None)
        if suffix is not None:
            precision = key.removesuffix(suffix)
            return {precision + s for s in self.peak_suffixes}
        return {key}


def _merge(base: Table, override: Table, keys: _Keys, path: Path, where: str = "") -> Table:
    merged = dict(base)
    for key, value in override.items():
        if key == "memory" and not where and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_levels(merged[key], value, keys, path)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, keys, path, f"{where}{key}.")
        else:
            for replaced in keys.same_quantity(key):
                merged.pop(replaced, None)
            merged[key] = value
    return merged


def _merge_levels(base: list[Any], override: list[Any], keys: _Keys, path: Path) -> list[Any]:
    levels = list(base)

    def index_of(name: object) -> int | None:
        folded = name.casefold() if isinstance(name, str) else None
        return next((i for i, level in enumerate(levels)
                     if isinstance(level, dict) and isinstance(level.get("name"), str)
                     and level["name"].casefold() == folded), None)

    previous = -1  # where the last level of the extending file sits in the merged list
    for position, level in enumerate(override):
        if not isinstance(level, dict) or not isinstance(level.get("name"), str):
            raise ProfileError(f"{path}: memory[{position}]: an extending profile's memory levels are "
                               "matched by name; give each a name (a string)")
        found = index_of(level["name"])
        if found is None:
            levels.insert(previous + 1, dict(level))
            previous += 1
        else:
            levels[found] = _merge(levels[found], level, keys, path, f"memory[{position}].")
            previous = found
    return levels
