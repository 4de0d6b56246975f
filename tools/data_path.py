"""The data path of one CLI command: the package files its function calls enter, in order.

    python tools/data_path.py simulate resnet50 --device jetson-agx-orin

Every module of the package is imported first, so module-level code (imports, registrations) is not
counted, only the calls the command makes. A file's *entries* are the separate stretches of calls
into it (a call from another file starts a new one); a file entered once is read once along the
path. Prints the number of files, then each with its entries, in the order first entered.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import pkgutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def import_everything() -> None:
    import simulator
    import simulator.networks

    for package in (simulator, simulator.networks):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                with contextlib.suppress(Exception):  # an optional extra that is not installed
                    importlib.import_module(module.name)


def trace(argv: list[str]) -> list[str]:
    """The files of the package entered by ``roofline ARGV``, one item per entry."""
    from simulator.cli import main

    entries: list[str] = []

    def tracer(frame, event, arg):
        filename = frame.f_code.co_filename
        if event == "call" and frame.f_code.co_name != "<module>" and not filename.startswith("<"):
            path = Path(filename).resolve()
            if path.is_relative_to(ROOT) and "tests" not in path.parts:
                name = str(path.relative_to(ROOT))
                if not entries or entries[-1] != name:
                    entries.append(name)

    sys.settrace(tracer)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(argv)
    finally:
        sys.settrace(None)
    return entries


def main() -> None:
    argv = sys.argv[1:] or ["simulate", "resnet50", "--device", "jetson-agx-orin"]
    import_everything()
    entries = trace(argv)
    counts = Counter(entries)
    files = list(dict.fromkeys(entries))
    print(f"roofline {' '.join(argv)}: {len(files)} files of the package, {len(entries)} entries")
    for name in files:
        print(f"  {counts[name]:5d}  {name}")


if __name__ == "__main__":
    main()
