"""The roofline chart: a device's compute roofs and bandwidth slopes, with a network's layers on them.

Attainable performance at arithmetic intensity ``I`` (ops/byte) is ``min(peak_ops_per_s, I ·
bandwidth_bytes_per_s)`` (S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful
visual performance model for multicore architectures", CACM 52(4), 2009). The simulator's memory
hierarchy gives one slope per memory level that bounds time (a hierarchical roofline); the
operand level (register file) is not drawn, as the simulator does not let it bound a layer.

The roofs are the device's figures under the results' own configuration (their overrides, applied
by :func:`simulator.engine.configs.hardware_arrays`, the engine's one home for them). Each layer is
drawn at ``(intensity, ops / latency)``. By default its intensity is counted at its *binding*
level as the result gives it (``LayerResult.binding``; for a compute-bound layer, the level whose
traffic takes longest in ``LayerResult.level_time_s``), ``ops / bytes at that level``: then a
memory-bound layer sits on that level's slope and a compute-bound one under the compute roof,
and no point can rise above the roof it is bound by. ``intensity="total"`` uses the simulator's
``arithmetic_intensity`` (ops over all weight and activation bytes, as if all came from the
outermost level), and a level name counts intensity at that level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Annotation

from simulator.engine.configs import HardwareArrays, hardware_arrays, override_arrays, parse_overrides
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.plots._common import (
    as_results,
    config_label,
    format_number,
    format_rate,
    kind_colors,
    line_angle_deg,
    marker_boxes,
    new_figure,
    place_labels,
    results_device,
    short_layer_name,
    si_scale,
)
from simulator.results import LayerResult, SimulationResult

_RESULT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
_LEVEL_STYLES = ("-", "--", "-.", ":")
_ROOF_COLOR = "#333333"


@dataclass(frozen=True)
class Level:
    """A memory level's slope on the chart: its name and bandwidth under the results' overrides."""

    name: str
    bandwidth_bytes_per_s: float


def roof_figures(results: Sequence[SimulationResult], device: Device,
                 precisions: Sequence[str]) -> tuple[dict[str, float], tuple[Level, ...]]:
    """``({precision: peak ops/s}, timed levels)`` of ``device`` under the results' overrides.

    The timed levels are those whose bandwidth can bound a layer: all but the operand level (a
    register file), as :class:`simulator.engine.configs.HardwareArrays` defines it. All results
    must share their overrides, as the chart draws one set of roofs.
    """
    configs = {tuple(sorted(r.overrides.items())) for r in results}
    if len(configs) > 1:
        raise SimulatorError("results with different overrides have different roofs; chart them apart: "
                             + "; ".join(", ".join(f"{k}={v:g}" for k, v in c) or "none" for c in configs))
    parsed = parse_overrides(results[0].overrides)
    hardware = hardware_arrays(device, precisions, override_arrays(
        device, parsed, precisions, [np.full(len(precisions), o.values[0]) for o in parsed]))
    peaks = {p: float(peak) for p, peak in zip(precisions, hardware.peak_ops_per_s, strict=True)}
    return peaks, _timed(hardware)


def timed_levels(device: Device) -> tuple[Level, ...]:
    """The device's levels that can bound a layer, at the profile's figures (no overrides)."""
    return _timed(hardware_arrays(device, [device.precisions[0]]))


def _timed(hardware: HardwareArrays) -> tuple[Level, ...]:
    return tuple(Level(name, float(hardware.bandwidth_bytes_per_s[0, v]))
                 for v, name in enumerate(hardware.level_names) if v != hardware.operand_level)


def binding_level(layer: LayerResult) -> str | None:
    """The memory level that binds ``layer`` as simulated: ``layer.binding`` for a memory-bound
    layer, else the level whose traffic takes longest (``argmax layer.level_time_s``); None if no
    level takes any time."""
    if layer.binding in layer.level_time_s:
        return layer.binding
    if not layer.level_time_s or max(layer.level_time_s.values()) <= 0:
        return None
    return max(layer.level_time_s, key=layer.level_time_s.__getitem__)


@dataclass(frozen=True)
class LayerPoint:
    """One layer on the roofline: intensity [ops/byte] and achieved performance [ops/s]."""

    network: str
    layer: LayerResult
    intensity_ops_per_byte: float
    achieved_ops_per_s: float


def layer_points(result: SimulationResult, intensity: str = "binding") -> list[LayerPoint]:
    """The layers of ``result`` that do work, placed as described in the module docstring."""
    names = set(result.level_names)
    if intensity not in ("binding", "total") and intensity not in names:
        raise SimulatorError(f"unknown intensity {intensity!r}; expected 'binding', 'total' or a memory "
                             f"level of {result.device!r}: {', '.join(sorted(names))}")
    points = []
    for layer in result.layers:
        if layer.ops <= 0 or layer.latency_s <= 0:
            continue
        if intensity == "total":
            bytes_moved = layer.bytes_moved
        elif intensity == "binding":
            level = binding_level(layer)
            bytes_moved = layer.level_bytes[level] if level is not None else 0.0
        else:
            bytes_moved = layer.level_bytes.get(intensity, 0.0)
        if bytes_moved > 0:
            points.append(LayerPoint(result.network, layer, layer.ops / bytes_moved,
                                     layer.ops / layer.latency_s))
    return points


def _x_label(intensity: str) -> str:
    if intensity == "binding":
        return "arithmetic intensity at the layer's binding memory level (ops/byte)"
    if intensity == "total":
        return "arithmetic intensity: ops / (weight + activation bytes)"
    return f"arithmetic intensity at {intensity} (ops/byte of {intensity} traffic)"


def _result_label(result: SimulationResult) -> str:
    return f"{result.network}, {config_label(result)}"


def _distinguishing_labels(results: Sequence[SimulationResult]) -> list[str]:
    """Per result, what tells it from the others on the chart (network, precision, batch): ``""``
    for a single result, ``"resnet18 int8"`` when both network and precision vary."""
    fields = [lambda r: r.network, lambda r: r.precision, lambda r: f"batch {r.batch}",
              lambda r: "ideal" if r.ideal else "expected"]
    varying = [field for field in fields if len({field(r) for r in results}) > 1]
    return [" ".join(field(r) for field in varying) for r in results]


@dataclass(frozen=True)
class _Frame:
    """What the chart shows: roofs, ridges, axis ranges and the display scale of ops/s."""

    peaks: dict[str, float]           # ops/s per precision
    levels: tuple[Level, ...]
    ridges: tuple[tuple[Level, float, float], ...]  # (level, ops/byte, peak ops/s)
    x_range: tuple[float, float]      # ops/byte
    y_range: tuple[float, float]      # ops/s
    scale: float                      # ops/s per display unit
    prefix: str

    @property
    def fastest_bytes_per_s(self) -> float:
        return max(level.bandwidth_bytes_per_s for level in self.levels)


def _frame(levels: tuple[Level, ...], peaks: dict[str, float], results: Sequence[SimulationResult],
           points: Sequence[LayerPoint]) -> _Frame:
    fastest = max(level.bandwidth_bytes_per_s for level in levels)
    ridge_peaks = sorted({peaks[r.precision] for r in results})  # fp16 and bf16 share a ridge
    ridges = tuple((level, peak / level.bandwidth_bytes_per_s, peak)
                   for peak in ridge_peaks for level in levels)
    xs = [pt.intensity_ops_per_byte for pt in points] + [x for _, x, _ in ridges]
    ys = [pt.achieved_ops_per_s for pt in points]
    x_lo = min(*xs, min(peaks.values()) / fastest) / 4
    y_lo = min(*ys, x_lo * levels[0].bandwidth_bytes_per_s * 2) / 3
    scale, prefix = si_scale(min(peaks.values()))
    return _Frame(peaks, levels, ridges, (x_lo, max(xs) * 6), (y_lo, max(peaks.values()) * 3), scale, prefix)


def roofline_chart(result_or_results: SimulationResult | Iterable[SimulationResult],
                   device: Device | str | None = None, precisions: Sequence[str] | None = None,
                   intensity: str = "binding", labelled_layers: int = 6) -> Figure:
    """Roofline of the device that one or more simulation results ran on, with their layers on it.

    Draws one compute roof per precision (``precisions``, by default all of the device's; the
    results' precisions are always included), one bandwidth slope per memory level that bounds
    time, and marks the ridge points of the results' precisions, all under the results'
    overrides. Layers are coloured by kind (one marker shape per result); the ``labelled_layers``
    slowest are named with their share of their network's latency and what binds them (the
    result's ``binding``). Axes are log-log; performance is shown with the SI prefix of the
    smallest peak (e.g. TOPS). ``device`` is optional: the results carry theirs; if given, it
    must be theirs (needed only for a device loaded from a profile path).
    """
    results = as_results(result_or_results)
    device = results_device(results, device)
    wanted = list(precisions) if precisions else list(device.precisions)
    wanted += [r.precision for r in results if r.precision not in wanted]
    for p in wanted:
        device.peak_for(p)  # an unknown precision is an error naming the device's
    peaks, levels = roof_figures(results, device, wanted)
    points = [layer_points(r, intensity) for r in results]
    if not any(points):
        raise SimulatorError("no layer of the results does any work; nothing to put on the roofline")
    frame = _frame(levels, peaks, results, [pt for pts in points for pt in pts])

    figure = new_figure(9, 6)
    ax = figure.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*frame.x_range)
    ax.set_ylim(frame.y_range[0] / frame.scale, frame.y_range[1] / frame.scale)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_xlabel(_x_label(intensity))
    ax.set_ylabel(f"attainable performance ({frame.prefix}OPS = 10^{round(np.log10(frame.scale))} ops/s)")
    whatif = {", ".join(f"{k}={v:g}" for k, v in r.overrides.items()) for r in results} - {""}
    ax.set_title(f"Roofline: {', '.join(dict.fromkeys(r.network for r in results))} on {device.name}"
                 + (f" ({whatif.pop()})" if whatif else ""))
    roofs = _draw_roofs(ax, frame)
    markers = _draw_points(ax, frame, points)
    legend = _legend(ax, results, points, labelled_layers > 0)

    figure.draw_without_rendering()  # the layout is final now: roof labels can follow on-screen angles
    renderer = figure.canvas.get_renderer()
    avoid = [legend.get_window_extent(renderer),
             *(label.get_window_extent(renderer) for label in _label_roofs(ax, frame)),
             *marker_boxes(figure, ax, *markers), *marker_boxes(figure, ax, *_ridge_xy(frame))]
    placed = place_labels(figure, ax, list(zip(*_ridge_xy(frame), strict=True)),
                          [f"{level.name} ridge {format_number(x)} ops/B" for level, x, _ in frame.ridges],
                          avoid=avoid, avoid_lines=roofs, fontsize=7, color="black")
    slowest = sorted(((pt.layer.latency_s / results[r].latency_s, r, pt) for r, pts in enumerate(points)
                      for pt in pts), key=lambda item: -item[0])[:labelled_layers]
    which = _distinguishing_labels(results)
    place_labels(figure, ax, [(pt.intensity_ops_per_byte, pt.achieved_ops_per_s / frame.scale)
                              for _, _, pt in slowest],
                 [f"{which[r] + ': ' if which[r] else ''}{short_layer_name(pt.layer.name)} "
                  f"({share:.0%}, {pt.layer.binding})" for share, r, pt in slowest],
                 avoid=avoid + [label.get_window_extent(renderer) for label in placed], avoid_lines=roofs,
                 fontsize=7, color="#222222",
                 bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "linewidth": 0})
    return figure


def _ridge_xy(frame: _Frame) -> tuple[list[float], list[float]]:
    return [x for _, x, _ in frame.ridges], [peak / frame.scale for _, _, peak in frame.ridges]


def _draw_roofs(ax: Axes, frame: _Frame) -> list[Line2D]:
    """One slope per level up to the highest roof, one roof per precision from the fastest slope on,
    and the ridge points; returns the lines."""
    x_lo, x_hi = frame.x_range
    top = max(frame.peaks.values())
    lines = []
    for v, level in enumerate(frame.levels):
        bandwidth = level.bandwidth_bytes_per_s
        x_end = top / bandwidth
        lines += ax.plot([x_lo, x_end], [x_lo * bandwidth / frame.scale, x_end * bandwidth / frame.scale],
                         color=_ROOF_COLOR, linestyle=_LEVEL_STYLES[v % len(_LEVEL_STYLES)], linewidth=1.4,
                         zorder=2)
    for peak in sorted(set(frame.peaks.values())):
        lines += ax.plot([peak / frame.fastest_bytes_per_s, x_hi], [peak / frame.scale] * 2,
                         color=_ROOF_COLOR, linewidth=1.4, zorder=2)
    ax.scatter(*_ridge_xy(frame), marker="D", s=30, facecolors="white", edgecolors="black", zorder=4)
    return lines


def _draw_points(ax: Axes, frame: _Frame, points: Sequence[Sequence[LayerPoint]]) -> tuple[list, list]:
    """The layers, coloured by kind, one marker per result; returns their display x and y."""
    colors = kind_colors(pt.layer.kind for pts in points for pt in pts)
    xs, ys = [], []
    for r, pts in enumerate(points):
        x = [pt.intensity_ops_per_byte for pt in pts]
        y = [pt.achieved_ops_per_s / frame.scale for pt in pts]
        ax.scatter(x, y, c=[colors[pt.layer.kind] for pt in pts], s=30, edgecolors="black", linewidths=0.4,
                   marker=_RESULT_MARKERS[r % len(_RESULT_MARKERS)], alpha=0.9, zorder=3)
        xs += x
        ys += y
    return xs, ys


def _legend(ax: Axes, results: Sequence[SimulationResult], points: Sequence[Sequence[LayerPoint]],
            named: bool) -> Legend:
    colors = kind_colors(pt.layer.kind for pts in points for pt in pts)
    handles = [Line2D([], [], marker="o", linestyle="", color=color, markeredgecolor="black",
                      markeredgewidth=0.4, label=kind) for kind, color in colors.items()]
    if len(results) > 1:
        handles += [Line2D([], [], marker=_RESULT_MARKERS[r % len(_RESULT_MARKERS)], linestyle="",
                           color="grey", label=_result_label(result)) for r, result in enumerate(results)]
    handles.append(Line2D([], [], marker="D", linestyle="", markerfacecolor="white", markeredgecolor="black",
                          label="ridge point"))
    title = "layer kind"
    if len(results) == 1:
        title += f" ({results[0].precision}, batch {results[0].batch})"
    if named:
        title += "\nnamed: slowest layers (% of latency, binding)"
    legend = ax.legend(handles=handles, loc="lower right", fontsize=8, title=title, title_fontsize=8,
                       framealpha=0.9)
    legend.set_zorder(5)
    return legend


def _label_roofs(ax: Axes, frame: _Frame) -> list[Annotation]:
    """Name each slope along its line (near its lower end) and each compute roof at its right end."""
    labels = []
    x_lo, x_hi = frame.x_range
    for level in frame.levels:
        bandwidth = level.bandwidth_bytes_per_s
        x = max(x_lo, frame.y_range[0] / bandwidth) * 1.6
        y = x * bandwidth / frame.scale
        angle_deg = line_angle_deg(ax, x, y, x * 10, y * 10)
        labels.append(ax.annotate(f"{level.name} {format_rate(bandwidth, 'B/s')}", (x, y), xytext=(0, 3),
                                  textcoords="offset points", rotation=angle_deg, rotation_mode="anchor",
                                  ha="left", va="bottom", fontsize=8, color=_ROOF_COLOR))
    same_peak: dict[float, list[str]] = {}
    for precision, peak in frame.peaks.items():
        same_peak.setdefault(peak, []).append(precision)
    for peak, names in same_peak.items():
        text = f"{'/'.join(names)} {format_number(peak / frame.scale)} {frame.prefix}OPS"  # in the axis' unit
        labels.append(ax.annotate(text, (x_hi, peak / frame.scale), xytext=(-4, 2),
                                  textcoords="offset points", ha="right", va="bottom", fontsize=8,
                                  color=_ROOF_COLOR))
    for label in labels:
        label.set_in_layout(False)
    return labels
