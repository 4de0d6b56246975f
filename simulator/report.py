"""Rendering results as text tables, JSON and CSV. Values stay in base units until here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from simulator.counts import NetworkCounts
from simulator.units import format_count

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


def _shape(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


def counts_to_dict(counts: NetworkCounts) -> dict:
    """The JSON document of ``roofline count`` (exact integers)."""
    return {
        "network": counts.network,
        "batch": counts.batch,
        "input_shape": list(counts.input_shape),
        "totals": {
            "params": counts.params,
            "macs": counts.macs,
            "flops": counts.flops,
            "total_activations": counts.total_activations,
            "peak_activations": counts.peak_activations,
        },
        "layers": [
            {"name": layer.name, "kind": layer.kind, "output_shape": list(layer.output_shape),
             "params": layer.params, "macs": layer.macs, "flops": layer.flops}
            for layer in counts.layers
        ],
    }


def format_counts(counts: NetworkCounts, fmt: str = "table") -> str:
    """Per-layer counts and totals as ``table``, ``json`` or ``csv``."""
    if fmt == "json":
        return json.dumps(counts_to_dict(counts), indent=2)
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
    summary = (f"{counts.network}, batch {counts.batch}: {counts.params:,} params, {counts.macs:,} MACs, "
               f"{counts.flops:,} FLOPs, activations {counts.total_activations:,} total "
               f"(input included), {counts.peak_activations:,} peak")
    return render_table(headers, rows, footer) + "\n\n" + summary
