"""The per-layer latency chart, coloured by bound, readable for networks of a thousand layers.

A network of up to :data:`MAX_LAYER_BARS` layers gets one bar per layer in execution order. A
larger one (SegFormer-B5: 585 layers that do work) gets its :data:`DEFAULT_TOP` slowest layers and
a note of the others' summed latency; ``top=N`` asks for that at any size, and ``group_by="kind"``
or ``"block"`` sums the layers per kind or block (:data:`simulator.plots._common.GROUPINGS`). The
bars and the note add up to the result's latency. The chart reads the result's per-layer times and
bounds; it recomputes nothing.

The memory chart lives in :mod:`simulator.plots.memory` (its names are importable from here too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simulator.errors import SimulatorError
from simulator.plots._common import (
    BOUND_COLORS,
    GROUPINGS,
    chart_width_in,
    config_label,
    fit_suptitle,
    layer_ticks,
    new_figure,
    subunit_scale,
)
from simulator.plots.memory import (  # noqa: F401  (their former home)
    activation_check,
    format_capacity,
    live_activation_bytes,
    memory_chart,
)
from simulator.results import LayerResult, SimulationResult
from simulator.units import format_seconds

#: The most layers drawn one bar each; a larger network shows its slowest layers by default.
MAX_LAYER_BARS = 150
#: How many of the slowest layers (or groups) a large network shows when no ``top`` is given.
DEFAULT_TOP = 40


def _check_top(top: int | None) -> None:
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise SimulatorError(f"top must be an integer of at least 1 (the slowest layers to show), "
                             f"got {top!r}")


def layer_latency_chart(result: SimulationResult, top: int | None = None,
                        group_by: str | None = None) -> Figure:
    """Latency of each layer (execution order, layers that do work), coloured by its bound.

    A black dash on each bar marks the shorter of its two times (compute or memory): how far the
    layer is from the ridge. The legend gives each bound's share of the network's latency.

    ``top=N``: the ``N`` slowest layers, slowest first (ties in execution order); a note states the
    summed latency of the others. Without ``top`` a network of more than :data:`MAX_LAYER_BARS`
    layers shows its :data:`DEFAULT_TOP` slowest. ``group_by`` (``"kind"`` or ``"block"``): one bar
    per group, its compute-bound and memory-bound layers' latencies stacked (blocks in execution
    order, kinds slowest first); ``top`` then keeps the slowest groups (in that order).
    """
    if not isinstance(result, SimulationResult):
        raise SimulatorError(f"expected a SimulationResult (from simulate()), got {result!r}")
    _check_top(top)
    if group_by is not None and group_by not in GROUPINGS:
        raise SimulatorError(f"unknown grouping {group_by!r}; choose one of {', '.join(GROUPINGS)}")
    layers = [layer for layer in result.layers if layer.bound != "none"]
    scale, prefix = subunit_scale(max(layer.latency_s for layer in layers))
    # without a grouping each layer is its own group (keyed by position: names need not be unique)
    groups = (_groups(layers, group_by) if group_by is not None
              else {str(i): [layer] for i, layer in enumerate(layers)})
    if top is None and len(groups) > MAX_LAYER_BARS:
        top = DEFAULT_TOP
    names = list(groups)
    if top is not None and top < len(groups):
        slowest = sorted(names, key=lambda name: -_latency_s(groups[name]))[:top]  # stable: ties in order
        kept = set(slowest)
        names = slowest if group_by is None else [name for name in names if name in kept]
    figure = new_figure(chart_width_in(len(names)), 5.5)
    ax = figure.add_subplot()
    unit = "layer" if group_by is None else group_by
    if group_by is None:
        shown = [groups[name][0] for name in names]
        _draw_layers(ax, shown, scale)
        layer_ticks(ax, [layer.name for layer in shown])
        if len(names) < len(groups):
            ax.set_xlabel("layer, slowest first (a fused layer is named by its first part)")
    else:
        _draw_groups(ax, {name: groups[name] for name in names}, scale)
    what = f"per {unit}"
    if len(names) < len(groups):
        what = f"of the {len(names)} slowest of {len(groups)} {unit}s"
        rest = [layer for name in set(groups) - set(names) for layer in groups[name]]
        share = _latency_s(rest) / result.latency_s
        members = f" ({len(rest)} layers)" if group_by is not None else ""
        ax.text(0.99, 0.97, f"the other {len(groups) - len(names)} {unit}s{members}: "
                f"{format_seconds(_latency_s(rest))}, {share:.0%} of the latency",
                transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "grey"})
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the note
    ax.set_ylabel(f"latency ({prefix}s)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(handles=_legend(layers, result.latency_s, dashes=group_by is None), loc="upper left",
              bbox_to_anchor=(1.005, 1), fontsize=8)
    fit_suptitle(figure, f"Latency {what}: {result.network} on {result.device}, {config_label(result)} "
                 f"(total {format_seconds(result.latency_s)})")
    return figure


def _latency_s(layers: Sequence[LayerResult]) -> float:
    return sum(layer.latency_s for layer in layers)


def _draw_layers(ax: Axes, layers: Sequence[LayerResult], scale: float) -> None:
    """One bar per layer, coloured by its bound, with a dash at its shorter time."""
    positions = np.arange(len(layers))
    ax.bar(positions, [layer.latency_s / scale for layer in layers], 0.8,
           color=[BOUND_COLORS[layer.bound] for layer in layers])
    ax.scatter(positions, [min(layer.t_compute_s, layer.t_memory_s) / scale for layer in layers], marker="_",
               color="black", s=30, linewidths=1.0, zorder=3)


def _groups(layers: Sequence[LayerResult], group_by: str) -> dict[str, list[LayerResult]]:
    """Layers per group: blocks in execution order, kinds slowest first."""
    key = GROUPINGS[group_by]
    groups: dict[str, list[LayerResult]] = {}
    for layer in layers:
        groups.setdefault(key(layer.name, layer.kind), []).append(layer)
    if group_by == "kind":
        groups = dict(sorted(groups.items(), key=lambda item: -_latency_s(item[1])))
    return groups


def _draw_groups(ax: Axes, groups: dict[str, list[LayerResult]], scale: float) -> None:
    """Per group, the latencies of its compute-bound and its memory-bound layers, stacked."""
    positions = np.arange(len(groups))
    bottom = np.zeros(len(groups))
    for bound in _bounds([m for members in groups.values() for m in members]):
        heights = np.array([_latency_s([m for m in members if m.bound == bound])
                            for members in groups.values()])
        ax.bar(positions, heights / scale, 0.8, bottom=bottom, color=BOUND_COLORS[bound], label=bound)
        bottom += heights / scale
    ax.set_xticks(positions)
    ax.set_xticklabels([f"{name} ({len(members)})" for name, members in groups.items()], rotation=90,
                       fontsize=7)
    ax.set_xlim(-0.7, len(groups) - 0.3)
    ax.set_xlabel("group (its number of layers)")


def _bounds(layers: Sequence[LayerResult]) -> tuple[str, ...]:
    """The bounds drawn: compute and memory, and ``link`` (a tensor-parallel all-reduce whose link
    time exceeds its compute and memory times) when one of ``layers`` is link-bound."""
    linked = any(layer.bound == "link" for layer in layers)
    return ("compute", "memory", "link") if linked else ("compute", "memory")


def _legend(layers: Sequence[LayerResult], latency_s: float, dashes: bool) -> list:
    handles: list = []
    for bound in _bounds(layers):
        members = [layer for layer in layers if layer.bound == bound]
        handles.append(Patch(color=BOUND_COLORS[bound], label=f"{bound}-bound: {len(members)} layers, "
                             f"{_latency_s(members) / latency_s:.0%} of latency"))
    if dashes:
        handles.append(Line2D([], [], marker="_", linestyle="", color="black", markersize=8,
                              label="the shorter time (compute or memory)"))
    return handles
