"""Per-layer charts: latency coloured by bound, and live activation memory against the device's.

The memory chart follows MCUNet's figure of MobileNetV2's imbalanced activation memory (J. Lin,
W.-M. Chen, Y. Lin, J. Cohn, C. Gan, S. Han, "MCUNet: Tiny Deep Learning on IoT Devices",
NeurIPS 2020, Fig. 2): the first blocks need several times the memory of the rest, so the peak,
not the average, decides whether a network fits.

Both charts read the result: per-layer times and bounds, and for the memory chart the memory check
of the activation store (its capacity under the result's overrides) and the weights' size. A
result does not yet carry the activations alive at each layer, so the memory chart takes them from
the model's liveness analysis (:func:`simulator.model.counts.analyze`, ``.live``) of the graph the
result simulated, which it checks against the result's own counts; it never re-runs the engine.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simulator.catalog import resolve_network
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import analyze, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.plots._common import (
    BOUND_COLORS,
    config_label,
    layer_ticks,
    new_figure,
    results_device_name,
    short_layer_name,
    si_scale,
    subunit_scale,
)
from simulator.precision import bits_of, storage_bytes
from simulator.results import MemoryCheck, SimulationResult
from simulator.simulation import simulate
from simulator.units import format_bytes, format_seconds

_OVER_COLOR = "#d62728"
_UNDER_COLOR = "#4c72b0"
BYTES_PER_KIB = 1024


def _chart_width_in(layers: int) -> float:
    return min(24.0, max(8.0, 2.5 + 0.14 * layers))


def layer_latency_chart(result: SimulationResult) -> Figure:
    """Latency of each layer (execution order, layers that do work), coloured by its bound.

    A black dash on each bar marks the shorter of its two times (compute or memory): how far the
    layer is from the ridge. The legend gives each bound's share of the network's latency.
    """
    layers = [layer for layer in result.layers if layer.bound != "none"]
    scale, prefix = subunit_scale(max(layer.latency_s for layer in layers))
    figure = new_figure(_chart_width_in(len(layers)), 5.5)
    ax = figure.add_subplot()
    positions = np.arange(len(layers))
    ax.bar(positions, [layer.latency_s / scale for layer in layers], 0.8,
           color=[BOUND_COLORS[layer.bound] for layer in layers])
    ax.scatter(positions, [min(layer.t_compute_s, layer.t_memory_s) / scale for layer in layers], marker="_",
               color="black", s=30, linewidths=1.0, zorder=3)
    layer_ticks(ax, [layer.name for layer in layers])
    ax.set_ylabel(f"latency ({prefix}s)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    handles = []
    for bound in ("compute", "memory"):
        members = [layer for layer in layers if layer.bound == bound]
        share = sum(layer.latency_s for layer in members) / result.latency_s
        handles.append(Patch(color=BOUND_COLORS[bound],
                             label=f"{bound}-bound: {len(members)} layers, {share:.0%} of latency"))
    handles.append(Line2D([], [], marker="_", linestyle="", color="black", markersize=8,
                          label="the shorter time (compute or memory)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8)
    ax.set_title(f"Per-layer latency: {result.network} on {result.device}, {config_label(result)} "
                 f"(total {format_seconds(result.latency_s)})")
    return figure


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


def memory_chart(result: SimulationResult | Network | str, device: Device | str | None = None,
                 batch: int | None = None, precision: str | None = None, *, resolution: int | None = None,
                 fuse: bool | None = None, network: Network | None = None) -> Figure:
    """Activations alive at each layer (bytes) against the capacity of the device's activation store.

    ``result`` is a simulation result; the bars are :func:`live_activation_bytes` and the limit is
    the capacity of the result's activation memory check (overrides included). ``network`` is the
    Network the result was simulated from, needed only if it cannot be rebuilt by name. For
    backwards compatibility ``result`` may be a network (a name or a Network), simulated on
    ``device`` at ``batch`` (default 1) and ``precision`` (default fp16, or the device's first),
    ``resolution`` and ``fuse`` (default true). Bars over the capacity are red and the peak layer is
    marked. When weights share the activation store, a second line shows what the weights leave. A
    capacity far above the peak (a GPU's DRAM) is stated in a note rather than drawn, so the bars
    stay readable.
    """
    if isinstance(result, SimulationResult):
        given = {"batch": batch, "precision": precision, "resolution": resolution, "fuse": fuse}
        if any(value is not None for value in given.values()):
            named = ", ".join(f"{key}={value!r}" for key, value in given.items() if value is not None)
            raise SimulatorError(f"{named}: a simulation result carries its own configuration; simulate "
                                 "it at the configuration to chart")
        results_device_name([result], device)
    else:
        if device is None:
            raise SimulatorError(f"network {result!r} needs a device to simulate it on: pass device=..., "
                                 "or give a simulation result")
        if network is not None:
            raise SimulatorError("network= goes with a simulation result, not with a network to simulate")
        device = resolve_device(device)
        network = resolve_network(result, resolution, batch or 1)
        result = simulate(network, device, batch=batch or 1, precision=precision,
                          fuse=True if fuse is None else fuse)
    live_bytes = live_activation_bytes(result, network)
    names = [layer.name for layer in result.layers]
    check = activation_check(result)
    store, capacity = check.level, check.capacity_bytes
    peak_index = int(np.argmax(live_bytes))
    peak = float(live_bytes[peak_index])
    draw_limit = capacity <= 5 * peak
    scale, prefix = si_scale(max(peak, capacity) if draw_limit else peak)

    figure = new_figure(_chart_width_in(len(live_bytes)), 5.5)
    ax = figure.add_subplot()
    positions = np.arange(len(live_bytes))
    ax.bar(positions, live_bytes / scale, 0.8,
           color=[_OVER_COLOR if b > capacity else _UNDER_COLOR for b in live_bytes])
    layer_ticks(ax, names)
    ax.set_ylabel(f"activations alive ({prefix}B = 10^{round(np.log10(scale))} bytes)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    highest = max(peak, capacity if draw_limit else 0.0)
    ax.set_ylim(0, highest * 1.4 / scale)

    handles = []
    if (live_bytes <= capacity).any():
        handles.append(Patch(color=_UNDER_COLOR, label=f"fits in {store}"))
    if (live_bytes > capacity).any():
        handles.append(Patch(color=_OVER_COLOR, label=f"exceeds {store}"))
    weights_bytes = result.model_size_bytes
    if draw_limit:
        handles.append(ax.axhline(capacity / scale, color="black", linewidth=1.5,
                                  label=f"{store} capacity {format_capacity(capacity)}"))
        if "weights" in check.holds and capacity - weights_bytes > 0:
            handles.append(ax.axhline((capacity - weights_bytes) / scale, color="black", linestyle="--",
                                      linewidth=1.0,
                                      label=f"{store} left after {result.weight_precision} weights"))
    else:
        ax.text(0.99, 0.97, f"{store} capacity {format_capacity(capacity)}: {capacity / peak:,.0f}× the "
                "peak, off the chart", transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "grey"})
    ratio = f", {peak / capacity:.1f}× {store}" if peak > capacity else ""
    left_half = peak_index < len(live_bytes) / 2
    ax.annotate(f"peak: {short_layer_name(names[peak_index])}, {format_bytes(peak)}{ratio}",
                (peak_index, peak / scale),
                xytext=(peak_index + (2 if left_half else -2), highest * 1.22 / scale),
                ha="left" if left_half else "right", va="center", fontsize=8,
                arrowprops={"arrowstyle": "->", "color": "black"},
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "grey", "alpha": 0.9})
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8)
    shape = "×".join(str(d) for d in result.counts.input_shape)
    overrides = "".join(f", {key}={value:g}" for key, value in result.overrides.items())
    ax.set_title(f"Activation memory per layer: {result.network} (input {shape}) on {result.device}, "
                 f"{result.activation_precision} activations, batch {result.batch}{overrides}")
    return figure
