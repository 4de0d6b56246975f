"""Latency against throughput over batch sizes, one curve per device or precision.

Batching ``n`` samples amortizes weight traffic, so throughput ``n / latency`` rises with ``n``,
but every sample waits for the whole batch, so latency rises too: a configuration with higher
throughput does not have lower latency (the lecture's point; see also V. Sze, Y.-H. Chen,
T.-J. Yang, J. Emer, *Efficient Processing of Deep Neural Networks*, 2020, ch. 6).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulator.catalog import build_network
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.graph import Network
from simulator.plots._common import (
    fit_suptitle,
    format_number,
    marker_boxes,
    new_figure,
    place_labels,
    plain_log_ticks,
    spans_decades,
    subunit_scale,
)
from simulator.precision import PRECISION_BITS
from simulator.results import SimulationResult
from simulator.simulation import simulate
from simulator.units import format_count, format_seconds

#: Batch sizes of the chart unless told otherwise: powers of two from 1 to 256.
DEFAULT_BATCHES = tuple(2**k for k in range(9))

Config = Device | str | tuple[Device | str, str]


@dataclass(frozen=True)
class Curve:
    """One device at one precision over the batch sizes, with its label in the legend."""

    label: str
    results: tuple[SimulationResult, ...]


def resolve_configs(configs: Iterable[Config], device: Device | str | None = None,
                    precision: str | None = None) -> list[tuple[Device, str]]:
    """``(device, precision)`` pairs from devices, precisions or ``(device, precision)`` pairs.

    A precision alone runs on ``device``; a device alone runs at ``precision``, or, without it,
    at fp16 where the device has it and its first precision otherwise.
    """
    pairs = []
    for config in configs:
        if isinstance(config, tuple):
            config_device, config_precision = resolve_device(config[0]), config[1]
        elif isinstance(config, str) and config in PRECISION_BITS:
            if device is None:
                raise SimulatorError(f"precision {config!r} needs a device to run on: pass device=...")
            config_device, config_precision = resolve_device(device), config
        else:
            config_device = resolve_device(config)
            config_precision = precision or config_device.default_precision
        config_device.peak_for(config_precision)
        pairs.append((config_device, config_precision))
    if not pairs:
        raise SimulatorError("no device or precision to chart: give at least one")
    return pairs


def latency_throughput_curves(network: Network | str, pairs: Sequence[tuple[Device, str]],
                              batches: Sequence[int] = DEFAULT_BATCHES,
                              resolution: int | None = None) -> list[Curve]:
    """Simulate ``network`` for every ``(device, precision)`` pair at every batch size."""
    if not batches:
        raise SimulatorError("no batch sizes to chart: give at least one")
    if isinstance(network, str):
        network = build_network(network, resolution)
    one_device = len({d.name for d, _ in pairs}) == 1
    one_precision = len({p for _, p in pairs}) == 1
    curves = []
    for device, precision in pairs:
        label = precision if one_device and not one_precision else (
            device.name if one_precision and not one_device else f"{device.name}, {precision}")
        results = tuple(simulate(network, device, batch=batch, precision=precision)
                        for batch in sorted(set(batches)))
        curves.append(Curve(label, results))
    return curves


def latency_throughput_chart(network: Network | str, devices_or_precisions: Iterable[Config],
                             batches: Sequence[int] = DEFAULT_BATCHES, *, device: Device | str | None = None,
                             precision: str | None = None, resolution: int | None = None) -> Figure:
    """Latency (ms) against throughput (samples/s) of ``network``, one curve per device or precision.

    ``devices_or_precisions`` holds devices (names or :class:`Device`), precisions (then
    ``device`` says where they run) or ``(device, precision)`` pairs. Each point is one batch
    size, annotated with it; an axis whose range spans more than a decade is logarithmic. Hollow
    markers: the weights or activations do not fit in the device's memory. Stars mark the lowest
    latency and the highest throughput, which are not the same configuration.
    """
    pairs = resolve_configs(devices_or_precisions, device, precision)
    curves = latency_throughput_curves(network, pairs, batches, resolution)
    all_results = [r for curve in curves for r in curve.results]
    typical_s = float(np.exp(np.mean([np.log(r.latency_s) for r in all_results])))  # geometric mean
    time_scale, time_prefix = subunit_scale(typical_s)
    latencies = [r.latency_s / time_scale for r in all_results]
    throughputs = [r.throughput_per_s for r in all_results]

    figure = new_figure(10, 6)
    ax = figure.add_subplot()
    log_x, log_y = spans_decades(latencies), spans_decades(throughputs)
    for log, axis, set_scale in ((log_x, ax.xaxis, ax.set_xscale), (log_y, ax.yaxis, ax.set_yscale)):
        set_scale("log" if log else "linear")
        if log:
            plain_log_ticks(axis)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_xlabel(f"latency per batch ({time_prefix}s)")
    ax.set_ylabel("throughput (samples/s)")
    devices = list(dict.fromkeys(d.name for d, _ in pairs))
    precisions = list(dict.fromkeys(p for _, p in pairs))
    # what the curves' labels leave out goes into the title: the device when only precision varies
    where = f" on {devices[0]}" if len(devices) == 1 else ""
    at = f", {precisions[0]}" if len(precisions) == 1 else ""
    fit_suptitle(figure, f"Latency vs throughput: {curves[0].results[0].network}{where}{at}, batch "
                         f"{min(batches)} to {max(batches)}")

    unfit = False
    for c, curve in enumerate(curves):
        color = f"C{c % 10}"
        xs = [r.latency_s / time_scale for r in curve.results]
        ys = [r.throughput_per_s for r in curve.results]
        ax.plot(xs, ys, color=color, linewidth=1.3, label=curve.label, zorder=2)
        fits = np.array([r.fits for r in curve.results])
        unfit |= not fits.all()
        # the points above the stars (zorder 4), so that a starred point that does not fit stays hollow
        ax.scatter(np.array(xs)[fits], np.array(ys)[fits], color=color, s=22, zorder=5, label="_fits")
        ax.scatter(np.array(xs)[~fits], np.array(ys)[~fits], facecolors="white", edgecolors=color, s=26,
                   linewidths=1.2, zorder=5, label="_does not fit")

    fastest = min(all_results, key=lambda r: r.latency_s)
    busiest = max(all_results, key=lambda r: r.throughput_per_s)
    ax.scatter([fastest.latency_s / time_scale, busiest.latency_s / time_scale],
               [fastest.throughput_per_s, busiest.throughput_per_s], marker="*", s=180,
               facecolors="none", edgecolors="black", linewidths=1.0, zorder=4, label="_star")
    ax.margins(0.08)
    if not log_x:  # a linear axis starts at zero, so that equal values do not look different
        ax.set_xlim(0, max(latencies) * 1.1)
    if not log_y:
        ax.set_ylim(0, max(throughputs) * 1.15)

    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="*", linestyle="", markersize=11, markerfacecolor="none",
                          markeredgecolor="black", label="lowest latency / highest throughput"))
    if unfit:
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                              markeredgecolor="grey", label="does not fit in memory"))
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                       title="numbers: batch size\nbetter: up and left (↖)", title_fontsize=8)
    ax.set_title(textwrap.fill(_framing(fastest, busiest), 120), fontsize=8, color="#444444")

    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    avoid = [legend.get_window_extent(renderer), *(t.get_window_extent(renderer) for t in ax.texts),
             *marker_boxes(figure, ax, latencies, throughputs)]
    for curve in curves:  # every curve's smallest and largest batch first, then the rest
        order = sorted(range(len(curve.results)), key=lambda i: (0 < i < len(curve.results) - 1, i))
        place_labels(figure, ax, [(curve.results[i].latency_s / time_scale, curve.results[i].throughput_per_s)
                                  for i in order], [str(curve.results[i].batch) for i in order],
                     avoid=avoid, avoid_lines=ax.lines, fontsize=7, color="#333333")
        avoid += [t.get_window_extent(renderer) for t in ax.texts]
    return figure


def _framing(fastest: SimulationResult, busiest: SimulationResult) -> str:
    """The lecture's point, stated with this chart's numbers."""
    def describe(result: SimulationResult) -> str:
        throughput = _format_throughput(result.throughput_per_s)
        return (f"{result.device} {result.precision} batch {result.batch}, "
                f"{format_seconds(result.latency_s)} and {throughput} samples/s")

    if fastest is busiest:
        return f"Lowest latency and highest throughput coincide here: {describe(fastest)}."
    return (f"Higher throughput does not mean lower latency: highest throughput {describe(busiest)}; "
            f"lowest latency {describe(fastest)}.")


def _format_throughput(samples_per_s: float) -> str:
    return format_count(samples_per_s) if samples_per_s >= 1000 else format_number(samples_per_s)
