"""Rendering results as text tables, JSON and CSV. Values stay in base units until here; a simulation's
views (its table, CSV rows and JSON document) are built in :mod:`simulator.report_simulation`."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from simulator.io import dumps_json
from simulator.model.counts import NetworkCounts
from simulator.report_simulation import (
    CONFIG_COLUMNS,
    SIMULATION_COLUMNS,
    counts_totals,
    energy_includes,
    energy_lines,
    energy_to_dict,
    error_band_record,
    expected_trust,
    format_watts,
    resolved_params,
    sequence_lines,
    simulation_csv,
    simulation_json,
    simulation_settings,
    simulation_summary_lines,
    simulation_table,
    simulation_to_dict,
    tool_record,
)
from simulator.results import SimulationResult
from simulator.units import format_count

#: the simulation's views live in :mod:`simulator.report_simulation`; these names stay importable here
__all__ = [
    "CONFIG_COLUMNS", "FORMATS", "SIMULATION_COLUMNS", "counts_summary_line", "counts_to_dict",
    "energy_includes", "energy_lines", "energy_to_dict", "error_band_record", "expected_trust",
    "format_counts", "format_simulation", "format_watts", "render_csv", "render_csv_records",
    "render_table", "resolved_params", "sequence_lines", "simulation_json", "simulation_settings",
    "simulation_summary_lines", "simulation_to_dict", "tool_record",
]

FORMATS = ("table", "json", "csv")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], footer: Sequence[str] = (),
                 left: int = 2) -> str:
    """A plain-text table: the first ``left`` columns left-aligned (names), the others right-aligned."""
    all_rows = [list(headers), *map(list, rows), *([list(footer)] if footer else [])]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) if i < left else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(headers), rule, *(line(row) for row in rows)]
    if footer:
        body += [rule, line(footer)]
    return "\n".join(body)


def render_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def render_csv_records(rows: Sequence[Mapping[str, object]]) -> str:
    """Records as CSV (``csv.DictWriter``'s dialect, ``\\r\\n`` line ends): a header of the first
    record's keys, then one line per record (``roofline llm`` and ``roofline llm-serving``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _shape(shape: Sequence[int]) -> str:
    """``1x32x112x112``: shapes are written one way everywhere (ASCII ``x``, as the sweep writes them)."""
    return "x".join(map(str, shape))


def counts_to_dict(counts: NetworkCounts, settings: Mapping[str, object] | None = None) -> dict:
    """The JSON document of ``roofline count`` (exact integers): the tool and its version, the
    ``settings`` that produced it (when given), the totals and the layers."""
    return {
        "tool": tool_record(),
        **({"settings": dict(settings)} if settings is not None else {}),
        "network": counts.network,
        "batch": counts.batch,
        "input_shape": list(counts.input_shape),
        "totals": counts_totals(counts),
        "layers": [
            {"name": layer.name, "kind": layer.kind, "output_shape": list(layer.output_shape),
             "params": layer.params, "macs": layer.macs, "flops": layer.flops,
             "new_activations": layer.output_elements if layer.allocates else 0}
            for layer in counts.layers
        ],
    }


def format_counts(counts: NetworkCounts, fmt: str = "table",
                  settings: Mapping[str, object] | None = None) -> str:
    """Per-layer counts and totals as ``table``, ``json`` or ``csv`` (the JSON records ``settings``,
    when given); shorter views: :func:`simulator.report_views.format_counts_view`."""
    if fmt == "json":
        return dumps_json(counts_to_dict(counts, settings), indent=2)
    headers = ["layer", "kind", "output_shape", "params", "macs", "flops", "new_activations"]
    if fmt == "csv":
        return render_csv(headers, [
            [layer.name, layer.kind, _shape(layer.output_shape), layer.params, layer.macs, layer.flops,
             layer.output_elements if layer.allocates else 0] for layer in counts.layers])
    rows = [[layer.name, layer.kind, _shape(layer.output_shape), format_count(layer.params),
             format_count(layer.macs), format_count(layer.flops),
             format_count(layer.output_elements) if layer.allocates else "-"] for layer in counts.layers]
    footer = ["total", "", _shape(counts.input_shape) + " in", format_count(counts.params),
              format_count(counts.macs), format_count(counts.flops), format_count(counts.total_activations)]
    return render_table(headers, rows, footer) + "\n\n" + counts_summary_line(counts)


def counts_summary_line(counts: NetworkCounts) -> str:
    """The line under the count table: params, MACs, FLOPs and activations in exact integers."""
    return (f"{counts.network}, batch {counts.batch}: {counts.params:,} params, {counts.macs:,} MACs, "
            f"{counts.flops:,} FLOPs, activations {counts.total_activations:,} total "
            f"(input included), {counts.peak_activations:,} peak")


def format_simulation(result: SimulationResult, fmt: str = "table") -> str:
    """Per-layer roofline results and totals as ``table``, ``json`` or ``csv``; shorter views:
    :func:`simulator.report_views.format_simulation_view`. Each format renders one view built once
    (:mod:`simulator.report_simulation`): the formatter itself reads no result and formats no unit."""
    if fmt == "json":
        return simulation_json(result)
    if fmt == "csv":
        rows = simulation_csv(result)
        return render_csv(rows.headers, rows.rows)
    table = simulation_table(result)
    return "\n".join([render_table(table.headers, table.rows, table.footer), "", *table.lines])
