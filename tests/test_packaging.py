"""What `pip install .` (non-editable) carries, and the Python versions the package promises."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

from simulator.compat import tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_data(package: str) -> list[str]:
    return PYPROJECT["tool"]["setuptools"]["package-data"].get(package, [])


def test_every_data_file_of_the_profiles_folder_is_package_data():
    """Each non-Python file under hardware_profiles/ (profiles, runtimes, energy tables, the
    measurement CSVs that `roofline accuracy` reads) matches a package-data pattern, so a wheel
    carries it."""
    patterns = _package_data("simulator.hardware_profiles")
    folder = ROOT / "hardware_profiles"
    data = [path.relative_to(folder).as_posix() for path in folder.rglob("*")
            if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts]
    assert any(name.startswith("measurements/") for name in data)
    missing = [name for name in data if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert missing == []


def test_python_310_is_supported_and_no_module_needs_311():
    """requires-python admits 3.10; nothing imports the 3.11-only ``tomllib`` but the compat shim,
    and ``datetime.UTC`` (3.11) is not used."""
    assert PYPROJECT["project"]["requires-python"] == ">=3.10"
    assert any(dep.startswith("tomli") and "python_version < '3.11'" in dep
               for dep in PYPROJECT["project"]["dependencies"])
    offenders = []
    for path in [*ROOT.glob("simulator/**/*.py"), *ROOT.glob("networks/**/*.py"), *ROOT.glob("tests/**/*.py"),
                 *ROOT.glob("bench/*.py"), *ROOT.glob("tools/*.py")]:
        if path.name == "compat.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(alias.name == "tomllib" for alias in node.names):
                offenders.append(f"{path.relative_to(ROOT)}: import tomllib")
            if isinstance(node, ast.Attribute) and node.attr == "UTC" and \
                    getattr(node.value, "id", "") == "datetime":
                offenders.append(f"{path.relative_to(ROOT)}: datetime.UTC")
    assert offenders == []
