"""Writing output files atomically: every ``-o`` of the CLI goes through :func:`atomic_path`.

A writer writes into a temporary folder beside the target (same file system) under the target's
own name; only when it has finished is the file moved over the target with :func:`os.replace`,
which is atomic. A writer interrupted midway (Ctrl-C, a kill, a full disk) leaves the previous
file as it was, never a truncated one. A writer killed outright (SIGKILL) cannot remove its
temporary folder: the next writer of the same file removes it (:func:`remove_stale_temporaries`).
Files the writer puts beside its output (an ONNX model's ``<name>.data``) are moved too, before
the main file.

A shipped device profile or energy table (``simulator.hardware_profiles``) is replaced only with
``force=True`` (the CLI's ``--force``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import shutil
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simulator.errors import SimulatorError


def _shipped_folder() -> Path | None:
    """The folder of the shipped profiles (found without importing the hardware package)."""
    spec = importlib.util.find_spec("simulator.hardware_profiles")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def is_shipped_profile(path: str | Path) -> bool:
    """Whether ``path`` lies in the shipped profiles' folder (or one below it)."""
    folder = _shipped_folder()
    target = Path(path).resolve()
    return folder is not None and (target == folder or folder in target.parents)


def check_writable(path: str | Path, force: bool = False) -> Path:
    """``path`` as a Path if a file can be written there; else a SimulatorError saying why."""
    path = Path(path)
    if path.is_dir():
        raise SimulatorError(f"cannot write {str(path)!r}: it is a directory; give a file name")
    if not path.parent.is_dir():
        raise SimulatorError(f"cannot write {str(path)!r}: directory {str(path.parent)!r} does not exist")
    if not force and is_shipped_profile(path):
        raise SimulatorError(f"refusing to write {str(path)!r}: it is a shipped profile of the simulator; "
                             "pass --force (force=True) to replace it, or write elsewhere")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SimulatorError(f"cannot write {str(path)!r}: permission denied")
    return path


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` (128 + 15, the shell's status for it)
    instead of ending the process at once, so that the cleanup of a write in progress runs. Only
    in the main thread and where SIGTERM has its default action (a caller's own handler is kept)."""
    import signal  # here and in temporary_folder: only a writer pays for it (start-up, issue 21)

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def atomic_path(path: str | Path, force: bool = False) -> Iterator[Path]:
    """A temporary path with ``path``'s name to write to; moved over ``path`` when the block ends.

    If the block raises (or is interrupted: Ctrl-C, or SIGTERM through :func:`terminate_as_exit`),
    the temporary files are removed and ``path`` is left as it was. OSErrors become a
    SimulatorError naming the file.
    """
    path = check_writable(path, force)
    folder = temporary_folder(path)
    temporary = folder / path.name
    try:
        try:
            with terminate_as_exit():
                yield temporary
            if not temporary.exists():
                raise SimulatorError(f"cannot write {str(path)!r}: the writer produced no file")
            for extra in sorted(folder.iterdir()):  # e.g. model.onnx.data, before the model itself
                if extra != temporary:
                    os.replace(extra, path.parent / extra.name)
            os.replace(temporary, path)
        except OSError as error:
            raise SimulatorError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _host_tag() -> str:
    """8 hex digits naming this machine in a temporary's name (a folder may be shared by several)."""
    import socket  # here: every command imports this module, few write a temporary (issue 21's start-up)

    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one of another user counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or a number no pid can be
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Removes the temporaries that writers of ``path`` on this machine left beside it when they were
    killed (SIGKILL, a power cut): the folders ``.<name>.<pid>-<host>.<random>.tmp`` of
    :func:`temporary_folder` whose host is this one and whose process no longer exists. Returns
    them. A live writer's temporary, or another machine's, is left alone."""
    path = Path(path)
    prefix, tag = f".{path.name}.", _host_tag()
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text, dash, host = name[len(prefix):-len(".tmp")].partition(".")[0].partition("-")
        if not (dash and host == tag and pid_text.isdigit()) or _process_alive(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def temporary_folder(path: str | Path) -> Path:
    """A new, empty folder beside ``path`` (same file system, so a rename is atomic), named
    ``.<name>.<pid>-<host>.<random>.tmp`` so that a later writer can tell it stale
    (:func:`remove_stale_temporaries`, run first). OSErrors become a SimulatorError."""
    import tempfile

    path = Path(path)
    remove_stale_temporaries(path)
    try:
        return Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}-{_host_tag()}.", suffix=".tmp",
                                     dir=path.parent))
    except OSError as error:
        raise SimulatorError(f"cannot write {str(path)!r}: {error.strerror or error}") from None


def write_text(path: str | Path, text: str, force: bool = False) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path, force) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None, through dicts and lists."""
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a numpy scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps_json(value: Any, **options: Any) -> str:
    """Strict JSON text of ``value``: a missing or non-finite number is ``null``, never a bare ``NaN``."""
    return json.dumps(finite(value), allow_nan=False, **options)
