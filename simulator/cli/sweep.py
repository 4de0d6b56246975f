"""``roofline sweep``: many configurations at once, as a CSV / JSON / JSON-lines file or a table.

::

    roofline sweep resnet50 mobilenet_v2 --device jetson-agx-orin h100-sxm --batch 1..1024 \\
        --precision fp16,int8 --resolution 224,320 --set dram.bandwidth_gb_per_s=100,200,400 -o results.csv

Lists are comma-separated. ``--batch A..B`` means A, 2A, 4A, ... up to B (``1..1024``: the powers
of two 1 to 1024), ``A-B`` every integer from A to B, ``A..B:S`` A, A+S, A+2S, ... up to B
(``8..64:8``); they mix with single values (``1..8,12``). Precision names are case-insensitive.
``--set KEY=V1,V2,...`` sweeps a hardware field; the key carries the unit of its values,
converted to SI here, once:

* ``peak_ops_per_s`` | ``peak_mega_ops_per_s`` (1e6) | ``peak_giga_ops_per_s`` (1e9) |
  ``peak_tera_ops_per_s`` (1e12): the peak at every precision; ``peak_scale``: times the device's;
* ``<level>.bandwidth_bytes_per_s`` | ``_mb_per_s`` (1e6) | ``_gb_per_s`` (1e9) | ``_tb_per_s`` (1e12);
* ``<level>.capacity_bytes`` | ``_kib`` (2**10) | ``_mib`` (2**20) | ``_gib`` (2**30) | ``_kb`` (1e3)
  | ``_mb`` (1e6) | ``_gb`` (1e9);
* ``<level>.energy_per_byte_pj``;
* ``<level>.bandwidth_scale`` | ``<level>.capacity_scale`` | ``<level>.energy_per_byte_scale``:
  times the level's own figure.

The output has one column per ``--set`` key, named by its SI key (``dram.bandwidth_bytes_per_s``,
in bytes/s) or scale key. ``-o`` picks the format by extension: ``.csv``, ``.json`` (a list of
records), ``.jsonl`` (one JSON record per line) or ``.parquet``; without it a compact table goes to
stdout. Counts are exact integers in every format (:mod:`simulator.sweep_files`). The batch
grammar is every command's (:func:`simulator.cli.common.parse_batches`): sizes 1 to 2**63 - 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli import common
from simulator.cli.common import (
    BATCH_GRAMMAR,
    DEVICE_HELP,
    MAX_RANGE_VALUES,
    add_attention_option,
    add_param_options,
    network_params,
    parse_batches,
    split_list,
    swept_settings,
    with_attention,
)
from simulator.errors import SimulatorError

OUTPUT_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
#: A sweep of more configurations than this says its size (and the output's, estimated) first.
LARGE_SWEEP = 1_000_000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("One row per configuration of the product of the lists given; lists are "
                          "comma-separated.")
    parser.epilog = (
        f"--batch: {BATCH_GRAMMAR}; each size 1 to 2**63 - 1, at most {MAX_RANGE_VALUES:,} per range. "
        "Counts (params, macs, flops, bytes) are exact integers: int64 columns, or, where a value passes "
        "2**63 - 1, Python ints in CSV/JSON/JSONL and decimal(38, 0) in Parquet. --set keys carry the unit "
        "of their values, e.g. peak_tera_ops_per_s, <level>.bandwidth_gb_per_s, <level>.capacity_kib / "
        "_mib / _gib, <level>.energy_per_byte_pj, supply_voltage_v, or a relative peak_scale, "
        "<level>.bandwidth_scale, <level>.capacity_scale, <level>.energy_per_byte_scale.")
    parser.add_argument("network", nargs="+",
                        help="built-in network names, .onnx paths or LLMs (`roofline list llms`, a "
                             "config.json): generation with --prompt/--generate, or one pass with --phase")
    parser.add_argument("--device", nargs="+", action="extend", required=True,
                        help=DEVICE_HELP + "; several, space- or comma-separated")
    parser.add_argument("--batch", default="1",
                        help="batch sizes, e.g. 1,8,32, 1..1024 (doubling), 1-16 (every integer) or 8..64:8 "
                             "(step 8); each 1 to 2**63 - 1 (default 1)")
    common.add_precision_options(parser, plural=True, precision_help=(
        "precisions, e.g. fp16,int8 (default: each device's own, as in simulate: fp16 where it has a peak "
        "for it, else its first; LLMs: fp16)"))
    parser.add_argument("--resolution", default=None, metavar="SIZE|HxW",
                        help="input resolutions in pixels, SIZE or HEIGHTxWIDTH, e.g. 224,320 or "
                             "1024x2048,512x1024 (default: each network's own)")
    add_param_options(parser)
    add_attention_option(parser)
    from simulator.engine.configs import RANGES_HELP

    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="sweep a hardware field, e.g. dram.bandwidth_gb_per_s=100,200 (repeatable). "
                             + RANGES_HELP)
    parser.add_argument("--skip-unsupported", action="store_true",
                        help="drop configurations whose precision a device has no peak for (default: error)")
    common.add_fuse_option(parser)
    common.add_ideal_option(parser)
    common.add_output_option(parser, "stream all columns to PATH (.csv, .json, .jsonl or .parquet) instead "
                             "of a table on stdout; with --scheduler, PATH is a directory of part files",
                             required=False, default=None, metavar="PATH")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="evaluate in N worker processes on this machine (default 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="evaluate on a dask.distributed cluster (e.g. tcp://host:8786); "
                             "needs the dask extra")
    parser.add_argument("--require-fit", action="store_true",
                        help="exit with an error (after the output) when a configuration does not fit "
                             "its device's memory")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="a progress bar on stderr (default: when stderr is a terminal)")
    llm = parser.add_argument_group("LLM networks (a built-in LLM name or a config.json path)")
    llm.add_argument("--prompt", default=None, help="prompt tokens, e.g. 128,2048 (default 2048)")
    llm.add_argument("--generate", default=None, help="output tokens, e.g. 128,512 (default 128)")
    llm.add_argument("--tp", default=None, help="tensor-parallel devices, e.g. 1,2,4 (default 1)")
    llm.add_argument("--kv-precision", default=None, help="KV-cache precision (default: the activations')")
    llm.add_argument("--phase", choices=("prefill", "decode"), default=None,
                     help="sweep one forward pass as a network (rows as simulate's, with params, model size "
                          "and KV cache): prefill of --seq-len prompt tokens or one decode step")
    llm.add_argument("--context", type=common.nonnegative_int, default=None, metavar="N",
                     help="with --phase: tokens already in the KV cache (decode default 2048, prefill 0)")
    parser.set_defaults(handler=run)


def _resolution(text: str) -> int | tuple[int, int]:
    """One ``--resolution`` item: ``224`` or ``1024x2048``."""
    from simulator.cli.common import resolution

    try:
        return resolution(text)
    except argparse.ArgumentTypeError as error:
        raise SimulatorError(f"--resolution: {error}") from None


def split_precisions(text: str, what: str) -> list[str]:
    """``"FP16, int8"`` -> ``["fp16", "int8"]``: case-insensitive; an unknown name suggests close ones."""
    from simulator.precision import normalize

    return [normalize(name, what) for name in split_list(text, what)]


LLM_OPTIONS = ("prompt", "generate", "tp", "kv_precision")


def run_llm(args: argparse.Namespace) -> int | None:
    """An LLM sweep (:func:`simulator.llm.sweep_llm`) when the networks are LLMs; None otherwise."""
    import pandas as pd

    from simulator.llm import is_llm, sweep_llm

    llms = [is_llm(name) for name in args.network]
    given = [f"--{o.replace('_', '-')}" for o in LLM_OPTIONS if getattr(args, o, None) is not None]
    if not any(llms):
        given += [f"--{o}" for o in ("phase", "context") if getattr(args, o, None) is not None]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            raise SimulatorError(f"{', '.join(given)} {verb} to LLM networks only, not to "
                                 f"{', '.join(args.network)}")
        return None
    common.refuse_mixed_llms(args.network, llms, "sweep")
    if args.phase is not None or args.context is not None:
        return run_phase(args, given)
    if args.settings or args.resolution is not None or args.params or args.seq_len or args.attention:
        raise SimulatorError("--set, --resolution, --seq-len, --param and --attention do not apply to LLM "
                             "networks")
    if args.output is not None and Path(args.output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise SimulatorError(f"cannot tell the format of {args.output!r}: use a file name ending in "
                             f"{', '.join(OUTPUT_SUFFIXES)}")
    ints = {o: [common.int_at_least(v, 1, f"--{o}") for v in split_list(getattr(args, o) or d, f"--{o}")]
            for o, d in (("prompt", "2048"), ("generate", "128"), ("tp", "1"))}
    table = pd.concat([sweep_llm(
        name, [d for text in args.device for d in split_list(text, "--device")],
        batches=parse_batches(args.batch), prompts=ints["prompt"], generates=ints["generate"],
        weight_precisions=split_list(args.weight_precision or args.precision or "fp16", "--weight-precision"),
        tps=ints["tp"], kv_precision=args.kv_precision, ideal=args.ideal) for name in args.network],
        ignore_index=True)
    table.insert(list(table.columns).index("batch") + 1, "params", _llm_params(table["model"]))
    if args.output is not None:
        write_sweep(table, Path(args.output))
        print(f"wrote {_configurations(len(table))} to {args.output}", file=sys.stderr)
        return _require_fit(args, UnfitRows.of(table))
    from simulator.report import render_table

    keys = ("model", "device", "tp", "prompt", "generate", "weight_precision", "batch")
    rows = [[str(r[k]) for k in keys] + [f"{r['ttft_s'] * 1e3:.2f}", f"{r['tpot_s'] * 1e3:.3f}",
             f"{r['output_tokens_per_s']:,.1f}", "yes" if r["fits"] else "NO"]
            for r in table.to_dict(orient="records")]
    print(render_table([*keys, "TTFT ms", "TPOT ms", "out tok/s", "fits"], rows, left=len(keys))
          + f"\n\n{_configurations(len(table))}")
    return _require_fit(args, UnfitRows.of(table))


def _llm_params(models) -> list[int]:
    """Each row's model's parameter count (the whole model's, every device of a TP group together)."""
    from simulator.llm.as_network import count_llm

    counts = {name: count_llm(name).params for name in dict.fromkeys(models)}
    return [counts[name] for name in models]


def run_phase(args: argparse.Namespace, given: list[str]) -> int:
    """One forward pass of each LLM (:func:`simulator.sweeps.sweep_phase`) over devices, batches and
    precisions; --prompt, --generate and --tp belong to the generation sweep and are refused."""
    from simulator.llm.as_network import sweep_phase

    if given or args.settings or args.resolution is not None or args.params or args.attention or args.no_fuse:
        refused = [*given, *(["--set"] if args.settings else []),
                   *(["--resolution"] if args.resolution is not None else []),
                   *(["--param"] if args.params else []), *(["--attention"] if args.attention else []),
                   *(["--no-fuse"] if args.no_fuse else [])]
        verb = "do" if len(refused) > 1 else "does"
        raise SimulatorError(f"{', '.join(refused)} {verb} not apply to a sweep of one LLM pass (--phase, "
                             f"--context); it takes --device, --batch, precisions, --seq-len (prefill) and "
                             f"--context")
    if args.output is not None and Path(args.output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise SimulatorError(f"cannot tell the format of {args.output!r}: use a file name ending in "
                             f"{', '.join(OUTPUT_SUFFIXES)}")
    precisions = {name: split_precisions(getattr(args, name), f"--{name.replace('_', '-')}")
                  if getattr(args, name) is not None else None
                  for name in ("precision", "weight_precision", "activation_precision")}
    table = sweep_phase(args.network, [d for text in args.device for d in split_list(text, "--device")],
                        batches=parse_batches(args.batch), precisions=precisions["precision"],
                        weight_precisions=precisions["weight_precision"],
                        activation_precisions=precisions["activation_precision"], phase=args.phase,
                        seq_len=args.seq_len, context=args.context, ideal=args.ideal,
                        skip_unsupported=args.skip_unsupported)
    if args.output is not None:
        write_sweep(table, Path(args.output))
        print(f"wrote {_configurations(len(table))} to {args.output}", file=sys.stderr)
    else:
        print(format_sweep(table, ["params", "kv_cache_bytes"]))
    return _require_fit(args, UnfitRows.of(table))


def run(args: argparse.Namespace) -> int:
    from simulator.sweeps import plan_sweep

    code = run_llm(args)
    if code is not None:
        return code

    overrides = swept_settings(args)
    if args.output is not None and Path(args.output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise SimulatorError(f"cannot tell the format of {args.output!r}: use a file name ending in "
                             f"{', '.join(OUTPUT_SUFFIXES)}")
    resolutions = [_resolution(r) for r in split_list(args.resolution, "--resolution")] \
        if args.resolution is not None else [None]
    networks, params = args.network, network_params(args)
    if params or any(isinstance(r, tuple) for r in resolutions):
        # the sweep's resolution column holds square sizes only, and plan_sweep takes no other network
        # parameters: the networks are built here (their input_shape column shows the size)
        from simulator.catalog import build_network

        networks = [build_network(n, r, params=params) for n in args.network for r in resolutions]
        resolutions = [None]
    plan = plan_sweep(
        networks,
        [with_attention(name, args.attention)
         for text in args.device for name in split_list(text, "--device")],
        batches=parse_batches(args.batch),
        precisions=split_precisions(args.precision, "--precision") if args.precision is not None else None,
        resolutions=resolutions,
        overrides=overrides,
        weight_precisions=split_precisions(args.weight_precision, "--weight-precision")
        if args.weight_precision is not None else None,
        activation_precisions=split_precisions(args.activation_precision, "--activation-precision")
        if args.activation_precision is not None else None,
        fuse=not args.no_fuse,
        ideal=args.ideal,
        skip_unsupported=args.skip_unsupported,
    )
    return _run_plan(plan, args, list(overrides))


def _configurations(n: int) -> str:
    return f"{n:,} configuration{'' if n == 1 else 's'}"


def _run_plan(plan, args: argparse.Namespace, override_keys: list[str]) -> int:
    """Evaluates ``plan``: streamed to ``-o`` (partitioned with ``--scheduler``) or a table on stdout."""
    import pandas as pd

    from simulator.sweeps import sweep_format, write_sweep_partitioned
    from simulator.sweeps import write_sweep as stream_sweep

    if args.workers < 1:
        raise SimulatorError(f"--workers must be at least 1, got {args.workers}")
    fmt = sweep_format(args.output) if args.output is not None else None
    if plan.size > LARGE_SWEEP:
        print(size_estimate(plan, fmt), file=sys.stderr)
    from simulator.cli.progress import Progress

    bar = Progress("sweep", "auto" if args.progress is None else "live" if args.progress else "off",
                   unit="configurations")
    report = bar.sweep if bar.mode != "off" else None
    if args.require_fit and args.scheduler is not None:
        raise SimulatorError("--require-fit needs the rows here: it does not combine with --scheduler")
    client = _client(args.scheduler) if args.scheduler is not None else None
    unfit = UnfitRows()
    try:
        if args.output is None:
            chunks = list(plan.chunks(progress=report, workers=args.workers, client=client))
            table = pd.concat(chunks, ignore_index=True) if chunks else plan.empty()
            bar.close()
            print(format_sweep(table, override_keys))
            return _require_fit(args, UnfitRows.of(table))
        if client is not None:
            rows = write_sweep_partitioned(plan, args.output, fmt, client=client, progress=report)
            where = f"part files in {args.output}"
        else:
            chunks = (unfit.add(chunk) for chunk in plan.chunks(progress=report, workers=args.workers))
            rows = stream_sweep(chunks, args.output, plan=plan)
            where = args.output
    finally:
        bar.close()
        if client is not None:
            client.close()
    print(f"wrote {_configurations(rows)} to {where}", file=sys.stderr)
    return _require_fit(args, unfit)


class UnfitRows:
    """Counts the rows of sweep chunks that do not fit (``fits`` false) and keeps the first."""

    def __init__(self) -> None:
        self.count, self.rows, self.first = 0, 0, None

    @classmethod
    def of(cls, table) -> UnfitRows:
        unfit = cls()
        unfit.add(table)
        return unfit

    def add(self, chunk):
        """Counts ``chunk``'s unfit rows and returns the chunk unchanged."""
        unfit = chunk[~chunk["fits"].astype(bool)]
        self.count += len(unfit)
        self.rows += len(chunk)
        if self.first is None and len(unfit):
            self.first = unfit.iloc[0]
        return chunk


def _require_fit(args: argparse.Namespace, unfit: UnfitRows) -> int:
    """0, or with ``--require-fit`` an error naming the first configuration that does not fit."""
    if not args.require_fit or not unfit.count:
        return 0
    row = unfit.first
    name = row["network"] if "network" in row else row["model"]
    verb = "does" if unfit.count == 1 else "do"
    raise SimulatorError(f"{unfit.count:,} of {_configurations(unfit.rows)} {verb} not fit, the first: "
                         f"{name} on {row['device']} at batch {row['batch']}; --require-fit")


#: Seconds ``--scheduler`` waits for the scheduler to answer (connection and handshake together).
CONNECT_TIMEOUT_S = 10.0


def _client(address: str):
    """A dask.distributed Client connected to the scheduler at ``address``, within
    :data:`CONNECT_TIMEOUT_S`: dask's own timeout bounds the TCP connection but not the handshake
    (a listener that accepts and never answers kept it waiting for minutes), so the Client is
    made in a daemon thread, given up on at the deadline."""
    import threading

    try:
        from dask.distributed import Client
    except ImportError:
        raise SimulatorError("--scheduler needs dask.distributed: pip install 'roofline-simulator[dask]'") \
            from None
    outcome: dict = {}

    def connect() -> None:
        try:
            outcome["client"] = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=connect, daemon=True, name="dask-connect")
    thread.start()
    thread.join(CONNECT_TIMEOUT_S * 1.1)  # dask's own error, where it has one, comes first
    if thread.is_alive():
        raise SimulatorError(f"cannot connect to the dask scheduler at {address!r}: no answer within "
                             f"{CONNECT_TIMEOUT_S:g} s (is a dask scheduler listening there?)")
    error = outcome.get("error")
    if isinstance(error, OSError | TimeoutError | ValueError):
        raise SimulatorError(f"cannot connect to the dask scheduler at {address!r}: {error}") from None
    if error is not None:
        raise error
    return outcome["client"]


def size_estimate(plan, fmt: str | None) -> str:
    """``"sweep: 10,000,000 configurations, about 4.1 GB as csv"``, from the first rows written out."""
    import io

    from simulator.sweeps import _write_chunks
    from simulator.units import format_bytes

    sample = plan.sample(64)
    text = f"sweep: {_configurations(plan.size)}"
    if fmt is None:
        return text + " (a table on stdout; -o PATH streams them to a file instead)"
    if not len(sample):
        return text
    buffer = io.BytesIO()
    _write_chunks([sample], buffer, "csv" if fmt == "parquet" else fmt, plan)
    per_row = len(buffer.getvalue()) / len(sample) / (8 if fmt == "parquet" else 1)  # ~1/8 of CSV
    return text + f", about {format_bytes(per_row * plan.size)} as {fmt}"


def _records(table) -> list[dict]:
    """Rows as JSON-ready dicts: Python scalars, and null for a missing value (NaN, NA)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def write_sweep(table, path: Path) -> None:
    """Writes ``table`` as CSV, JSON records or JSON lines, by the suffix of ``path``."""
    from simulator.io import atomic_path, dumps_json

    suffix = path.suffix.lower()
    if suffix == ".parquet":  # through pyarrow, chunk by chunk, as a streamed sweep
        from simulator.sweeps import write_sweep as stream_sweep

        stream_sweep(table, path)
        return
    with atomic_path(path) as temporary:  # a write interrupted midway leaves the previous file intact
        if suffix == ".csv":
            table.to_csv(temporary, index=False)
        elif suffix == ".json":
            temporary.write_text(dumps_json(_records(table), indent=1) + "\n",
                                 encoding="utf-8")
        else:
            temporary.write_text("".join(dumps_json(row) + "\n" for row in _records(table)),
                                 encoding="utf-8")


def _cell(value) -> str:
    """A count (an integer, as the sweep's count columns hold) written whole; a setting's value to 6
    significant digits."""
    from numbers import Integral

    return str(int(value)) if isinstance(value, Integral) and not isinstance(value, bool) else f"{value:.6g}"


def format_sweep(table, override_keys: list[str]) -> str:
    """A compact text table: the configuration, latency, throughput, energy per sample, bound, fit."""
    from simulator.report import render_table
    from simulator.units import format_joules, format_seconds

    mixed = bool(((table["weight_precision"] != table["precision"])
                  | (table["activation_precision"] != table["precision"])).any())
    names = ["network", "device", "input_shape", "precision",
             *(["weight_precision", "activation_precision"] if mixed else [])]
    columns = [[str(value) for value in table[name]] for name in names]
    columns.append([str(batch) for batch in table["batch"]])
    columns += [[_cell(value) for value in table[key]] for key in override_keys]
    columns += [
        [format_seconds(value) for value in table["latency_s"]],
        [f"{value:,.0f}" if value >= 100 else f"{value:.3g}" for value in table["throughput_per_s"]],
        [format_joules(value) for value in table["energy_per_sample_j"]],
        [str(value) for value in table["bound"]],
        ["yes" if value else "NO" for value in table["fits"]],
    ]
    headers = ["network", "device", "input", "precision", *(["weights", "activations"] if mixed else []),
               "batch", *override_keys, "latency", "samples/s", "energy/sample", "bound", "fits"]
    rows = [list(row) for row in zip(*columns, strict=True)]
    return render_table(headers, rows, left=len(names)) + f"\n\n{_configurations(len(table))}"
