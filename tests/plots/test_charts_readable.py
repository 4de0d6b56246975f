"""Charts a user can read: the memory chart shows the weight store (an MCU's Flash) beside the
activation store, titles stay inside the figure, `roofline plot -o chart.pdf` writes a PDF, and
the layer chart of a thousand-layer network draws a bounded number of bars.

Expected values come from data sheets and published parameter counts, not from the charts' code.
"""

from __future__ import annotations

import re

import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from simulator.cli import main
from simulator.plots import layer_latency_chart, memory_chart
from simulator.plots.layers import DEFAULT_TOP
from simulator.plots.memory import MAX_MEMORY_BARS
from simulator.simulation import simulate

STM32 = "stm32f746"
ORIN = "jetson-agx-orin"
#: torchvision's MobileNetV2 (weights MobileNet_V2_Weights.IMAGENET1K_V1: "num_params": 3504872)
MOBILENET_V2_PARAMS = 3_504_872
#: STM32F746 data sheet DS10916: "up to 1 Mbyte of Flash memory", 0x0800 0000 to 0x080F FFFF
STM32F746_FLASH_BYTES = 2**20
#: DS10916: 320 Kbytes of SRAM (DTCM 64 + SRAM1 240 + SRAM2 16 KB)
STM32F746_SRAM_BYTES = 320 * 1024
TEST_DPI = 40  # at least the lowest dpi a chart is saved at (36)


def bars(ax) -> list[Rectangle]:
    return [patch for patch in ax.patches if isinstance(patch, Rectangle)]


def display_scale(label: str) -> float:
    """The power of ten an axis label states, e.g. ``(MB = 10^6 bytes)`` -> 1e6."""
    return 10.0 ** int(re.search(r"10\^(-?\d+)", label).group(1))


def time_scale(label: str) -> float:
    return {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}[re.search(r"\((\w+)\)", label).group(1)]


def horizontal_lines(ax) -> list[float]:
    return [line.get_ydata()[0] for line in ax.lines if len(set(line.get_ydata())) == 1]


def texts_outside(figure: Figure) -> list[str]:
    """Titles and texts whose drawn box leaves the figure (clipped in the saved file)."""
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    page = figure.bbox.padded(1)
    candidates = [figure._suptitle] if figure._suptitle is not None else []
    for ax in figure.axes:
        candidates += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
    outside = []
    for text in candidates:
        if text.get_text():
            box = text.get_window_extent(renderer)
            if box.x0 < page.x0 or box.x1 > page.x1 or box.y0 < page.y0 or box.y1 > page.y1:
                outside.append(text.get_text())
    return outside


def test_the_memory_chart_of_an_mcu_shows_the_weights_against_the_flash():
    figure = memory_chart(simulate("mobilenet_v2", STM32, precision="int8"))
    activations, weights = figure.axes[:2]
    scale = display_scale(weights.get_ylabel())
    # int8 weights: one byte per parameter; torchvision's count (BatchNorm folded into the convolutions)
    assert [bar.get_height() * scale for bar in bars(weights)] == pytest.approx([MOBILENET_V2_PARAMS])
    assert [y * scale for y in horizontal_lines(weights)] == pytest.approx([STM32F746_FLASH_BYTES])
    assert "flash" in weights.get_title()
    # the activations' panel keeps its SRAM limit
    sram = [y * display_scale(activations.get_ylabel()) for y in horizontal_lines(activations)]
    assert sram == pytest.approx([STM32F746_SRAM_BYTES])
    # 3.5 MB of weights in 1 MiB of Flash: the bar says it does not fit (red, as bars over SRAM)
    over_sram = next(bar for bar in bars(activations) if bar.get_height() * display_scale(
        activations.get_ylabel()) > STM32F746_SRAM_BYTES)
    assert bars(weights)[0].get_facecolor() == over_sram.get_facecolor()
    notes = " ".join(text.get_text() for text in weights.texts)
    assert f"{MOBILENET_V2_PARAMS / STM32F746_FLASH_BYTES:.0%} of" in notes  # 334%


def test_a_device_whose_dram_holds_weights_and_activations_has_one_panel():
    assert len(memory_chart(simulate("mobilenet_v2", ORIN)).axes) == 1


@pytest.mark.parametrize("chart", ["memory", "layers"])
@pytest.mark.parametrize("network", ["mobilenet_v2", "mcunet_in1"])
def test_titles_and_labels_stay_inside_the_figure(chart, network):
    result = simulate(network, STM32, precision="int8", overrides={"sram.capacity_scale": 2.0,
                                                                  "flash.bandwidth_scale": 0.5})
    figure = memory_chart(result) if chart == "memory" else layer_latency_chart(result)
    assert texts_outside(figure) == []


@pytest.mark.parametrize("suffix", [".pdf", ".PDF"])
def test_the_cli_writes_a_pdf(tmp_path, capsys, suffix):
    path = tmp_path / f"chart{suffix}"
    assert main(["plot", "memory", "mobilenet_v2", "--device", STM32, "--precision", "int8",
                 "--resolution", "96", "-o", str(path)]) == 0
    assert path.read_bytes().startswith(b"%PDF-")
    assert f"wrote {path}" in capsys.readouterr().out


@pytest.fixture(scope="module")
def segformer():
    # SegFormer-B5 has over a thousand layers at any input size; 256 pixels keeps the test fast
    return simulate("segformer_b5", "h100-sxm", resolution=256)


def test_the_layer_chart_of_segformer_b5_draws_its_slowest_layers_only(segformer):
    working = [layer for layer in segformer.layers if layer.bound != "none"]
    assert len(working) > 500
    ax = layer_latency_chart(segformer).axes[0]
    heights_s = [bar.get_height() * time_scale(ax.get_ylabel()) for bar in bars(ax)]
    assert len(heights_s) == DEFAULT_TOP
    slowest_s = sorted((layer.latency_s for layer in working), reverse=True)
    assert heights_s == pytest.approx(slowest_s[:DEFAULT_TOP])
    # the note names the rest: the network's latency less the bars drawn
    note = next(t.get_text() for t in ax.texts if t.get_text().startswith("the other"))
    assert f"the other {len(working) - DEFAULT_TOP} layers" in note
    assert f"{1 - sum(slowest_s[:DEFAULT_TOP]) / segformer.latency_s:.0%} of the latency" in note


def test_the_memory_chart_of_segformer_b5_is_one_outline_not_a_thousand_bars(segformer):
    assert len(segformer.layers) > MAX_MEMORY_BARS
    ax = memory_chart(segformer).axes[0]
    assert len(bars(ax)) == 0 and len(ax.collections) >= 1


@pytest.mark.parametrize(("group_by", "groups"), [
    # SegFormer-B5: an encoder of four stages (block.0 to block.3), a decoder of four linear
    # projections (linear_c.0 to .3) and the fuse/classifier layers under decode_head
    ("block", 4 + 4 + 1),
    ("kind", None),
])
def test_grouped_layer_bars_add_up_to_the_latency(segformer, group_by, groups):
    ax = layer_latency_chart(segformer, group_by=group_by).axes[0]
    working = [layer for layer in segformer.layers if layer.bound != "none"]
    groups = groups or len({layer.kind for layer in working})
    # stacked: a compute-bound and a memory-bound bar per group
    assert len(bars(ax)) == 2 * groups and len(ax.get_xticklabels()) == groups
    total_s = sum(bar.get_height() for bar in bars(ax)) * time_scale(ax.get_ylabel())
    assert total_s == pytest.approx(segformer.latency_s)


def test_top_and_its_errors_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "layers.png"
    assert main(["plot", "layers", "resnet18", "--device", ORIN, "--top", "5", "-o", str(path),
                 "--dpi", str(TEST_DPI)]) == 0
    assert path.read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()
    assert main(["plot", "roofline", "resnet18", "--device", ORIN, "--top", "5", "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--top applies to the layers chart only" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", "layers", "resnet18", "--device", ORIN, "--top", "0", "-o", str(path)])
    assert exit_info.value.code == 2
    figure = layer_latency_chart(simulate("resnet18", ORIN), top=5)
    assert len(bars(figure.axes[0])) == 5


def test_the_energy_chart_stacks_the_static_energy_with_the_dynamic_parts():
    from simulator.hardware.loader import resolve_device
    from simulator.plots import energy_breakdown_chart

    result = simulate("resnet18", ORIN)
    ax = energy_breakdown_chart(result).axes[0]
    scale = {"J": 1.0, "mJ": 1e-3, "µJ": 1e-6}[re.search(r"\((\S+)\)", ax.get_ylabel()).group(1)]
    heights = {container.get_label(): container[0].get_height() * scale for container in ax.containers}
    # static energy = the profile's static (idle) power × the time the inference takes
    assert heights["static"] == pytest.approx(resolve_device(ORIN).static_power_w * result.latency_s)
    assert sum(heights.values()) == pytest.approx(result.energy_j)  # static + compute + every level
    assert "static power" in ax.figure.get_suptitle()


@pytest.mark.parametrize(("argv", "message"), [
    (["llm-throughput", "llama_3_8b", "--top", "3"], "--top applies to the layers chart only"),
    (["llm-memory", "llama_3_8b", "--group-by", "kind"], "--group-by applies to the energy and layers"),
])
def test_layer_options_on_an_llm_chart_are_refused_not_ignored(tmp_path, capsys, argv, message):
    path = tmp_path / "chart.png"
    assert main(["plot", *argv, "--device", "h100-sxm", "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not path.exists()
