"""Shorter views of ``roofline simulate`` and ``roofline count`` than one row per layer.

A network of a thousand layers (SegFormer-B5) prints a thousand rows; these views print:

* ``summary``: the totals only;
* ``top=N``: the N slowest layers (``simulate``, by latency) or the N largest (``count``, by MACs),
  then the totals;
* ``by="kind"``: one row per layer kind: how many layers, and their time, share of the latency,
  MACs, bytes and energy (``simulate``), or their params, MACs, share of the MACs and FLOPs
  (``count``).

The groups are sums of the layers' own figures (:func:`simulator.results.kind_summaries`), never
recomputed; as the engine's total latency is the sum of its layers', the shares add up to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.errors import SimulatorError
from simulator.io import dumps_json
from simulator.model.counts import LayerCounts, NetworkCounts
from simulator.report import _shape, counts_summary_line, counts_to_dict, render_csv, render_table
from simulator.report_simulation import (
    CONFIG_COLUMNS,
    config_cells,
    layer_record,
    simulation_csv,
    simulation_summary_lines,
    simulation_table,
    simulation_to_dict,
)
from simulator.results import KindSummary, SimulationResult, kind_summaries
from simulator.units import format_bytes, format_count, format_joules, format_seconds

#: what ``--by`` groups layers by
GROUPINGS = ("kind",)
KIND_COLUMNS = ["kind", "layers", "macs", "bytes_moved", "latency_s", "latency_share", "energy_j"]


def view_of(summary: bool = False, top: int | None = None, by: str | None = None) -> str | None:
    """The view asked for (``summary``, ``top`` or ``kind``; None: every layer); more than one, a
    ``top`` below 1 or an unknown grouping is an error naming the valid choices."""
    chosen = [name for name, on in (("--summary", summary), ("--top", top is not None),
                                    ("--by", by is not None)) if on]
    if len(chosen) > 1:
        raise SimulatorError(f"{' and '.join(chosen)} are alternatives: give one of --summary, --top N, "
                             "--by kind")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise SimulatorError(f"--top must be an integer of at least 1, got {top!r}")
    if by is not None and by not in GROUPINGS:
        raise SimulatorError(f"cannot group layers by {by!r}; choices: {', '.join(GROUPINGS)}")
    return "summary" if summary else "top" if top is not None else "kind" if by is not None else None


def format_simulation_view(result: SimulationResult, fmt: str = "table", summary: bool = False,
                           top: int | None = None, by: str | None = None) -> str:
    """``result`` as the totals only (``summary``), its ``top`` slowest layers and the totals, or its
    layers grouped ``by`` kind, in ``fmt`` (``table``, ``json`` or ``csv``)."""
    view = view_of(summary, top, by)
    slowest = result.slowest_layers(top) if view == "top" else ()
    kinds = kind_summaries(result.layers) if view == "kind" else ()
    if fmt == "json":
        document = simulation_to_dict(result)
        layers = document.pop("layers")
        if view == "top":
            document["layers_total"] = len(layers)
            document["slowest_layers"] = [layer_record(layer) for layer in slowest]
        elif view == "kind":
            document["by_kind"] = [vars(summary) for summary in kinds]
        return dumps_json(document, indent=2)
    if fmt == "csv":
        if view == "kind":
            config = config_cells(result)
            moved = sum(layer.bytes_moved for layer in result.layers)
            rows = [[*config, *(getattr(k, c) for c in KIND_COLUMNS)] for k in kinds]
            rows.append([*config, "total", len(result.layers), result.counts.macs, moved, result.latency_s,
                         1.0 if result.layers else 0.0, result.energy_j])
            return render_csv(CONFIG_COLUMNS + KIND_COLUMNS, rows)
        table = simulation_csv(result, slowest)
        return render_csv(table.headers, table.rows)
    lines = simulation_summary_lines(result)
    if view == "summary":
        return "\n".join(lines)
    if view == "kind":
        return "\n".join([_kind_table(result, kinds), "", *lines])
    table = simulation_table(result, slowest)
    share = sum(layer.latency_s for layer in slowest) / result.latency_s if result.latency_s else 0.0
    note = (f"the {len(slowest)} slowest of {len(result.layers)} layers, slowest first: "
            f"{share:.1%} of the latency")
    return "\n".join([note, render_table(table.headers, table.rows, table.footer), "", *table.lines])


def _kind_table(result: SimulationResult, kinds: tuple[KindSummary, ...]) -> str:
    headers = ["kind", "layers", "latency", "share", "MACs", "bytes", "energy"]
    rows = [[k.kind, str(k.layers), format_seconds(k.latency_s), f"{k.latency_share:.1%}",
             format_count(k.macs), format_bytes(k.bytes_moved), format_joules(k.energy_j)] for k in kinds]
    footer = ["total", str(len(result.layers)), format_seconds(result.latency_s), "100%" if kinds else "-",
              format_count(result.counts.macs), format_bytes(sum(k.bytes_moved for k in kinds)),
              format_joules(result.energy_j)]
    return render_table(headers, rows, footer, left=1)


@dataclass(frozen=True)
class KindCounts:
    """The counted layers of one kind, summed (exact integers); ``macs_share`` = their MACs over the
    network's (0..1)."""

    kind: str
    layers: int
    params: int
    macs: int
    macs_share: float
    flops: int


def kind_counts(counts: NetworkCounts) -> tuple[KindCounts, ...]:
    """``counts``' layers grouped by kind, the most MACs first (ties: the kind met first)."""
    groups: dict[str, list[LayerCounts]] = {}
    for layer in counts.layers:
        groups.setdefault(layer.kind, []).append(layer)
    return tuple(sorted((KindCounts(kind, len(members), sum(m.params for m in members),
                                    sum(m.macs for m in members),
                                    sum(m.macs for m in members) / counts.macs if counts.macs else 0.0,
                                    sum(m.flops for m in members))
                         for kind, members in groups.items()), key=lambda k: -k.macs))


def format_counts_view(counts: NetworkCounts, fmt: str = "table", summary: bool = False,
                       top: int | None = None, by: str | None = None, settings: dict | None = None) -> str:
    """``counts`` as the totals only (``summary``), its ``top`` layers by MACs and the totals, or its
    layers grouped ``by`` kind, in ``fmt`` (``table``, ``json`` or ``csv``)."""
    view = view_of(summary, top, by)
    largest = sorted(counts.layers, key=lambda layer: -layer.macs)[:top] if view == "top" else []
    kinds = kind_counts(counts) if view == "kind" else ()
    if fmt == "json":
        document = counts_to_dict(counts, settings)
        layers = document.pop("layers")
        if view == "top":
            by_name = {layer["name"]: layer for layer in layers}
            document["layers_total"] = len(layers)
            document["largest_layers"] = [by_name[layer.name] for layer in largest]
        elif view == "kind":
            document["by_kind"] = [vars(k) for k in kinds]
        return dumps_json(document, indent=2)
    totals = [counts.params, counts.macs, counts.flops]
    if fmt == "csv":
        if view == "kind":
            rows = [[k.kind, k.layers, k.params, k.macs, k.macs_share, k.flops] for k in kinds]
            rows.append(["total", len(counts.layers), counts.params, counts.macs, 1.0, counts.flops])
            return render_csv(["kind", "layers", "params", "macs", "macs_share", "flops"], rows)
        rows = [[layer.name, layer.kind, _shape(layer.output_shape), layer.params, layer.macs, layer.flops]
                for layer in largest]
        rows.append(["total", "", _shape(counts.input_shape), *totals])
        return render_csv(["layer", "kind", "output_shape", "params", "macs", "flops"], rows)
    summary_line = counts_summary_line(counts)
    if view == "summary":
        return summary_line
    footer_totals = [format_count(v) for v in totals]
    if view == "kind":
        rows = [[k.kind, str(k.layers), format_count(k.params), format_count(k.macs), f"{k.macs_share:.1%}",
                 format_count(k.flops)] for k in kinds]
        footer = ["total", str(len(counts.layers)), footer_totals[0], footer_totals[1],
                  "100%" if counts.macs else "-", footer_totals[2]]
        table = render_table(["kind", "layers", "params", "MACs", "share", "FLOPs"], rows, footer, left=1)
        return table + "\n\n" + summary_line
    rows = [[layer.name, layer.kind, _shape(layer.output_shape), format_count(layer.params),
             format_count(layer.macs), format_count(layer.flops)] for layer in largest]
    footer = ["total", "", _shape(counts.input_shape) + " in", *footer_totals]
    share = sum(layer.macs for layer in largest) / counts.macs if counts.macs else 0.0
    note = (f"the {len(largest)} layers of most MACs of {len(counts.layers)}, largest first: "
            f"{share:.1%} of the MACs")
    table = render_table(["layer", "kind", "output_shape", "params", "macs", "flops"], rows, footer)
    return "\n".join([note, table, "", summary_line])
