"""The typed views of a simulation that the formatter renders (:func:`simulator.report.format_simulation`,
:mod:`simulator.report_views`): each built once from a :class:`~simulator.results.SimulationResult`, so the
formatter takes one value and renders it, reading no result property and formatting no unit itself.

* :func:`simulation_table`: the layer table (every layer, or a chosen few), its total row and the lines
  under it (configuration, latency, trust, throughput, energy, size, work, memory), all as text;
* :func:`simulation_csv`: the CSV rows (the configuration on every row, a last row of totals);
* :func:`simulation_to_dict`: the JSON document (SI units: s, bytes, J); :func:`simulation_json`, as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simulator.io import dumps_json
from simulator.model.counts import NetworkCounts
from simulator.results import STATIC_PART, LayerResult, SimulationResult
from simulator.units import format_bytes, format_count, format_joules, format_seconds

CONFIG_COLUMNS = ["network", "device", "batch", "precision", "weight_precision", "activation_precision",
                  "fits"]
SIMULATION_COLUMNS = ["layer", "kind", "macs", "bytes_moved", "arithmetic_intensity", "t_compute_s",
                      "t_memory_s", "latency_s", "bound", "energy_j"]
#: the layer table's headers (units chosen per cell)
TABLE_HEADERS = ("layer", "kind", "MACs", "bytes", "ops/byte", "T_compute", "T_memory", "latency", "bound",
                 "energy")


@dataclass(frozen=True)
class TextTable:
    """A table as text, ready to render: headers, rows, a footer row and the lines under the table."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footer: tuple[str, ...]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class CsvTable:
    """CSV rows as values (numbers stay numbers), with their headers."""

    headers: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]


def layer_cells(layer: LayerResult) -> tuple[str, ...]:
    """One row of the layer table: MACs as a count, bytes, ops/byte, times, bound and energy with units."""
    return (layer.name, layer.kind, format_count(layer.macs), format_bytes(layer.bytes_moved),
            f"{layer.arithmetic_intensity:.1f}", format_seconds(layer.t_compute_s),
            format_seconds(layer.t_memory_s), format_seconds(layer.latency_s), layer.bound,
            format_joules(layer.energy_j))


def total_cells(result: SimulationResult) -> tuple[str, ...]:
    """The layer table's total row: the network's MACs, the layers' bytes summed, the engine's totals."""
    return ("total", "", format_count(result.counts.macs),
            format_bytes(sum(layer.bytes_moved for layer in result.layers)), "",
            format_seconds(result.t_compute_s), format_seconds(result.t_memory_s),
            format_seconds(result.latency_s), result.bound, format_joules(result.energy_j))


def simulation_table(result: SimulationResult, layers: Sequence[LayerResult] | None = None) -> TextTable:
    """The text view of ``result``: one row per layer of ``layers`` (default: every layer, in network
    order), the total row and :func:`simulation_summary_lines`."""
    chosen = result.layers if layers is None else layers
    return TextTable(TABLE_HEADERS, tuple(layer_cells(layer) for layer in chosen), total_cells(result),
                     tuple(simulation_summary_lines(result)))


def config_cells(result: SimulationResult) -> list[object]:
    """The configuration columns (:data:`CONFIG_COLUMNS`) of a CSV row."""
    return [result.network, result.device, result.batch, result.precision, result.weight_precision,
            result.activation_precision, result.fits]


def layer_values(layer: LayerResult) -> list[object]:
    """One layer's :data:`SIMULATION_COLUMNS` as values (SI units)."""
    return [layer.name, layer.kind, layer.macs, layer.bytes_moved, layer.arithmetic_intensity,
            layer.t_compute_s, layer.t_memory_s, layer.latency_s, layer.bound, layer.energy_j]


def total_values(result: SimulationResult) -> list[object]:
    """The CSV total row's :data:`SIMULATION_COLUMNS`: the network's MACs, the layers' bytes, their ops
    over those bytes, and the engine's totals."""
    moved = sum(layer.bytes_moved for layer in result.layers)
    return ["total", "", result.counts.macs, moved,
            sum(layer.ops for layer in result.layers) / moved if moved else 0.0,
            result.t_compute_s, result.t_memory_s, result.latency_s, result.bound, result.energy_j]


def simulation_csv(result: SimulationResult, layers: Sequence[LayerResult] | None = None) -> CsvTable:
    """The CSV view of ``result``: the configuration on every row, one row per layer of ``layers``
    (default: every layer) and a last row of totals (layer ``total``), as the table has."""
    config = config_cells(result)
    chosen = result.layers if layers is None else layers
    rows = [(*config, *layer_values(layer)) for layer in chosen]
    rows.append((*config, *total_values(result)))
    return CsvTable((*CONFIG_COLUMNS, *SIMULATION_COLUMNS), tuple(rows))


def layer_record(layer: LayerResult) -> dict:
    """One layer of the JSON document (SI units)."""
    return dict(zip(["name", *SIMULATION_COLUMNS[1:]], layer_values(layer), strict=True))


def counts_totals(counts: NetworkCounts) -> dict:
    """The totals of ``roofline count``'s JSON document (exact integers)."""
    return {"params": counts.params, "macs": counts.macs, "flops": counts.flops,
            "total_activations": counts.total_activations, "peak_activations": counts.peak_activations}


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


def simulation_to_dict(result: SimulationResult) -> dict:
    """The JSON document of ``roofline simulate`` (SI units: s, bytes, J): the tool and its version,
    the settings that produced it (:func:`simulation_settings`), totals, memory checks, layers."""
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
            **counts_totals(result.counts),
            "model_size_bytes": result.model_size_bytes,
            **llm_totals(result),
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
        "layers": [layer_record(layer) for layer in result.layers],
    }


def llm_totals(result: SimulationResult) -> dict:
    """An LLM pass's KV cache held at its end, ``kv_cache_bytes`` [bytes]
    (:func:`simulator.llm.as_network.kv_cache_bytes`), as ``roofline compare`` and ``sweep`` carry it;
    nothing for any other network (which holds no KV cache)."""
    return {"kv_cache_bytes": result.kv_cache_bytes} if result.kv_cache_bytes else {}


def simulation_json(result: SimulationResult) -> str:
    """The JSON document of ``roofline simulate`` (:func:`simulation_to_dict`) as text, indented 2."""
    return dumps_json(simulation_to_dict(result), indent=2)


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
        *([f"  KV cache    {format_bytes(result.kv_cache_bytes)} held at the end of the pass "
           f"(batch {result.batch})"] if result.kv_cache_bytes else []),
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
