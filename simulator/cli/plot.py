"""``roofline plot``: draw a chart of :mod:`simulator.plots` into a PNG, SVG or PDF file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.cli import common
from simulator.cli.common import (
    BATCH_GRAMMAR,
    BATCH_HELP,
    DEVICE_HELP,
    BatchList,
    BatchSize,
    add_attention_option,
    add_settings_option,
    add_size_options,
    network_params,
    positive_int,
    refuse_mixed_llms,
    single_settings,
    with_attention,
)
from simulator.errors import SimulatorError

if TYPE_CHECKING:  # matplotlib is imported only when a chart is drawn
    from matplotlib.figure import Figure

LLM_CHARTS = ("llm-throughput", "llm-ttft", "llm-memory")
CHARTS = ("roofline", "latency-throughput", "energy", "layers", "memory", "compare", *LLM_CHARTS)
FORMATS = (".png", ".svg", ".pdf")
DEFAULT_DPI = 150
#: the lowest --dpi (simulator.plots._common.MIN_DPI, not imported here: matplotlib loads only to draw)
MIN_DPI = 10


def batch_list(text: str) -> tuple[int, ...]:
    """argparse type for ``--batches 1,2,4``: comma-separated integers of at least 1."""
    return tuple(positive_int(part.strip()) for part in text.split(",") if part.strip())


def name_list(text: str) -> tuple[str, ...]:
    """argparse type for ``--precision int8,fp16``: comma-separated names."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Draw a chart: roofline (layers on the device's roofs), latency-throughput (one curve per device "
        "or precision over --batches), energy (compute vs data movement per network, or per layer group "
        "with --group-by), layers (per-layer latency by bound; the slowest with --top, per group with "
        "--group-by), memory (live activations per layer vs the device's activation memory, and the "
        "weights vs their store where it is another, an MCU's Flash), compare (latency bars of several "
        "networks split by layer kind, speed-up relative to the first), and an LLM's generation charts: "
        "llm-throughput (tokens/s and time per output token over --batches), llm-ttft (time to first token "
        "over --prompt lengths), llm-memory (weights, KV cache and activations vs the device's memory, over "
        "batches and context lengths).")
    parser.add_argument("chart", choices=CHARTS, help="which chart")
    parser.add_argument("networks", nargs="+", metavar="NETWORK",
                        help="built-in network name(s), .onnx path(s) or LLMs (`roofline list llms`, a "
                             "config.json: one pass, see --phase; the llm-* charts take one LLM); several "
                             "only for roofline, energy and compare")
    parser.add_argument("--device", action="append", required=True,
                        help=DEVICE_HELP + "; repeat for one latency-throughput curve per device, or to "
                             "compare one network across devices (compare chart)")
    parser.add_argument("--batch", action=BatchSize, default=1, help=BATCH_HELP + "; several: --batches")
    parser.add_argument("--batches", action=BatchList, default=None,
                        help="batch sizes of the latency-throughput and LLM charts (default 1,2,4,...,256): "
                             + BATCH_GRAMMAR)
    parser.add_argument("--precision", type=name_list, default=None,
                        help="precision(s), comma-separated (default fp16, or the device's first); several "
                             "only for roofline and latency-throughput")
    add_size_options(parser)
    common.add_llm_phase_options(parser)
    add_attention_option(parser)
    add_settings_option(parser)
    parser.add_argument("--group-by", choices=("kind", "block"), default=None,
                        help="energy chart: one bar per layer kind or block instead of one per network; "
                             "layers chart: one bar per layer kind or block")
    parser.add_argument("--top", type=positive_int, default=None, metavar="N",
                        help="layers chart: the N slowest layers (or groups), the rest summed in a note "
                             "(default: every layer, or the 40 slowest of a network of over 150)")
    llm = parser.add_argument_group("LLM charts (llm-throughput, llm-ttft, llm-memory; NETWORK is an LLM)")
    llm.add_argument("--prompt", type=batch_list, default=None,
                     help="prompt tokens: the lengths of llm-ttft and of llm-memory's context panel (default "
                          "128, 256, ... up to the model's positions), one length for llm-throughput (2048)")
    llm.add_argument("--generate", type=positive_int, default=128, help="output tokens (default 128)")
    llm.add_argument("--tp", type=positive_int, default=1, help="tensor-parallel devices (default 1)")
    llm.add_argument("--weight-precision", default="fp16", help="fp16, bf16, fp8, int8 or int4")
    llm.add_argument("--kv-precision", default=None, help="KV-cache precision (default: the activations')")
    parser.add_argument("--dpi", type=positive_int, default=DEFAULT_DPI,
                        help=f"resolution of a PNG in dots per inch (default {DEFAULT_DPI}; at least "
                             f"{MIN_DPI}, and the image may have at most 100 megapixels)")
    common.add_output_option(parser, "output file, .png, .svg or .pdf")
    common.add_force_option(parser)
    parser.set_defaults(handler=run)


def _one(values: list[str] | tuple[str, ...], what: str, chart: str) -> str:
    if len(values) != 1:
        raise SimulatorError(f"the {chart} chart takes one {what}, got {len(values)}: {', '.join(values)}")
    return values[0]


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() not in FORMATS:
        raise SimulatorError(f"cannot write a chart to {str(output)!r}: the extension must be one of "
                             f"{', '.join(FORMATS)}, got {output.suffix or 'none'!r}")
    if args.dpi < MIN_DPI:  # before the chart is computed (save_figure checks it too)
        raise SimulatorError(f"--dpi must be at least {MIN_DPI} (below it the charts' 6-pt text cannot be "
                             f"drawn), got {args.dpi}")
    from simulator.io import atomic_path, check_writable
    from simulator.plots import save_figure

    check_writable(output, args.force)  # before the chart is computed
    figure = build_chart(args)
    with atomic_path(output, args.force) as temporary:
        save_figure(figure, temporary, args.dpi)
    print(f"wrote {output}")
    return 0


def build_chart(args: argparse.Namespace) -> Figure:
    """The figure the arguments ask for (see :func:`configure`)."""
    from simulator import plots
    from simulator.hardware.loader import resolve_device
    from simulator.simulation import simulate

    chart = args.chart
    if args.group_by is not None and chart not in ("energy", "layers"):
        raise SimulatorError(f"--group-by applies to the energy and layers charts only, not to {chart}")
    if args.top is not None and chart != "layers":
        raise SimulatorError(f"--top applies to the layers chart only, not to {chart}")
    overrides = single_settings(args)
    if overrides and chart in ("latency-throughput", *LLM_CHARTS):
        raise SimulatorError(f"--set applies to the roofline, energy, layers, memory and compare charts, "
                             f"not to {chart}")
    if chart in LLM_CHARTS:
        return build_llm_chart(args)
    precisions = list(args.precision or [])
    params = network_params(args)
    llm = _llm_pass(args, chart)
    if llm is not None:
        params = {key: value for key, value in llm.items() if value is not None}
    if args.batches is not None and chart != "latency-throughput":
        raise SimulatorError(f"--batches applies to the latency-throughput chart only; use --batch for the "
                             f"{chart} chart")
    if chart == "latency-throughput":
        network = _one(args.networks, "network", chart)
        devices = [with_attention(resolve_device(name), args.attention) for name in args.device]
        configs = [(d, p) for d in devices for p in (precisions or [d.default_precision])]
        if params:  # the chart takes a resolution only: build the network with its parameters here
            from simulator.catalog import build_network

            network = build_network(network, args.resolution, params=params)
        return plots.latency_throughput_chart(network, configs, args.batches or plots.DEFAULT_BATCHES,
                                              resolution=None if params else args.resolution)
    size = {"resolution": args.resolution, "params": params, "attention": args.attention,
            "overrides": overrides}
    if chart == "compare" and len(args.device) > 1:  # one network on several devices
        from simulator.compare import compare_devices

        network = _one(args.networks, "network", "compare chart across devices")
        precision = _one(precisions, "precision", chart) if precisions else None
        return plots.compare_chart(compare_devices(network, args.device, batch=args.batch,
                                                   precision=precision, **size))
    device = resolve_device(_one(args.device, "device", chart))
    simulate_one = simulate if llm is None else _simulate_pass
    if chart == "roofline":
        results = [simulate_one(network, device, batch=args.batch, precision=precision, **size)
                   for network in args.networks for precision in (precisions or [device.default_precision])]
        return plots.roofline_chart(results)
    precision = _one(precisions, "precision", chart) if precisions else device.default_precision
    if chart == "compare":
        from simulator.compare import compare

        return plots.compare_chart(compare(args.networks, device, batch=args.batch, precision=precision,
                                           **size))
    if chart == "energy":
        return plots.energy_breakdown_chart(
            [simulate_one(network, device, batch=args.batch, precision=precision, **size)
             for network in args.networks], group_by=args.group_by)
    network = _one(args.networks, "network", chart)
    result = simulate_one(network, device, batch=args.batch, precision=precision, **size)
    if chart == "layers":
        return plots.layer_latency_chart(result, top=args.top, group_by=args.group_by)
    if llm is not None:  # the pass's network, as simulate_phase built it
        from simulator.llm.as_network import llm_network

        return plots.memory_chart(result, network=llm_network(network, **params)[0])
    return plots.memory_chart(result)


def _llm_pass(args: argparse.Namespace, chart: str) -> dict[str, object] | None:
    """``{"phase", "seq_len", "context"}`` when the chart's networks are LLMs (one pass each, as
    ``roofline simulate`` runs it), None when none is; LLMs mixed with other networks, and the
    latency-throughput chart of an LLM (its charts are llm-throughput and llm-ttft), are refused."""
    from simulator.api import _is_llm_name  # light for built-in names (as cli.common's llm_phase)

    llms = [_is_llm_name(network) for network in args.networks]
    if not any(llms):
        if args.phase is not None or args.context is not None:
            raise SimulatorError(f"--phase and --context apply to LLMs (`roofline list llms` or a "
                                 f"config.json), not to {', '.join(args.networks)}")
        return None
    refuse_mixed_llms(args.networks, llms, "chart")
    if chart == "latency-throughput":
        raise SimulatorError("the latency-throughput chart takes a network, not an LLM: an LLM's throughput "
                             "over batches is the llm-throughput chart (TTFT: llm-ttft)")
    if args.resolution is not None or args.params:
        raise SimulatorError(f"--resolution and --param do not apply to the LLM {args.networks[0]!r}: give "
                             f"--phase, --seq-len (prefill) and --context")
    return {"phase": args.phase, "seq_len": args.seq_len, "context": args.context}


def _simulate_pass(model, device, batch: int, precision: str | None, resolution=None, params=None,
                   attention: str | None = None, overrides=None):
    """One pass of the LLM ``model`` (:func:`simulator.llm.as_network.simulate_phase`) for a chart;
    attention and --set do not apply to it."""
    from simulator.llm.as_network import simulate_phase

    if attention or overrides:
        raise SimulatorError(f"--attention and --set do not apply to the LLM {str(model)!r}")
    return simulate_phase(model, device, batch, precision=precision, **(params or {}))


def build_llm_chart(args: argparse.Namespace) -> Figure:
    """An LLM chart: llm-throughput over ``--batches``, llm-ttft over ``--prompt`` lengths (one line per
    ``--batches`` entry, default ``--batch``), llm-memory over ``--batches`` and over context lengths."""
    from simulator import plots
    from simulator.llm import load_config, simulate_llm

    model = _one(args.networks, "network", args.chart)
    device = _one(args.device, "device", args.chart)
    cfg = load_config(model)
    # the longest default prompt: prompt + generate - 1 positions fit the model's (llm-ttft generates 1)
    room = cfg.max_positions - (0 if args.chart == "llm-ttft" else args.generate - 1)
    prompts = list(args.prompt or [128 * 2**k for k in range(12) if 128 * 2**k <= room])
    single = args.prompt[-1] if args.prompt else max(1, min(2048, room))
    batches = list(args.batches or plots.DEFAULT_BATCHES)

    def run(batch: int | list[int], prompt: int, generate: int = args.generate):
        return simulate_llm(model, device, batch, prompt, generate, tp=args.tp,
                            weight_precision=args.weight_precision, kv_precision=args.kv_precision)

    if args.chart == "llm-throughput":
        if args.prompt and len(args.prompt) > 1:
            raise SimulatorError(f"the llm-throughput chart takes one --prompt, got {len(args.prompt)}")
        return plots.llm_throughput_chart(run(batches, single))
    if args.chart == "llm-ttft":
        return plots.llm_ttft_chart([run(list(args.batches or [args.batch]), p, 1) for p in prompts])
    return plots.llm_memory_chart(run(batches, single), [run(args.batch, p) for p in prompts])
