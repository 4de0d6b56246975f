"""The package's structure, read from its imports: no import cycles and no upward imports.

Every module of ``simulator`` (and the network definitions, installed as ``simulator.networks``)
has a layer; a module may import only modules of a lower layer, or of its own layer inside its
own subpackage, and the import graph has no cycle. Imports inside functions count too; imports
for type checkers only (``if TYPE_CHECKING:``) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: module prefix -> layer (the longest matching prefix wins); lower layers know nothing of higher ones
LAYERS = {
    "simulator.errors": 0, "simulator.compat": 0,
    "simulator.units": 1, "simulator.precision": 1, "simulator.kernels": 1, "simulator.io": 1,
    "simulator.model": 2, "simulator.hardware": 2, "simulator.hardware_profiles": 2,
    "simulator.networks": 3, "simulator.engine": 3, "simulator.onnx": 3,
    "simulator.catalog": 4,
    "simulator.results": 5, "simulator.configuration": 5,
    "simulator.simulation": 6,
    "simulator.sweep_files": 6, "simulator.sweep_workers": 6,
    "simulator.sweeps": 7, "simulator.llm": 7, "simulator.api": 8,
    "simulator.report_simulation": 7.5,  # the simulation's views that the formatter renders
    "simulator.report": 8, "simulator.compare": 8, "simulator.report_views": 9,
    "simulator.accuracy": 9, "simulator.plots": 9, "simulator.calibration": 9,
    "simulator.calibration.crossval": 9.5,  # cross-validation of the accuracy dataset's rows
    "simulator.calibration.host_transfer": 8.5,  # host copies a dataset row includes (data-sheet links)
    "simulator.calibration.shipped_fit": 9.6,  # the profiles' figures: the cross-validation's in-sample fit
    "simulator.calibration.cv_energy": 9.6,  # energy rows from the cross-validated latencies
    "simulator.report_html": 9.5, "simulator.report_html_page": 1,  # the HTML report: accuracy and plots
    "simulator.report_html_llm": 9.4, "simulator.report_html_page_llm": 0.5,  # its LLM views
    "simulator.serve": 10.5, "simulator.cli.serve": 10.7,  # the report served live: the CLI's parsers
    "simulator.cli": 10, "simulator.__main__": 11, "simulator": 12,
}


def module_files() -> dict[str, Path]:
    files = {}
    for folder, package in ((ROOT / "simulator", "simulator"), (ROOT / "networks", "simulator.networks")):
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join([package, *parts])] = path
    return files


def layer_of(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the project that ``path`` imports (``from a.b import c`` counts ``a.b.c`` if it is one)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(child) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for stmt in node.body for child in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # annotations only: no import at run time
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    return {module: imports(path, set(files)) - {module} for module, path in files.items()}


def test_every_module_has_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_no_upward_imports(graph):
    upward = []
    for module, targets in graph.items():
        for target in targets:
            if target == "simulator" or target.startswith(module + "."):
                continue  # a package's own face (its __init__) and its submodules
            mine, theirs = layer_of(module), layer_of(target)
            if theirs > mine or (theirs == mine and package_of(target) != package_of(module)):
                upward.append(f"{module} (layer {mine}) imports {target} (layer {theirs})")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles(graph):
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The rules are not vacuous: a planted cycle and an upward import are caught."""
    assert layer_of("simulator.model.graph") < layer_of("simulator.engine.timing")
    assert layer_of("simulator.cli.simulate") > layer_of("simulator.simulation")
