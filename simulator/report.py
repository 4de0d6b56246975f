"""Rendering results as text tables, JSON and CSV. Values stay in base units until here."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from simulator.io import dumps_json
from simulator.model.counts import NetworkCounts
from simulator.results import STATIC_PART, SimulationResult
from simulator.units import format_bytes, format_count, format_joules, format_seconds

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


def tool_record() -> dict:
    """The tool that wrote a JSON document: ``{"name": "roofline-simulator", "version": ...}``."""
    from simulator import __version__

    return {"name": "roofline-simulator", "version": __version__}


def resolved_params(network: str, params: Mapping[str, object] | None = None,
                    resolution: object = None) -> dict[str, object]:
    """The keyword parameters a built-in network was built with: its function's defaults updated
    with ``params`` and ``resolution`` (when given); only those given for any other network (an
    ONNX model, a Network object, a name the registry does not hold)."""
    from simulator.catalog import network_parameters
    from simulator.model.registry import NETWORKS

    resolved = dict(network_parameters(network)) if network in NETWORKS else {}
    resolved.update(params or {})
    if resolution is not None:
        resolved["resolution"] = resolution
    return resolved


def simulation_settings(result: SimulationResult) -> dict:
    """What produced ``result``, enough to run it again: the network's parameters (resolved), batch,
    precisions, device and runtime (``DEVICE@RUNTIME``; "" for the device's usual one), the
    hardware overrides (``--set``, keys and values in SI), attention, fusion and the latency model."""
    from simulator.hardware.runtime import RUNTIME_SEPARATOR

    return {
        "network": result.network,
        "params": resolved_params(result.network, result.params, result.resolution),
        "batch": result.batch,
        "precision": result.precision,
        "weight_precision": result.weight_precision,
        "activation_precision": result.activation_precision,
        "device": result.device,
        "runtime": result.device.partition(RUNTIME_SEPARATOR)[2],
        "overrides": dict(result.overrides),
        "attention": result.attention,
        "fused": result.fused,
        "ideal": result.ideal,
    }


def counts_to_dict(counts: NetworkCounts, settings: Mapping[str, object] | None = None) -> dict:
    """The JSON document of ``roofline count`` (exact integers): the tool and its version, the
    ``settings`` that produced it (when given), the totals and the layers."""
    return {
        "tool": tool_record(),
        **({"settings": dict(settings)} if settings is not None else {}),
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


def simulation_to_dict(result: SimulationResult) -> dict:
    """The JSON document of ``roofline simulate`` (SI units: s, bytes, J): the tool and its version,
    the settings that produced it (:func:`simulation_settings`), totals, memory checks, layers."""
    counts = counts_to_dict(result.counts)["totals"]
    return {
        "tool": tool_record(),
        "settings": simulation_settings(result),
        "network": result.network,
        "device": result.device,
        "batch": result.batch,
        "precision": result.precision,
        "weight_precision": result.weight_precision,
        "activation_precision": result.activation_precision,
        "totals": {
            **counts,
            "model_size_bytes": result.model_size_bytes,
            "t_compute_s": result.t_compute_s,
            "t_memory_s": result.t_memory_s,
            "latency_s": result.latency_s,
            "ideal_latency_s": result.ideal_latency_s,
            "latency_model": "expected" if result.expected_model else "ideal",
            "expected_error_band": error_band_record(result.device, result.expected_model,
                                                     llm=bool(result.kv_cache_bytes)),
            "throughput_per_s": result.throughput_per_s,
            "energy_j": result.energy_j,
            **energy_to_dict(result),
            "bound": result.bound,
            "fits": result.fits,
        },
        "memory": [{"level": c.level, "holds": c.holds, "required_bytes": c.required_bytes,
                    "capacity_bytes": c.capacity_bytes, "fits": c.fits} for c in result.memory],
        "layers": [
            {"name": layer.name, "kind": layer.kind, "macs": layer.macs, "bytes_moved": layer.bytes_moved,
             "arithmetic_intensity": layer.arithmetic_intensity, "t_compute_s": layer.t_compute_s,
             "t_memory_s": layer.t_memory_s, "latency_s": layer.latency_s, "bound": layer.bound,
             "energy_j": layer.energy_j}
            for layer in result.layers
        ],
    }


CONFIG_COLUMNS = ["network", "device", "batch", "precision", "weight_precision", "activation_precision",
                  "fits"]
SIMULATION_COLUMNS = ["layer", "kind", "macs", "bytes_moved", "arithmetic_intensity", "t_compute_s",
                      "t_memory_s", "latency_s", "bound", "energy_j"]


def format_simulation(result: SimulationResult, fmt: str = "table") -> str:
    """Per-layer roofline results and totals as ``table``, ``json`` or ``csv``; shorter views:
    :func:`simulator.report_views.format_simulation_view`."""
    if fmt == "json":
        return dumps_json(simulation_to_dict(result), indent=2)
    if fmt == "csv":
        # the configuration on every row, and a last row of totals (layer "total"), as the table has
        config = [result.network, result.device, result.batch, result.precision, result.weight_precision,
                  result.activation_precision, result.fits]
        rows = [[*config, layer.name, layer.kind, layer.macs, layer.bytes_moved, layer.arithmetic_intensity,
                 layer.t_compute_s, layer.t_memory_s, layer.latency_s, layer.bound, layer.energy_j]
                for layer in result.layers]
        moved = sum(layer.bytes_moved for layer in result.layers)
        rows.append([*config, "total", "", result.counts.macs, moved,
                     sum(layer.ops for layer in result.layers) / moved if moved else 0.0,
                     result.t_compute_s, result.t_memory_s, result.latency_s, result.bound, result.energy_j])
        return render_csv(CONFIG_COLUMNS + SIMULATION_COLUMNS, rows)
    headers = ["layer", "kind", "MACs", "bytes", "ops/byte", "T_compute", "T_memory", "latency", "bound",
               "energy"]
    rows = [[layer.name, layer.kind, format_count(layer.macs), format_bytes(layer.bytes_moved),
             f"{layer.arithmetic_intensity:.1f}", format_seconds(layer.t_compute_s),
             format_seconds(layer.t_memory_s), format_seconds(layer.latency_s), layer.bound,
             format_joules(layer.energy_j)] for layer in result.layers]
    footer = ["total", "", format_count(result.counts.macs),
              format_bytes(sum(layer.bytes_moved for layer in result.layers)), "",
              format_seconds(result.t_compute_s), format_seconds(result.t_memory_s),
              format_seconds(result.latency_s), result.bound, format_joules(result.energy_j)]
    return "\n".join([render_table(headers, rows, footer), "", *simulation_summary_lines(result)])


def expected_trust(device: str, llm: bool = False) -> str:
    """The expected value's out-of-sample error on ``device``'s class
    (:mod:`simulator.hardware.error_band`), or the statement that there is none."""
    from simulator.hardware.error_band import NO_BAND, error_band

    band = error_band(device, llm)
    return "expected value " + band.describe() if band is not None else NO_BAND


def error_band_record(device: str, expected: bool, llm: bool = False) -> dict | None:
    """The JSON form of :func:`expected_trust` (None for the ideal bound, or no cross-validated class)."""
    from simulator.hardware.error_band import error_band

    band = error_band(device, llm) if expected else None
    return None if band is None else band.to_dict()


def simulation_summary_lines(result: SimulationResult) -> list[str]:
    """The lines under the layer table: configuration, latency, throughput, energy, size, memory."""
    lines = [
        f"{result.network} on {result.device}, batch {result.batch}, weights {result.weight_precision}, "
        f"activations {result.activation_precision}, compute {result.precision}",
        (f"  latency     {format_seconds(result.latency_s)} expected ({result.bound}-bound; the "
         f"profile's efficiency model), ideal bound {format_seconds(result.ideal_latency_s)} "
         f"(per-layer max(T_compute, T_memory), summed)" if result.expected_model else
         f"  latency     {format_seconds(result.latency_s)} ideal bound ({result.bound}-bound; sum of "
         f"per-layer max(T_compute, T_memory))"),
        *([f"  trust       {expected_trust(result.device, llm=bool(result.kv_cache_bytes))}"]
          if result.expected_model else []),
        f"  throughput  {result.throughput_per_s:,.1f} samples/s",
        *sequence_lines(result.params),
        *energy_lines(result),
        f"  model size  {format_bytes(result.model_size_bytes)} ({result.counts.params:,} params)",
        f"  work        {result.counts.macs:,} MACs, {result.counts.flops:,} ops; peak activations "
        f"{result.counts.peak_activations:,} elements",
        *(f"  memory      {check.describe()}" for check in result.memory),
    ]
    if not result.fits:
        lines.append(f"  WARNING: {result.network} does not fit on {result.device} at batch {result.batch}; "
                     "the times assume it did")
    return lines


def sequence_lines(params: Mapping[str, object]) -> list[str]:
    """The line on a variable-length batch (:mod:`simulator.model.lengths`): its lengths and padding."""
    if "padding" not in params:
        return []
    how = ("removed: each sequence runs at its own length" if params["padding"] == "none"
           else f"every sequence padded to {params.get('seq_len')} tokens")
    return [f"  sequences   {params.get('seq_lengths')}, padding {params['padding']} ({how})"]


def energy_includes(result: SimulationResult) -> str:
    """What the energy of ``result`` counts, in words (the table and the JSON say it)."""
    levels = [part for part in result.energy_breakdown_j if part not in ("compute", STATIC_PART)]
    return (f"dynamic: arithmetic (MACs and element-wise operations) and the accesses of each memory "
            f"level ({', '.join(levels)}); static: the profile's static power times the latency")


def energy_to_dict(result: SimulationResult) -> dict:
    """The energy totals of the ``roofline simulate`` JSON: the total, its dynamic and static parts,
    the breakdown (compute, one entry per memory level, static), the static power it was charged
    with and the average power ``energy / latency`` [J, W]."""
    return {
        "energy_breakdown_j": result.energy_breakdown_j,
        "energy_dynamic_j": result.dynamic_energy_j,
        "energy_static_j": result.static_energy_j,
        "static_power_w": result.static_power_w,
        "average_power_w": result.average_power_w,
        "energy_includes": energy_includes(result),
    }


def energy_lines(result: SimulationResult) -> list[str]:
    """The energy lines under the simulate table: the total and the average power, then the dynamic
    part (arithmetic and each memory level) and the static part (static power × latency), each with
    its share of the total."""
    def share(j: float) -> str:
        return f"{j / result.energy_j:.0%}" if result.energy_j else "-"

    parts = {part: j for part, j in result.energy_breakdown_j.items() if part != STATIC_PART}
    compute = parts.pop("compute", 0.0)
    dynamic = f"arithmetic {format_joules(compute)} ({share(compute)}) + memory " + ", ".join(
        f"{level} {format_joules(j)} ({share(j)})" for level, j in parts.items())
    static = (f"static power {format_watts(result.static_power_w)} x latency "
              f"{format_seconds(result.latency_s)}" if result.static_energy_j
              else "the profile's static power is 0 W")
    return [
        f"  energy      {format_joules(result.energy_j)} per batch, "
        f"{format_joules(result.energy_per_sample_j)} per sample; average power "
        f"{format_watts(result.average_power_w)} over the latency",
        f"    dynamic   {format_joules(result.dynamic_energy_j)} ({share(result.dynamic_energy_j)}) = "
        f"{dynamic}",
        f"    static    {format_joules(result.static_energy_j)} ({share(result.static_energy_j)}) = {static}",
    ]


def format_watts(value_w: float) -> str:
    """``11.34 -> '11.3 W'``, ``0.0467 -> '46.7 mW'`` (three significant digits)."""
    return format_joules(value_w).removesuffix("J") + "W"
