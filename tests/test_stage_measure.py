"""The stage measure of ``roofline simulate resnet50 --device jetson-agx-orin`` (issue 18; the script:
tools/stage_measure.py).

Targets: the stages' direct calls enter at most 10 files; ``simulate()`` is a straight sequence of at most
6 calls, each returning a named type. "No file entered at two separate points" is not met: the formatter
(``simulator/report.py``) alternates per layer row between the result's properties (results.py) and the
unit formatters (units.py), and reads the counts' properties twice. That figure is a ratchet: the set of
re-entered files may shrink, not grow, and none of them may be re-entered by the command handler or by
``simulate()``.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the formatter's re-entered files today (the ratchet: this set may only shrink)
FORMATTER_REENTERED = {"simulator/results.py", "simulator/units.py", "simulator/model/counts.py"}


def _tool():
    spec = importlib.util.spec_from_file_location("stage_measure", ROOT / "tools" / "stage_measure.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("stage_measure", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured():
    tool = _tool()
    tool.import_everything()
    return tool.measure()


def test_the_stages_enter_at_most_ten_files(measured):
    assert len(measured.files) <= 10, measured.files
    # the command handler calls both other stages, so their files are entered (read off cli/simulate.py)
    assert {"simulator/simulation.py", "simulator/report.py"} <= set(measured.files)


def test_no_file_is_reentered_beyond_the_formatters_ratchet(measured):
    reentered = set(measured.reentered)
    assert reentered <= FORMATTER_REENTERED, reentered - FORMATTER_REENTERED
    # the command handler and simulate() each enter every file at one point (their own calls)
    assert measured.reentered_by("run") == ()
    assert measured.reentered_by("simulate") == ()


def test_simulate_is_a_straight_sequence_of_at_most_six_named_stages(measured):
    assert measured.straight
    assert 1 <= len(measured.calls) <= 6, [call.callee for call in measured.calls]
    assert all(call.named for call in measured.calls), [(c.callee, c.returns) for c in measured.calls]


def test_the_static_walk_flags_unnamed_returns_branches_and_unannotated_callees():
    tool = _tool()
    assert not tool.CallSite("f", "dict[str, float]").named
    assert not tool.CallSite("f", "tuple[Workload, int]").named
    assert not tool.CallSite("f", "Any").named
    assert not tool.CallSite("f", "").named            # no annotation, or a callee the walk cannot find
    assert not tool.CallSite("f", "None | Evaluation").named
    assert tool.CallSite("f", "ResolvedConfig").named
    branchy = ast.parse("def f(x):\n    if x:\n        return g(x)\n    return h(x)\n").body[0]
    assert any(isinstance(node, tool.BRANCHES) for node in ast.walk(branchy))


def test_a_file_entered_in_two_stretches_counts_as_reentered():
    tool = _tool()
    # a.py entered, b.py entered, a.py again: a.py re-entered; consecutive calls are one entry
    measure = tool.StageMeasure((("s", "a.py"), ("s", "a.py"), ("t", "b.py"), ("s", "a.py")), (), True)
    assert measure.files == ("a.py", "b.py") and measure.entries == ("a.py", "b.py", "a.py")
    assert measure.reentered == ("a.py",)
    assert measure.reentered_by("s") == ()  # s's own calls into a.py are one stretch
    twice = tool.StageMeasure((("s", "a.py"), ("s", "b.py"), ("s", "a.py")), (), True)
    assert twice.reentered_by("s") == ("a.py",)
