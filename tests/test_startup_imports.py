"""Commands import only what they use (issue 21): ``roofline count`` needs neither pandas (data
frames) nor pydantic (device profiles), nor numpy (it counts in Python ints); ``roofline simulate``
needs no pandas to print its table. Neither loads the modules only an error or a file writer needs:
``difflib`` (close matches of an unknown name), ``tempfile`` and ``signal`` (an atomic write), nor
``numpy.typing`` (annotations); nor, for ResNet-50, the layer-kind modules of :data:`NOT_IN_RESNET`
(a command imports only the kinds it uses, :data:`simulator.model.layers.LAZY`). Each command runs
in a fresh interpreter, which then lists the modules of :data:`HEAVY`, :data:`NOT_ON_SUCCESS` and
:data:`NOT_IN_RESNET` it loaded."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HEAVY = ("numpy", "pandas", "pydantic", "matplotlib")
#: modules that a command that succeeds and writes no file has no use for
NOT_ON_SUCCESS = ("difflib", "tempfile", "signal", "numpy.typing")
#: layer-kind modules that ResNet-50 uses none of: the LLM kinds, BERT's embeddings, SDXL's, 3D-UNet's
NOT_IN_RESNET = tuple(f"simulator.model.layers.{module}"
                      for module in ("llm", "embedding", "diffusion", "conv3d"))

#: the profile cache the probes use (kept for the session: warmed by each probe's first run)
_CACHE_DIR = tempfile.mkdtemp(prefix="roofline-startup-test-")
atexit.register(shutil.rmtree, _CACHE_DIR, True)

#: a fresh interpreter runs the command in process, then prints which of the modules above it imported
_PROBE = f"""
import contextlib, io, json, sys
from simulator.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:])
print(json.dumps({{"status": status, "loaded": [name for name in {HEAVY + NOT_ON_SUCCESS + NOT_IN_RESNET!r}
                                               if name in sys.modules]}}))
"""


def loaded_by(*argv: str) -> set[str]:
    """The modules of :data:`HEAVY`, :data:`NOT_ON_SUCCESS` and :data:`NOT_IN_RESNET` in ``sys.modules``
    after ``roofline ARGV`` ran (exit status 0)."""
    # a warmed profile cache of the test's own (a miss validates and writes the entry atomically,
    # through tempfile): the second run is the one measured, as a user's every run after the first
    env = {**os.environ, "ROOFLINE_CACHE_DIR": _CACHE_DIR}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                              check=True, env=env)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0, done.stderr
    return set(report["loaded"])


def imported_by_numpy_and_pydantic() -> set[str]:
    """The modules of :data:`NOT_ON_SUCCESS` that ``import numpy, pydantic`` loads by itself (numpy 2.2,
    the newest for Python 3.10, imports ``platform`` and through it ``subprocess`` and ``signal``): a
    command that needs numpy cannot avoid them, so the simulate checks leave them out."""
    probe = (f"import sys, json, numpy, pydantic; "
             f"print(json.dumps([n for n in {NOT_ON_SUCCESS!r} if n in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("output", [(), ("--format", "json"), ("--format", "csv"), ("--fused",)])
def test_count_imports_no_pandas_pydantic_or_numpy(output: tuple[str, ...]) -> None:
    assert loaded_by("count", "resnet50", *output) == set()


def test_simulate_imports_no_pandas() -> None:
    loaded = loaded_by("simulate", "resnet50", "--device", "jetson-agx-orin")
    assert "pandas" not in loaded and "matplotlib" not in loaded
    assert "numpy" in loaded  # the probe sees imports: the engine's arrays are there
    assert not loaded & (set(NOT_ON_SUCCESS + NOT_IN_RESNET) - imported_by_numpy_and_pydantic())


def test_resnet_loads_only_its_layer_kinds_and_bert_loads_its_own() -> None:
    """``count resnet50`` imports no layer-kind module that ResNet does not use (the LLM kinds
    among them); ``count bert_base`` does import BERT's embeddings: the probe sees kind modules, so the
    absence is the lazy import."""
    assert not loaded_by("count", "resnet50") & set(NOT_IN_RESNET)
    assert "simulator.model.layers.embedding" in loaded_by("count", "bert_base")


def test_an_unknown_name_imports_difflib_for_its_suggestions() -> None:
    """The probe's other side: the error path does import difflib (its close matches), so the absence
    above is the lazy import, not a probe that cannot see it."""
    probe = ("import sys; from simulator.errors import UnknownNameError\n"
             "assert 'difflib' not in sys.modules\n"
             "print(UnknownNameError('network', 'resnet5', ['resnet50', 'vgg16'])); "
             "print('difflib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "unknown network 'resnet5'; did you mean 'resnet50'? (available: resnet50, vgg16)", "True"]


def test_simulate_json_imports_no_pandas() -> None:
    loaded = loaded_by("simulate", "resnet50", "--device", "h100-sxm", "--format", "json")
    assert "pandas" not in loaded and not loaded & (set(NOT_ON_SUCCESS) - imported_by_numpy_and_pydantic())


def test_every_kind_module_is_listed_for_the_registries() -> None:
    """The registries load :data:`~simulator.model.layers.base.KIND_MODULES` before listing their
    entries: it must name every module of the package but ``base`` (a kind module left out would be
    missing from the listings), and each lazily imported name must be defined in the module it maps to."""
    import importlib
    import pkgutil

    import simulator.model.layers as layers
    from simulator.model.layers.base import KIND_MODULES

    assert set(KIND_MODULES) == {info.name for info in pkgutil.iter_modules(layers.__path__)} - {"base"}
    for name, module in layers.LAZY.items():
        assert hasattr(importlib.import_module(f"simulator.model.layers.{module}"), name), (name, module)
    assert set(layers.LAZY) | {"LAZY"} >= set(layers.__all__) - set(vars(layers))
