"""``roofline compare``: networks side by side on one device (:func:`simulator.compare.compare`), or
one network on several devices (:func:`simulator.compare.compare_devices`).

::

    roofline compare efficientvit_seg_l1 segformer_b5 --device jetson-agx-orin --precision fp16
    roofline compare resnet50 --device jetson-agx-orin,h100-sxm      # or --device A --device B

Latency, throughput, energy, MACs, params, model size, peak activations and fit per network (or
device), its latency split by layer kind, and the speed-up relative to the first.
"""

from __future__ import annotations

import argparse
import json

from simulator.cli import common
from simulator.cli.common import (
    BATCH_HELP,
    DEVICE_HELP,
    BatchSize,
    add_attention_option,
    add_format_option,
    add_settings_option,
    add_size_options,
    network_params,
    single_settings,
    split_list,
)
from simulator.errors import SimulatorError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Simulate several networks on one device, or one network on several devices "
                          "(--device A,B), at one configuration and print them side by side: latency, "
                          "throughput, energy, MACs, params, model size, peak activations, fit, the latency "
                          "split by layer kind, and the speed-up relative to the first network or device "
                          "(its latency / each one's).")
    parser.add_argument("networks", nargs="+", metavar="NETWORK",
                        help="built-in network names, .onnx paths or LLMs (`roofline list llms`, a "
                             "config.json: one pass, see --phase); the first is the reference")
    parser.add_argument("--device", action="append", required=True,
                        help=DEVICE_HELP + "; several (comma-separated or --device repeated) compare one "
                             "network across devices, the first the reference")
    common.add_precision_options(parser, mixed=False)
    parser.add_argument("--batch", action=BatchSize, default=1, help=BATCH_HELP)
    add_size_options(parser)
    common.add_llm_phase_options(parser)
    add_attention_option(parser)
    common.add_ideal_option(parser)
    common.add_require_fit_option(parser, "a network", otherwise="reported in the fits row")
    add_settings_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.compare import compare, compare_devices

    devices = [name for text in args.device for name in split_list(text, "--device")]
    params = network_params(args)
    params.update({key: value for key, value in (("phase", args.phase), ("context", args.context))
                   if value is not None})
    options = {"batch": args.batch, "precision": args.precision, "attention": args.attention,
               "ideal": args.ideal, "resolution": args.resolution, "params": params,
               "overrides": single_settings(args)}
    if len(devices) > 1:
        if len(args.networks) > 1:
            raise SimulatorError(f"compare takes several networks on one device, or one network on several "
                                 f"devices; got {len(args.networks)} networks ({', '.join(args.networks)}) "
                                 f"and {len(devices)} devices ({', '.join(devices)})")
        comparison = compare_devices(args.networks[0], devices, **options)
    else:
        comparison = compare(args.networks, devices[0], **options)
    print(format_comparison(comparison, args.format))
    unfit = [label for label, r in zip(comparison.labels, comparison.results, strict=True) if not r.fits]
    if args.require_fit and unfit:
        where = (f"{comparison.reference.network} does not fit on {', '.join(unfit)}"
                 if comparison.axis == "device" else
                 f"{', '.join(unfit)} {'does' if len(unfit) == 1 else 'do'} not fit on "
                 f"{comparison.reference.device}")
        raise SimulatorError(f"{where} at batch {comparison.reference.batch}; --require-fit")
    return 0


def comparison_to_dict(comparison) -> dict:
    """The JSON document of ``roofline compare`` (SI units; peak activations in elements and bytes):
    the tool and its version, each entry's settings (:func:`simulator.report.simulation_settings`),
    ``compared`` (``network`` or ``device``), the reference (the first entry) and one record per
    entry under ``networks``."""
    from simulator.report import error_band_record, simulation_settings, tool_record

    frame = comparison.frame()
    records = frame.astype(object).to_dict(orient="records")
    for record, split, result in zip(records, comparison.kind_latency_s(), comparison.results, strict=True):
        record["latency_by_kind_s"] = split
        record["expected_error_band"] = error_band_record(result.device, result.expected_model,
                                                          llm=bool(result.kv_cache_bytes))
    first = comparison.reference
    return {"tool": tool_record(), "settings": [simulation_settings(r) for r in comparison.results],
            "compared": comparison.axis, "device": first.device, "precision": first.precision,
            "batch": first.batch, "attention": first.attention, "ideal": first.ideal,
            "reference": comparison.labels[0], "networks": records}


def format_comparison(comparison, fmt: str = "table") -> str:
    """``table`` (quantities as rows, networks as columns, then latency by layer kind), ``json``, or
    ``csv`` (one row per network, a ``latency_<kind>_s`` column per layer kind)."""
    if fmt == "json":
        return json.dumps(comparison_to_dict(comparison), indent=2, default=_plain)
    if fmt == "csv":
        frame = comparison.frame()
        kinds = comparison.kinds_frame()
        for kind in kinds.index:
            frame[f"latency_{kind}_s"] = list(kinds.loc[kind])
        return frame.to_csv(index=False, lineterminator="\n")
    return _table(comparison)


def _plain(value):
    """numpy scalars as Python numbers for JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def _input_text(result, shape: str) -> str:
    """An LLM pass as its tokens per sequence and the context before them (``1 token, context 512``;
    its input shape, batch x tokens, says neither); any other network as its input shape."""
    if "phase" not in result.params:
        return str(shape)
    tokens, context = result.params["seq_len"], result.params["context"]
    return f"{tokens} token{'' if tokens == 1 else 's'}, context {context}"


def _table(comparison) -> str:
    from simulator.report import expected_trust, render_table
    from simulator.units import format_bytes, format_count, format_joules, format_seconds

    frame = comparison.frame()
    names = list(comparison.labels)
    across_devices = comparison.axis == "device"
    rows = [
        *([("precision", [str(v) for v in frame["precision"]])] if across_devices else []),
        ("input", [_input_text(result, shape) for result, shape in zip(comparison.results,
                                                                         frame["input_shape"], strict=True)]),
        ("latency", [format_seconds(v) for v in frame["latency_s"]]),
        ("speed-up vs first", [f"{v:.3g}×" for v in frame["speedup"]]),
        ("latency / first", [f"{v:.3g}×" for v in frame["relative_latency"]]),
        ("throughput", [f"{v:,.1f}/s" for v in frame["throughput_per_s"]]),
        ("energy/sample", [format_joules(v) for v in frame["energy_per_sample_j"]]),
        ("MACs", [format_count(v) for v in frame["macs"]]),
        ("params", [format_count(v) for v in frame["params"]]),
        ("model size", [format_bytes(v) for v in frame["model_size_bytes"]]),
        *([("KV cache", [format_bytes(v) if v else "-" for v in frame["kv_cache_bytes"]])]
          if frame["kv_cache_bytes"].any() else []),
        ("peak activations", [f"{format_count(e)} ({format_bytes(b)})"
                              for e, b in zip(frame["peak_activations"], frame["peak_activation_bytes"],
                                              strict=True)]),
        ("bound", [str(v) for v in frame["bound"]]),
        ("fits", ["yes" if v else "NO" for v in frame["fits"]]),
    ]
    summary = render_table(["", *names], [[label, *cells] for label, cells in rows], left=1)
    kinds = comparison.kinds_frame()
    latencies = [r.latency_s for r in comparison.results]
    kind_rows = [[kind, *(f"{format_seconds(s)} ({s / total:.0%})" if s else "-"
                          for s, total in zip(kinds.loc[kind], latencies, strict=True))]
                 for kind in kinds.index if kinds.loc[kind].any()]
    by_kind = render_table(["latency by kind", *names], kind_rows, left=1)
    first = comparison.reference
    mode = "ideal roofline" if first.ideal else "expected model"
    overrides = "".join(f", {key}={value:g}" for key, value in first.overrides.items())
    if across_devices:
        header = (f"{first.network} on {len(names)} devices, batch {first.batch}, {mode}{overrides}; "
                  f"speed-up = latency on {first.device} / latency on each")
    else:
        header = (f"on {first.device}, {first.precision}, batch {first.batch}, attention {first.attention}, "
                  f"{mode}{overrides}; speed-up = latency of {first.network} / latency of each")
    expected = dict.fromkeys(r.device for r in comparison.results if r.expected_model)
    trust = [""] + [f"trust ({device}): {expected_trust(device, llm=bool(first.kv_cache_bytes))}"
                    for device in expected] if expected else []
    return "\n".join([header, "", summary, "", by_kind, *trust])
