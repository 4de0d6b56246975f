"""The stage measure of ``roofline simulate``: how many files its stages reach, and how straight they are.

    python tools/stage_measure.py [simulate resnet50 --device jetson-agx-orin]

The stages are three functions: the command handler (:func:`simulator.cli.simulate.run`), the pipeline
(:func:`simulator.simulation.simulate`, which the public ``simulate()`` of :mod:`simulator.api` hands a
network) and the formatter (:func:`simulator.report.format_simulation`).
The measure, as issue 18 defines it:

* **files entered**: the package files that the stages' *direct* calls enter (one level down: a callee's
  own callees are not followed), traced while the command runs. A helper in a stage's own file is part
  of the stage (its calls are the stage's), so that moving calls beside a stage does not hide them.
  Every module is imported first, so import-time code is not counted.
* **entered at two separate points**: a file whose direct entries, in the order they happen across the
  three stages, come in two or more separate stretches (another file entered in between).
* **hand-offs**: what each direct call returns to its stage, traced with the entries (its type); a
  *mapping* (a dict of string keys) passing between stages is what the target excludes. The command
  handler's parsers of the user's own settings (:data:`USER_SETTINGS`) are the one exception: the
  public ``simulate()`` takes them as its ``params`` and ``overrides``.
* **simulate()'s calls**: a static walk of its body: the calls it makes, each with its callee's
  annotated return type; *straight* when the body has no branch or loop (``if``, ``for``, ``while``,
  ``try``, ``with``, ``match``) and *named* when every return type is a class of its own (not a dict,
  tuple, Mapping, Any or None, and annotated).

Target: at most 10 files, none entered at two separate points, no mapping handed between stages (but
the user's settings), simulate() straight with at most 6 calls, each returning a named type
(tests/test_stage_measure.py keeps it).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import pkgutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "simulator"
DEFAULT_ARGV = ("simulate", "resnet50", "--device", "jetson-agx-orin")
#: return annotations that are not a named type: string-keyed dicts, bare tuples, anything
UNNAMED = ("dict", "Dict", "Mapping", "MutableMapping", "tuple", "Tuple", "Any", "object", "None")
#: the command handler's parsers of the user's ``--param`` and ``--set`` pairs and of an LLM's ``--phase``,
#: ``--seq-len`` and ``--context``: the ``params`` and ``overrides`` of the public ``simulate()``
USER_SETTINGS = ("network_params", "single_settings", "llm_phase")
BRANCHES = (ast.If, ast.For, ast.While, ast.Try, ast.With, ast.AsyncFor, ast.AsyncWith, ast.IfExp,
            *((ast.Match,) if hasattr(ast, "Match") else ()))


@dataclass(frozen=True)
class CallSite:
    """One call in :func:`simulate`'s body: the callee as written and its annotated return type."""

    callee: str
    returns: str  # "" when the callee cannot be found or has no return annotation

    @property
    def named(self) -> bool:
        """The return type is a class of its own: annotated, and not a dict, tuple, Any or None."""
        if not self.returns:
            return False
        head = self.returns.replace(" ", "").split("[")[0].split(".")[-1]
        return head not in UNNAMED and not self.returns.replace(" ", "").startswith("None|")


@dataclass(frozen=True)
class Handoff:
    """A value a direct call returned to a stage: the callee's name and the value's type."""

    stage: str
    callee: str
    returns: str       # the type's name
    mapping: bool      # a dict (or other Mapping): keyed by strings, not a named type

    @property
    def untyped(self) -> bool:
        """A mapping handed to a stage, other than the user's own settings (:data:`USER_SETTINGS`)."""
        return self.mapping and not (self.stage == "run" and self.callee in USER_SETTINGS)


@dataclass(frozen=True)
class StageMeasure:
    """What :func:`measure` found (files relative to the repository root)."""

    traced: tuple[tuple[str, str], ...]  # (stage, file) per direct call into another package file
    calls: tuple[CallSite, ...]          # simulate()'s calls, in source order
    straight: bool                       # simulate()'s body has no branch or loop
    handoffs: tuple[Handoff, ...] = ()   # what each direct call returned to its stage, in order

    @property
    def untyped_handoffs(self) -> tuple[Handoff, ...]:
        """Mappings handed to a stage (the user's settings aside)."""
        return tuple(h for h in self.handoffs if h.untyped)

    @property
    def files(self) -> tuple[str, ...]:
        """The files entered, in the order first entered."""
        return tuple(dict.fromkeys(name for _, name in self.traced))

    @property
    def entries(self) -> tuple[str, ...]:
        """One item per separate stretch of direct entries (a file entered again after another)."""
        return _stretches([name for _, name in self.traced])

    @property
    def stages(self) -> dict[str, tuple[str, ...]]:
        """File -> the stages whose direct calls enter it."""
        found: dict[str, tuple[str, ...]] = {}
        for stage, name in self.traced:
            if stage not in found.get(name, ()):
                found[name] = (*found.get(name, ()), stage)
        return found

    @property
    def reentered(self) -> tuple[str, ...]:
        """Files entered at two or more separate points of the whole path."""
        return tuple(name for name in self.files if self.entries.count(name) > 1)

    def reentered_by(self, stage: str) -> tuple[str, ...]:
        """Files that ``stage``'s own direct calls enter at two or more separate points."""
        own = _stretches([name for caller, name in self.traced if caller == stage])
        return tuple(dict.fromkeys(name for name in own if own.count(name) > 1))


def _stretches(names: list[str]) -> tuple[str, ...]:
    return tuple(name for i, name in enumerate(names) if i == 0 or names[i - 1] != name)


def import_everything() -> None:
    """Import every module of the package, so that only the command's calls are traced."""
    import simulator

    for module in pkgutil.walk_packages(simulator.__path__, "simulator."):
        if not module.name.endswith("__main__"):
            with contextlib.suppress(Exception):  # an optional extra that is not installed
                importlib.import_module(module.name)


def _stage_codes() -> dict[object, str]:
    from simulator.cli.simulate import run
    from simulator.report import format_simulation
    from simulator.simulation import simulate

    return {stage.__code__: stage.__code__.co_filename for stage in (run, simulate, format_simulation)}


def trace_entries(argv: tuple[str, ...] = DEFAULT_ARGV,
                  handoffs: list[Handoff] | None = None) -> list[tuple[str, str]]:
    """``(stage, file)`` for every call from a stage into another package file while ``roofline ARGV``
    runs, in order. A stage's helpers in its own file (functions, comprehensions, lambdas) are part of
    the stage: their calls count as the stage's, so moving a call into a helper beside the stage does
    not hide it. ``handoffs``, when given, receives what each of those calls returned (its type)."""
    from collections.abc import Mapping

    from simulator.cli import main

    stages = _stage_codes()
    inside: dict[int, tuple[str, str]] = {}  # id of a live frame of a stage -> (stage, its file)
    entries: list[tuple[str, str]] = []
    callees: dict[int, str] = {}  # id of a live frame a stage called in another file -> the stage

    def tracer(frame, event, arg):
        if event == "call":
            caller = frame.f_back
            path = str(Path(frame.f_code.co_filename).resolve())
            if caller is not None and id(caller) in inside:
                stage, home = inside[id(caller)]
                if path == home and frame.f_code not in stages:
                    inside[id(frame)] = (stage, home)  # a helper beside the stage: still the stage
                elif path != home and Path(path).is_relative_to(PACKAGE):
                    entries.append((stage, str(Path(path).relative_to(ROOT))))
                    callees[id(frame)] = stage
            if frame.f_code in stages:
                inside[id(frame)] = (frame.f_code.co_name, path)
            return tracer if id(frame) in inside or id(frame) in callees else None
        if event == "return":
            inside.pop(id(frame), None)
            stage = callees.pop(id(frame), None)
            if stage is not None and handoffs is not None and frame.f_code.co_name != "__init__":
                handoffs.append(Handoff(stage, frame.f_code.co_name, type(arg).__name__,
                                        isinstance(arg, Mapping)))
        return tracer

    before = sys.gettrace()  # a coverage tool's tracer, put back afterwards
    sys.settrace(tracer)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(list(argv))
    finally:
        sys.settrace(before)
    return entries


def simulate_calls() -> tuple[tuple[CallSite, ...], bool]:
    """:func:`simulator.simulation.simulate`'s calls (static) with their return annotations, and whether
    its body is straight (no branch or loop)."""
    import simulator.simulation as module

    tree = ast.parse(textwrap.dedent(inspect.getsource(module.simulate)))
    body = tree.body[0].body
    straight = not any(isinstance(node, BRANCHES) for statement in body for node in ast.walk(statement))
    calls = []
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                target: object = module
                for part in name.split("."):
                    target = getattr(target, part, None)
                returns = ""
                if callable(target):
                    with contextlib.suppress(TypeError, ValueError):
                        annotation = inspect.signature(target).return_annotation
                        if annotation is not inspect.Signature.empty:
                            returns = annotation if isinstance(annotation, str) else getattr(
                                annotation, "__name__", str(annotation))
                calls.append(CallSite(name, returns))
    return tuple(calls), straight


def measure(argv: tuple[str, ...] = DEFAULT_ARGV) -> StageMeasure:
    """The stage measure of ``roofline ARGV`` (import :func:`import_everything` first for a clean trace)."""
    calls, straight = simulate_calls()
    handoffs: list[Handoff] = []
    entries = trace_entries(argv, handoffs)
    return StageMeasure(tuple(entries), calls, straight, tuple(handoffs))


def main() -> None:
    argv = tuple(sys.argv[1:]) or DEFAULT_ARGV
    sys.path.insert(0, str(ROOT))  # this checkout's package, whatever is installed
    import_everything()
    result = measure(argv)
    print(f"roofline {' '.join(argv)}: stages run (cli/simulate.py), simulate() (simulation.py), "
          f"format_simulation (report.py)")
    print(f"files entered by their direct calls: {len(result.files)} (target <= 10)")
    for name in result.files:
        count = result.entries.count(name)
        stages = ", ".join(result.stages[name])
        print(f"  {count:3d} entr{'y' if count == 1 else 'ies':3s}  {name:36s} from {stages}")
    print(f"entered at two separate points: {len(result.reentered)} (target 0) "
          f"{', '.join(result.reentered)}")
    for stage in ("run", "simulate", "format_simulation"):
        print(f"  by {stage}'s own calls: {', '.join(result.reentered_by(stage)) or 'none'}")
    print(f"hand-offs: {len(result.handoffs)} values returned to the stages, "
          f"{len(result.untyped_handoffs)} of them a mapping (target 0; the user's settings aside)")
    for handoff in result.handoffs:
        flag = "   [mapping]" if handoff.untyped else "   (the user's settings)" if handoff.mapping else ""
        print(f"  {handoff.stage:18s} {handoff.callee}() -> {handoff.returns}{flag}")
    named = sum(call.named for call in result.calls)
    print(f"simulate(): {len(result.calls)} calls (target <= 6), {named} returning a named type, "
          f"{'straight' if result.straight else 'with branches or loops'}")
    for call in result.calls:
        named = "" if call.named else "   [not named]"
        print(f"  {call.callee}() -> {call.returns or '(unannotated)'}{named}")


if __name__ == "__main__":
    main()
