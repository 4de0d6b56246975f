"""The memory chart: live activations per layer against the device's activation memory, and the
weights against the store that holds them when that is another level (an MCU's Flash).

The chart follows MCUNet's figure of MobileNetV2's imbalanced activation memory (J. Lin, W.-M.
Chen, Y. Lin, J. Cohn, C. Gan, S. Han, "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020,
Fig. 2): the first blocks need several times the memory of the rest, so the peak, not the
average, decides whether a network fits. On a microcontroller the weights live in Flash and the
activations in SRAM; both must fit, so both are drawn (MCUNet, Fig. 1: "SRAM" and "Flash").

The chart reads the result: the memory checks of its levels (capacities under the result's
overrides) and the weights' size. A result does not carry the activations alive at each layer, so
the chart takes them from the model's liveness analysis (:func:`simulator.model.counts.analyze`,
``.live``) of the graph the result simulated, which it checks against the result's own counts; it
never re-runs the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simulator.catalog import resolve_network
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import analyze, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.plots._common import (
    chart_width_in,
    fit_suptitle,
    layer_ticks,
    new_figure,
    results_device_name,
    short_layer_name,
    si_scale,
)
from simulator.precision import bits_of, storage_bytes
from simulator.results import MemoryCheck, SimulationResult
from simulator.simulation import simulate
from simulator.units import format_bytes

_OVER_COLOR = "#d62728"
_UNDER_COLOR = "#4c72b0"
_WEIGHT_COLOR = "#8c6d31"
BYTES_PER_KIB = 1024
#: Above this many layers the activations are drawn as one filled step outline instead of one bar
#: per layer: a thousand 0.02-inch bars are unreadable, and each would be a separate artist.
MAX_MEMORY_BARS = 200
#: Width of the panel of the weight store (an MCU's Flash), in inches.
WEIGHT_PANEL_IN = 1.9


def format_capacity(capacity_bytes: int) -> str:
    """``327_680 -> "328 kB (320 KiB)"``: decimal as elsewhere, binary as vendors quote SRAM."""
    text = format_bytes(capacity_bytes)
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if capacity_bytes >= BYTES_PER_KIB**power and capacity_bytes % BYTES_PER_KIB**power == 0:
            return f"{text} ({capacity_bytes // BYTES_PER_KIB**power} {unit})"
    return text


def live_activation_bytes(result: SimulationResult, network: Network | None = None) -> np.ndarray:
    """Bytes of activations alive while each layer of ``result`` runs: ``ceil(live elements · batch ·
    activation bits / 8)``, the rule of the result's peak-activation memory check.

    ``live`` comes from :func:`simulator.model.counts.analyze` on the graph ``result`` simulated
    (the inference view of ``network`` if the result is fused); ``network`` is rebuilt from the
    result's name and resolution unless given. The graph must give the result's own counts.
    """
    if network is None:
        try:
            network = resolve_network(result.network, result.resolution, result.batch)
        except SimulatorError as error:
            raise SimulatorError(f"cannot rebuild network {result.network!r} of the result ({error}); pass "
                                 "network=<the Network it was simulated from>") from None
    graph = simulated_graph(network, result.fused)
    if count_network(graph, result.batch) != result.counts:
        raise SimulatorError(f"network {network.name!r} is not the one the result simulated (its layers or "
                             "shapes differ); pass network=<the Network it was simulated from>")
    live = np.array(analyze(graph).live, dtype=float)
    return storage_bytes(live * result.batch, bits_of(result.activation_precision))


def activation_check(result: SimulationResult) -> MemoryCheck:
    """The result's memory check of the level that holds the activations."""
    return next(check for check in result.memory if "activations" in check.holds)


def weight_check(result: SimulationResult) -> MemoryCheck | None:
    """The result's memory check of a level that holds the weights alone (an MCU's Flash); None when
    the weights share the activations' level (a GPU's DRAM)."""
    return next((check for check in result.memory if check.holds == "weights"), None)


def _as_result(result, device, batch, precision, resolution, fuse, network):
    """``(result, network)``: a result as given, or a network simulated (backwards compatibility)."""
    if isinstance(result, SimulationResult):
        given = {"batch": batch, "precision": precision, "resolution": resolution, "fuse": fuse}
        if any(value is not None for value in given.values()):
            named = ", ".join(f"{key}={value!r}" for key, value in given.items() if value is not None)
            raise SimulatorError(f"{named}: a simulation result carries its own configuration; simulate "
                                 "it at the configuration to chart")
        results_device_name([result], device)
        return result, network
    if not isinstance(result, Network | str | Path):
        raise SimulatorError(f"expected a SimulationResult (from simulate()), a Network or a network name, "
                             f"got {result!r}")
    if device is None:
        raise SimulatorError(f"network {result!r} needs a device to simulate it on: pass device=..., "
                             "or give a simulation result")
    if network is not None:
        raise SimulatorError("network= goes with a simulation result, not with a network to simulate")
    device = resolve_device(device)
    network = resolve_network(result, resolution, batch or 1)
    return simulate(network, device, batch=batch or 1, precision=precision,
                    fuse=True if fuse is None else fuse), network


def memory_chart(result: SimulationResult | Network | str, device: Device | str | None = None,
                 batch: int | None = None, precision: str | None = None, *, resolution: int | None = None,
                 fuse: bool | None = None, network: Network | None = None) -> Figure:
    """Activations alive at each layer (bytes) against the capacity of the device's activation store,
    and, where the weights live in a store of their own (an MCU's Flash), a second panel with the
    weights against that store's capacity.

    ``result`` is a simulation result; the bars are :func:`live_activation_bytes` and the limit is
    the capacity of the result's activation memory check (overrides included); the weight panel
    shows the required and available bytes of the result's weight check. ``network`` is the
    Network the result was simulated from, needed only if it cannot be rebuilt by name. For
    backwards compatibility ``result`` may be a network (a name or a Network), simulated on
    ``device`` at ``batch`` (default 1) and ``precision`` (default fp16, or the device's first),
    ``resolution`` and ``fuse`` (default true). Bars over the capacity are red and the peak layer is
    marked. When weights share the activation store, a second line shows what the weights leave. A
    capacity far above the peak (a GPU's DRAM) is stated in a note rather than drawn, so the bars
    stay readable. Over :data:`MAX_MEMORY_BARS` layers the activations are one filled outline.
    """
    result, network = _as_result(result, device, batch, precision, resolution, fuse, network)
    live_bytes = live_activation_bytes(result, network)
    weights = weight_check(result)
    width_in = chart_width_in(len(live_bytes)) + (WEIGHT_PANEL_IN if weights is not None else 0.0)
    figure = new_figure(width_in, 5.5)
    if weights is None:
        ax = figure.add_subplot()
    else:
        grid = figure.add_gridspec(1, 2, width_ratios=(width_in - WEIGHT_PANEL_IN, WEIGHT_PANEL_IN * 0.6))
        ax = figure.add_subplot(grid[0])
        _weight_panel(figure.add_subplot(grid[1]), weights, result)
    _activation_panel(ax, live_bytes, [layer.name for layer in result.layers], result)
    shape = "×".join(str(d) for d in result.counts.input_shape)
    overrides = "".join(f", {key}={value:g}" for key, value in result.overrides.items())
    fit_suptitle(figure, f"Memory per layer: {result.network} (input {shape}) on {result.device}, "
                 f"{result.activation_precision} activations, batch {result.batch}{overrides}")
    return figure


def _activation_panel(ax: Axes, live_bytes: np.ndarray, names: list[str], result: SimulationResult) -> None:
    check = activation_check(result)
    store, capacity = check.level, check.capacity_bytes
    peak_index = int(np.argmax(live_bytes))
    peak = float(live_bytes[peak_index])
    draw_limit = capacity <= 5 * peak
    scale, prefix = si_scale(max(peak, capacity) if draw_limit else peak)
    positions = np.arange(len(live_bytes))
    over = live_bytes > capacity
    if len(live_bytes) <= MAX_MEMORY_BARS:
        ax.bar(positions, live_bytes / scale, 0.8, color=[_OVER_COLOR if o else _UNDER_COLOR for o in over])
    else:
        ax.fill_between(positions, live_bytes / scale, step="mid", color=_UNDER_COLOR, linewidth=0)
        if over.any():
            ax.fill_between(positions, live_bytes / scale, where=over, step="mid", color=_OVER_COLOR,
                            linewidth=0)
    layer_ticks(ax, names)
    ax.set_ylabel(f"activations alive ({prefix}B = 10^{round(np.log10(scale))} bytes)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    highest = max(peak, capacity if draw_limit else 0.0)
    ax.set_ylim(0, highest * 1.4 / scale)

    handles = []
    if (~over).any():
        handles.append(Patch(color=_UNDER_COLOR, label=f"fits in {store}"))
    if over.any():
        handles.append(Patch(color=_OVER_COLOR, label=f"exceeds {store}"))
    if draw_limit:
        handles.append(ax.axhline(capacity / scale, color="black", linewidth=1.5,
                                  label=f"{store} capacity {format_capacity(capacity)}"))
        if "weights" in check.holds and capacity - result.model_size_bytes > 0:
            handles.append(ax.axhline((capacity - result.model_size_bytes) / scale, color="black",
                                      linestyle="--", linewidth=1.0,
                                      label=f"{store} left after {result.weight_precision} weights"))
    else:
        ax.text(0.99, 0.97, f"{store} capacity {format_capacity(capacity)}: {capacity / peak:,.0f}× the "
                "peak, off the chart", transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "grey"})
    ratio = f", {peak / capacity:.1f}× {store}" if peak > capacity else ""
    left_half = peak_index < len(live_bytes) / 2
    reach = max(2, len(live_bytes) // 50)
    ax.annotate(f"peak: {short_layer_name(names[peak_index])}, {format_bytes(peak)}{ratio}",
                (peak_index, peak / scale),
                xytext=(peak_index + (reach if left_half else -reach), highest * 1.22 / scale),
                ha="left" if left_half else "right", va="center", fontsize=8,
                arrowprops={"arrowstyle": "->", "color": "black"},
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "grey", "alpha": 0.9})
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8)
    ax.set_title(f"activations in {store}", fontsize=10)


def _weight_panel(ax: Axes, check: MemoryCheck, result: SimulationResult) -> None:
    """One bar, the weights' bytes, against the capacity of the level that holds them."""
    required, capacity = check.required_bytes, check.capacity_bytes
    scale, prefix = si_scale(max(required, capacity))
    ax.bar([0], [required / scale], 0.6, color=_OVER_COLOR if required > capacity else _WEIGHT_COLOR)
    ax.axhline(capacity / scale, color="black", linewidth=1.5)
    ax.set_xlim(-0.6, 0.6)
    ax.set_ylim(0, max(required, capacity) * 1.4 / scale)
    ax.set_xticks([0])
    ax.set_xticklabels([f"{result.weight_precision}\nweights"], fontsize=8)
    ax.set_ylabel(f"weights ({prefix}B = 10^{round(np.log10(scale))} bytes)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    label_box = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
    ax.text(0, capacity / scale, f"{check.level} capacity\n{format_capacity(capacity)}", ha="center",
            va="bottom", fontsize=7, bbox=label_box)
    inside = required >= 0.2 * max(required, capacity)  # room for the text inside the bar
    middle = (required + capacity) / 2 if required > capacity else required / 2  # clear of the capacity label
    ax.text(0, middle / scale if inside else required / scale,
            f"{format_bytes(required)}\n{required / capacity:.0%} of\n{check.level}", ha="center",
            va="center" if inside else "bottom", fontsize=7, color="white" if inside else "black")
    ax.set_title(f"weights\nin {check.level}", fontsize=10)
