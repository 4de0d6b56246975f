"""The top-level API: every name of ``simulator.__all__`` imports, and every entry point is listed.

The entry points are read from the command line: each ``roofline`` command does its work through
library functions, and each of those is a name of the top-level API, the very object the command
imports (the CLI is a thin layer over the library).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import simulator
from simulator.cli import COMMANDS

CLI = Path(simulator.__file__).parent / "cli"

#: command -> the library names that do its work (what a notebook calls instead of the command)
ENTRY_POINTS = {
    "list": ("network_names", "device_names", "llm_names", "runtime_names"),
    "count": ("count",),
    "simulate": ("simulate",),
    "compare": ("compare_networks", "compare_devices"),
    "sweep": ("sweep", "iter_sweep", "write_sweep", "sweep_llm"),
    "plot": ("plots",),
    "export": ("export_onnx",),
    "calibrate": ("calibrate",),
    "validate": ("validate",),
    "llm": ("simulate_llm",),
    "accuracy": ("accuracy_table",),
    "report": ("html_report_data", "write_html_report", "report_widget"),
    "serve": ("serve_report",),
}


@pytest.mark.parametrize("name", simulator.__all__)
def test_every_name_of_all_imports(name):
    namespace: dict = {}
    exec(f"from simulator import {name}", namespace)  # the statement a user writes
    assert namespace[name] is getattr(simulator, name)


def test_no_name_is_shadowed_by_a_submodule():
    """Importing ``simulator.X`` binds ``simulator.X`` to that module: a name of the API that is also a
    submodule's (``compare``) would stop being the function once the submodule is imported."""
    import pkgutil

    submodules = {info.name for info in pkgutil.iter_modules(simulator.__path__)}
    assert set(simulator.__all__) & submodules == {"plots"}  # the charts' module, on purpose
    importlib.import_module("simulator.compare")
    assert callable(simulator.compare_networks) and callable(simulator.compare_devices)


def test_every_command_has_its_entry_points_listed():
    assert set(ENTRY_POINTS) == set(COMMANDS)
    listed = set(simulator.__all__)
    missing = {command: [n for n in names if n not in listed] for command, names in ENTRY_POINTS.items()}
    assert not any(missing.values()), missing


def _imported_by(command: str) -> dict[str, object]:
    """The library objects ``simulator/cli/<command>.py`` imports (``from simulator.X import Y``)."""
    found = {}
    for node in ast.walk(ast.parse((CLI / f"{command}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simulator"):
            if node.module.startswith("simulator.cli"):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:  # a submodule: from simulator import plots
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                found[alias.asname or alias.name] = value
    return found


@pytest.mark.parametrize("command", ["count", "simulate", "compare", "plot", "llm"])
def test_the_api_exposes_what_the_command_calls(command):
    imported = _imported_by(command)
    exposed = {id(getattr(simulator, name)) for name in ENTRY_POINTS[command]}
    used = [name for name, value in imported.items() if id(value) in exposed]
    assert used, f"roofline {command} imports none of {ENTRY_POINTS[command]}: {sorted(imported)}"


def test_every_function_of_the_api_module_is_listed():
    """:mod:`simulator.api` holds entry points only: each of its functions is a top-level name."""
    module = "simulator.api"
    loaded = importlib.import_module(module)
    public = [name for name, value in vars(loaded).items() if not name.startswith("_")
              and inspect.isfunction(value) and value.__module__ == module]
    exported = {id(getattr(simulator, name)) for name in simulator.__all__}
    assert public and all(id(getattr(loaded, name)) in exported for name in public), public


def test_list_functions_match_the_cli(capsys):
    from simulator.cli import main

    for what, names in (("devices", simulator.device_names()), ("runtimes", simulator.runtime_names())):
        assert main(["list", what]) == 0
        rows = capsys.readouterr().out.splitlines()[2:]
        assert [row.split()[0] for row in rows] == names
    assert main(["list", "llms"]) == 0
    assert capsys.readouterr().out.split() == simulator.llm_names()
