"""Profile files as data: the shipped ones by name, one file parsed into a table of fields, and a
validation failure turned into one line naming the file and the field as written in it.

:mod:`simulator.hardware.loader` reads devices, energy tables and runtimes with these; the names stay
importable from there.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from simulator.errors import ProfileError

#: the file types a profile, an energy table or a runtime may be written in
SUFFIXES = (".toml", ".json")
#: the package holding the shipped files (the repository's ``hardware_profiles/``)
PACKAGE = "simulator.hardware_profiles"

#: where a field sits in a model's input, as pydantic reports it: ``("memory_levels", 1, "name")``
Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class FieldError(Exception):
    """A field that is wrong before validation (a unit given twice, an unknown table): its name as
    written in the file and the reason."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")


@functools.cache
def shipped_root() -> Path:
    """The folder of the shipped profiles (installed as the ``simulator.hardware_profiles`` package)."""
    return Path(importlib.import_module(PACKAGE).__file__).parent  # type: ignore[arg-type]


def shipped(folder: str | None = None) -> dict[str, Path]:
    """The shipped files of ``folder`` (None: the device profiles) by name: the file name without its
    suffix, in sorted order (listed afresh each time: a profile written since is found)."""
    root = shipped_root() / folder if folder else shipped_root()
    with os.scandir(root) as entries:
        files = sorted(entry.path for entry in entries if entry.is_file())
    return {Path(path).stem: Path(path) for path in files if os.path.splitext(path)[1] in SUFFIXES}


def read_table(path: Path) -> dict[str, Any]:
    """Parses a TOML or JSON file into a dict; any failure is a ProfileError naming the file."""
    from simulator.compat import tomllib  # only where a file is parsed: a cached profile is not

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


def validate(model: type[M], data: Any, path: Path, locmap: dict[Loc, str]) -> M:
    """``model`` validated from ``data`` read from ``path``; a failure is one ProfileError line whose
    fields are named as ``locmap`` maps pydantic's locations back to the file's keys."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise _profile_error(path, err, locmap) from None
