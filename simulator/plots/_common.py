"""Helpers shared by the charts: figures, display units, layer names, label placement and saving.

Charts are drawn on a :class:`matplotlib.figure.Figure` created directly (not through pyplot), so
they touch no global state and need no interactive backend. Values are converted from SI base
units to display units only here, when they are drawn. Charts read what they show from
:class:`~simulator.results.SimulationResult` (per-layer times, energies, binding level, totals
and the configuration the result ran at); they never recompute an engine quantity.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.ticker import EngFormatter, FuncFormatter
from matplotlib.transforms import Bbox

from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.results import SimulationResult

#: Colours of the bounds (compute, memory, link: a tensor-parallel all-reduce; and of layers that do
#: no work), shared by every chart.
BOUND_COLORS = {"compute": "#1f77b4", "memory": "#ff7f0e", "link": "#2ca02c", "none": "#bbbbbb"}

#: The most pixels a raster chart may have (100 megapixels, 400 MB of RGBA), and per side (Agg's limit).
MAX_PIXELS = 100_000_000
MAX_PIXELS_PER_SIDE = 2**16 - 1
#: the lowest dpi a chart is saved at (a thumbnail): the charts' smallest text (6 pt) is then 0.8
#: pixel per em, twice what FreeType still draws (at 5 dpi it refuses, a traceback)
MIN_DPI = 10


def new_figure(width_in: float, height_in: float, layout: str = "constrained") -> Figure:
    """A figure with an Agg canvas attached (needed to measure text) and a layout engine."""
    figure = Figure(figsize=(width_in, height_in), layout=layout)
    FigureCanvasAgg(figure)
    return figure


def chart_width_in(bars: int) -> float:
    """Width of a chart of ``bars`` bars side by side: 2.5 in plus 0.14 in a bar, from 8 to 24 in."""
    return min(24.0, max(8.0, 2.5 + 0.14 * bars))


def as_results(result_or_results: SimulationResult | Iterable[SimulationResult]) -> list[SimulationResult]:
    """One result or several as a non-empty list; anything else raises SimulatorError."""
    if isinstance(result_or_results, SimulationResult):
        return [result_or_results]
    if isinstance(result_or_results, str | bytes) or not isinstance(result_or_results, Iterable):
        raise SimulatorError("expected a SimulationResult or a non-empty sequence of them (from simulate()), "
                             f"got {result_or_results!r}")
    results = list(result_or_results)
    if not results or not all(isinstance(r, SimulationResult) for r in results):
        raise SimulatorError("expected a SimulationResult or a non-empty sequence of them, "
                             f"got {result_or_results!r}")
    return results


def check_same_device(results: Sequence[SimulationResult], device: Device) -> None:
    other = sorted({r.device for r in results if r.device != device.name})
    if other:
        raise SimulatorError(f"results were simulated on {', '.join(other)}, not on the device to chart, "
                             f"{device.name!r}; simulate them on {device.name!r} or chart that device")


def results_device_name(results: Sequence[SimulationResult], device: Device | str | None = None) -> str:
    """The one device ``results`` ran on. ``device``, if given (only for backwards compatibility),
    must be that device; results from several devices are an error."""
    names = sorted({r.device for r in results})
    if device is not None:
        check_same_device(results, resolve_device(device))
    if len(names) > 1:
        raise SimulatorError(f"results were simulated on several devices ({', '.join(names)}); "
                             "chart one device at a time")
    return names[0]


def results_device(results: Sequence[SimulationResult], device: Device | str | None = None) -> Device:
    """The :class:`Device` ``results`` ran on, for charts that draw its figures (roofs). Loaded by
    the results' device name unless ``device`` is given, which must carry that name."""
    name = results_device_name(results, device)
    if device is not None:
        return resolve_device(device)
    try:
        return resolve_device(name)
    except SimulatorError as error:
        raise SimulatorError(f"{error}; a result simulated on a device loaded from a profile path needs "
                             "device=<that Device> to chart") from None


def config_label(result: SimulationResult, batch: bool = True) -> str:
    """The configuration a result ran at, for titles: ``"fp16, batch 4, ideal, dram.bandwidth_scale=2"``.

    Names the precision, the batch, the ideal roofline (the efficiency model ignored), an unfused
    graph and every override, so that a chart of a what-if says so.
    """
    parts = [result.precision] + ([f"batch {result.batch}"] if batch else [])
    if result.ideal:
        parts.append("ideal")
    if not result.fused:
        parts.append("unfused")
    parts += [f"{key}={value:g}" for key, value in result.overrides.items()]
    return ", ".join(parts)


def fit_suptitle(figure: Figure, text: str, **text_kwargs: object) -> Text:
    """A figure title wrapped onto as many lines as it needs to fit the figure's width."""
    title = figure.suptitle(text, **text_kwargs)
    renderer = figure.canvas.get_renderer()
    width_px = figure.bbox.width * 0.98
    columns = len(text)
    while columns > 20 and title.get_window_extent(renderer).width > width_px:
        columns = int(columns * 0.9)
        title.set_text(textwrap.fill(text, columns, break_on_hyphens=False))
    return title


def save_figure(figure: Figure, path: str | Path, dpi: float) -> None:
    """Write ``figure`` to ``path`` at ``dpi`` (PNG, SVG or PDF by the suffix, as matplotlib does), with
    SVG and PDF text kept as text (searchable, selectable).

    ``dpi`` is at least :data:`MIN_DPI`. A raster image larger than :data:`MAX_PIXELS` (or
    :data:`MAX_PIXELS_PER_SIDE` on a side) is refused with a SimulatorError before any memory is taken for it.
    """
    if isinstance(dpi, bool) or not isinstance(dpi, Real) or not math.isfinite(dpi) or dpi < MIN_DPI:
        raise SimulatorError(f"dpi must be a number of at least {MIN_DPI} (below it the charts' 6-pt text "
                             f"cannot be drawn), got {dpi!r}")
    width_in, height_in = figure.get_size_inches()
    width_px, height_px = round(width_in * dpi), round(height_in * dpi)
    if width_px * height_px > MAX_PIXELS or max(width_px, height_px) > MAX_PIXELS_PER_SIDE:
        most = math.floor(min(math.sqrt(MAX_PIXELS / (width_in * height_in)),
                              MAX_PIXELS_PER_SIDE / max(width_in, height_in)))
        raise SimulatorError(f"dpi {dpi:g} would make a {width_px:,} x {height_px:,} pixel image of this "
                             f"{width_in:g} x {height_in:g} in chart; at most {MAX_PIXELS:,} pixels and "
                             f"{MAX_PIXELS_PER_SIDE:,} per side: use a dpi of {most} or less")
    # SVG text stays text; a PDF embeds TrueType (Type 42) fonts, so its text is searchable too
    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42}):
        figure.savefig(path, dpi=dpi)


# An axis shows one unit, chosen once for the chart and stated in its label ("energy (mJ)",
# "(TOPS = 10^12 ops/s)"), with plain numbers on the ticks: bars stacked in one unit compare at a
# glance, and tests can read the scale back. EngFormatter on the ticks would switch prefixes from
# tick to tick; its prefix table (matplotlib's, not one of ours) chooses the unit.
def _eng_scale(value: float, lowest: int, highest: int) -> tuple[float, str]:
    exponent = 3 * math.floor(math.log10(abs(value)) / 3) if value and math.isfinite(value) else 0
    exponent = min(max(exponent, lowest), highest)
    return 10.0**exponent, EngFormatter.ENG_PREFIXES[exponent]


def si_scale(value: float) -> tuple[float, str]:
    """``(scale, prefix)`` for showing values up to ``value``, from 1 to peta: ``4.2e13 -> (1e12, "T")``."""
    return _eng_scale(value, 0, 15)


def subunit_scale(value: float) -> tuple[float, str]:
    """``(scale, prefix)`` for seconds or joules, from 1 down to pico: ``4.2e-3 -> (1e-3, "m")``,
    ``3e-5 -> (1e-6, "µ")``."""
    return _eng_scale(value, -12, 0)


def format_number(value: float) -> str:
    """About three significant figures, no exponent: ``204.8``, ``85``, ``0.216``, ``1,979``."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) >= 100 else f"{value:.3g}"


def format_rate(value: float, unit: str) -> str:
    """``(2.048e11, "B/s") -> "204.8 GB/s"``, ``(8.5e13, "OPS") -> "85 TOPS"`` (matplotlib's EngFormatter,
    with up to four significant figures as the profiles quote them)."""
    return EngFormatter(unit=unit)(float(f"{value:.4g}"))


def plain_log_ticks(axis: Axis) -> None:
    """Label a log axis ``0.1, 1, 10, 200`` instead of ``10^-1`` or ``2×10^2``."""
    formatter = FuncFormatter(lambda value, _: format_number(value))
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(FuncFormatter(lambda value, _: format_number(value)
                                           if round(value / 10 ** math.floor(math.log10(value))) in (2, 5)
                                           else ""))


def spans_decades(values: Iterable[float], decades: float = 1.0) -> bool:
    """Whether the positive ``values`` span more than ``decades`` powers of ten (then use a log scale)."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) / min(positive) > 10**decades


def short_layer_name(name: str) -> str:
    """A fused layer's name is its parts joined by ``+``; the first part (the conv or linear) names it."""
    return name.partition("+")[0]


def common_prefix(names: Sequence[str], min_share: float = 0.5, min_length: int = 8) -> str:
    """A dotted prefix (``encoder.layers.``) that more than ``min_share`` of ``names`` start with, to
    leave out of crowded labels; ``""`` if none is long enough to be worth it."""
    firsts = [".".join(name.split(".")[:2]) + "." for name in names if name.count(".") >= 2]
    if not firsts:
        return ""
    prefix = max(set(firsts), key=firsts.count)
    return prefix if firsts.count(prefix) > min_share * len(names) and len(prefix) >= min_length else ""


def block_of(name: str) -> str:
    """The block a layer belongs to: its name up to its first index (``layer1.0.conv1`` -> ``layer1.0``,
    ``features.3.conv.0.0`` -> ``features.3``, ``encoder.layers.encoder_layer_11.add`` ->
    ``encoder.layers.encoder_layer_11``); a name without an index is its own block (``fc``)."""
    parts = name.partition("+")[0].split(".")
    for i, part in enumerate(parts):
        if part.isdigit() or part.rpartition("_")[2].isdigit():
            return ".".join(parts[:i + 1])
    return parts[0]


#: Ways to group layers for the energy chart: a name, or any function of a layer's name and kind.
GROUPINGS: dict[str, Callable[[str, str], str]] = {
    "kind": lambda name, kind: kind,
    "block": lambda name, kind: block_of(name),
}


def kind_colors(kinds: Iterable[str]) -> dict[str, str]:
    """A fixed colour per layer kind (tab10, then tab20 for more than ten kinds), by sorted kind."""
    ordered = sorted(set(kinds))
    palette = [f"C{i}" for i in range(10)] if len(ordered) <= 10 else list(colormaps["tab20"].colors)
    return {kind: palette[i % len(palette)] for i, kind in enumerate(ordered)}


def layer_ticks(ax: Axes, names: Sequence[str], max_labels: int = 130, fontsize: float = 6) -> None:
    """Label the x ticks 0..n-1 with short layer names (thinned to at most ``max_labels``) and say in
    the x label how they were shortened."""
    step = max(1, math.ceil(len(names) / max_labels))
    positions = list(range(0, len(names), step))
    short = [short_layer_name(name) for name in names]
    prefix = common_prefix(short)
    ax.set_xticks(positions)
    ax.set_xticklabels([short[i].removeprefix(prefix) for i in positions], rotation=90, fontsize=fontsize)
    ax.set_xlim(-0.7, len(names) - 0.3)
    dropped = f"; '{prefix}' left out" if prefix else ""
    ax.set_xlabel(f"layer, in execution order (a fused layer is named by its first part{dropped})")


def line_angle_deg(ax: Axes, x0: float, y0: float, x1: float, y1: float) -> float:
    """On-screen angle of the segment from ``(x0, y0)`` to ``(x1, y1)`` in data coordinates."""
    (a, b), (c, d) = ax.transData.transform([(x0, y0), (x1, y1)])
    return math.degrees(math.atan2(d - b, c - a))


#: Where to try to put a point's label, in points from the point, with its alignment.
_NEAR_OFFSETS = (((5, 5), "left", "bottom"), ((5, -5), "left", "top"), ((-5, 5), "right", "bottom"),
                 ((-5, -5), "right", "top"), ((0, 8), "center", "bottom"), ((0, -8), "center", "top"),
                 ((8, 0), "left", "center"), ((-8, 0), "right", "center"))
_LABEL_OFFSETS = tuple(((dx * reach, dy * reach), ha, va) for reach in (1, 2.5)
                       for (dx, dy), ha, va in _NEAR_OFFSETS)


def place_labels(figure: Figure, ax: Axes, anchors: Sequence[tuple[float, float]], texts: Sequence[str],
                 avoid: Iterable[Bbox] = (), avoid_lines: Iterable[Line2D] = (),
                 **text_kwargs: object) -> list[Annotation]:
    """Label the data points ``anchors`` with ``texts`` (most important first) without overlaps.

    Each label tries a few positions around its point and takes the first that stays inside the
    axes and clears the labels already placed and the display boxes in ``avoid`` (a legend, other
    text); a label with no free position is left out. Call after the layout is final (e.g. after
    ``figure.draw_without_rendering()``).
    """
    renderer = figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    taken = [box.padded(3) for box in avoid]
    paths = [line.get_transform().transform_path(line.get_path()) for line in avoid_lines]
    placed = []
    for (x, y), text in zip(anchors, texts, strict=True):
        for offset, ha, va in _LABEL_OFFSETS:
            far = abs(offset[0]) + abs(offset[1]) > 12
            leader = {"arrowprops": {"arrowstyle": "-", "color": "grey", "linewidth": 0.5, "shrinkA": 1,
                                     "shrinkB": 3}} if far else {}
            label = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va,
                                annotation_clip=True, **leader, **text_kwargs)
            label.set_in_layout(False)
            label.update_positions(renderer)
            box = Text.get_window_extent(label, renderer)  # the text alone, not its leader line
            if (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0 and box.y1 <= inside.y1
                    and not any(box.overlaps(other) for other in taken)
                    and not any(path.intersects_bbox(box.padded(3), filled=False) for path in paths)):
                taken.append(box.padded(3))
                placed.append(label)
                break
            label.remove()
    return placed


def marker_boxes(figure: Figure, ax: Axes, xs: Sequence[float], ys: Sequence[float],
                 size_pt: float = 6) -> list[Bbox]:
    """Display boxes of markers at ``(xs, ys)``, so that labels can avoid covering data points."""
    half = size_pt / 2 * figure.dpi / 72
    points = ax.transData.transform(np.column_stack([xs, ys])) if len(xs) else np.empty((0, 2))
    return [Bbox.from_extents(px - half, py - half, px + half, py + half) for px, py in points]
