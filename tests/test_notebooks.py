"""Tests of the notebooks in ``notebooks/``: each runs top to bottom, and is stored without outputs.

The notebooks are thin layers over the ``simulator`` API (house rule 1), so executing them checks
that the API they tell their story with still works. Execution needs the ``notebooks`` extra
(nbclient, nbformat, ipykernel) and is skipped without it; the checks of the stored files read
the JSON with the standard library and always run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Seconds one cell may run; each notebook takes a few seconds in all.
CELL_TIMEOUT_S = 120
IMPORTS_SIMULATOR = re.compile(r"^\s*(from|import)\s+simulator\b", re.MULTILINE)
#: any import of the package: ``import simulator`` is the only one a notebook writes (the public API)
SIMULATOR_IMPORT = re.compile(r"^\s*(?:from\s+simulator\S*\s+import\s+.*|import\s+simulator\S*.*)$",
                              re.MULTILINE)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    # the lecture's opening example (issue 9): EfficientViT against SegFormer, SAM, MCUNet
    assert "05_efficientvit_vs_segformer.ipynb" in {path.name for path in NOTEBOOKS}


def test_the_efficientvit_notebook_compares_with_the_library() -> None:
    """Notebook 05 tells its story through simulator.compare and the compare chart, on the lecture's
    configuration, and puts the prediction next to the lecture's measured 638 ms / 45.9 ms."""
    cells = _load(NOTEBOOK_DIR / "05_efficientvit_vs_segformer.ipynb")["cells"]
    code = "\n".join(_source(cell) for cell in cells if cell["cell_type"] == "code")
    for needle in ("simulator.compare_networks", "plots.compare_chart", "plots.memory_chart",
                   '"fused", "materialized"', "ideal", "638.0", "45.9", "sam_vit_h", "efficientvit_sam_",
                   "mcunet_in", "stm32h743", "stm32f746"):
        assert needle in code, f"notebook 05 lacks {needle!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_tells_its_story_with_the_library(path: Path) -> None:
    cells = _load(path)["cells"]
    kinds = {cell["cell_type"] for cell in cells}
    assert {"markdown", "code"} <= kinds, f"{path.name} needs markdown and code cells, has {sorted(kinds)}"
    code = "\n".join(_source(cell) for cell in cells if cell["cell_type"] == "code")
    assert IMPORTS_SIMULATOR.search(code), f"{path.name} does not import simulator"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_uses_the_public_api_only(path: Path) -> None:
    """``import simulator`` and its top-level names (``simulator.simulate``, ``simulator.plots``): no
    submodule import (``from simulator.report import ...``), so a notebook breaks only when the API does."""
    cells = _load(path)["cells"]
    code = "\n".join(_source(cell) for cell in cells if cell["cell_type"] == "code")
    imports = [line.strip() for line in SIMULATOR_IMPORT.findall(code)]
    assert imports and set(imports) == {"import simulator"}, f"{path.name} imports {imports}"
    import simulator

    used = set(re.findall(r"\bsimulator\.(\w+)", code))
    assert used <= set(simulator.__all__), f"{path.name} uses {sorted(used - set(simulator.__all__))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    notebook = _load(path)
    assert notebook["nbformat"] == 4
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"{path.name} cell {index} has stored outputs; clear them"
        assert cell.get("execution_count") is None, f"{path.name} cell {index} has an execution count"


@pytest.mark.once_per_ci
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # kernel connection files
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, workdir)  # the kernel runs in a copy: nothing is written back
    notebook = nbformat.read(workdir / path.name, as_version=4)
    nbformat.validate(notebook)
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()  # raises CellExecutionError, naming the cell, if one fails

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, f"{path.name} raised {errors}"
    charts = any("plots." in cell.source for cell in notebook.cells if cell.cell_type == "code")
    images = [o for o in outputs if o.output_type in ("execute_result", "display_data")
              and "image/png" in o.get("data", {})]
    if charts:  # a Figure left as a cell's value must render, not print as <Figure size ...>
        assert images, f"{path.name} draws charts but displayed no image"
