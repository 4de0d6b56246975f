"""Tests of simulator.plots and `roofline plot`: each chart's contents, the files the CLI writes, errors.

Charts are checked through the artists they hold (line and bar coordinates, texts), compared with
the device profiles and the simulator's results; the CLI tests read the written files back.
Figures are drawn at a low dpi to keep the suite fast.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from simulator.catalog import build_network
from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.hardware.loader import available_devices, resolve_device
from simulator.model.counts import live_activations
from simulator.model.fusion import inference_view
from simulator.networks.mobilenet import mobilenet_v2
from simulator.plots import (
    energy_breakdown_chart,
    latency_throughput_chart,
    layer_latency_chart,
    memory_chart,
    roofline_chart,
)
from simulator.plots._common import block_of, format_rate, short_layer_name, si_scale, subunit_scale
from simulator.plots.energy import group_energy_j
from simulator.plots.roofline import binding_level, layer_points, timed_levels
from simulator.simulation import simulate

DEVICES = sorted(available_devices())
TEST_DPI = 20
ORIN = "jetson-agx-orin"
STM32 = "stm32f746"
KIB = 1024


def display_scale(label: str) -> float:
    """The power of ten an axis label states, e.g. ``(TOPS = 10^12 ops/s)`` -> 1e12."""
    return 10.0 ** int(re.search(r"10\^(-?\d+)", label).group(1))


def horizontal_lines(ax) -> list[float]:
    return [line.get_ydata()[0] for line in ax.lines if len(set(line.get_ydata())) == 1]


def sloped_lines(ax) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(line.get_xdata()), np.asarray(line.get_ydata())) for line in ax.lines
            if len(set(line.get_ydata())) > 1]


def bars(ax) -> list[Rectangle]:
    return [patch for patch in ax.patches if isinstance(patch, Rectangle)]


def texts(figure: Figure) -> str:
    return "\n".join(text.get_text() for ax in figure.axes for text in ax.texts)


def energy_scale(ax) -> float:
    """Joules per display unit of an energy axis labelled ``(mJ)`` etc."""
    return {"J": 1.0, "mJ": 1e-3, "µJ": 1e-6, "nJ": 1e-9}[re.search(r"\((\S+)\)", ax.get_ylabel()).group(1)]


def part_bars(ax) -> dict[str, list[float]]:
    """Heights of the stacked bars per part (compute, each memory level), one ax.bar call each."""
    return {container.get_label(): [bar.get_height() for bar in container] for container in ax.containers}


def slowest_layer_labels(figure: Figure) -> list:
    """The roofline's layer labels: they end with ``(share %, binding)``."""
    return [t for t in figure.axes[0].texts if re.search(r"\(\d+%, [\w-]+\)$", t.get_text())]


#: jetson-agx-orin.toml [[memory]] dram: energy_per_access_pj = 384.0 for access_bits = 64
ORIN_DRAM_PJ_PER_BYTE = 384.0 / (64 / 8)
#: jetson-agx-orin.toml [[memory]]: dram bandwidth_gb_per_s = 204.8, l2 bandwidth_gb_per_s = 986
ORIN_DRAM_BYTES_PER_S, ORIN_L2_BYTES_PER_S = 204.8e9, 986e9


# --- roofline ---------------------------------------------------------------------------------

def test_roofline_roofs_are_the_profile_figures():
    figure = roofline_chart(simulate("resnet18", ORIN))  # the result carries its device
    ax = figure.axes[0]
    scale = display_scale(ax.get_ylabel())
    roofs_ops_per_s = sorted(y * scale for y in horizontal_lines(ax))
    # jetson-agx-orin.toml: fp32 5.32, fp16 = bf16 42.5 (one roof), int8 85.0 tera ops/s
    assert roofs_ops_per_s == pytest.approx([5.32e12, 42.5e12, 85.0e12])
    slopes_bytes_per_s = sorted((y[1] - y[0]) * scale / (x[1] - x[0]) for x, y in sloped_lines(ax))
    # dram 204.8 GB/s and l2 986 GB/s; the register file does not bound time, so it has no slope
    assert slopes_bytes_per_s == pytest.approx([204.8e9, 986e9])
    labels = texts(figure)
    assert "dram 204.8 GB/s" in labels and "int8 85 TOPS" in labels and "fp16/bf16 42.5 TOPS" in labels
    assert "ridge" in labels


@pytest.mark.parametrize("device_name", DEVICES)
def test_roofline_on_every_device_has_a_roof_per_distinct_peak(device_name):
    device = resolve_device(device_name)
    precision = "fp16" if "fp16" in device.precisions else device.precisions[0]
    figure = roofline_chart(simulate("alexnet", device, precision=precision))
    ax = figure.axes[0]
    scale = display_scale(ax.get_ylabel())
    assert sorted(y * scale for y in horizontal_lines(ax)) == pytest.approx(
        sorted(set(device.peak_ops_per_s.values())))
    assert len(sloped_lines(ax)) == len(timed_levels(device))
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_roofline_ridge_point_is_peak_over_bandwidth():
    device = resolve_device(STM32)
    ax = roofline_chart(simulate("resnet18", device, precision="int8")).axes[0]
    ridges = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_offsets().shape[0]
              and tuple(c.get_facecolors()[0][:3]) == (1.0, 1.0, 1.0)]
    ridge_xs = sorted(ridges[0].get_offsets()[:, 0])
    # 864 Mops/s int8 (one SMLAD, 2 MACs, per cycle at 216 MHz) over flash 432 MB/s and sram 1.728 GB/s
    assert ridge_xs == pytest.approx(sorted([864e6 / 432e6, 864e6 / 1.728e9]))
    assert ridge_xs[-1] == pytest.approx(device.ridge_point_ops_per_byte("int8"))


@pytest.mark.parametrize("device_name", DEVICES)
def test_layer_points_lie_under_their_roof_and_memory_bound_ones_on_it(device_name):
    device = resolve_device(device_name)
    precision = "fp16" if "fp16" in device.precisions else device.precisions[0]
    result = simulate("mobilenet_v2", device, precision=precision, ideal=True)
    bandwidth = {level.name: level.bandwidth_bytes_per_s for level in device.memory_levels}
    peak = device.peak_for(precision)
    points = layer_points(result)
    assert points
    for point in points:
        level = binding_level(point.layer)
        if point.layer.bound == "memory":
            assert level == point.layer.binding
        roof = min(peak, point.intensity_ops_per_byte * bandwidth[level])
        assert point.achieved_ops_per_s <= roof * (1 + 1e-9)
        if point.layer.bound == "memory":  # the ideal roofline puts it exactly on its level's slope
            assert point.achieved_ops_per_s == pytest.approx(roof)


def test_roofline_total_intensity_is_the_simulators_arithmetic_intensity():
    result = simulate("alexnet", ORIN)
    points = layer_points(result, intensity="total")
    assert [p.intensity_ops_per_byte for p in points] == pytest.approx(
        [layer.arithmetic_intensity for layer in result.layers if layer.ops > 0])


def test_roofline_of_several_results_and_its_errors():
    results = [simulate("resnet18", ORIN, batch=b) for b in (1, 16)]
    assert isinstance(roofline_chart(results, ORIN, precisions=["int8"]), Figure)  # a device that agrees
    with pytest.raises(SimulatorError, match="simulated on jetson-agx-orin"):
        roofline_chart(results, "h100-sxm")
    with pytest.raises(SimulatorError, match="unknown intensity 'sram'"):
        roofline_chart(results, intensity="sram")
    with pytest.raises(SimulatorError, match="no peak for precision 'fp16'"):
        roofline_chart(simulate("alexnet", STM32, precision="int8"), precisions=["fp16"])
    with pytest.raises(SimulatorError, match="SimulationResult"):
        roofline_chart([])
    with pytest.raises(SimulatorError, match="several devices"):
        roofline_chart([results[0], simulate("resnet18", "h100-sxm")])
    with pytest.raises(SimulatorError, match="different overrides"):
        roofline_chart([results[0], simulate("resnet18", ORIN, overrides={"dram.bandwidth_scale": 2})])


def test_roofline_of_an_overridden_result_draws_its_roofs_and_binding_from_the_result():
    # on the profile, dram (204.8 GB/s) binds some memory-bound layers. The ideal bound keeps
    # activations in the whole L2; in the expected model (1/32 of it) every activation also crosses
    # dram, so with the override below l2 and dram would tie and dram would bind
    profile = simulate("resnet18", ORIN, ideal=True)
    assert "dram" in {layer.binding for layer in profile.layers if layer.bound == "memory"}
    # dram raised to l2's 986 GB/s (the most an override may give it: an inner level may not be slower
    # than an outer one): every layer moves at least as many bytes through l2 as through dram, so l2
    # now binds every memory-bound layer
    result = simulate("resnet18", ORIN, overrides={"dram.bandwidth_bytes_per_s": ORIN_L2_BYTES_PER_S},
                      ideal=True)
    assert {layer.binding for layer in result.layers if layer.bound == "memory"} == {"l2"}
    figure = roofline_chart(result, labelled_layers=12)
    ax = figure.axes[0]
    scale = display_scale(ax.get_ylabel())
    slopes_bytes_per_s = sorted((y[1] - y[0]) * scale / (x[1] - x[0]) for x, y in sloped_lines(ax))
    assert slopes_bytes_per_s == pytest.approx([ORIN_L2_BYTES_PER_S, ORIN_L2_BYTES_PER_S])
    assert "dram 986 GB/s" in texts(figure) and "dram.bandwidth_bytes_per_s=9.86e+11" in ax.get_title()
    labels = slowest_layer_labels(figure)
    assert labels
    by_name = {layer.name.partition("+")[0]: layer for layer in result.layers}
    for label in labels:
        name, binding = re.match(r"(\S+) \(\d+%, ([\w-]+)\)$", label.get_text()).groups()
        layer = by_name[name]
        assert binding == layer.binding  # the result's binding, not one guessed from the profile
        level = layer.binding if layer.bound == "memory" else max(layer.level_time_s,
                                                                  key=layer.level_time_s.get)
        # placed at the intensity of the traffic at that level and the achieved ops/s
        assert label.xy == pytest.approx((layer.ops / layer.level_bytes[level], layer.ops / layer.latency_s
                                          / scale))


def test_roofline_of_several_precisions_names_the_precision_in_the_layer_labels():
    results = [simulate("resnet18", ORIN, precision=p) for p in ("int8", "fp32")]
    labels = [label.get_text() for label in slowest_layer_labels(roofline_chart(results, labelled_layers=8))]
    assert labels and len(set(labels)) == len(labels)
    assert all(label.startswith(("int8: ", "fp32: ")) for label in labels)
    labels = [label.get_text() for label in slowest_layer_labels(roofline_chart(results[0]))]
    assert labels and not any(label.startswith("int8") for label in labels)  # one result: nothing to tell


# --- latency vs throughput --------------------------------------------------------------------

def test_latency_throughput_points_are_simulations():
    batches = (1, 4, 16)
    figure = latency_throughput_chart("resnet18", [ORIN, "h100-sxm"], batches)
    ax = figure.axes[0]
    curves = [line for line in ax.lines if len(line.get_xdata()) == len(batches)]
    assert [line.get_label() for line in curves] == [ORIN, "h100-sxm"]
    time_scale = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}[re.search(r"\((\w+)\)", ax.get_xlabel()).group(1)]
    for line, device in zip(curves, [ORIN, "h100-sxm"], strict=True):
        results = [simulate("resnet18", device, batch=b) for b in batches]
        assert np.asarray(line.get_xdata()) * time_scale == pytest.approx([r.latency_s for r in results])
        assert list(line.get_ydata()) == pytest.approx([b / r.latency_s for b, r in zip(batches, results,
                                                                                          strict=True)])
    assert "Higher throughput does not mean lower latency" in ax.get_title()


def test_latency_throughput_per_precision_and_scales():
    figure = latency_throughput_chart("mobilenet_v2", ["int8", "fp16"], device=ORIN)
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines[:2]] == ["int8", "fp16"]
    assert ax.get_xscale() == "log"  # batch 1 to 256 spans more than two decades of latency
    # a constant throughput stays on a linear axis that starts at zero
    ax = latency_throughput_chart("alexnet", [STM32], (1, 2)).axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0


def test_latency_throughput_title_names_what_the_curve_labels_leave_out():
    figure = latency_throughput_chart("alexnet", ["int8", "fp16"], (1, 2), device=ORIN)
    assert [line.get_label() for line in figure.axes[0].lines[:2]] == ["int8", "fp16"]
    assert f"on {ORIN}" in figure.get_suptitle()
    figure = latency_throughput_chart("alexnet", [ORIN, "h100-sxm"], (1, 2), precision="int8")
    assert ", int8" in figure.get_suptitle() and ORIN not in figure.get_suptitle()


def test_latency_throughput_star_does_not_hide_the_does_not_fit_marker():
    # stm32f746.toml: flash 1 MiB holds the weights; alexnet's 61 M int8 weights do not fit at any batch
    figure = latency_throughput_chart("alexnet", [STM32], (1, 2, 4), precision="int8")
    collections = {c.get_label(): c for c in figure.axes[0].collections}
    unfit, star = collections["_does not fit"], collections["_star"]
    assert len(unfit.get_offsets()) == 3
    starred = {tuple(xy) for xy in np.asarray(star.get_offsets())}
    assert starred <= {tuple(xy) for xy in np.asarray(unfit.get_offsets())}
    assert unfit.get_zorder() > star.get_zorder()  # the hollow marker is drawn over the star
    assert tuple(unfit.get_facecolors()[0][:3]) == (1.0, 1.0, 1.0)
    assert "does not fit in memory" in [t.get_text() for t in figure.axes[0].get_legend().get_texts()]


def test_latency_throughput_errors():
    with pytest.raises(SimulatorError, match="needs a device"):
        latency_throughput_chart("alexnet", ["int8"])
    with pytest.raises(SimulatorError, match="no peak for precision 'fp16'"):
        latency_throughput_chart("alexnet", [(STM32, "fp16")])
    with pytest.raises(SimulatorError, match="no batch sizes"):
        latency_throughput_chart("alexnet", [ORIN], ())


# --- energy -----------------------------------------------------------------------------------

def test_energy_bars_stack_to_the_energy_per_inference():
    networks = ["alexnet", "mobilenet_v2"]
    figure = energy_breakdown_chart(networks, ORIN, batch=2)  # names: the chart simulates them on ORIN
    ax = figure.axes[0]
    scale = energy_scale(ax)
    parts = 1 + len(resolve_device(ORIN).memory_levels) + 1  # compute + dram, l2, register file + static
    rectangles = bars(ax)
    assert len(rectangles) == parts * len(networks)
    for i, network in enumerate(networks):
        total_j = sum(r.get_height() for r in rectangles[i::len(networks)]) * scale
        assert total_j == pytest.approx(simulate(network, ORIN, batch=2).energy_per_sample_j)
    assert "data movement" in texts(figure)


@pytest.mark.parametrize("group_by", ["kind", "block"])
def test_energy_groups_add_up_to_the_breakdown(group_by):
    result = simulate("resnet18", STM32, precision="int8")
    groups = group_energy_j(result, group_by)
    for part, energy_j in result.energy_breakdown_j.items():
        assert sum(group[part] for group in groups.values()) == pytest.approx(energy_j)
    figure = energy_breakdown_chart(result, group_by=group_by)
    assert isinstance(figure, Figure) and len(figure.axes) == 1


@pytest.mark.parametrize("overrides", [{"dram.energy_per_byte_scale": 10},
                                       {"dram.energy_per_byte_pj": 10 * ORIN_DRAM_PJ_PER_BYTE}])
def test_energy_chart_of_an_overridden_result_shows_the_results_energy(overrides):
    result = simulate("resnet18", ORIN, overrides=overrides)
    dram_bytes = sum(layer.level_bytes["dram"] for layer in result.layers)
    expected_dram_j = dram_bytes * ORIN_DRAM_PJ_PER_BYTE * 10 * 1e-12  # the profile's pJ/byte, ten times
    assert result.energy_breakdown_j["dram"] == pytest.approx(expected_dram_j)

    ax = energy_breakdown_chart(result).axes[0]  # one bar: the network's totals
    heights = part_bars(ax)
    assert heights["dram"][0] * energy_scale(ax) == pytest.approx(expected_dram_j)
    for part, energy_j in result.energy_breakdown_j.items():
        assert heights[part][0] * energy_scale(ax) == pytest.approx(energy_j)

    figure = energy_breakdown_chart(result, group_by="kind")  # one bar per layer kind, from the layers
    ax = figure.axes[0]
    heights = part_bars(ax)
    kinds = [label.get_text() for label in ax.get_xticklabels()]
    for k, kind in enumerate(kinds):
        members = [layer for layer in result.layers if layer.kind == kind]
        kind_dram_j = sum(layer.level_bytes["dram"] for layer in members) * ORIN_DRAM_PJ_PER_BYTE * 10e-12
        assert heights["dram"][k] * energy_scale(ax) == pytest.approx(kind_dram_j)
        assert heights["compute"][k] * energy_scale(ax) == pytest.approx(
            sum(layer.compute_energy_j for layer in members))
    assert sum(heights["dram"]) * energy_scale(ax) == pytest.approx(expected_dram_j)
    assert next(iter(overrides)) in figure.axes[0].get_title()


@pytest.mark.parametrize("count", [1, 2, 3])
def test_energy_chart_title_fits_in_the_figure(count):
    results = [simulate(name, ORIN) for name in ("alexnet", "resnet18", "mobilenet_v2")[:count]]
    figure = energy_breakdown_chart(results)
    figure.draw_without_rendering()
    title = figure.get_suptitle()
    box = figure._suptitle.get_window_extent(figure.canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= figure.bbox.width and box.y1 <= figure.bbox.height
    assert " ".join(title.split()) == (f"Energy per inference on {ORIN} (fp16, batch 1): compute vs data "
                                       "movement, and static power")  # wrapped, nothing lost


def test_energy_grouping_names():
    assert block_of("layer1.0.conv1+layer1.0.bn1") == "layer1.0"
    assert block_of("features.3.conv.0.0") == "features.3"
    assert block_of("encoder.layers.encoder_layer_11.add_2") == "encoder.layers.encoder_layer_11"
    assert block_of("fc") == "fc"
    assert short_layer_name("conv1+bn1+relu") == "conv1"
    with pytest.raises(SimulatorError, match="unknown grouping 'stage'"):
        energy_breakdown_chart(["alexnet"], ORIN, group_by="stage")
    with pytest.raises(SimulatorError, match="simulated on"):
        energy_breakdown_chart(simulate("alexnet", ORIN), "h100-sxm")
    with pytest.raises(SimulatorError, match="need a device"):
        energy_breakdown_chart(["alexnet"])
    with pytest.raises(SimulatorError, match="several devices"):
        energy_breakdown_chart([simulate("alexnet", ORIN), simulate("alexnet", "h100-sxm")])


# --- per-layer latency and memory -------------------------------------------------------------

def test_layer_latency_bars_are_the_layers_coloured_by_bound():
    result = simulate("resnet18", ORIN)
    figure = layer_latency_chart(result)
    ax = figure.axes[0]
    scale = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}[re.search(r"\((\w+)\)", ax.get_ylabel()).group(1)]
    rectangles = bars(ax)
    working = [layer for layer in result.layers if layer.bound != "none"]
    assert len(rectangles) == len(working)
    assert sum(r.get_height() for r in rectangles) * scale == pytest.approx(result.latency_s)
    colours = {layer.bound: tuple(r.get_facecolor()) for layer, r in zip(working, rectangles, strict=True)}
    assert colours.keys() == {"compute", "memory"} and colours["compute"] != colours["memory"]


def test_memory_chart_limit_is_the_activation_store_and_bars_the_live_activations():
    figure = memory_chart(simulate("mobilenet_v2", STM32, precision="int8"))
    ax = figure.axes[0]
    scale = display_scale(ax.get_ylabel())
    # stm32f746.toml: sram capacity_kib = 320, the store of activations
    assert [y * scale for y in horizontal_lines(ax)] == pytest.approx([320 * KIB])
    heights_bytes = [r.get_height() * scale for r in bars(ax)]
    live = live_activations(inference_view(build_network("mobilenet_v2")))
    assert heights_bytes == pytest.approx([elements * 8 / 8 for elements in live])  # int8: 1 byte each
    peak = simulate("mobilenet_v2", STM32, precision="int8").memory[1]
    assert peak.holds == "peak activations" and max(heights_bytes) == pytest.approx(peak.required_bytes)
    assert "peak: features.2.conv.1.0" in texts(figure) and "4.6× sram" in texts(figure)


def test_memory_chart_with_a_shared_store_and_a_huge_one():
    # reference-45nm: 1 MiB on-chip sram below an 8 GiB dram that holds weights and activations
    ax = memory_chart(simulate("alexnet", "reference-45nm", precision="fp16")).axes[0]
    assert not horizontal_lines(ax)  # 8 GiB is thousands of times the peak: stated, not drawn
    assert "off the chart" in "".join(t.get_text() for t in ax.texts)
    figure = memory_chart("alexnet", "reference-45nm", batch=2000, precision="fp32")  # still simulates names
    lines = sorted(y * display_scale(figure.axes[0].get_ylabel()) for y in horizontal_lines(figure.axes[0]))
    weights_bytes = simulate("alexnet", "reference-45nm", precision="fp32").model_size_bytes  # params · 4
    assert lines == pytest.approx([8 * KIB**3 - weights_bytes, 8 * KIB**3])


def test_memory_chart_capacity_is_the_results_own_under_an_override():
    result = simulate("mobilenet_v2", STM32, precision="int8", overrides={"sram.capacity_scale": 2})
    ax = memory_chart(result).axes[0]
    # stm32f746.toml: sram capacity_kib = 320, doubled by the override
    assert [y * display_scale(ax.get_ylabel()) for y in horizontal_lines(ax)] == pytest.approx([640 * KIB])
    assert "sram.capacity_scale=2" in ax.figure.get_suptitle() and "2.3× sram" in texts(ax.figure)


def test_memory_chart_of_a_result_of_a_network_object():
    network = mobilenet_v2(resolution=96, width_mult=0.35)
    result = simulate(network, STM32, precision="int8")
    ax = memory_chart(result, network=network).axes[0]
    live = live_activations(inference_view(network))
    assert [r.get_height() * display_scale(ax.get_ylabel()) for r in bars(ax)] == pytest.approx(live)
    with pytest.raises(SimulatorError, match=r"cannot rebuild network 'mobilenet_v2_0\.35'"):
        memory_chart(result)
    small = simulate(mobilenet_v2(resolution=96), STM32, precision="int8")
    with pytest.raises(SimulatorError, match="not the one the result simulated"):
        memory_chart(small)  # rebuilt by name it has the 224-pixel input: refused, not charted wrong
    with pytest.raises(SimulatorError, match="carries its own configuration"):
        memory_chart(result, batch=4)
    with pytest.raises(SimulatorError, match="simulated on stm32f746"):
        memory_chart(result, ORIN, network=network)
    with pytest.raises(SimulatorError, match="needs a device"):
        memory_chart("alexnet")


# --- display units ----------------------------------------------------------------------------

def test_display_units():
    assert format_rate(204.8e9, "B/s") == "204.8 GB/s" and format_rate(85e12, "OPS") == "85 TOPS"
    assert format_rate(1.7280001e9, "B/s") == "1.728 GB/s"  # four significant figures at most
    assert si_scale(4.2e13) == (1e12, "T") and si_scale(0.5) == (1.0, "") and si_scale(3e20) == (1e15, "P")
    assert subunit_scale(4.2e-3) == (1e-3, "m") and subunit_scale(3e-5) == (1e-6, "µ")
    assert subunit_scale(20.0) == (1.0, "") and subunit_scale(1e-15) == (1e-12, "p")


# --- the CLI ----------------------------------------------------------------------------------

def check_png(path, width_in: float, height_in: float, dpi: int) -> None:
    image = imread(path)
    assert image.shape[:2] == (round(height_in * dpi), round(width_in * dpi))
    pixels = image[..., :3].reshape(-1, 3)
    background = np.all(pixels > 0.97, axis=1)
    assert background.mean() < 0.97  # more than axes on a white page
    assert len(np.unique(np.round(pixels * 255), axis=0)) > 8


MEMORY_LAYERS = len(inference_view(build_network("mobilenet_v2", 96)).nodes)


@pytest.mark.parametrize(("argv", "size_in"), [
    (["roofline", "alexnet", "--device", ORIN, "--precision", "int8,fp16"], (9, 6)),
    (["latency-throughput", "alexnet", "--device", ORIN, "--device", "h100-sxm", "--batches", "1,8"],
     (10, 6)),
    (["energy", "alexnet", "resnet18", "--device", STM32, "--precision", "int8"],
     (6.5, 1.5 + 3.6)),  # at least 6.5 in wide; 1.5 in + 3.6 in per panel high
    (["layers", "alexnet", "--device", ORIN, "--batch", "4"], (8, 5.5)),
    (["memory", "mobilenet_v2", "--device", STM32, "--precision", "int8", "--resolution", "96"],
     (2.5 + 0.14 * MEMORY_LAYERS + 1.9, 5.5)),  # 2.5 in + 0.14 in per layer (bar) + 1.9 in of Flash
])
def test_cli_writes_png_and_svg(tmp_path, capsys, argv, size_in):
    png = tmp_path / "chart.png"
    assert main(["plot", *argv, "-o", str(png), "--dpi", str(TEST_DPI)]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    width_in, height_in = size_in
    check_png(png, width_in, height_in, TEST_DPI)
    svg = tmp_path / "chart.SVG"
    assert main(["plot", *argv, "-o", str(svg)]) == 0
    assert "<svg" in svg.read_text(encoding="utf-8")


def test_cli_svg_keeps_text_as_text(tmp_path):
    svg = tmp_path / "chart.svg"
    assert main(["plot", "roofline", "alexnet", "--device", ORIN, "-o", str(svg)]) == 0
    content = svg.read_text(encoding="utf-8")
    assert "<text" in content and f"Roofline: alexnet on {ORIN}" in content  # searchable, not paths


def test_cli_energy_by_group(tmp_path):
    path = tmp_path / "energy.png"
    assert main(["plot", "energy", "resnet18", "--device", ORIN, "--group-by", "block", "-o", str(path),
                 "--dpi", str(TEST_DPI)]) == 0
    assert path.stat().st_size > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["roofline", "alexnet", "--device", ORIN, "-o", "chart.jpg"],
     "extension must be one of .png, .svg, .pdf"),
    (["roofline", "alexnet", "--device", ORIN, "-o", "chart"], "got 'none'"),
    (["layers", "alexnet", "vgg16", "--device", ORIN, "-o", "chart.png"], "takes one network, got 2"),
    (["memory", "alexnet", "--device", ORIN, "--device", STM32, "-o", "c.png"], "takes one device, got 2"),
    (["layers", "alexnet", "--device", ORIN, "--precision", "int8,fp16", "-o", "c.png"], "one precision"),
    (["roofline", "alexnet", "--device", ORIN, "--group-by", "kind", "-o", "c.png"], "--group-by applies"),
    (["layers", "alexnet", "--device", STM32, "--precision", "fp16", "-o", "c.png"], "no peak for precision"),
    (["roofline", "alexnet", "--device", "nowhere", "-o", "c.png"], "unknown device"),
    (["layers", "alexnet", "--device", ORIN, "--dpi", "100000", "-o", "c.png"], "dpi 100000 would make a"),
    (["energy", "alexnet", "--device", ORIN, "--dpi", "100000", "-o", "c.svg"], "use a dpi of"),
])
def test_cli_errors_exit_2_with_a_message(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing written


def test_cli_unknown_chart_kind_exits_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", "pie", "alexnet", "--device", ORIN, "-o", str(tmp_path / "c.png")])
    assert exit_info.value.code == 2
    assert "invalid choice: 'pie'" in capsys.readouterr().err


def test_cli_unwritable_output_exits_2(tmp_path, capsys):
    target = tmp_path / "missing" / "chart.png"
    assert main(["plot", "layers", "alexnet", "--device", ORIN, "-o", str(target), "--dpi", "10"]) == 2
    assert "cannot write" in capsys.readouterr().err
