"""The shipped profiles, validated once: a cache of each validated Device (and Runtime) on disk.

Validating a profile builds the pydantic models' schemas of :mod:`simulator.hardware.device`, and the
first schema built in a process scans every installed distribution for pydantic plugins: together
more of a ``roofline simulate`` run than anything but importing numpy (issue 21). A shipped profile
that has been validated is stored here as JSON and read back with ``model_construct``, which checks
nothing: what was stored had passed validation, and every input it was built from is the same.

An entry is a hit only if its key matches, its payload matches its digest, and the payload decodes into
the model's fields. The key is a SHA-256 over the cache :data:`FORMAT`, the package and pydantic
versions, the source of the code that turns a file into a model (:func:`code_fingerprint`: every
module of :mod:`simulator.hardware`, :mod:`simulator.kernels`, :mod:`simulator.compat`), the names of
the shipped files, and the bytes of each file the entry was read from (the profile, the profiles it
extends, its energy table). Anything else (a missing, unreadable, truncated, edited or stale file) is
a miss: the profile is validated as without a cache and the entry rewritten, atomically (a temporary
file renamed over it).

Where: ``$ROOFLINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/roofline-simulator``, else
``~/.cache/roofline-simulator`` (``%LOCALAPPDATA%`` on Windows), in ``profiles/``;
``ROOFLINE_CACHE_DIR=""`` turns the cache off. A folder that cannot be written is no error: every run
then validates, as without a cache. Only files inside the shipped folder are cached; a user's profile
given by path is validated on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

import simulator
from simulator.hardware.profile_files import shipped_root

#: the layout of an entry; a change makes every older entry a miss
FORMAT = 1
#: the environment variable naming the cache's folder ("" turns the cache off)
CACHE_DIR_VARIABLE = "ROOFLINE_CACHE_DIR"

M = TypeVar("M", bound=BaseModel)


def cache_dir() -> Path | None:
    """The folder of the entries, or None when the cache is turned off."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured is not None:
        return Path(configured) / "profiles" if configured else None
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif os.environ.get("XDG_CACHE_HOME"):
        base = Path(os.environ["XDG_CACHE_HOME"])
    else:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no HOME and no passwd entry (a bare container's uid): no cache
            return None
    return base / "roofline-simulator" / "profiles"


def code_fingerprint() -> bytes:
    """SHA-256 of the source of the modules that turn a file into a model; empty when one cannot be
    read (then nothing is cached)."""
    package = os.path.dirname(__file__)
    digest = hashlib.sha256()
    try:
        modules = sorted(os.path.join(package, name) for name in os.listdir(package) if name.endswith(".py"))
        outside = [os.path.join(package, os.pardir, name) for name in ("kernels.py", "compat.py")]
        for path in [*modules, *outside]:
            with open(path, "rb") as source:
                digest.update(os.path.basename(path).encode() + b"\0" + source.read() + b"\0")
    except OSError:
        return b""
    return digest.digest()


def _key(kind: str, name: str, files: Iterable[str], root: Path) -> str | None:
    """The key of an entry read from ``files`` (relative to ``root``), from their bytes now; None when
    one cannot be read."""
    code = code_fingerprint()
    if not code:
        return None
    digest = hashlib.sha256()
    for part in (str(FORMAT), simulator.__version__, pydantic.VERSION, kind, name):
        digest.update(part.encode() + b"\0")
    digest.update(code)
    for folder in (root, root / "energy", root / "runtimes"):  # the names the references resolve among
        digest.update("\0".join(sorted(os.listdir(folder)) if folder.is_dir() else ()).encode() + b"\1")
    for file in files:
        digest.update(file.encode() + b"\0" + (root / file).read_bytes() + b"\1")
    return digest.hexdigest()


def _entry_path(kind: str, name: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{kind}-{name}.json"


def _relative(files: Iterable[Path], root: Path) -> list[str]:
    """``files`` relative to ``root``, once each, in order; ValueError for one outside it."""
    def relative(file: Path) -> str:
        try:
            return Path(file).relative_to(root).as_posix()  # the shipped paths are built on root
        except ValueError:
            return Path(file).resolve().relative_to(root.resolve()).as_posix()
    return [relative(file) for file in dict.fromkeys(files)]


def load(model: type[M], kind: str, name: str, source: Path) -> M | None:
    """The cached ``kind`` entry ``name``, read from the file ``source``, as a ``model``; None on a miss
    of any kind (every failure here is a miss, never an error)."""
    try:
        path, root = _entry_path(kind, name), shipped_root()
        if path is None:
            return None
        header, _, payload = path.read_text(encoding="utf-8").partition("\n")
        entry = json.loads(header)
        if entry["format"] != FORMAT or entry["files"][:1] != _relative([source], root):
            return None
        if entry["key"] != _key(kind, name, entry["files"], root):
            return None
        if hashlib.sha256(payload.encode()).hexdigest() != entry["digest"]:
            return None
        return _decode(model, json.loads(payload))
    except Exception:  # a cache entry that fails in any way is a miss
        return None


def store(value: BaseModel, kind: str, name: str, files: Iterable[Path]) -> None:
    """Writes ``value`` (validated from ``files``, the file of ``name`` first) as the ``kind`` entry
    ``name``; does nothing when the files are not all shipped, the value does not round-trip exactly,
    or the folder cannot be written."""
    root = shipped_root()
    try:
        relative = _relative(files, root)
        path = _entry_path(kind, name)
        key = _key(kind, name, relative, root)
        payload = json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if path is None or key is None or not equal(_decode(type(value), json.loads(payload)), value):
            return
    except (ValueError, TypeError, OSError):
        return
    header = json.dumps({"format": FORMAT, "key": key, "files": relative,
                         "digest": hashlib.sha256(payload.encode()).hexdigest()})
    _write_atomically(path, f"{header}\n{payload}")


def _write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file renamed over it; any failure leaves no file."""
    import tempfile  # a miss only: a hit reads

    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            handle.write(text)
        os.replace(temporary, path)
        temporary = None
    except OSError:
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def equal(a: Any, b: Any) -> bool:
    """Whether two values are the same, models field by field including which fields were set."""
    if isinstance(a, BaseModel):
        return (type(a) is type(b) and a.__pydantic_fields_set__ == b.__pydantic_fields_set__
                and all(equal(getattr(a, field), getattr(b, field)) for field in type(a).model_fields))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(equal(value, b[key]) for key, value in a.items()))
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(equal, a, b))
    return type(a) is type(b) and a == b


def _encode(value: Any) -> Any:
    """``value`` as JSON data: a model as its fields and the names of those set; a frozenset sorted."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return {"set": sorted(value.__pydantic_fields_set__),
                "fields": {field: _encode(getattr(value, field)) for field in fields}}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("only string keys are cached")
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, frozenset):
        return sorted(_encode(item) for item in value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(model: type[M], data: dict[str, Any]) -> M:
    """A ``model`` from :func:`_encode`'s data, built with ``model_construct`` (no validation)."""
    fields = model.model_fields
    if set(data["fields"]) != set(fields) or not set(data["set"]) <= set(fields):
        raise ValueError(f"the entry's fields are not {model.__name__}'s")
    values = {name: _decode_value(fields[name].annotation, value) for name, value in data["fields"].items()}
    return model.model_construct(_fields_set=set(data["set"]), **values)


def _decode_value(annotation: Any, value: Any) -> Any:
    """``value`` as the type ``annotation`` says: models, tuples, frozensets and dicts of them rebuilt."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _decode(annotation, value)
    if origin is typing.Annotated:
        return _decode_value(arguments[0], value)
    if origin is typing.Union or origin is types.UnionType:
        if value is None:
            return None
        (kind,) = [argument for argument in arguments if argument is not type(None)]
        return _decode_value(kind, value)
    decoders: dict[Any, Callable[[], Any]] = {
        tuple: lambda: tuple(_decode_value(arguments[0], item) for item in value),
        frozenset: lambda: frozenset(_decode_value(arguments[0], item) for item in value),
        dict: lambda: {key: _decode_value(arguments[1], item) for key, item in value.items()},
    }
    if origin in decoders:
        if origin is tuple and (len(arguments) != 2 or arguments[1] is not Ellipsis):
            raise TypeError(f"cannot decode {annotation}")
        return decoders[origin]()
    if origin is typing.Literal or annotation in (str, int, float, bool, typing.Any):
        return value
    raise TypeError(f"cannot decode {annotation}")
