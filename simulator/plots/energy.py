"""Energy per inference split into arithmetic, data movement at each memory level, and static power.

The parts are the result's own (computed by :mod:`simulator.engine.energy`, with the result's
overrides): compute ``MACs · E_MAC + element-wise ops · E_add``, per memory level ``bytes at the
level · energy per byte``, and static ``P_static · latency`` (the device's idle power over the time
the layers run); the chart reads ``SimulationResult.energy_breakdown_j`` and each layer's
``energy_j``, ``compute_energy_j`` and ``level_energy_j``, never the device's figures. Moving data costs
far more than computing on it (a 32-bit DRAM read is about 640 pJ against 3.7 pJ for a 32-bit float
multiply in 45 nm: M. Horowitz, ISSCC 2014), so data movement dominates most bars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.graph import Network
from simulator.plots._common import (
    GROUPINGS,
    config_label,
    fit_suptitle,
    format_number,
    new_figure,
    results_device_name,
    subunit_scale,
)
from simulator.results import STATIC_PART, SimulationResult
from simulator.simulation import simulate

COMPUTE_COLOR = "#2ca02c"
STATIC_COLOR = "#9e9e9e"

Grouping = str | Callable[[str, str], str]
_LEGEND = {"compute": "compute (arithmetic)", STATIC_PART: "static (idle power × time)"}


def level_colors(level_names: Iterable[str]) -> dict[str, tuple[float, ...]]:
    """Reds for the memory levels (outermost first), darkest for the outermost (most expensive) one."""
    names = list(level_names)
    shades = np.linspace(0.85, 0.3, len(names)) if len(names) > 1 else [0.7]
    return {name: colormaps["OrRd"](shade) for name, shade in zip(names, shades, strict=True)}


def group_energy_j(result: SimulationResult, group_by: Grouping) -> dict[str, dict[str, float]]:
    """Energy of ``result``'s layers summed per group: ``{group: {"compute": J, <level>: J, "static": J}}``.

    Each part is the layer's own ``compute_energy_j`` or ``level_energy_j[level]``, as simulated
    (overrides included); ``static`` is the rest of the layer's ``energy_j`` (static power × its
    latency), present only when the result has static energy. Groups appear in the order of their
    first layer.
    """
    key = GROUPINGS.get(group_by) if isinstance(group_by, str) else group_by
    if key is None:
        raise SimulatorError(f"unknown grouping {group_by!r}; valid: {', '.join(GROUPINGS)} or a function "
                             "of (layer name, layer kind)")
    groups: dict[str, dict[str, float]] = {}
    for layer in result.layers:
        parts = {"compute": layer.compute_energy_j,
                 **{level: layer.level_energy_j[level] for level in result.level_names}}
        if result.static_energy_j > 0:
            parts[STATIC_PART] = layer.energy_j - sum(parts.values())
        group = groups.setdefault(key(layer.name, layer.kind), dict.fromkeys(parts, 0.0))
        for part, energy_j in parts.items():
            group[part] += energy_j
    return groups


def _results(items: SimulationResult | Iterable[SimulationResult | Network | str],
             device: Device | str | None, batch: int, precision: str | None,
             resolution: int | None) -> list[SimulationResult]:
    if isinstance(items, SimulationResult | Network | str):
        items = [items]
    items = list(items)
    if not items:
        raise SimulatorError("no network to chart: give at least one network or simulation result")
    if device is None and not all(isinstance(item, SimulationResult) for item in items):
        raise SimulatorError("networks given by name or as Network need a device to simulate them on: "
                             "pass device=..., or give simulation results")
    if device is not None:
        device = resolve_device(device)
    results = [item if isinstance(item, SimulationResult) else
               simulate(item, device, batch=batch, precision=precision,
                        resolution=resolution) for item in items]
    results_device_name(results, device)
    return results


def energy_breakdown_chart(items: SimulationResult | Iterable[SimulationResult | Network | str],
                           device: Device | str | None = None, *, group_by: Grouping | None = None,
                           batch: int = 1, precision: str | None = None,
                           resolution: int | None = None) -> Figure:
    """Stacked bars of energy per inference (per sample): static power, compute and each memory level.

    ``items`` are simulation results (of one device) or networks (names or :class:`Network`) to
    simulate on ``device`` at ``batch`` and ``precision`` (default fp16, or the device's first);
    ``device`` is needed only for those, and must be the results' device if given with results.
    The bars are the results' own energies (``energy_breakdown_j``; per layer
    ``compute_energy_j`` and ``level_energy_j``), overrides included. Without ``group_by``: one
    bar per network. With ``group_by`` (``"kind"``, ``"block"`` or a function of a layer's name
    and kind): one panel per network, one bar per layer group. Each bar is annotated with the
    share of data movement.
    """
    results = _results(items, device, batch, precision, resolution)
    device_name = results[0].device
    settings = {config_label(r) for r in results}
    if group_by is None:
        names = [(r.network if len(settings) == 1 else f"{r.network}\n{config_label(r)}")
                 + ("" if r.fits else "\n(does not fit)") for r in results]
        panels = [("", dict(zip(names, (r.energy_breakdown_j for r in results), strict=True)),
                   dict(zip(names, (r.batch for r in results), strict=True)))]
    else:
        panels = []
        for r in results:
            groups = {name: parts for name, parts in group_energy_j(r, group_by).items()
                      if sum(parts.values()) > 0}  # views (flatten, reshape) move nothing
            panels.append((f"{r.network} ({config_label(r)})", groups,
                           dict.fromkeys(groups, r.batch)))
    largest_j = max(sum(parts.values()) / batches[name]
                    for _, groups, batches in panels for name, parts in groups.items())
    scale, prefix = subunit_scale(largest_j)
    bars = max(len(panel[1]) for panel in panels)
    width_in = min(16.0, max(7.0, 3.0 + 0.45 * bars)) if group_by else max(6.5, 3.0 + 1.2 * bars)
    figure = new_figure(width_in, 1.5 + 3.6 * len(panels))
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    static = any(r.static_energy_j > 0 for r in results)
    colors = {**({STATIC_PART: STATIC_COLOR} if static else {}), "compute": COMPUTE_COLOR,
              **level_colors(results[0].level_names)}
    for ax, (title, groups, batches) in zip(axes, panels, strict=True):
        _stacked_bars(ax, groups, batches, colors, (scale, prefix), grouped=group_by is not None)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(f"energy per inference ({prefix}J)")
    grouping = "" if group_by is None else f" by layer {group_by if isinstance(group_by, str) else 'group'}"
    setting = f" ({settings.pop()})" if len(settings) == 1 and group_by is None else ""
    fit_suptitle(figure, f"Energy per inference on {device_name}{setting}{grouping}: "
                         "compute vs data movement" + (", and static power" if static else ""))
    handles = [axes[0].containers[i] for i in reversed(range(len(colors)))]
    labels = [_LEGEND.get(name, f"{name} (data movement)") for name in reversed(colors)]
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    return figure


def _stacked_bars(ax: Axes, groups: dict[str, dict[str, float]], batches: dict[str, int],
                  colors: dict[str, object], unit: tuple[float, str], grouped: bool) -> None:
    """One stacked bar per group, parts in the order of ``colors`` from the bottom, with the share of
    data movement on top (and the total, for a few ungrouped bars)."""
    scale, prefix = unit
    names = list(groups)
    positions = np.arange(len(names))
    bottom = np.zeros(len(names))
    for part, color in colors.items():
        values = np.array([groups[n].get(part, 0.0) / batches[n] for n in names]) / scale
        ax.bar(positions, values, 0.7, bottom=bottom, color=color, edgecolor="white", linewidth=0.4,
               label=part)
        bottom += values
    crowded = len(names) > 12
    for x, name in zip(positions, names, strict=True):
        total = sum(groups[name].values())
        moved = total - groups[name].get("compute", 0.0) - groups[name].get(STATIC_PART, 0.0)
        share = moved / total if total > 0 else 0.0
        text = (f"{share:.0%}" if grouped
                else f"{format_number(bottom[x])} {prefix}J\n{share:.0%} data movement")
        ax.annotate(text, (x, bottom[x]), xytext=(0, 2), textcoords="offset points", ha="center",
                    va="bottom", fontsize=6 if crowded else 7, rotation=90 if crowded else 0)
    ax.set_xticks(positions)
    if grouped:
        ax.set_xticklabels(names, rotation=90 if crowded else 40, ha="center" if crowded else "right",
                           rotation_mode="default" if crowded else "anchor", fontsize=7)
        ax.text(0.005, 0.98, "% on bars: share of data movement", transform=ax.transAxes, fontsize=7,
                va="top", color="#444444")
    else:
        ax.set_xticklabels(names, fontsize=8)
    ax.set_ylim(0, bottom.max() * (1.25 if grouped else 1.18))
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
