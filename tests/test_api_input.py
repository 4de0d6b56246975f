"""Bad input to the Python API and to compare / plot (issue 23): one clear SimulatorError, or the right
number where the input is sensible (a Decimal override, ``network_names(None)``).

Hand-derived figures use ``reference-45nm`` (fp32 1 TOPS; DRAM 100 GB/s; no efficiency model) and one
4096 x 4096 linear layer with bias in fp32: ``T_memory = (K·N + N + K + N) · 4 bytes / DRAM bandwidth``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import simulator
from simulator.cli import main
from simulator.compare import compare
from simulator.errors import SimulatorError
from simulator.simulation import simulate
from tests.helpers import linear, one_line_error

K = N = 4096
DRAM_BYTES = (K * N + N + K + N) * 4
DEVICE = "reference-45nm"


# --- flags are bools -----------------------------------------------------------------------------

@pytest.mark.parametrize(("flag", "value"), [("ideal", "false"), ("fuse", "no"), ("micro_batching", "no"),
                                             ("ideal", 1), ("fuse", None)])
def test_a_flag_that_is_not_a_bool_is_refused(flag, value):
    with pytest.raises(SimulatorError, match=f"{flag} must be True or False, got .*{value!r}"):
        simulate("resnet18", "h100-sxm", **{flag: value})


def test_compare_refuses_a_string_flag_too():
    with pytest.raises(SimulatorError, match="ideal must be True or False, got str 'false'"):
        compare(["resnet18"], "h100-sxm", ideal="false")


def test_ideal_false_gives_the_expected_model_not_the_bound():
    # h100-sxm has an efficiency model: the expected latency lies above the ideal bound
    expected = simulate("resnet18", "h100-sxm", ideal=False)
    bound = simulate("resnet18", "h100-sxm", ideal=True)
    assert expected.latency_s > bound.latency_s and expected.ideal_latency_s == bound.latency_s


# --- overrides and params ------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "message"), [
    ("dram.bandwidth_scale=2", "overrides must be a mapping of override key to value.*got str"),
    ([("dram.bandwidth_scale", 2)], r"got list .*dict\(\.\.\.\) of a list of pairs gives one"),
    (Decimal("2"), "overrides must be a mapping.*got Decimal"),
    ({"dram.bandwidth_scale": {"a": 1}}, "'dram.bandwidth_scale' takes a number or a list of numbers"),
    ({"dram.bandwidth_scale": object()}, "'dram.bandwidth_scale' takes a number or a list of numbers"),
])
def test_overrides_that_are_not_a_mapping_of_numbers_are_refused(overrides, message):
    with pytest.raises(SimulatorError, match=message):
        simulate(linear(), DEVICE, precision="fp32", overrides=overrides)


@pytest.mark.parametrize("scale", [Decimal("0.5"), "0.5", 0.5])
def test_a_decimal_override_is_read_exactly(scale):
    # DRAM bandwidth x 0.5 = 50 GB/s
    result = simulate(linear(), DEVICE, precision="fp32", ideal=True,
                      overrides={"dram.bandwidth_scale": scale})
    assert result.t_memory_s == pytest.approx(DRAM_BYTES / 50e9, rel=1e-12)


def test_none_overrides_mean_none():
    result = simulate(linear(), DEVICE, precision="fp32", ideal=True, overrides=None)
    assert result.t_memory_s == pytest.approx(DRAM_BYTES / 100e9, rel=1e-12) and result.overrides == {}


@pytest.mark.parametrize("params", ["num_classes=3", [("num_classes", 3)], 3])
def test_params_must_be_a_mapping(params):
    with pytest.raises(SimulatorError, match="network parameters must be a mapping of name to value"):
        simulate("resnet18", "h100-sxm", params=params)


def test_params_as_a_mapping_build_the_network():
    # ResNet-18: 11,689,512 parameters; 3 classes: fc has 512·3 + 3 instead of 513,000
    result = simulate("resnet18", "h100-sxm", params={"num_classes": 3})
    assert result.counts.params == 11_689_512 - 513_000 + 512 * 3 + 3


def test_network_names_of_none_lists_every_network_and_a_number_is_refused():
    assert simulator.network_names(None) == simulator.network_names("*") == simulator.network_names()
    assert "resnet18" in simulator.network_names(None)
    with pytest.raises(SimulatorError, match=r"shell-style string such as 'resnet\*'.*got int 3"):
        simulator.network_names(3)


# --- charts of nothing -----------------------------------------------------------------------------

def _charts():
    from simulator import plots

    return {
        "roofline": (lambda: plots.roofline_chart([]), "non-empty sequence"),
        "energy": (lambda: plots.energy_breakdown_chart([]), "no network to chart"),
        "layers": (lambda: plots.layer_latency_chart([]), "expected a SimulationResult"),
        "memory": (lambda: plots.memory_chart([]), "expected a SimulationResult .*, a Network or a network"),
        "compare": (lambda: plots.compare_chart([], "h100-sxm"), "at least one network"),
        "latency": (lambda: plots.latency_throughput_chart("resnet18", []), "no device or precision"),
        "llm-throughput": (lambda: plots.llm_throughput_chart([]), "expected an LLMResult"),
        "llm-ttft": (lambda: plots.llm_ttft_chart([]), "non-empty sequence of LLMResult"),
    }


@pytest.mark.parametrize("chart", list(_charts()))
def test_a_chart_of_an_empty_list_is_one_clear_error(chart):
    call, message = _charts()[chart]
    with pytest.raises(SimulatorError, match=message):
        call()


def test_a_figure_saved_below_the_lowest_dpi_is_refused(tmp_path):
    from matplotlib.figure import Figure

    from simulator.cli.plot import MIN_DPI as CLI_MIN_DPI
    from simulator.plots import save_figure
    from simulator.plots._common import MIN_DPI

    assert CLI_MIN_DPI == MIN_DPI == 10
    for dpi in (1, 5, 9.9, float("nan"), "150", True):
        with pytest.raises(SimulatorError, match="dpi must be a number of at least 10"):
            save_figure(Figure(), tmp_path / "x.png", dpi)
    save_figure(Figure(), tmp_path / "x.png", MIN_DPI)
    assert (tmp_path / "x.png").stat().st_size > 0


# --- compare, plot and device input through the CLI ----------------------------------------------

def test_compare_of_the_same_network_twice_names_it(capsys):
    one_line_error(capsys, ["compare", "resnet18", "resnet18", "--device", "h100-sxm"],
                   "network 'resnet18' is given twice", "each network once")


def test_compare_of_50_networks_with_a_repeat_is_refused_before_simulating(capsys, monkeypatch):
    import simulator.compare as module

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before the duplicate was found")

    monkeypatch.setattr(module, "simulate", no_simulation)
    names = simulator.network_names()[:49]
    one_line_error(capsys, ["compare", *names, names[0], "--device", "h100-sxm"],
                   f"network {names[0]!r} is given twice", "got 50 networks")


def test_compare_of_the_same_device_twice_names_it(capsys):
    one_line_error(capsys, ["compare", "resnet18", "--device", "h100-sxm,h100-sxm"],
                   "device 'h100-sxm' is given twice")


def test_a_comparison_of_distinct_networks_still_runs():
    comparison = compare(["resnet18", "mobilenet_v2"], "h100-sxm")
    assert comparison.names == ("resnet18", "mobilenet_v2") and comparison.speedups[0] == 1.0


@pytest.mark.parametrize("dpi", ["1", "5", "9"])
def test_plot_with_too_low_a_dpi_is_one_line(capsys, tmp_path, dpi):
    output = tmp_path / "chart.png"
    argv = ["plot", "layers", "resnet18", "--device", "h100-sxm", "--dpi", dpi, "-o", str(output)]
    one_line_error(capsys, argv, "--dpi must be at least 10", f"got {dpi}")
    assert not output.exists()


def test_plot_at_the_lowest_dpi_draws_the_chart(capsys, tmp_path):
    # 10 dpi: the 6-pt text is 0.8 pixel per em, still drawn (at 5 dpi FreeType raised a traceback)
    output = tmp_path / "chart.png"
    argv = ["plot", "layers", "resnet8_cifar10", "--device", "stm32f746", "--dpi", "10", "-o", str(output)]
    assert main(argv) == 0
    assert output.stat().st_size > 0


def test_a_runtime_given_as_a_path_is_one_line_naming_the_runtimes(capsys):
    one_line_error(capsys, ["simulate", "resnet18", "--device", "h100-sxm@./x.toml"],
                   "'./x.toml'", "must be a shipped runtime's name, not a path", "x-cube-ai-9.0")


@pytest.mark.parametrize("flag", ["ideal", "fuse", "skip_unsupported"])
def test_sweep_flags_must_be_bools(flag):
    """``sweep(ideal="false")`` would be truthy: the sweep refuses a non-bool flag as simulate does."""
    with pytest.raises(SimulatorError, match=f"{flag} must be True or False"):
        simulator.sweep(["alexnet"], ["h100-sxm"], **{flag: "false"})
