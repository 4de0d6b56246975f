"""Mutation testing of the core: plant one small bug at a time and see whether the tests notice.

A hand-written AST mutator (no dependency): arithmetic operator swaps (``+``/``-``, ``*``/``/``,
``//``→``/``, ``**``→``*``), comparison swaps (``<``/``<=``, ``>``/``>=``, ``==``/``!=``,
``is``/``is not``, ``in``/``not in``), ``and``/``or``, a dropped ``not``, constants changed (an
integer ``n``→``n + 1``, a float ``x``→``2x``, ``0.0``→``1.0``), booleans flipped, ``min``/``max``
swapped, and statements removed (an assignment, augmented assignment, call or ``raise`` replaced
by ``pass``). Docstrings, ``__all__`` and logging-only strings are left alone.

Targets: ``simulator/engine/*.py``, ``simulator/model/{formulas,counts,fusion,graph}.py``,
``simulator/hardware/*.py`` and ``simulator/onnx/reader.py``. Each mutant is run against that
module's own test files only (:data:`TESTS`, plus any ``tests/**/test_mutation_kills_*.py``), with
``pytest -x`` and a timeout, in a private copy of the repository (the working tree is never
touched). Tests that already fail before mutation are deselected, so they cannot "kill" mutants.

    python bench/bench_mutation.py [--sample 300] [--jobs 2] [--seed 0] [--timeout 120]
        [--only survivors.json] [--json out.json]

``--sample N`` draws N mutants at random (seeded), spread over the modules in proportion to
their mutant counts; ``--only`` re-runs the mutants listed in an earlier ``--json`` (e.g. the
survivors, after adding tests). Prints killed / survived / timed out per module and lists the
survivors (file, line, what was changed).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ENGINE_TESTS = ("tests/engine/test_roofline.py", "tests/engine/test_energy.py",
                "tests/engine/test_engine_llm_terms.py", "tests/test_simulate.py", "tests/test_sweep.py",
                "tests/hardware/test_hardware.py")
#: Module (or glob) -> its own test files.
TESTS = {
    "simulator/engine/*.py": ENGINE_TESTS,
    # the formulas of the transformer, EfficientViT, SegFormer/SAM and LLM kinds are tested beside them
    "simulator/model/formulas.py": ("tests/model/test_formulas.py", "tests/model/test_counts.py",
                                    "tests/model/test_layers.py", "tests/llm/test_llm_core.py",
                                    "tests/model/test_efficientvit.py",
                                    "tests/model/test_segformer_sam_bert.py"),
    "simulator/model/counts.py": ("tests/model/test_counts.py", "tests/model/test_formulas.py",
                                  "tests/model/test_layers.py"),
    "simulator/model/fusion.py": ("tests/model/test_counts.py", "tests/model/test_layers.py",
                                  "tests/test_simulate.py"),
    "simulator/model/graph.py": ("tests/model/test_layers.py", "tests/model/test_counts.py"),
    "simulator/hardware/*.py": ("tests/hardware/test_hardware.py", "tests/test_units.py",
                                "tests/hardware/test_robustness_profiles.py"),
    "simulator/onnx/reader.py": ("tests/onnx/test_onnx.py", "tests/onnx/test_robustness_onnx.py"),
}
#: Module -> the area name of its ``tests/<area>/test_mutation_kills_<area>.py``.
AREAS = {"engine": "engine", "model": "model", "hardware": "hardware", "onnx": "onnx"}

BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv}
COMPARES = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass(frozen=True)
class Mutant:
    path: str
    number: int      # the n-th mutation point of the file, in walk order
    line: int
    description: str
    code: str = ""   # the source line, as it was when the mutant was made


@dataclass
class Outcome:
    mutant: Mutant
    status: str      # killed | survived | timeout | error, by the module's existing tests
    seconds: float
    after: str = ""  # with --kills: the status once tests/**/test_mutation_kills_*.py are added


def _is_docstring(node: ast.AST, parents: dict) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)


class _Points(ast.NodeVisitor):
    """Every mutation point of a tree, in a fixed walk order: ``(node, kind, description)``."""

    def __init__(self, tree: ast.AST):
        self.parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        self.points: list[tuple[ast.AST, str, str]] = []
        self.visit(tree)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            swapped = BINOPS[type(node.op)].__name__
            self.points.append((node, "binop", f"{type(node.op).__name__} -> {swapped}"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in COMPARES:
            self.points.append((node, "compare",
                                f"{type(node.ops[0]).__name__} -> {COMPARES[type(node.ops[0])].__name__}"))
        elif isinstance(node, ast.BoolOp):
            self.points.append((node, "boolop", f"{type(node.op).__name__} -> "
                                                f"{'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.points.append((node, "not", "drop not"))
        elif isinstance(node, ast.Constant) and not _is_docstring(node, self.parents):
            value = node.value
            if isinstance(value, bool):
                self.points.append((node, "const", f"{value} -> {not value}"))
            elif isinstance(value, int):
                self.points.append((node, "const", f"{value} -> {value + 1}"))
            elif isinstance(value, float):
                self.points.append((node, "const", f"{value} -> {value * 2 if value else 1.0}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("min", "max")):
            other = "max" if node.func.id == "min" else "min"
            self.points.append((node, "minmax", f"{node.func.id} -> {other}"))
        if isinstance(node, ast.Assign | ast.AugAssign | ast.Raise) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            in_body = isinstance(self.parents.get(node), ast.FunctionDef | ast.If | ast.For | ast.With)
            if in_body and not _is_all(node):
                self.points.append((node, "remove", f"remove {type(node).__name__.lower()}"))
        super().generic_visit(node)


def _is_all(node: ast.AST) -> bool:
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets)


def mutants_of(path: str, root: Path = ROOT) -> list[Mutant]:
    source = (root / path).read_text(encoding="utf-8")
    lines = source.splitlines()
    return [Mutant(path, n, getattr(node, "lineno", 0), f"{kind}: {text}",
                   lines[node.lineno - 1].strip()[:100] if getattr(node, "lineno", 0) else "")
            for n, (node, kind, text) in enumerate(_Points(ast.parse(source)).points)]


def mutated_source(mutant: Mutant, root: Path) -> str:
    tree = ast.parse((root / mutant.path).read_text(encoding="utf-8"))
    points = _Points(tree)
    node, kind, _ = points.points[mutant.number]
    if kind == "binop":
        node.op = BINOPS[type(node.op)]()
    elif kind == "compare":
        node.ops[0] = COMPARES[type(node.ops[0])]()
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        _replace(points.parents[node], node, node.operand)
    elif kind == "const":
        value = node.value
        node.value = (not value) if isinstance(value, bool) else value + 1 if isinstance(value, int) \
            else (value * 2 if value else 1.0)
    elif kind == "minmax":
        node.func.id = "max" if node.func.id == "min" else "min"
    elif kind == "remove":
        _replace(points.parents[node], node, ast.Pass())
    return ast.unparse(ast.fix_missing_locations(tree))


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return
    raise ValueError("node not found in its parent")


def _relocate(mutant: Mutant, root: Path) -> Mutant:
    """``mutant`` in the snapshot at ``root``: the same number if it still names the same change of
    the same code, else the nearest mutation point that does (the file may have changed)."""
    points = mutants_of(mutant.path, root)
    same = [m for m in points if (m.description, m.code) == (mutant.description, mutant.code)]
    if not same:
        raise SystemExit(f"{mutant.path}: no longer has {mutant.description} in {mutant.code!r}")
    return min(same, key=lambda m: (m.number != mutant.number, abs(m.line - mutant.line)))


def targets(kills: bool = False) -> dict[str, tuple[str, ...]]:
    """Each target module -> its test files (that exist); with ``kills``, its mutation-kill tests only."""
    mapping = {}
    for pattern, tests in TESTS.items():
        for path in sorted(ROOT.glob(pattern)):
            if path.name == "__init__.py":
                continue
            relative = str(path.relative_to(ROOT))
            area = AREAS[relative.split("/")[1]]
            kill_tests = sorted(str(p.relative_to(ROOT))
                                for p in ROOT.glob(f"tests/**/test_mutation_kills_{area}*.py"))
            mapping[relative] = tuple(kill_tests) if kills else tuple(t for t in tests if (ROOT / t).exists())
    return mapping


def _copy(into: Path) -> Path:
    """A private copy of the package and tests, importable by PYTHONPATH (networks and profiles linked)."""
    root = into / "repo"
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".venv", "notebooks", "*.onnx")
    for name in ("simulator", "networks", "hardware_profiles", "tests", "pyproject.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, root / name)
    for package, folder in (("networks", "networks"), ("hardware_profiles", "hardware_profiles")):
        link = root / "simulator" / package
        if not link.exists():
            link.symlink_to(root / folder, target_is_directory=True)
    return root


def _pytest(root: Path, tests: tuple[str, ...], deselect: list[str],
            timeout: float) -> tuple[int | None, str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rf",
               "-W", "ignore", *tests, *(f"--deselect={d}" for d in deselect)]
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, done.stdout + done.stderr


def baseline_failures(root: Path, tests: tuple[str, ...], timeout: float) -> list[str]:
    """Test ids that fail without any mutation (others' work in progress): deselected later."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header", "-rf", "-W",
               "ignore", *tests]
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout * 4)
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+?)(?: - |$)", done.stdout, flags=re.M)))


def run_mutant(mutant: Mutant, tests: tuple[str, ...], deselect: list[str], workspace: Path,
               timeout: float) -> Outcome:
    start = time.perf_counter()
    root = workspace
    target = root / mutant.path
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(mutated_source(mutant, root), encoding="utf-8")
        code, _ = _pytest(root, tests, deselect, timeout)
    finally:
        target.write_text(original, encoding="utf-8")
    status = "timeout" if code is None else "survived" if code == 0 else "killed" if code in (1, 2, 3) \
        else "error"
    return Outcome(mutant, status, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300, help="mutants drawn at random (0: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (one copy each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant's test run")
    parser.add_argument("--only", type=Path, default=None, help="re-run the mutants of an earlier --json")
    parser.add_argument("--status", default="survived", help="with --only: which of its mutants")
    parser.add_argument("--json", type=Path, default=None, help="write every outcome to this file")
    parser.add_argument("--kills", action="store_true",
                        help="re-run each survivor against the kill tests, tests/**/test_mutation_kills_*.py")
    args = parser.parse_args()

    mapping, kill_mapping = targets(), targets(kills=True)
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        # a snapshot per job: the working tree may change while this runs
        workspaces = [_copy(Path(scratch) / f"w{j}") for j in range(max(1, args.jobs))]
        if args.only is not None:
            earlier = json.loads(args.only.read_text())
            wanted = args.status.split(",")
            chosen = [_relocate(Mutant(**o["mutant"]), workspaces[0]) for o in earlier["outcomes"]
                      if (o.get("after") or o["status"]) in wanted]
            print(f"re-running {len(chosen)} mutants of {args.only}", flush=True)
        else:
            every = [m for path in mapping for m in mutants_of(path, workspaces[0])]
            rng = random.Random(args.seed)
            chosen = every if not args.sample or args.sample >= len(every) else sorted(
                rng.sample(every, args.sample), key=lambda m: (m.path, m.number))
            print(f"{len(every)} mutants in {len(mapping)} modules; running {len(chosen)}", flush=True)
        deselect: dict[tuple[str, ...], list[str]] = {}
        suites = {mapping[m.path] for m in chosen} if args.only is None or not args.kills else set()
        if args.kills:
            suites |= {kill_mapping[m.path] for m in chosen}
        for tests in sorted(t for t in suites if t):
            deselect[tests] = baseline_failures(workspaces[0], tests, args.timeout)
            if deselect[tests]:
                print(f"baseline failures deselected in {', '.join(tests)}: {len(deselect[tests])}",
                      flush=True)
        # one copy per job: mutants of a file never run at once in the same copy
        free = list(workspaces)
        outcomes: list[Outcome] = []
        start = time.perf_counter()

        def job(mutant: Mutant) -> Outcome:
            workspace = free.pop()
            try:
                if args.only is not None and args.kills:  # survivors of the existing tests, known
                    outcome = Outcome(mutant, "survived", 0.0)
                else:
                    outcome = run_mutant(mutant, mapping[mutant.path], deselect[mapping[mutant.path]],
                                         workspace, args.timeout)
                outcome.after = outcome.status
                kills = kill_mapping[mutant.path]
                if args.kills and outcome.status == "survived" and kills:
                    outcome.after = run_mutant(mutant, kills, deselect[kills], workspace, args.timeout).status
                return outcome
            finally:
                free.append(workspace)

        with ThreadPoolExecutor(len(workspaces)) as pool:
            for n, outcome in enumerate(pool.map(job, chosen), 1):
                outcomes.append(outcome)
                if n % 25 == 0:
                    print(f"  {n}/{len(chosen)} mutants, {time.perf_counter() - start:.0f} s", flush=True)

    report(outcomes, time.perf_counter() - start, "status", "existing tests")
    if args.kills:
        report(outcomes, time.perf_counter() - start, "after", "with tests/**/test_mutation_kills_*.py")
    if args.json is not None:
        args.json.write_text(json.dumps({"outcomes": [asdict(o) for o in outcomes]}, indent=1))


def report(outcomes: list[Outcome], seconds: float, field: str = "status", title: str = "") -> None:
    print(f"\n{len(outcomes)} mutants in {seconds:.0f} s: {title}")
    print(f"{'module':40s} {'killed':>7s} {'survived':>9s} {'timeout':>8s} {'error':>6s} {'kill rate':>10s}")
    modules = sorted({o.mutant.path for o in outcomes})
    for module in [*modules, "all"]:
        mine = [o for o in outcomes if module in ("all", o.mutant.path)]
        counts = {s: sum(getattr(o, field) == s for o in mine)
                  for s in ("killed", "survived", "timeout", "error")}
        caught = counts["killed"] + counts["timeout"] + counts["error"]
        print(f"{module:40s} {counts['killed']:7d} {counts['survived']:9d} {counts['timeout']:8d} "
              f"{counts['error']:6d} {caught / max(len(mine), 1):10.0%}")
    survivors = [o.mutant for o in outcomes if getattr(o, field) == "survived"]
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            print(f"  {m.path}:{m.line} #{m.number} {m.description}:  {m.code[:90]}")


if __name__ == "__main__":
    main()
