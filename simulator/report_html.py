"""The interactive report: one self-contained HTML file over a sweep of networks × devices × precisions
× batches (× what-if hardware values), every number on it computed here by the library.

:func:`html_report_data` runs :func:`simulator.simulation.simulate` on every configuration and keeps what
the page shows: the totals (expected latency, the ideal bound beside it, throughput, energy split by
arithmetic, memory level and static power, memory checks), per layer the latency, MACs, bytes
moved, bound and binding level, the roofline placement of each working layer
(:func:`simulator.plots.roofline.layer_points`, intensity at the binding level), the device's
ceilings per precision and the ridge points ``peak_ops_per_s / bandwidth_bytes_per_s`` of each
timed memory level (:func:`simulator.plots.roofline.roof_figures`), the slowest layers and the
time by layer kind (:mod:`simulator.results`), the activations alive per layer
(:func:`simulator.model.counts.analyze`) with the peak layer, the published measurements of each
network on each device (:func:`simulator.accuracy.load_measurements`) and, per device, the
expected value's in-sample error on its published rows (:func:`simulator.accuracy.accuracy_table`: ``predicted
/ measured − 1``, out of sample). An LLM among the networks adds its views
(:mod:`simulator.report_html_llm`: ``simulate_llm`` per device, weight precision and context) and
shows one decode step in the others.

:func:`render_html_report` embeds that data as JSON in the page of :mod:`simulator.report_html_page`
(its own SVG drawing code, no library, nothing loaded from the network); :func:`write_html_report`
writes the file atomically; :func:`report_widget` shows the page inline in Jupyter. Per-layer
numbers are kept to :data:`LAYER_DIGITS` significant digits
(the page prints four), totals in full.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from simulator.accuracy import accuracy_table, load_measurements, parse_params, row_device
from simulator.catalog import resolve_network
from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device
from simulator.hardware.runtime import RUNTIME_SEPARATOR
from simulator.io import dumps_json, write_text
from simulator.model.counts import analyze
from simulator.model.fusion import simulated_graph
from simulator.plots.roofline import binding_level, layer_points, roof_figures
from simulator.precision import normalize
from simulator.report import tool_record
from simulator.report_html_llm import (
    check_llm_arguments,
    decode_network,
    decode_step,
    is_llm_name,
    llm_contexts,
    llm_views,
    pass_context,
)
from simulator.results import kind_summaries, slowest_layers
from simulator.simulation import simulate

#: significant digits kept of every per-layer number (the page prints 4)
LAYER_DIGITS = 6
#: how many of the slowest layers the page lists
SLOWEST = 10
#: the metrics of the published measurements drawn on the latency–throughput chart
CHARTED_METRICS = ("latency_s", "throughput_per_s")


def _round(value: float) -> float:
    return float(f"{value:.{LAYER_DIGITS}g}")


def _device_record(device, roofs: list[dict], accuracy: dict | None) -> dict:
    """What the page says of a device: its profile's sources, levels, static power and roofs."""
    return {
        "name": device.name, "description": device.description, "source": device.source,
        "peak_source": device.peak_source, "static_power_w": device.static_power_w,
        "static_power_source": device.static_power_source, "expected_model": device.efficiency is not None,
        "precisions": list(device.precisions), "roofs": roofs, "accuracy": accuracy,
    }


def _roof(result, device) -> dict:
    """Ceilings per precision [ops/s], timed levels [bytes/s] and ridge points [ops/byte] under the
    result's overrides."""
    peaks, levels = roof_figures([result], device, list(device.precisions))
    return {
        "peaks_ops_per_s": peaks,
        "levels": [{"name": level.name, "bandwidth_bytes_per_s": level.bandwidth_bytes_per_s}
                   for level in levels],
        "ridges_ops_per_byte": {precision: [peak / level.bandwidth_bytes_per_s for level in levels]
                                for precision, peak in peaks.items()},
    }


def _device_accuracy(device_name: str, table) -> dict | None:
    """The expected value's error (``predicted / measured − 1``) on the device's rows whose runtime
    its efficiency model describes (in sample: the model is fitted on them); None when there are none."""
    if table is None or table.empty:
        return None
    # the device as each row was predicted on: DEVICE, or DEVICE@RUNTIME when a runtime covers the row
    predicted_on = table.device.where(table.runtime == "", table.device + RUNTIME_SEPARATOR + table.runtime)
    rows = table[(predicted_on == device_name) & table.expected_applies]
    if rows.empty:
        return None
    errors = [float(e) for e in rows.expected_error]
    latency = [float(e) for e in rows[rows.metric == "latency_s"].expected_error]
    return {"rows": len(errors), "min": min(errors), "median": statistics.median(errors), "max": max(errors),
            "within_20": sum(abs(e) <= 0.2 for e in errors), "latency_rows": len(latency),
            "latency_min": min(latency, default=None), "latency_max": max(latency, default=None)}


@functools.lru_cache(maxsize=8)
def _accuracy_table(rows_json: str):
    """:func:`simulator.accuracy.accuracy_table` of the rows (as JSON), kept for the next report over the
    same rows: it simulates every modelled row of the devices (seconds), the largest cost of a small report
    and of each request of ``roofline serve``. Read only: the page takes figures from it."""
    return accuracy_table(json.loads(rows_json))


def _measured_band(config: dict, accuracy: dict | None) -> list[float] | None:
    """Where the device's published latencies fell around the expected value: ``[latency / (1 +
    largest error), latency / (1 + smallest error)]`` [s], from ``measured = predicted / (1 + error)``
    over its modelled latency rows; None without them or without an efficiency model."""
    if config["latency_model"] != "expected" or not accuracy or not accuracy["latency_rows"]:
        return None
    latency_s = config["latency_s"]
    return [latency_s / (1 + accuracy["latency_max"]), latency_s / (1 + accuracy["latency_min"])]


def _measurements(rows: Sequence[dict], networks: Sequence[str], devices: Sequence[str]) -> list[dict]:
    """Published latency and throughput rows of the report's networks on its devices (their own
    parameters only: rows measured at another resolution are left out)."""
    out = []
    for row in rows:
        if (row.get("table") == "llm" or row["metric"] not in CHARTED_METRICS
                or row["network"] not in networks or row["device"] not in devices
                or parse_params(row.get("params", ""))):
            continue
        out.append({"id": row["id"], "network": row["network"], "device": row["device"],
                    "precision": row.get("precision", ""), "batch": int(row["batch"]),
                    "metric": row["metric"],
                    "value": float(row["value"]), "role": row["role"], "runtime": row.get("runtime", ""),
                    "source": row.get("source", "")})
    return out


def _layers(result, names: dict) -> dict:
    """Per-layer arrays of one result, and its roofline points, slowest layers and kinds."""
    index = {id(layer): i for i, layer in enumerate(result.layers)}
    binding = [binding_level(layer) or "none" for layer in result.layers]
    levels = list(dict.fromkeys(binding))
    key = tuple((layer.name, layer.kind) for layer in result.layers)
    layerset = names.setdefault(key, len(names))
    return {
        "layerset": layerset,
        "latency_s": [_round(layer.latency_s) for layer in result.layers],
        "macs": [layer.macs for layer in result.layers],
        "bytes_moved": [_round(layer.bytes_moved) for layer in result.layers],
        # the first letter of each layer's bound: c(ompute), m(emory), l(ink: a tensor-parallel
        # all-reduce) or n(one, no work)
        "bound": "".join(layer.bound[0] for layer in result.layers),
        "levels": levels,
        "binding_level": [levels.index(level) for level in binding],
        "points": [[index[id(p.layer)], _round(p.intensity_ops_per_byte), _round(p.achieved_ops_per_s)]
                   for p in layer_points(result)],
        "slowest": [index[id(layer)] for layer in slowest_layers(result.layers, min(SLOWEST,
                                                                                     len(result.layers)))],
        "kinds": [{"kind": s.kind, "layers": s.layers, "latency_s": s.latency_s, "share": s.latency_share}
                  for s in kind_summaries(result.layers)],
    }


def _config(result, device_index: int, roof_index: int, whatif: int, names: dict) -> dict:
    """One configuration's record: totals as :func:`simulator.report.simulation_to_dict` has them."""
    return {
        "network": result.network, "device": device_index, "precision": result.precision,
        "batch": result.batch, "whatif": whatif, "roof": roof_index,
        "latency_s": result.latency_s, "ideal_latency_s": result.ideal_latency_s,
        "latency_model": "expected" if result.expected_model else "ideal",
        "throughput_per_s": result.throughput_per_s,
        "ideal_throughput_per_s": result.batch / result.ideal_latency_s if result.ideal_latency_s else None,
        "energy_j": result.energy_j, "energy_per_sample_j": result.energy_per_sample_j,
        "energy_breakdown_j": result.energy_breakdown_j, "energy_dynamic_j": result.dynamic_energy_j,
        "energy_static_j": result.static_energy_j, "static_power_w": result.static_power_w,
        "average_power_w": result.average_power_w, "bound": result.bound, "fits": result.fits,
        "micro_batch": result.micro_batch, "macs": result.counts.macs,
        "model_size_bytes": result.model_size_bytes, "peak_activations": result.counts.peak_activations,
        "memory": [{"level": c.level, "holds": c.holds, "required_bytes": c.required_bytes,
                    "capacity_bytes": c.capacity_bytes, "fits": c.fits} for c in result.memory],
        "layers": _layers(result, names),
    }


def _liveness(network) -> dict:
    """Activation elements alive per sample while each layer of the simulated (inference) graph runs,
    and the peak layer (the first of the largest)."""
    graph = simulated_graph(network, True)
    live = list(analyze(graph).live)
    peak = max(range(len(live)), key=live.__getitem__) if live else 0
    return {"names": [node.name for node in graph.nodes], "elements": live, "peak_index": peak}


def _whatifs(overrides: Mapping[str, Sequence[float]] | None) -> list[dict[str, float]]:
    """Every combination of the override values (one empty combination when there are none)."""
    if not overrides:
        return [{}]
    keys = list(overrides)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*overrides.values())]


def html_report_data(networks: Sequence[str], devices: Sequence[str], precisions: Sequence[str] | None = None,
                batches: Sequence[int] = (1,), overrides: Mapping[str, Sequence[float]] | None = None,
                command: str = "", progress: Callable[[int, int, str], None] | None = None,
                contexts: Sequence[int] | None = None, generate: int | None = None) -> dict:
    """Everything the page shows, for every configuration of the product (JSON-ready, SI units).

    ``precisions`` default to each device's default precision; a precision a device does not have is
    left out for that device (listed under ``skipped``), and an unknown precision name is an error.
    ``overrides`` map an override key to its values (what-if axes, :mod:`simulator.engine.configs`).
    ``progress(done, total, label)`` is called after each configuration (the library prints nothing).
    An LLM among ``networks`` (:mod:`simulator.report_html_llm`) adds its views over ``contexts``
    (prompt tokens) and ``generate`` output tokens, precisions being its weights'; the other views
    show one decode step over its first context. What-if ``overrides`` do not apply to an LLM.
    """
    if not networks or not devices:
        raise SimulatorError("a report needs at least one network and one device")
    if not batches:
        raise SimulatorError("a report needs at least one batch size")
    precisions = None if precisions is None else [normalize(p, "precision") for p in precisions]
    resolved = [resolve_device(device) for device in devices]
    llms = [name for name in dict.fromkeys(networks) if is_llm_name(name)]
    contexts, generate = check_llm_arguments(contexts, generate)
    if llms and overrides:
        raise SimulatorError(f"what-if values ({', '.join(overrides)}) do not apply to the LLM {llms[0]!r}")
    llm_skipped: list[str] = []
    llm_contexts_of, step_contexts = {}, {}
    for name in llms:
        llm_contexts_of[name], notes = llm_contexts(name, contexts, generate)
        llm_skipped += notes
        if not llm_contexts_of[name]:
            raise SimulatorError(f"none of the contexts {', '.join(map(str, contexts))} fits the LLM "
                                 f"{name!r} with {generate} generated tokens ({notes[0]})")
        step_contexts[name] = pass_context(llm_contexts_of[name])
    built = {name: (name if name in llms else resolve_network(name)) for name in dict.fromkeys(networks)}
    whatifs = _whatifs(overrides)
    plan = [(net, d, p, w, b) for net in built for d, device in enumerate(resolved)
            for p in (precisions or [device.default_precision]) if p in device.precisions
            for w in range(len(whatifs)) for b in batches]
    skipped = sorted({f"{device.name} {p}" for device in resolved for p in (precisions or [])
                      if p not in device.precisions})
    if not plan:
        raise SimulatorError(f"none of the devices has any of the precisions {', '.join(precisions or [])}")
    names: dict = {}
    roofs: list[list[dict]] = [[] for _ in resolved]
    roof_keys: dict = {}
    configs = []
    llm_pairs: dict[str, list[tuple[int, str]]] = {name: [] for name in llms}
    for done, (net, d, p, w, b) in enumerate(plan, 1):
        device = resolved[d]
        if net in llms:
            try:
                result = decode_step(net, device, b, p, step_contexts[net])
            except SimulatorError as error:  # a precision the LLM rules do not have: left out
                llm_skipped.append(f"{net} on {device.name} {p} ({error})")
                continue
            if (d, p) not in llm_pairs[net]:
                llm_pairs[net].append((d, p))
        else:
            result = simulate(built[net], device, batch=b, precision=p, overrides=whatifs[w] or None)
        key = (d, w)
        if key not in roof_keys:
            roof_keys[key] = len(roofs[d])
            roofs[d].append(_roof(result, device))
        configs.append(_config(result, d, roof_keys[key], w, names))
        configs[-1]["network"] = net  # as the report names it (an .onnx path, a config.json)
        if progress is not None:
            progress(done, len(plan), f"{net} on {device.name}, {p}, batch {b}")
    if not configs:
        raise SimulatorError(f"no configuration of the report could be simulated: {'; '.join(llm_skipped)}")
    llm_data = {name: llm_views(name, resolved, llm_pairs[name], batches, llm_contexts_of[name], generate)
                for name in llms if llm_pairs[name]}
    base_names = [device.name.partition(RUNTIME_SEPARATOR)[0] for device in resolved]
    rows = load_measurements()
    # the rows whose runtime the device's efficiency model describes: its error there is in sample (the
    # profiles are fitted on every row, tools/fit_profiles.py); the trust line quotes the out-of-sample one
    device_rows = [row for row in rows if row.get("table") != "llm" and row["device"] in base_names
                   and row_device(row)[1]]
    table = _accuracy_table(json.dumps(device_rows, sort_keys=True)) if device_rows else None
    accuracy = [_device_accuracy(device.name, table) for device in resolved]
    for config in configs:
        config["measured_band_s"] = _measured_band(config, accuracy[config["device"]])
    return {
        "tool": tool_record(),
        "settings": {"command": command, "networks": list(built), "devices": [d.name for d in resolved],
                     "precisions": precisions or "each device's default", "batches": list(batches),
                     "overrides": {key: list(values) for key, values in (overrides or {}).items()},
                     "skipped": skipped + sorted(dict.fromkeys(llm_skipped)),
                     **({"contexts": contexts, "generate": generate} if llms else {})},
        "networks": [name for name in built if any(c["network"] == name for c in configs)],
        "devices": [_device_record(device, roofs[d], accuracy[d]) for d, device in enumerate(resolved)],
        "precisions": list(dict.fromkeys(c["precision"] for c in configs)),
        "batches": list(batches),
        "whatifs": whatifs,
        "layersets": [{"names": [n for n, _ in key], "kinds": [k for _, k in key]} for key in names],
        "liveness": {name: _liveness(decode_network(name, step_contexts[name]) if name in llms
                                     else network) for name, network in built.items()},
        "llm": llm_data,
        "llm_pass": {name: f"one decode step over {step_contexts[name]:,} cached tokens"
                     for name in llm_data},
        "measurements": _measurements(rows, list(built), base_names),
        "configs": configs,
    }


def render_html_report(data: dict) -> str:
    """The page: :mod:`simulator.report_html_page`'s template with ``data`` embedded as JSON (``</``
    escaped so that no string can close the script element)."""
    from simulator.report_html_page import PAGE

    payload = dumps_json(data, separators=(",", ":")).replace("</", "<\\/")
    devices = ", ".join(d["name"] for d in data["devices"])
    title = f"roofline report: {', '.join(data['networks'])} on {devices}"
    return (PAGE.replace("__TITLE__", html.escape(title))
            .replace("__VERSION__", html.escape(data["tool"]["version"])).replace("__DATA__", payload))


def write_html_report(path: str | Path, data: dict) -> Path:
    """Writes the page of ``data`` to ``path`` atomically (a temporary file renamed over it)."""
    return write_text(path, render_html_report(data))


def embedded_data(page: str) -> dict:
    """The data a page embeds (for tests and tools): the JSON of its ``report-data`` script."""
    start = page.index('<script id="report-data" type="application/json">')
    start = page.index(">", start) + 1
    end = page.index("</script>", start)
    return json.loads(page[start:end].replace("<\\/", "</"))


class ReportWidget:
    """The report's page shown inline in Jupyter: an ``<iframe srcdoc>`` holding the whole page (its
    scripts run inside the frame, nothing is loaded from the network). ``data`` is the report's data,
    ``html`` the page; ``height_px`` the frame's height."""

    def __init__(self, data: dict, height_px: int = 900) -> None:
        self.data = data
        self.html = render_html_report(data)
        self.height_px = height_px

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
                f'style="width:100%;height:{int(self.height_px)}px;border:1px solid #ddd"></iframe>')

    def save(self, path: str | Path) -> Path:
        """Writes the page to ``path`` (as ``roofline report -o`` does)."""
        return write_text(path, self.html)


def report_widget(networks: Sequence[str] | str, devices: Sequence[str] | str,
                  precisions: Sequence[str] | None = None, batches: Sequence[int] = (1,),
                  overrides: Mapping[str, Sequence[float]] | None = None,
                  contexts: Sequence[int] | None = None, generate: int | None = None,
                  height_px: int = 900) -> ReportWidget:
    """The report of :func:`html_report_data` (same arguments; one name may be given as a string) as
    a :class:`ReportWidget`: the last expression of a notebook cell, it shows the page with its controls."""
    networks = [networks] if isinstance(networks, str) else list(networks)
    devices = [devices] if isinstance(devices, str) else list(devices)
    if isinstance(height_px, bool) or not isinstance(height_px, int) or height_px < 100:
        raise SimulatorError(f"height_px must be an integer of at least 100 (pixels), got {height_px!r}")
    data = html_report_data(networks, devices, precisions, batches, overrides,
                            command="simulator.report_widget", contexts=contexts, generate=generate)
    return ReportWidget(data, height_px)
