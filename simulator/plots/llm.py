"""Charts of LLM inference results (:class:`~simulator.llm.LLMResult`): the serving trade-off, time to
first token against prompt length, and memory against the device's.

* :func:`llm_throughput_chart`: output tokens/s against batch, with the time per output token (TPOT) on
  a second axis. Batching decode steps amortizes reading the weights, so tokens/s rises with the batch
  while every sequence waits longer per token: the LLM form of the lecture's latency against throughput;
* :func:`llm_ttft_chart`: time to first token (prefill) against prompt length, one line per batch size;
* :func:`llm_memory_chart`: weights, KV cache and activations per device, stacked, as the batch grows and
  as the context (prompt + generated tokens) grows, against the device memory they must fit in.

Times are drawn in ms and bytes in GB (1e9), as the axis labels say; the values are the results'
metrics, converted for display only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device
from simulator.llm import LLMResult
from simulator.plots._common import fit_suptitle, format_number, new_figure, plain_log_ticks, spans_decades

MS = 1e-3
GB = 1e9
#: stacked memory parts: (metric, legend label, colour)
MEMORY_PARTS = (
    ("weight_bytes", "weights", "#1f77b4"),
    ("kv_cache_bytes", "KV cache", "#ff7f0e"),
    ("activation_bytes", "activations", "#2ca02c"),
)


def describe(result: LLMResult, prompt: bool = True, generate: bool = True) -> str:
    """The configuration for a title: ``"llama_3_8b on 2 x h100-sxm (tp 2), prompt 2048, generate 128,
    weights int4, KV fp16, expected"``."""
    devices = result.tp * result.pp
    where = result.device if devices == 1 else (
        f"{devices} x {result.device} (tp {result.tp}" + (f", pp {result.pp})" if result.pp > 1 else ")"))
    parts = [f"{result.model} on {where}"]
    if prompt:
        parts.append(f"prompt {result.prompt}")
    if generate:
        parts.append(f"generate {result.generate}")
    parts += [f"weights {result.weight_precision}",
              f"KV {result.kv_precision}", "ideal roofline" if result.ideal else "expected"]
    return ", ".join(parts)


def _same_setup(results: Sequence[LLMResult], varying: str) -> list[LLMResult]:
    """The results as a non-empty list that differ at most in ``varying`` (and the batch sizes)."""
    results = list(results)
    if not results or not all(isinstance(r, LLMResult) for r in results):
        raise SimulatorError(f"expected a non-empty sequence of LLMResult, got {results!r}")
    keys = ("model", "device", "prompt", "generate", "tp", "pp", "weight_precision", "kv_precision", "ideal")
    for key in keys:
        values = {getattr(r, key) for r in results}
        if key != varying and len(values) > 1:
            raise SimulatorError(f"results differ in {key} ({', '.join(map(str, sorted(values, key=str)))}); "
                                 f"chart one {key} at a time")
    return results


def _log_if_wide(ax, values: Sequence[float], axis: str) -> None:
    if spans_decades(values):
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2 if axis == "x" else 10)
        plain_log_ticks(ax.xaxis if axis == "x" else ax.yaxis)


def llm_throughput_chart(result: LLMResult) -> Figure:
    """Output tokens/s (left axis, all devices) and TPOT in ms (right axis) against the batch sizes of
    ``result``. Hollow markers: the batch does not fit in device memory; the dotted line marks the
    largest batch that fits."""
    if not isinstance(result, LLMResult):
        raise SimulatorError(f"expected an LLMResult (from simulate_llm over a list of batch sizes), "
                             f"got {result!r}")
    batch = result.batch.astype(float)
    tokens = result.metrics["output_tokens_per_s"]
    tpot_ms = result.metrics["tpot_s"] / MS
    fits = result.metrics["fits"].astype(bool)
    figure = new_figure(9, 5.5)
    ax = figure.add_subplot()
    twin = ax.twinx()
    _log_if_wide(ax, batch, "x")
    ax.plot(batch, tokens, color="C0", linewidth=1.4, label="output tokens/s", gid="output_tokens_per_s")
    twin.plot(batch, tpot_ms, color="C3", linewidth=1.4, linestyle="--", label="TPOT (ms)", gid="tpot_ms")
    for axis, ys, color in ((ax, tokens, "C0"), (twin, tpot_ms, "C3")):
        axis.scatter(batch[fits], ys[fits], color=color, s=20, zorder=4)
        axis.scatter(batch[~fits], ys[~fits], facecolors="white", edgecolors=color, s=24, zorder=4)
    max_batch = int(result.metrics["max_batch"][0])
    if 0 < max_batch <= batch.max():
        ax.axvline(max_batch, color="grey", linestyle=":", linewidth=1,
                   label=f"largest batch that fits: {max_batch}")
    ax.set_xlabel("batch (sequences decoded together)")
    ax.set_ylabel("output tokens/s", color="C0")
    twin.set_ylabel("time per output token, TPOT (ms)", color="C3")
    ax.set_ylim(0, tokens.max() * 1.12)
    twin.set_ylim(0, tpot_ms.max() * 1.12)
    ax.grid(True, alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=8,
              title="better: more tokens/s, lower TPOT", title_fontsize=8)
    best = int(np.argmax(np.where(fits, tokens, -np.inf))) if fits.any() else int(np.argmax(tokens))
    ax.set_title(f"batch {int(batch[0])}: {format_number(tokens[0])} tokens/s at {format_number(tpot_ms[0])} "
                 f"ms/token; batch {int(batch[best])}: {format_number(tokens[best])} tokens/s at "
                 f"{format_number(tpot_ms[best])} ms/token", fontsize=8, color="#444444")
    fit_suptitle(figure, f"Serving trade-off: {describe(result)}")
    return figure


def llm_ttft_chart(results: Sequence[LLMResult]) -> Figure:
    """Time to first token (ms) against prompt length, one result per prompt length and one line per
    batch size the results share."""
    results = sorted(_same_setup(results, "prompt"), key=lambda r: r.prompt)
    batches = results[0].batch
    if any(not np.array_equal(r.batch, batches) for r in results):
        raise SimulatorError("results for the TTFT chart must share their batch sizes")
    prompts = np.array([r.prompt for r in results], dtype=float)
    figure = new_figure(9, 5.5)
    ax = figure.add_subplot()
    _log_if_wide(ax, prompts, "x")
    ttft_ms = np.array([r.metrics["ttft_s"] for r in results]) / MS  # (prompts, batches)
    _log_if_wide(ax, ttft_ms.ravel(), "y")
    for i, b in enumerate(batches):
        bound = [r.metrics["prefill_bound"][i] for r in results]
        ax.plot(prompts, ttft_ms[:, i], marker="o", markersize=4, color=f"C{i % 10}", label=f"batch {int(b)}",
                gid=f"ttft_batch_{int(b)}")
        memory = [k for k, name in enumerate(bound) if name == "memory"]
        ax.scatter(prompts[memory], ttft_ms[memory, i], facecolors="white", edgecolors=f"C{i % 10}", s=30,
                   zorder=4)
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("time to first token, TTFT (ms)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, title="hollow: prefill memory-bound", title_fontsize=8)
    fit_suptitle(figure, f"Time to first token: {describe(results[0], prompt=False, generate=False)}")
    return figure


def _store_name(device: str) -> str:
    try:
        return resolve_device(device).weight_store.name
    except SimulatorError:  # a device loaded from a profile path: its name alone does not resolve
        return "memory"


def _stack(ax, xs: np.ndarray, parts: dict[str, np.ndarray], labels: Sequence[str]) -> None:
    bottom = np.zeros(len(xs))
    for key, label, color in MEMORY_PARTS:
        ax.bar(xs, parts[key] / GB, bottom=bottom, color=color, label=label, gid=key, width=0.7)
        bottom += parts[key] / GB
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=45 if len(xs) > 8 else 0, fontsize=8)


def llm_memory_chart(by_batch: LLMResult, by_context: Sequence[LLMResult]) -> Figure:
    """Per-device weights, KV cache and activations (GB), stacked, against the device's memory (the
    horizontal line): on the left over the batch sizes of ``by_batch``, on the right over the context
    lengths (prompt + generate) of ``by_context`` at each result's first batch size."""
    by_context = sorted(_same_setup(by_context, "prompt"), key=lambda r: r.prompt + r.generate)
    _same_setup([by_batch, by_context[0]], "prompt")
    devices = by_batch.tp * by_batch.pp
    figure = new_figure(11, 5.5)
    left, right = figure.subplots(1, 2, sharey=True)
    per_device = {key: by_batch.metrics[key] / devices for key, _, _ in MEMORY_PARTS}
    _stack(left, np.arange(len(by_batch.batch)), per_device, [str(int(b)) for b in by_batch.batch])
    left.set_xlabel(f"batch (context {by_batch.prompt} + {by_batch.generate} tokens)")
    contexts = [r.prompt + r.generate for r in by_context]
    per_device = {key: np.array([r.metrics[key][0] for r in by_context]) / devices
                  for key, _, _ in MEMORY_PARTS}
    _stack(right, np.arange(len(contexts)), per_device, [str(c) for c in contexts])
    right.set_xlabel(f"context, prompt + generated tokens (batch {int(by_context[0].batch[0])})")
    capacity_gb = float(by_batch.metrics["capacity_bytes"][0]) / GB
    store = _store_name(by_batch.device)
    for ax in (left, right):
        ax.axhline(capacity_gb, color="black", linestyle="--", linewidth=1.2, gid="capacity",
                   label=f"{by_batch.device} {store}: {format_number(capacity_gb)} GB")
        ax.grid(True, axis="y", alpha=0.3)
    left.set_ylabel("memory per device (GB = 1e9 bytes)")
    heights = [bar.get_y() + bar.get_height() for ax in (left, right) for bar in ax.patches]
    left.set_ylim(0, max(capacity_gb, *heights) * 1.1)
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fit_suptitle(figure, f"Memory against device memory: {describe(by_batch, prompt=False)}")
    return figure
