"""Networks side by side: latency bars split by layer kind, with the speed-up over the first network.

The chart reads a :class:`simulator.compare.Comparison`: each bar is one network's latency
(``SimulationResult.latency_s``), stacked from its latency per layer kind
(:meth:`~simulator.compare.Comparison.kind_latency_s`, which sums to it), and labelled with the
speed-up relative to the first network, ``latency_0 / latency_i``
(:attr:`~simulator.compare.Comparison.speedups`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from simulator.compare import Comparison, compare
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.model.graph import Network
from simulator.plots._common import config_label, fit_suptitle, kind_colors, new_figure, subunit_scale

#: at most this many kinds get their own colour and legend entry; the rest are stacked as "other"
MAX_KINDS = 12


def speedup_label(speedup: float) -> str:
    """The label of a bar: the speed-up to three significant figures, ``"1×"``, ``"13.9×"``; below 1
    also how many times slower: ``"0.0719×\n(13.9× slower)"``."""
    return f"{speedup:.3g}×" + (f"\n({1 / speedup:.3g}× slower)" if speedup < 1 else "")


def compare_chart(comparison: Comparison | Sequence[Network | str | Path], device: Device | str | None = None,
                  **options: object) -> Figure:
    """Latency bars of the networks of ``comparison``, one segment per layer kind, each bar labelled
    with its speed-up relative to the first network.

    ``comparison``: a :class:`~simulator.compare.Comparison`, or networks to compare on ``device``
    (with ``options`` as for :func:`simulator.compare.compare`). Kinds beyond the
    :data:`MAX_KINDS` slowest in total are stacked together as ``other``.
    """
    if not isinstance(comparison, Comparison):
        if device is None:
            raise SimulatorError("compare_chart needs a Comparison, or networks and a device")
        comparison = compare(list(comparison), device, **options)  # type: ignore[arg-type]
    elif device is not None or options:
        raise SimulatorError("compare_chart takes a device and options only with networks, not a Comparison")
    results = comparison.results
    splits = comparison.kind_latency_s()
    kinds = [kind for kind in comparison.kinds if any(split.get(kind, 0.0) for split in splits)]
    shown, rest = kinds[:MAX_KINDS], kinds[MAX_KINDS:]
    colors = kind_colors(shown)
    scale, prefix = subunit_scale(max(r.latency_s for r in results))
    figure = new_figure(max(4.5, 1.6 * len(results) + 3.5), 4.8)
    ax = figure.add_subplot()
    positions = list(range(len(results)))
    bottoms = [0.0] * len(results)
    for kind in [*shown, *(["other"] if rest else [])]:
        members = [kind] if kind != "other" else rest
        heights = [sum(split.get(k, 0.0) for k in members) / scale for split in splits]
        if not any(heights):
            continue
        ax.bar(positions, heights, 0.6, bottom=bottoms, color=colors.get(kind, "#bbbbbb"), label=kind,
               edgecolor="white", linewidth=0.5)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, result, speedup in zip(positions, results, comparison.speedups, strict=True):
        ax.annotate(speedup_label(speedup), (x, result.latency_s / scale), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9, fontweight="bold",
                    gid="speedup")
    ax.set_xticks(positions, list(comparison.labels), rotation=15 if len(results) > 2 else 0,
                  ha="right" if len(results) > 2 else "center", fontsize=8)
    ax.set_ylabel(f"latency ({prefix}s)")
    ax.set_ylim(0, max(bottoms + [r.latency_s / scale for r in results]) * 1.12)
    ax.legend(fontsize=7, title="layer kind", title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    first = comparison.reference
    if comparison.axis == "device":  # one network on several devices (compare_devices)
        fit_suptitle(figure, f"Latency of {first.network} (batch {first.batch}); speed-up relative to "
                             f"{first.device}", fontsize=9)
    else:
        fit_suptitle(figure, f"Latency on {first.device} ({config_label(first)}, attention "
                             f"{first.attention}); speed-up relative to {first.network}", fontsize=9)
    return figure
