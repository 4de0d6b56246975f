"""How far to trust the predictions: every published measurement in the dataset against the model.

The dataset (``hardware_profiles/measurements/*.csv``, one row per published point, each with its
source) says what was measured: network and its parameters, device, precision, batch, the metric
(``latency_s`` of one batch, ``throughput_per_s`` in samples/s, ``energy_per_sample_j``) and its
value in SI units, and the ``fit``/``check`` mark of its history (which nothing reads for scoring
or fitting any more: the profiles' efficiency figures are fitted in code on every row,
``tools/fit_profiles.py``). For each row this module simulates the same configuration twice:

* **ideal**: the roofline bound (``ideal=True``), which must never be slower than a measurement;
* **expected**: the device's efficiency model (``ideal=False``), whose error on every row whose
  runtime the model describes is what the summary reports: an **in-sample** figure, since those
  rows are the ones the figures were fitted on.

``error = predicted / measured − 1`` in the row's own metric; ``bound_holds`` means the ideal time
is at or below the measured time (for a throughput, at or above it). LLM rows
(``llm.csv``) are predicted by :mod:`simulator.llm.validation`.

The out-of-sample figures, with the figures fitted in code on every row of a training fold and
scored on the held-out rows, are :mod:`simulator.calibration.crossval`'s (``roofline accuracy --cv``).
"""

from __future__ import annotations

import csv
import importlib.resources
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device
from simulator.hardware.runtime import RUNTIME_SEPARATOR
from simulator.simulation import simulate

#: metrics whose larger value is better (a bound must not fall below the measurement)
HIGHER_IS_BETTER = {"throughput_per_s", "output_tokens_per_s", "tokens_per_s"}
ROLES = ("fit", "check")


def device_class(device: str) -> str:
    """``datacenter GPU``, ``Jetson Orin``, ``microcontroller`` or ``CPU``, for the summary."""
    if device.startswith(("a100", "h100", "h200", "gh200", "b200", "l4")):  # "l4" covers L4 and L40S
        return "datacenter GPU"
    if device.startswith("jetson"):
        return "Jetson Orin"
    if device.startswith(("stm32", "nucleo")):
        return "microcontroller"
    return "CPU"


def dataset_files() -> list[Path]:
    """The shipped measurement tables."""
    root = importlib.resources.files("simulator.hardware_profiles") / "measurements"
    return sorted(Path(str(entry)) for entry in root.iterdir() if str(entry).endswith(".csv"))


def load_measurements(paths: Iterable[Path] | None = None) -> list[dict[str, str]]:
    """Every row of the dataset, with the file it came from (``table``)."""
    rows = []
    for path in paths or dataset_files():
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("role") not in ROLES:
                    raise SimulatorError(f"{path.name}: row {row.get('id')!r}: role must be fit or check, "
                                         f"got {row.get('role')!r}")
                rows.append({**row, "table": path.stem})
    return rows


def parse_params(text: str) -> dict[str, object]:
    """``"resolution=1024x2048,dataset=ade20k"`` -> ``{"resolution": (1024, 2048), "dataset": "ade20k"}``."""
    params: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, _, value = item.partition("=")
        if "x" in value and all(part.isdigit() for part in value.split("x")):
            params[key] = tuple(int(part) for part in value.split("x"))
        elif value.isdigit():
            params[key] = int(value)
        else:
            params[key] = value
    return params


def supply_voltage_v(row: dict[str, str]) -> float | None:
    """The supply voltage a row's ``power_mode`` states (``"3.0V / Dual Bank Mode Activated"`` -> 3.0)."""
    found = re.search(r"(\d+(?:\.\d+)?)\s*V\b", row.get("power_mode", "") or "")
    return float(found.group(1)) if found else None


def row_overrides(row: dict[str, str], device) -> dict[str, float] | None:
    """The hardware overrides a row's conditions imply on ``device``: the supply voltage its
    ``power_mode`` states, on a board whose profile states a supply (None when there are none)."""
    voltage = supply_voltage_v(row) if device.supply is not None else None
    return {"supply_voltage_v": voltage} if voltage else None


#: the length distribution of each MLPerf Inference benchmark's data set (a key of
#: :data:`simulator.model.lengths.DISTRIBUTIONS`), by the network a row names
MLPERF_SEQUENCE_LENGTHS = {"bert_large": "squad-v1.1", "bert_base": "squad-v1.1"}


def row_sequence_lengths(row: dict[str, str]) -> dict[str, object]:
    """The sequence lengths and padding a row ran with, by this rule: an MLPerf Inference result
    (its ``source`` in ``mlcommons/inference_results_*`` or a mirror of it) of a BERT network in a
    LoadGen scenario (SingleStream, MultiStream, Offline, Server) ran the benchmark's data set (SQuAD
    v1.1 dev, :data:`MLPERF_SEQUENCE_LENGTHS`), and on TensorRT with the padding removed: NVIDIA's submission
    packs the batch's real tokens and runs variable-sequence-length kernels
    (mlcommons/inference_results_v3.0@dad59af09e9e62eceec4bee48794e201d6cf9170
    ``closed/NVIDIA/code/bert/tensorrt/fp16_builder_var_seqlen.py``: inputs ``cu_seqlens`` and
    ``max_seqlen``, ``CustomQKVToContextPluginDynamic`` with ``var_seqlen=1``). Other runtimes are taken
    as padding to the data set's ``max_seq_length``. ``{}`` for every other row, or when the row's
    ``params`` state ``seq_lengths`` themselves."""
    network, scenario = row.get("network", ""), row.get("scenario", "")
    # MLCommons' results repository or a mirror of it (ntuhpc/inference_results_v5.1, ...)
    mlperf = re.match(r"[\w.\-]+/(?:mlperf_)?inference_results_v\d", row.get("source", "")) is not None
    if (network not in MLPERF_SEQUENCE_LENGTHS or not mlperf
            or scenario.split(" ")[0] not in ("SingleStream", "MultiStream", "Offline", "Server")
            or "seq_lengths" in row.get("params", "")):
        return {}
    padding = "none" if row.get("runtime", "").startswith("TensorRT") else "max"
    return {"seq_lengths": MLPERF_SEQUENCE_LENGTHS[network], "padding": padding}


def _host_copies_s(row: dict[str, str], resolution, batch: int, params: dict) -> float:
    """The host-to-device and device-to-host copies of one batch that ``row``'s notes include [s]
    (:func:`simulator.calibration.host_transfer.host_transfer_s`; 0 when they are not included)."""
    from simulator.calibration.host_transfer import host_transfer_s, transfers_included
    from simulator.catalog import resolve_network
    from simulator.precision import bits_of, normalize

    if not transfers_included(row):
        return 0.0
    network = resolve_network(row["network"], resolution, batch, params)
    name = row["device"] if isinstance(row["device"], str) else row["device"].name
    device = name.partition(RUNTIME_SEPARATOR)[0]
    return host_transfer_s(network, batch, bits_of(normalize(row["precision"], "precision")), device)


def _predict_cnn(row: dict[str, str], ideal: bool) -> float:
    params = parse_params(row.get("params", "")) | row_sequence_lengths(row)
    resolution = params.pop("resolution", None)
    batch = int(row["batch"])
    # a TensorRT engine (every GPU row) runs its batch whole: the bound is for that execution
    whole = row.get("runtime", "").startswith("TensorRT")
    device = resolve_device(row["device"])
    result = simulate(row["network"], device, batch=batch, precision=row["precision"],
                      resolution=resolution, params=params, ideal=ideal, micro_batching=not whole,
                      overrides=row_overrides(row, device))
    metric = row["metric"]
    # the host copies a row's conditions include (EfficientViT's "data transfer time included"), priced
    # from the host link's data sheet as the fit prices them (simulator.calibration.host_transfer); the
    # bound leaves them out
    host_s = 0.0 if ideal else _host_copies_s(row, resolution, batch, params)
    if metric == "latency_s":
        return result.latency_s + host_s
    if metric == "throughput_per_s":
        return result.throughput_per_s * result.latency_s / (result.latency_s + host_s)
    if metric == "energy_per_sample_j":
        return result.energy_per_sample_j
    raise SimulatorError(f"row {row['id']!r}: no prediction for metric {metric!r}")


def predict(row: dict[str, str]) -> dict[str, float]:
    """``{"ideal": …, "expected": …}`` for one dataset row, in the row's metric and unit."""
    if row.get("table") == "llm":
        from simulator.llm.validation import predict as predict_llm

        return predict_llm(row)
    return {"ideal": _predict_cnn(row, ideal=True), "expected": _predict_cnn(row, ideal=False)}


@dataclass(frozen=True)
class Summary:
    """Per device class: the bound held on ``bound_held`` of ``rows`` rows; the expected value was
    within ±20% on ``within_20`` of ``modelled_rows`` rows (those whose runtime the device's
    efficiency model describes; in sample: the model is fitted on them)."""

    device_class: str
    rows: int
    bound_held: int
    modelled_rows: int
    within_20: int


def llm_server_row(row: dict[str, str]) -> bool:
    """Whether an LLM row is a LoadGen Server result (its ``runtime`` names the ``Server`` scenario): a
    throughput held under p99 TTFT/TPOT bounds, which the model does not describe; compared with the
    bound only, and left out of the cross-validation."""
    return re.search(r"\bServer\b", row.get("runtime", "")) is not None


def llm_unmodelled_reason(row: dict[str, str]) -> str | None:
    """Why an LLM row's expected value is not a claim of the model (compared with the bound only, left
    out of the cross-validation), or None when it is: a LoadGen Server result (:func:`llm_server_row`);
    a decode by beam search (the notes name it: GPT-J in NVIDIA's MLPerf harness decodes 4 beams per
    sample, a workload the LLM phases do not build); or a condition the source does not state (the
    notes mark it ``ASSUMED``, e.g. a data set's mean prompt length no published file gives), since a
    prediction at a guessed condition tests the guess, not the model."""
    notes = row.get("notes", "")
    if llm_server_row(row):
        return "LoadGen Server result (throughput under latency bounds)"
    if re.search(r"\bbeam search\b", notes):
        return "beam-search decode (not modelled)"
    if "ASSUMED" in notes:
        return "a condition its source does not state (notes: ASSUMED)"
    return None


def row_device(row: dict[str, str]) -> tuple[str, bool]:
    """The device a row is predicted on, and whether its expected value is the model's claim.

    A shipped runtime (:mod:`simulator.hardware.runtime`) that covers the row's runtime and version
    and names its device gives ``DEVICE@RUNTIME``; a version no file lists takes the newest file of
    that runtime at or below it that names the device (:func:`simulator.hardware.runtime.newest_at_or_below`:
    an X-CUBE-AI 10.0.0 row would read x-cube-ai-9.0; 8.0.0, below every file, the bare board);
    otherwise the device as it is, whose efficiency model
    describes the row when the model names no runtime or the row's runtime starts with that name (LLM
    rows: always, except those :func:`llm_unmodelled_reason` names). Rows of other runtimes are
    compared with the bound only."""
    from simulator.hardware.loader import available_runtimes, resolve_runtime
    from simulator.hardware.runtime import newest_at_or_below

    device = row["device"]
    runtimes = [resolve_runtime(name) for name in available_runtimes()]
    for runtime in runtimes:
        covered = runtime.covers(row.get("runtime", ""), row.get("runtime_version", ""))
        if device in runtime.devices and covered:
            return f"{device}{RUNTIME_SEPARATOR}{runtime.name}", True
    older = newest_at_or_below(runtimes, row.get("runtime", ""), row.get("runtime_version", ""), device)
    if older is not None:
        return f"{device}{RUNTIME_SEPARATOR}{older.name}", True
    if row.get("table") == "llm":
        return device, llm_unmodelled_reason(row) is None
    model = resolve_device(device).efficiency
    runtime = model.runtime if model is not None else ""
    return device, not runtime or row.get("runtime", "").startswith(runtime)


def accuracy_table(rows: list[dict[str, str]] | None = None,
                   progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """One line per dataset row: measured, ideal, expected, their errors, and whether the bound held.

    ``progress(done, total, row id)`` is called after each row (the library prints nothing)."""
    lines = []
    rows = rows if rows is not None else load_measurements()
    for done, row in enumerate(rows, 1):
        if progress is not None:
            progress(done, len(rows), row["id"])
        device, modelled = row_device(row)
        predicted = predict({**row, "device": device})
        measured = float(row["value"])
        higher = row["metric"] in HIGHER_IS_BETTER
        ideal, expected = predicted["ideal"], predicted["expected"]
        lines.append({
            "id": row["id"], "table": row["table"], "network": row["network"], "device": row["device"],
            "runtime": device.partition(RUNTIME_SEPARATOR)[2],
            "device_class": device_class(row["device"]), "precision": row.get("precision", ""),
            "batch": row.get("batch", ""), "metric": row["metric"], "role": row["role"],
            "measured": measured, "ideal": ideal, "expected": expected,
            "ideal_error": ideal / measured - 1, "expected_error": expected / measured - 1,
            "bound_holds": bool(ideal >= measured if higher else ideal <= measured),
            #: whether the device's efficiency model describes this row's runtime (else bound only)
            "expected_applies": modelled,
            #: how loose the bound is: ideal over measured speed (1 = tight)
            "bound_ratio": ideal / measured if higher else measured / ideal,
        })
    return pd.DataFrame(lines)


def summarize(table: pd.DataFrame) -> list[Summary]:
    """The per-class counts of :class:`Summary`, in a fixed class order."""
    out = []
    for cls in ("datacenter GPU", "Jetson Orin", "microcontroller", "CPU"):
        part = table[table.device_class == cls]
        if part.empty:
            continue
        modelled = part[part.expected_applies]
        out.append(Summary(cls, len(part), int(part.bound_holds.sum()), len(modelled),
                           int((modelled.expected_error.abs() <= 0.2).sum())))
    return out


def format_accuracy(table: pd.DataFrame) -> str:
    """The table as text, then the summary lines."""
    from simulator.report import render_table

    def number(value: float) -> str:
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"

    headers = ["id", "model", "metric", "measured", "ideal", "ideal err", "expected", "exp. err", "bound"]
    body = [[r.id, "expected" if r.expected_applies else "bound", r.metric, number(r.measured),
             number(r.ideal), f"{r.ideal_error:+.0%}", number(r.expected), f"{r.expected_error:+.0%}",
             "holds" if r.bound_holds else "VIOLATED"] for r in table.itertuples()]
    return "\n".join([render_table(headers, body, left=3), "", *format_summary(table)])


def format_summary(table: pd.DataFrame) -> list[str]:
    """One line per device class: how often the bound held, how often the expected value was close."""
    return [f"{s.device_class}: bound held on {s.bound_held} of {s.rows} rows; expected within ±20% on "
            f"{s.within_20} of {s.modelled_rows} rows it describes (in sample)" for s in summarize(table)]


def format_markdown(table: pd.DataFrame) -> str:
    """The summary as a list and every row as a Markdown table (for the README)."""
    def number(value: float) -> str:
        return f"{value:.4g}"

    lines = [f"- {line}" for line in format_summary(table)]
    lines += ["", "| id | model | metric | measured | ideal | ideal error | expected | expected error "
              "| bound |", "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in table.itertuples():
        model = "expected" if r.expected_applies else "bound only"
        lines.append(f"| {r.id} | {model} | {r.metric} | {number(r.measured)} | {number(r.ideal)} | "
                     f"{r.ideal_error:+.0%} | {number(r.expected)} | {r.expected_error:+.0%} | "
                     f"{'holds' if r.bound_holds else 'VIOLATED'} |")
    return "\n".join(lines)
