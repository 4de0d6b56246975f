"""The shipped profiles hold the fit of every dataset row (``python tools/fit_profiles.py``), so the
out-of-sample error ``roofline accuracy --cv`` prints describes the model users run.

The fit is computed once for the module (about 15 s on 2 cores: every row's roofline times and the
LLM rows' simulations, then a least-squares fit per family)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

from simulator import simulate
from simulator.accuracy import parse_params, predict, row_sequence_lengths
from simulator.calibration import shipped_fit as sf
from simulator.calibration.cv_llm import LLM_FAMILIES, llm_figure
from simulator.calibration.cv_model import (
    BUFFER_FRACTIONS,
    FAMILIES,
    SCALE_HIGH,
    SCALE_LOW,
    TENSOR_ENERGY,
    TILES,
    family_of,
    overhead_scale,
)
from simulator.calibration.host_transfer import transfers_included
from simulator.engine.power_limit import TENSOR_ENERGY_RANGE_PJ
from simulator.hardware import loader
from simulator.hardware.runtime import RUNTIME_SEPARATOR

#: every test here reads the all-rows fit (about 40 s on 2 cores): CI runs them on its first Python only
pytestmark = pytest.mark.once_per_ci

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("fit_profiles", ROOT / "tools" / "fit_profiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _tool()


@pytest.fixture(scope="module")
def fit():
    return sf.fit_dataset()


def _sample(cases, count: int = 8):
    """Every k-th case (deterministic), at most ``count`` of them."""
    return list(cases)[::max(1, len(cases) // count)][:count]


def _public_expected(row, runtime_device: str) -> float:
    """The row's expected value through ``simulator.simulate`` with the shipped profile, as a user
    calls it: the row's network, batch, precision, resolution and params (MLPerf BERT: SQuAD's
    lengths, :func:`row_sequence_lengths`), a TensorRT engine's batch run whole."""
    params = parse_params(row.get("params", "")) | row_sequence_lengths(row)
    resolution = params.pop("resolution", None)
    result = simulate(row["network"], runtime_device, batch=int(row["batch"]), precision=row["precision"],
                      resolution=resolution, params=params,
                      micro_batching=not row.get("runtime", "").startswith("TensorRT"))
    return result.latency_s if row["metric"] == "latency_s" else result.throughput_per_s


def test_the_public_path_gives_the_cross_validated_prediction_of_the_all_rows_fit(fit):
    """(a) For a sample of every family's rows, ``simulate`` on the shipped profile (the row's
    runtime file where one covers it) equals cv_model's prediction with the figures fitted on every
    row, to 1e-9 (the profiles print 12 significant digits). Rows whose notes include the host copies
    go through ``roofline accuracy``'s prediction, which adds them as the fit does."""
    from simulator.accuracy import row_device

    checked = 0
    for name, result in {**fit.fits, **fit.llm_fits}.items():
        cases = list(fit.cases[name])
        sample = _sample(cases) + [c for c in cases if transfers_included(fit.rows[c.id])][:2]
        expected = dict(zip((c.id for c in cases), result.predict_cases(cases), strict=True))
        for case in sample:
            row = fit.rows[case.id]
            if row["table"] == "llm":
                public = predict({**row})["expected"]
            elif transfers_included(row):
                public = predict(row)["expected"]
            else:
                public = _public_expected(row, row_device(row)[0])
            # the shipped figures equal this run's fit to fit_profiles' tolerance (1e-6 relative: the
            # optimizer's end point moves by ~1e-9 along the flat directions between runs), and a
            # prediction composes a dozen of them; a wrong wiring moves a prediction by far more
            assert public == pytest.approx(expected[case.id], rel=1e-6), (name, case.id)
            checked += 1
    assert checked >= 8 * (len(FAMILIES) + len(LLM_FAMILIES)) - 8


def test_the_shipped_files_equal_a_fresh_fit(fit, tool):
    """(b) ``python tools/fit_profiles.py --check`` passes: every figure as the profiles load it, every
    runtime factor and the generated source texts equal a fit of the dataset as it is."""
    assert tool.differences(fit) == []


def test_check_names_a_figure_that_differs(fit, tool, monkeypatch):
    """``--check`` reports a profile whose figure was changed by hand, one line naming it."""
    shipped = loader.resolve_device

    def edited(name):
        device = shipped(name)
        if getattr(device, "name", None) != "jetson-agx-orin":
            return device
        doubled = 2 * device.efficiency.kernel_overhead_s
        efficiency = device.efficiency.model_copy(update={"kernel_overhead_s": doubled})
        return device.model_copy(update={"efficiency": efficiency})

    monkeypatch.setattr(loader, "resolve_device", edited)
    lines = tool.differences(fit)
    assert [line.split(" is ")[0] for line in lines] == ["jetson-agx-orin: kernel_overhead_s"]


def _parameter(family, name):
    return next(p for p in family.parameters if p.name == name)


def test_every_shipped_figure_lies_in_its_stated_range(fit):
    """(c) The figures as the shipped profiles load them, each in its Parameter's physical range
    (cv_model's and cv_llm's), the grid figures on their grid, runtime factors in 0.01-10."""
    for name in sf.device_models(fit):
        family = family_of(name)
        device = loader.resolve_device(name)
        model = device.efficiency
        if family.kernel_overhead:
            p = _parameter(family, family.kernel_overhead)
            per_reference = model.kernel_overhead_s / overhead_scale(family, device, "int8")
            assert p.low <= per_reference <= p.high, (name, per_reference)
        for cls, slot in family.slots.items():
            entry = model.for_class(cls)
            bandwidth = family.bandwidth[slot]
            if isinstance(bandwidth, str):
                p = _parameter(family, bandwidth)
                assert p.low <= entry.bandwidth_fraction <= p.high, (name, cls)
            if slot in family.class_overhead:
                p = _parameter(family, family.class_overhead[slot])
                assert p.low <= entry.overhead_s <= p.high, (name, cls)
            p = _parameter(family, family.compute[slot])
            if family.device_factor:  # a board's factor (0.2-5) times the family's share
                assert 0.2 * p.low <= entry.compute_fraction <= min(5 * p.high, 1.0), (name, cls)
            elif family.derived is not None:  # the family's share times the board's derived fraction
                derived = family.derived_factor(name, slot)
                assert p.low * derived <= entry.compute_fraction <= min(p.high * derived, 1.0), (name, cls)
            else:
                assert p.low <= entry.compute_fraction <= p.high, (name, cls)
        if family.parallel:
            assert model.buffer_capacity_fraction in BUFFER_FRACTIONS
        if TENSOR_ENERGY in family.parameters:  # pJ per dense int8/fp8 tensor op on a 4N-class process
            assert model.tensor_energy_pj is not None, name
            assert TENSOR_ENERGY_RANGE_PJ[0] <= model.tensor_energy_pj <= TENSOR_ENERGY_RANGE_PJ[2], name
            assert {model.tile_outputs[c] for c in ("conv", "gemm", "attention")} <= set(TILES)
    for family in LLM_FAMILIES:
        for name in family.devices:
            model = loader.resolve_device(name).efficiency
            for p in family.parameters:
                assert p.low <= llm_figure(model, p.name) <= p.high, (name, p.name)
    for runtime in sf.runtime_scales(fit):
        scales = loader.resolve_runtime(runtime).compute_scale
        assert all(SCALE_LOW <= v <= SCALE_HIGH for v in scales.values()), runtime


def _flagged(text: str) -> set[str]:
    """The figures a generated source text says rest on fewer than two sources."""
    text = " ".join(text.split())
    return set(re.findall(r"([A-Za-z_:.0-9-]+): \d+ rows? from [01] sources? \((?:FEWER|NOT)", text))


def test_every_figure_has_two_sources_or_says_it_has_not(fit, tool):
    """(d) A figure has rows from at least two publications behind it, or the shipped source text of
    every file that holds it says it has not (the honest exceptions of the dataset as it is)."""
    informing = sf.informing_rows(fit)
    texts = {}
    for name in sf.device_models(fit):
        lines = loader.available_devices()[name].read_text(encoding="utf-8").split("\n")
        texts[name] = tool.source_tail(lines, "efficiency") or ""
    for runtime in sf.runtime_scales(fit):
        lines = loader.available_runtimes()[runtime].read_text(encoding="utf-8").split("\n")
        texts[runtime] = tool.source_tail(lines, "") or ""
    for family, figures in informing.items():
        weak = {f for f, ids in figures.items() if len(sf.sources_of(ids, fit.rows)) < 2}
        holders = [n for n in texts if n in sf.device_models(fit) and (
            (family_of(n) is not None and family_of(n).name == family)
            or any(n in f.devices for f in LLM_FAMILIES if f.name == family))]
        for figure in weak:
            if figure.startswith("scale:"):
                holders_here = [figure.split(":")[1]]
            elif figure.startswith("device:"):
                holders_here = [figure.split(":", 1)[1]]
            else:
                holders_here = holders
            for holder in holders_here:
                assert figure in _flagged(texts[holder]), (family, figure, holder)


def test_the_rows_behind_a_runtime_or_board_factor_are_that_runtimes_or_boards(fit):
    """(d) The rows said to inform a runtime's factor ran that runtime (the file's ``covers``, from the
    row's runtime and version) and those behind a board's factor ran on that board: a second
    derivation of which rows can move a figure."""
    informing = sf.informing_rows(fit)
    for figures in informing.values():
        for figure, ids in figures.items():
            if figure.startswith("scale:"):
                runtime = loader.resolve_runtime(figure.split(":")[1])
                for i in ids:
                    row = fit.rows[i]
                    assert runtime.covers(row["runtime"], row["runtime_version"]), (figure, i)
                    assert row["device"] in runtime.devices
            elif figure.startswith("device:"):
                assert {fit.rows[i]["device"] for i in ids} == {figure.split(":", 1)[1]}, figure


def test_a_data_sheet_profile_inherits_its_familys_fit(fit):
    """Orin modules written from their data sheets (extends) pay the family's per-kernel overhead
    read as GPU cycles: the AGX figure times 1300 MHz over the module's clock (918 MHz NX, 625 MHz
    Nano, from their data sheets; the code reads the clock ratio from the profiles' peaks per SM, whose
    TOPS figures are rounded as the data sheets print them: 0.5%)."""
    agx = loader.resolve_device("jetson-agx-orin").efficiency.kernel_overhead_s
    for name, clock_mhz in (("jetson-orin-nx-16gb", 918), ("jetson-orin-nano-8gb", 625)):
        overhead = loader.resolve_device(name).efficiency.kernel_overhead_s
        assert overhead == pytest.approx(agx * 1300 / clock_mhz, rel=5e-3), name
    for name in ("gh200", "h100-nvl"):
        assert loader.resolve_device(name).efficiency.for_class("conv") == \
            loader.resolve_device("h100-sxm").efficiency.for_class("conv")
    assert not any(RUNTIME_SEPARATOR in n for n in sf.device_models(fit))
    assert math.isfinite(agx)
