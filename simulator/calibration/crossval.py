"""Out-of-sample accuracy by construction: the expected model's figures fitted in code on one part
of the dataset and scored on the rest.

Every protocol fits each device family's figures (:mod:`simulator.calibration.cv_model`, fitted by
:mod:`simulator.calibration.cv_fit`) on ALL the rows of its training fold, whatever their
hand-assigned ``role``, and predicts the held-out rows with them:

* ``leave-one-device-out``: each device's rows from the figures fitted on the other devices of its
  family (with none left, the family's documented defaults and the device's data sheet);
* ``leave-one-family-out``: each network family's rows (:func:`~simulator.calibration.folds.network_family`)
  from the figures fitted on the other networks;
* ``time-split``: the rows published from 2024 on from those published before
  (:func:`~simulator.calibration.folds.published`; undated rows are left out and counted);
* ``in-sample``: every row from the figures fitted on all rows (a fit figure, labelled as such);
* ``shipped``: the shipped profiles' expected model on every row, simulated as ``roofline accuracy``
  does. The profiles' figures ARE the in-sample fit (``python tools/fit_profiles.py`` writes them,
  :mod:`simulator.calibration.shipped_fit`; ``--check`` and ``tests/calibration/test_shipped_fit.py``
  pin it), so this protocol's figures equal ``in-sample``'s: a check that the model users run is the
  one cross-validated here.

Rows in scope: the latency and throughput rows of ``gpu.csv`` and ``mcu.csv`` whose device has a
family and whose runtime the expected model describes (the profile's own or a shipped runtime file),
and the rows of ``llm.csv`` of an LLM family's serving runtime (:mod:`simulator.calibration.cv_llm`:
its three LLM terms fitted, the kernel figures the profile's). Energy rows, rows of runtimes without
a runtime file (bound only) and LLM rows predicted through a runtime file (HuggingFace transformers
on Orin) are counted as not cross-validated (:func:`scope`). This module only reports; the shipped
profiles hold the in-sample fit (``python tools/fit_profiles.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.calibration.cv_fit import default_fit, fit_family
from simulator.calibration.cv_llm import (
    LLM_FAMILIES,
    LLMCase,
    default_llm_fit,
    fit_llm,
    llm_case,
    llm_family_of,
)
from simulator.calibration.cv_model import FAMILIES, RowCase, family_of, row_case
from simulator.calibration.folds import before_split, network_family
from simulator.errors import SimulatorError

PROTOCOLS = ("leave-one-device-out", "leave-one-family-out", "time-split", "in-sample", "shipped")
#: protocols whose figures are out of sample
OUT_OF_SAMPLE = PROTOCOLS[:3]
#: what ``roofline accuracy --cv`` runs without ``--protocol`` (``shipped`` simulates every row: ask for it)
DEFAULT_PROTOCOLS = PROTOCOLS[:4]
CLASSES = ("datacenter GPU", "edge GPU", "microcontroller", "LLM")
METRICS = ("latency_s", "throughput_per_s")


@dataclass(frozen=True)
class Scope:
    """The rows cross-validated (with the runtime file that covers each, or None) and, by reason,
    how many rows of the dataset are not."""

    rows: tuple[tuple[Mapping[str, str], str | None], ...]
    excluded: Mapping[str, int]


def scope(rows: Iterable[Mapping[str, str]]) -> Scope:
    """Split ``rows`` into those the cross-validation predicts and the counts of the rest."""
    from simulator.accuracy import llm_unmodelled_reason, row_device
    from simulator.hardware.runtime import RUNTIME_SEPARATOR

    kept, excluded = [], {}

    def skip(reason: str) -> None:
        excluded[reason] = excluded.get(reason, 0) + 1

    for row in rows:
        if row["table"] == "llm":
            device, modelled = row_device(row)
            if llm_family_of(row["device"]) is None:
                skip("LLM row of a device in no LLM family")
            elif not modelled:
                skip(f"LLM row: {llm_unmodelled_reason(row)}: bound only")
            elif RUNTIME_SEPARATOR in device:
                skip("LLM row of a runtime file (HuggingFace transformers; its factor is not fitted here)")
            else:
                kept.append((row, None))
        elif row["metric"] not in METRICS:
            skip(f"{row['metric']} row (latency and throughput only)")
        elif family_of(row["device"]) is None:
            skip("device in no family")
        else:
            device, modelled = row_device(row)
            if not modelled:
                skip("runtime the expected model does not describe (bound only)")
            else:
                kept.append((row, device.partition(RUNTIME_SEPARATOR)[2] or None))
    return Scope(tuple(kept), excluded)


def build_cases(selected: Scope, progress: Callable[[int, int, str], None] | None = None
                ) -> list[RowCase | LLMCase]:
    """One case per row in scope (:class:`~simulator.calibration.cv_model.RowCase`, or
    :class:`~simulator.calibration.cv_llm.LLMCase` for an LLM row), built once: every fold reuses
    them."""
    from simulator.accuracy import parse_params, row_sequence_lengths

    cases = []
    for done, (row, runtime) in enumerate(selected.rows, 1):
        # the row's documented workload, as the shipped prediction runs it (MLPerf BERT: SQuAD's lengths)
        params = parse_params(row.get("params", "")) | row_sequence_lengths(row)
        cases.append(llm_case(row) if row["table"] == "llm" else row_case(row, params, runtime))
        if progress is not None:
            progress(done, len(selected.rows), row["id"])
    return cases


def fit_or_default(train: Sequence[RowCase | LLMCase], family_cases: Sequence[RowCase | LLMCase]):
    """The family's fit on ``train``, or its defaults when the fold leaves it no row."""
    if isinstance(family_cases[0], LLMCase):
        return fit_llm(train) if train else default_llm_fit(family_cases[0].family)
    return fit_family(train) if train else default_fit(family_cases)


def _predict(fit, test: Sequence[RowCase | LLMCase]) -> dict[str, float]:
    return dict(zip((c.id for c in test), fit.predict_cases(test), strict=True))


def folds(protocol: str, cases: Sequence[RowCase], rows: Mapping[str, Mapping[str, str]]
          ) -> list[tuple[list[RowCase], list[RowCase]]]:
    """``(train, test)`` pairs of one family's ``cases`` under ``protocol`` (``rows``: by id)."""
    if protocol == "in-sample":
        return [(list(cases), list(cases))]
    if protocol == "time-split":
        dated = {c.id: before_split(rows[c.id]) for c in cases}
        return [([c for c in cases if dated[c.id]], [c for c in cases if dated[c.id] is False])]
    key = ((lambda c: c.device) if protocol == "leave-one-device-out"
           else (lambda c: network_family(rows[c.id]["network"])))
    groups = dict.fromkeys(key(c) for c in cases)
    return [([c for c in cases if key(c) != g], [c for c in cases if key(c) == g]) for g in groups]


def cross_validate(cases: Sequence[RowCase], rows: Mapping[str, Mapping[str, str]],
                   protocols: Sequence[str] = PROTOCOLS[:4]) -> dict[str, dict[str, float]]:
    """``protocol -> {row id: expected value}`` with every value predicted by figures fitted
    without that row (``in-sample``: with every row)."""
    out: dict[str, dict[str, float]] = {}
    for protocol in protocols:
        predicted: dict[str, float] = {}
        for family in (*FAMILIES, *LLM_FAMILIES):
            members = [c for c in cases if c.family is family]
            if not members:
                continue
            for train, test in folds(protocol, members, rows):
                if test:
                    predicted.update(_predict(fit_or_default(train, members), test))
        out[protocol] = predicted
    return out


def shipped_predictions(selected: Scope) -> dict[str, float]:
    """The shipped profiles' expected value of each row in scope (``roofline accuracy``'s)."""
    from simulator.accuracy import predict

    out = {}
    for row, runtime in selected.rows:
        device = f"{row['device']}@{runtime}" if runtime else row["device"]
        out[row["id"]] = predict({**row, "device": device})["expected"]
    return out


def error_table(selected: Scope, predictions: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One line per (row, protocol) that has a prediction: device, class, error = predicted /
    measured − 1."""
    lines = []
    for row, _ in selected.rows:
        llm = row["table"] == "llm"
        cls = "LLM" if llm else family_of(row["device"]).device_class
        # a device's LLM rows are a line of their own (an A100 has both)
        device = f"{row['device']} (LLM)" if llm else row["device"]
        for protocol, values in predictions.items():
            if row["id"] in values:
                lines.append({"id": row["id"], "device": device, "device_class": cls,
                              "network_family": network_family(row["network"]), "protocol": protocol,
                              "measured": float(row["value"]), "expected": values[row["id"]],
                              "error": values[row["id"]] / float(row["value"]) - 1})
    return pd.DataFrame(lines)


def summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Per device class and per device, per protocol: ``n``, rows within ±10% and ±20%, the median
    and the 90th percentile of |error| (:func:`summary_lines`)."""
    order = {cls: i for i, cls in enumerate(CLASSES)}
    classes = sorted(set(errors.device_class), key=order.get)
    groups = [("class", cls, errors.device_class == cls) for cls in classes]
    classes_of = dict(zip(errors.device, errors.device_class, strict=True))
    devices = sorted(classes_of, key=lambda d: (order[classes_of[d]], d))
    groups += [("device", d, errors.device == d) for d in devices]
    return summary_lines(errors, groups, PROTOCOLS, OUT_OF_SAMPLE)


def summary_lines(errors: pd.DataFrame, groups: Sequence[tuple[str, str, pd.Series]],
                  protocols: Sequence[str], out_of_sample: Sequence[str]) -> pd.DataFrame:
    """One line per ``(scope, name, rows mask)`` of ``groups`` and protocol that has rows: ``n``, rows
    within ±10% and ±20%, the median and the 90th percentile of |error| (linear interpolation,
    numpy's default)."""
    lines = []
    for scope_name, name, mask in groups:
        for protocol in protocols:
            part = errors[mask & (errors.protocol == protocol)].error.abs()
            if part.empty:
                continue
            lines.append({"scope": scope_name, "name": name, "protocol": protocol,
                          "out_of_sample": protocol in out_of_sample, "n": len(part),
                          "within_10": int((part <= 0.1).sum()), "within_20": int((part <= 0.2).sum()),
                          "median_abs_error": float(np.median(part)),
                          "p90_abs_error": float(np.percentile(part, 90))})
    return pd.DataFrame(lines)


def run(rows: Iterable[Mapping[str, str]] | None = None, protocols: Sequence[str] = DEFAULT_PROTOCOLS,
        progress: Callable[[int, int, str], None] | None = None,
        extra: Callable[[pd.DataFrame, Sequence[Mapping[str, str]], Mapping[str, Mapping[str, float]]],
                        pd.DataFrame] | None = None) -> tuple[pd.DataFrame, Scope]:
    """The cross-validation of ``rows`` (default: the dataset) under ``protocols``: the summary
    (:func:`summary`) and the scope. A family's fits see only its own rows, so selecting a dataset
    table leaves the other tables' figures unchanged. ``extra(summary, rows, predictions)`` (the
    latency predictions by protocol and row id) returns the table with lines of its own added: the
    callers pass :func:`simulator.calibration.cv_energy.with_energy_lines`, the microcontroller energy
    rows, which this module cannot import (that module uses this one's folds)."""
    from simulator.accuracy import load_measurements

    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise SimulatorError(f"unknown protocol {unknown[0]!r}; valid: {', '.join(PROTOCOLS)}")
    rows = list(rows if rows is not None else load_measurements())
    selected = scope(rows)
    cases = build_cases(selected, progress)
    by_id = {row["id"]: row for row, _ in selected.rows}
    predictions = cross_validate(cases, by_id, [p for p in protocols if p != "shipped"])
    if "shipped" in protocols:
        predictions["shipped"] = shipped_predictions(selected)
    ordered = {p: predictions[p] for p in protocols}
    table = summary(error_table(selected, ordered))
    return (table if extra is None else extra(table, rows, ordered)), selected


def error_bands(table: pd.DataFrame, protocol: str = "leave-one-device-out") -> dict:
    """The figures a prediction quotes beside its expected value
    (:mod:`simulator.hardware.error_band`): per device class, ``protocol``'s n, share within ±20%,
    median and 90th-percentile |error|; the same of the time split (``time_split_classes``), which a
    prediction quotes instead for a runtime version no file lists (a runtime newer than the fit: the
    time split predicts results published after the fit's, X-CUBE-AI 9.0 with no 9.0 row, while
    leave-one-device-out keeps every runtime version in the fit and would understate that error,
    :mod:`simulator.hardware.error_band`); and the class of every shipped device in a family."""
    from simulator.hardware.error_band import NEW_RUNTIME_PROTOCOL, ErrorBand
    from simulator.hardware.loader import available_devices

    def bands(which: str) -> dict:
        return {line.name: ErrorBand(line.name, which, int(line.n), round(line.within_20 / line.n, 4),
                                     round(line.median_abs_error, 4), round(line.p90_abs_error, 4)).to_dict()
                for line in table[(table.scope == "class") & (table.protocol == which)].itertuples()}

    devices = {name: family.device_class for name in sorted(available_devices())
               if (family := family_of(name)) is not None}
    return {"generated_by": "python tools/update_readme_accuracy.py (roofline accuracy --cv)",
            "classes": bands(protocol), "time_split_classes": bands(NEW_RUNTIME_PROTOCOL), "devices": devices}


LABELS = {"leave-one-device-out": "out of sample", "leave-one-family-out": "out of sample",
          "time-split": "out of sample", "in-sample": "IN SAMPLE (fit on every row)",
          "shipped": "IN SAMPLE (shipped profiles)"}


def _cells(line) -> list[str]:
    return [line.name, line.protocol, LABELS[line.protocol], str(line.n),
            f"{line.within_10} ({line.within_10 / line.n:.0%})",
            f"{line.within_20} ({line.within_20 / line.n:.0%})",
            f"{line.median_abs_error:.0%}", f"{line.p90_abs_error:.0%}"]


HEADERS = ["class / device", "protocol", "sample", "n", "within ±10%", "within ±20%", "median |error|",
           "p90 |error|"]


def format_text(table: pd.DataFrame, selected: Scope) -> str:
    """The summary as a text table, then what was not cross-validated."""
    from simulator.report import render_table

    body = [_cells(line) for line in table.itertuples()]
    return "\n".join([render_table(HEADERS, body, left=3), "", *excluded_lines(selected)])


def excluded_lines(selected: Scope) -> list[str]:
    """One line per reason a dataset row is not cross-validated, with the count."""
    return [f"not cross-validated: {count} {reason}" for reason, count in sorted(selected.excluded.items())]


def format_markdown(table: pd.DataFrame, selected: Scope) -> str:
    """The summary as a Markdown table (device classes first, then devices), then the exclusions."""
    escaped = [h.replace("|", "\\|") for h in HEADERS]
    lines = ["| " + " | ".join(escaped) + " |", "|---|---|---|" + "---:|" * 5]
    for line in table.itertuples():
        cells = _cells(line)
        if line.scope == "class":
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *(f"- {text}" for text in excluded_lines(selected))])


#: where the README holds :func:`readme_block`
README_MARKERS = ("<!-- out-of-sample:start -->", "<!-- out-of-sample:end -->")

DOCUMENT_HEADER = """# Out-of-sample accuracy: the expected model on rows its fit never saw

Generated by `python tools/update_readme_accuracy.py` (the table is `roofline accuracy --cv --format
markdown`, about 5 s of CPU for the whole dataset; do not edit by hand: `tests/test_crossval.py`
recomputes the GPU and microcontroller lines in CI, the LLM lines are checked by rerunning).
Code: `simulator/calibration/crossval.py` (protocols), `cv_model.py` (the figures and their ranges),
`cv_fit.py` (the fit), `cv_llm.py` (the LLM terms), `folds.py` (the fold rules).

Each device family's `[efficiency]` figures are fitted in code on **every** row of a training fold
(the rows' hand-assigned `fit`/`check` roles play no part), by least squares on log time with each
figure clamped to a physical range, and the held-out rows are predicted with them. An error is
`predicted / measured - 1`; "within ±20%" counts rows with |error| ≤ 20%.

* **leave-one-device-out** (out of sample): a device's rows from the figures fitted on the other
  devices of its family; with none left, the family's defaults and the device's data sheet (peaks,
  bandwidths, SMs);
* **leave-one-family-out** (out of sample): a network family's rows from the other networks' fit;
* **time-split** (out of sample): rows published from 2024 on, from the rows published before
  (undated rows take no part);
* **in-sample** (NOT out of sample): every row from the figures fitted on every row: how well the
  model can describe the data at all;
* LLM rows: the three LLM terms (host cost per pass, the projections' share of bandwidth, the GEMM-like
  kernels' share of the dense tensor peak) are fitted per serving runtime and architecture, each in its
  physical range (a profile that `extends` a member is in its family: H100 NVL and GH200); the
  kernel figures under them (launch cost per kernel included) are the profile's, the CNN families'
  in-sample fit; an all-reduce costs its ring time and one kernel launch, nothing fitted;
* `roofline accuracy --cv --protocol shipped` adds the shipped profiles' figure on the same rows.
  The shipped `[efficiency]` figures and runtime factors are the in-sample fit, written by
  `python tools/fit_profiles.py` (no row's role is read; `--check` recomputes them in CI), so
  `shipped` equals `in-sample`.

**Model changes made after seeing these out-of-sample errors** (so from then on the figures below
are validation figures, not test figures; the analysis, per fold and step:
[out_of_sample_analysis.md](out_of_sample_analysis.md)):

* *MLPerf BERT rows run SQuAD v1.1's lengths, padding removed on TensorRT*, in the cross-validation
  as in the shipped prediction (`simulator.accuracy.row_sequence_lengths`; the row model had built
  them at 384 padded tokens): changed after seeing the leave-one-device-out errors of the
  datacenter GPUs (BERT Offline rows −38…−49%);
* *host copies where a row's conditions include them* (`simulator/calibration/host_transfer.py`:
  the EfficientViT READMEs' "data transfer time included" rows; input and output bytes over the
  PCIe 4.0/5.0 x16 or Orin LPDDR5 copy rate, plus 10 µs a copy, nothing fitted): added after seeing
  the leave-one-device-out errors of the A100 80 GB's EfficientViT and SAM rows;
* *the datacenter family's per-kernel overhead searched in 2–10 µs* (the range the GPU profiles
  state, from NVIDIA's CUDA Graphs blog; it was 0.5–50 µs) *and a convolution's extra fixed cost
  in 0–10 µs* (was 0–50 µs): changed after seeing the leave-one-device-out errors of the A100
  80 GB's ResNet-50 SingleStream and MultiStream rows;
* *the LLM families' `llm_compute_fraction`* (the share of the dense tensor peak TensorRT-LLM's and
  TinyChat's GEMM-like kernels reach, 0.2–0.9; before it an LLM pass took the CNN family's compute
  fraction): added after seeing batch-1 GPT-J decode on H100 at −25% against NVIDIA's published
  table once the Hopper fit took the MLPerf Llama-2-70B Offline rows (81–90% compute-bound in the
  model), which had pushed the host cost and the GEMV share to their range edges; and a fold with no
  row of an LLM family computes at the `gemm` class's fraction, chosen after seeing Orin's
  leave-one-device-out median at 36% with the prior's centre (`simulator/calibration/cv_llm.py`);
* *the GEMV share on decode passes only* (a decode step's projections run as the `gemv` kernel
  class: a prefill's are GEMMs of batch × tokens rows, at the `gemm` class's streaming share, as the
  engine's kernel classes have it; the share had applied to every LLM pass): after seeing batch-1 decode on
  A100 at −31% once the 128-token first-token rows (2–3.5× their roofline time) set the Ampere share;
* *the microcontrollers' board factors replaced by per-core cycles per MAC derived from CMSIS-NN's
  int8 loops and the Cortex-M4/M33/M7 timings, with Flash stalls* (`simulator/hardware/cortex_m.py`,
  nothing in it fitted; one `kernel_share` fitted for the family instead of three class fractions
  and four board factors): made after seeing the leave-one-device-out errors of the boards (L4R5
  −34%, U575 −23%, H7A3 +27%, each a near-constant offset), so the Cortex-M figures are validation
  figures; the derived figures were not changed after their errors were seen. The per-board
  factors (0.2–5) were then restored on top of the derived figures, for a board with rows of its
  own (a board with none still gets `kernel_share` × its derived figures): decided after seeing the
  derived-only model's figures (in sample 56% within ±20%, the M7's derived rate about twice what
  its rows show), also a validation-figure change;
* *a GPU's power-limited sustained compute rate* (`simulator/engine/power_limit.py`: a kernel's
  compute fraction is at most `(max_power_w − static_power_w) / (E · peak)`, with `E` the datacenter
  family's fitted `tensor_energy_pj`, 0.1–1 pJ per dense int8/fp8 tensor op on a 4N-class process,
  scaled to another node by the profile's `[energy] scale`; the power figures are the data sheets'):
  added after seeing the H100 NVL (400 W) rows about 22% slower than modelled while the same die
  at 700 W (H100 SXM) was not, and the L4 (72 W) rows' spread; the fit's starting points for a figure
  with no gradient until its limit binds were added after seeing the first fit stay at the default.
* *a runtime version with no row in the fit takes the factors of the newest older version of the
  same runtime* (`simulator/calibration/cv_model.py` `runtime_factor`: versions compared
  numerically, 9.0.0 > 8.1.0 > 8.0.0 > 7.3.0; with no older file, the bare board, the version its
  profile describes, as before; the product reads a version no runtime file lists the same way,
  `simulator/hardware/runtime.py`, says which file it borrowed and quotes the class's time-split
  band): a rule, no parameter added, nothing fitted; a missing factor had been read as 1, i.e.
  X-CUBE-AI 9.0 with 7.3's kernels. Adopted after seeing the microcontroller time split (it holds
  out every X-CUBE-AI 9.0 row, and no training row is 9.0) miss on all 12 rows, every one too slow
  (+25…+119%, median 55%); with the rule the fold reads 9.0 with 8.1's fitted factors: 3 of 12
  within ±20%, median 28% (was 0, 55%). What remains is 9.0's own speed-up over 8.1 on the same
  boards and networks (1.15–1.48×), which no row published before 2024 shows. No other fold moves
  (the rule acts only where a runtime file has no row in the fold; the GPUs' TensorRT is their
  profiles' own runtime, with no file per version, so there is nothing to inherit there).
* *an all-reduce moves at least 16 bits an element in the expected model*
  (`simulator/llm/parallel.py` `ALLREDUCE_PAYLOAD_BITS`, `simulator/engine/timing.py` `link_bytes`):
  an fp8 network's row-parallel GEMMs write fp16/bf16 outputs, and TensorRT-LLM's all-reduce kernels
  take 16- and 32-bit elements only (`cpp/tensorrt_llm/kernels/customAllReduceKernels.cu` @027cd51);
  the link had carried the activation precision's 8 bits. Nothing fitted; the ideal bound keeps the
  activation precision's bits. Found while analysing why the H200's LLM rows, held out, all came out
  14–32% too slow (12% within ±20%, median 30%): the H100 fp8 rows at tensor parallel 2–8 had their
  all-reduce time halved, and the fit took the missing time from the shared compute share (0.39
  without the H200), which the H200's tensor-parallel-1 rows then inherited. With it the LLM class's
  leave-one-device-out reads 59% within ±20%, median 18% (was 33%, 22%); the H200 held out 47%,
  median 23%. A validation-figure change.
"""


def _families_text() -> str:
    from simulator.calibration.folds import NETWORK_FAMILIES, PUBLISHED, SPLIT, TENSORRT_LLM_RELEASES

    lines = ["## Device families and their figures", "",
             "| family | class | devices | figure | range | default |", "|---|---|---|---|---|---|"]
    for family in FAMILIES:
        for i, p in enumerate(family.parameters):
            head = [family.name, family.device_class, ", ".join(family.devices)] if i == 0 else ["", "", ""]
            figure = f"`{p.name}` [{p.unit}] | {p.low:g} – {p.high:g} | {p.default:g}"
            lines.append(f"| {' | '.join(head)} | {figure} |")
    for family in LLM_FAMILIES:
        for i, p in enumerate(family.parameters):
            head = [family.name, family.device_class, ", ".join(family.devices)] if i == 0 else ["", "", ""]
            figure = f"`{p.name}` [{p.unit}] | {p.low:g} – {p.high:g} | {p.default:g}"
            lines.append(f"| {' | '.join(head)} | {figure} |")
    lines += ["", "GPU families also choose the GEMM-like tile (1024–16384 outputs) and the share of the L2 "
              "that activations stay resident in (1/128–1) on a grid; the GEMM-like classes' bandwidth "
              "share is 0.9, not fitted. On Orin the per-kernel overhead is read as GPU cycles: the MaxQ "
              "profile pays it times the MAXN peak over its own (1300 / 624.75 MHz). A figure's default "
              "is the prior's centre, and what a fold without any row of the family predicts with. "
              "Runtime factors (`scale:RUNTIME:CLASS`, 0.01–10, default 1) and "
              "the microcontrollers' board factors (`device:BOARD`, 0.2–5, default 1) are fitted where the "
              "fold holds rows of that runtime or board.", "",
              "## Fold rules", "",
              "Network family: the first prefix of the network's name that matches: "
              + "; ".join(f"`{prefix}*` {family}" for prefix, family in NETWORK_FAMILIES)
              + "; any other name is its own family.", "",
              f"Publication month (time split at {SPLIT}): "
              + "; ".join(f"`{pattern}` {month}" for pattern, month in PUBLISHED)
              + "; TensorRT-LLM " + ", ".join(f"{v} {m}" for v, m in TENSORRT_LLM_RELEASES.items())
              + ". Any other source is undated."]
    return "\n".join(lines)


def document(table: pd.DataFrame, selected: Scope) -> str:
    """The whole of ``docs/out_of_sample.md``."""
    return (f"{DOCUMENT_HEADER}\n## Figures\n\n{format_markdown(table, selected)}\n\n{_families_text()}\n")


def readme_block(table: pd.DataFrame) -> str:
    """What the README holds between :data:`README_MARKERS`: the per-class lines of the summary."""
    classes = table[table.scope == "class"]
    rows = [row for row in format_markdown(classes, Scope((), {})).splitlines() if row.startswith("|")]
    return "\n".join([*rows, "", "Per device, the fold rules and the figures' ranges: "
                      "[docs/out_of_sample.md](docs/out_of_sample.md)."])
