"""The stage measure of ``roofline simulate resnet50 --device jetson-agx-orin`` (issue 18; the script:
tools/stage_measure.py).

Targets, all met: the stages' direct calls enter at most 10 files, none at two separate points (the
formatter renders one view built once, :mod:`simulator.report_simulation`, instead of alternating per layer
row between the result's properties, the unit formatters and the counts); no stage is handed a mapping
(the user's ``--param`` pairs aside); ``simulate()`` is a straight sequence of at most 6 calls, each
returning a named type. Every format of the formatter (table, CSV, JSON) is held to them.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ARGV = ("simulate", "resnet50", "--device", "jetson-agx-orin")


def _tool():
    spec = importlib.util.spec_from_file_location("stage_measure", ROOT / "tools" / "stage_measure.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("stage_measure", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=("table", "csv", "json"))
def measured(request):
    tool = _tool()
    tool.import_everything()
    argv = ARGV if request.param == "table" else (*ARGV, "--format", request.param)
    return tool.measure(argv)


def test_the_stages_enter_at_most_ten_files(measured):
    assert len(measured.files) <= 10, measured.files
    # the command handler calls the public simulate() (api.py, which hands the network to simulation.py's
    # stage) and the formatter (report.py); read off cli/simulate.py
    assert {"simulator/api.py", "simulator/report.py"} <= set(measured.files)
    assert "simulator/configuration.py" in measured.stages and "simulate" in measured.stages[
        "simulator/configuration.py"]  # simulate()'s own calls were traced


def test_no_file_is_entered_at_two_separate_points(measured):
    assert measured.reentered == ()
    for stage in ("run", "simulate", "format_simulation"):
        assert measured.reentered_by(stage) == ()


def test_the_formatter_enters_one_view_module_and_reads_no_result_itself(measured):
    formatter = {name for stage, name in measured.traced if stage == "format_simulation"}
    # the view builder, and the JSON writer where the document is written; never results.py's
    # properties, the unit formatters or the counts, one row at a time
    assert formatter <= {"simulator/report_simulation.py"}, formatter


def test_no_stage_is_handed_a_mapping(measured):
    assert measured.handoffs, "the trace saw no value returned to a stage"
    assert measured.untyped_handoffs == (), measured.untyped_handoffs
    kinds = {(h.callee, h.returns) for h in measured.handoffs}
    assert ("simulate", "SimulationResult") in kinds and ("resolve_config", "ResolvedConfig") in kinds


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


def test_a_mapping_handed_to_a_stage_is_flagged_but_the_users_settings():
    tool = _tool()
    assert tool.Handoff("format_simulation", "simulation_to_dict", "dict", True).untyped
    assert tool.Handoff("simulate", "totals", "dict", True).untyped
    assert not tool.Handoff("run", "network_params", "dict", True).untyped  # the user's --param pairs
    assert not tool.Handoff("simulate", "resolve_config", "ResolvedConfig", False).untyped
    measure = tool.StageMeasure((), (), True, (tool.Handoff("s", "f", "dict", True),))
    assert len(measure.untyped_handoffs) == 1


def test_a_file_entered_in_two_stretches_counts_as_reentered():
    tool = _tool()
    # a.py entered, b.py entered, a.py again: a.py re-entered; consecutive calls are one entry
    measure = tool.StageMeasure((("s", "a.py"), ("s", "a.py"), ("t", "b.py"), ("s", "a.py")), (), True)
    assert measure.files == ("a.py", "b.py") and measure.entries == ("a.py", "b.py", "a.py")
    assert measure.reentered == ("a.py",)
    assert measure.reentered_by("s") == ()  # s's own calls into a.py are one stretch
    twice = tool.StageMeasure((("s", "a.py"), ("s", "b.py"), ("s", "a.py")), (), True)
    assert twice.reentered_by("s") == ("a.py",)
