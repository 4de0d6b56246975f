"""Options and argument types shared by the command modules of :mod:`simulator.cli`.

A network's size and other parameters: ``--resolution 224`` or ``--resolution 1024x2048`` (height
× width), ``--seq-len N`` for sequence models and ``--param NAME=VALUE`` (repeatable) for any other
keyword parameter of a built-in network's function (``roofline count segformer_b5 --param
num_classes=150``). :func:`network_params` gathers them into the ``params`` of
:func:`simulator.catalog.build_network`, which refuses a name the network does not take (listing
the ones it does) and any of them for an .onnx model.
"""

from __future__ import annotations

import argparse

from simulator.errors import SimulatorError

#: how attention executes (:func:`simulator.simulation.simulate`); the default is the device's
ATTENTION_CHOICES = ("fused", "materialized")
#: separators of ``HEIGHTxWIDTH``
_TIMES = ("x", "X", "×")


#: what every --device accepts
DEVICE_HELP = ("device name (see `roofline list devices`) or profile path, optionally followed by "
               "@RUNTIME for another runtime's kernels (see `roofline list runtimes`)")


def int_at_least(text: str, minimum: int, what: str | None = None, noun: str = "integers") -> int:
    """``text`` as an integer of at least ``minimum``: the one integer parser of the command line.

    Without ``what`` (an argparse ``type``, argparse names the option): ``argparse.ArgumentTypeError``
    ``expected an integer, got 'x'`` or ``must be at least N, got V``. With ``what`` (the option or
    value named): one SimulatorError line ``{what} must be {noun} of at least N, got 'x'``."""
    try:
        value: int | None = int(text)
    except ValueError:
        value = None
    if value is not None and value >= minimum:
        return value
    if what is not None:
        raise SimulatorError(f"{what} must be {noun} of at least {minimum}, got {text!r}")
    if value is None:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")


def positive_int(text: str) -> int:
    """argparse type for batch sizes and resolutions: an integer of at least 1."""
    return int_at_least(text, 1)


#: The most batch sizes one range of a batch list may give (a typo like ``1-10000000`` is an error).
MAX_RANGE_VALUES = 100_000
#: What every batch option accepts, for its ``--help``.
BATCH_GRAMMAR = ("A,B,... lists; A..B doubles from A up to B (1..1024: powers of two); A-B is every integer "
                 "from A to B; A..B:S steps by S (8..64:8)")
#: ``--help`` of a command that takes one batch size (a list or range is refused in one line)
BATCH_HELP = ("batch size, 1 to 2**63 - 1 (default 1); one size only: lists and ranges (1..64) are refused, "
              "`roofline sweep` takes them")


def _batch_int(text: str, what: str) -> int:
    """One integer of a batch list: at least 1 and at most :data:`simulator.sweeps.MAX_BATCH`."""
    from simulator.sweeps import MAX_BATCH

    value = int_at_least(text, 1, what)
    if value > MAX_BATCH:
        raise SimulatorError(f"{what} must be at most 2**63 - 1 = {MAX_BATCH:,} (the largest batch the "
                             f"engine's int64 arrays hold), got {text}")
    return value


def parse_batches(text: str, what: str = "--batch") -> list[int]:
    """``"1..8,12"`` -> ``[1, 2, 4, 8, 12]``; duplicates dropped, in order of appearance.

    ``A..B`` doubles from A while at most B (powers of two); ``A-B`` is every integer from A to B;
    ``A..B:S`` steps linearly by S from A while at most B (``8..32:8``: 8, 16, 24, 32). Every value
    lies in ``1 .. 2**63 - 1``; a range gives at most :data:`MAX_RANGE_VALUES` values. Bad text is a
    SimulatorError naming ``what`` (the option).
    """
    batches: list[int] = []
    for item in split_list(text, what):
        step_text = None
        if ".." in item:
            low_text, _, high_text = item.partition("..")
            high_text, colon, step_text = high_text.partition(":")
            if not colon:
                step_text = None
        elif "-" in item.lstrip("-"):
            low_text, _, high_text = item.partition("-")
            step_text = "1"
        else:
            low_text = high_text = item
        low, high = _batch_int(low_text, what), _batch_int(high_text, what)
        if high < low:
            raise SimulatorError(f"{what} range {item!r} must go from small to large (A..B with A <= B)")
        if step_text is not None:
            step = _batch_int(step_text, f"{what} step")
            if (high - low) // step + 1 > MAX_RANGE_VALUES:
                raise SimulatorError(f"{what} range {item!r} gives {(high - low) // step + 1:,} batch "
                                     f"sizes; at most {MAX_RANGE_VALUES:,} (use a larger step)")
            values = list(range(low, high + 1, step))
        else:  # exact in integers: the doublings low * 2**k <= high
            values = [low << k for k in range((high // low).bit_length())]
        seen = set(batches)
        batches += [b for b in values if b not in seen]
    return batches


def one_batch(text: str, what: str = "--batch") -> int:
    """One batch size, an integer in ``1 .. 2**63 - 1``: a list or a range (the grammar of
    :func:`parse_batches`) is a SimulatorError naming the command that takes several."""
    values = parse_batches(text, what)
    if len(values) != 1 or any(mark in text.strip().lstrip("-") for mark in (",", "..", "-")):
        raise SimulatorError(f"{what} takes one batch size here, got {text!r}; lists and ranges of batch "
                             "sizes go to `roofline sweep` (or plot's --batches)")
    return values[0]


class BatchList(argparse.Action):
    """argparse action of an option that takes several batch sizes (:func:`parse_batches`; the value
    becomes a tuple). Bad text ends the command with ONE line and status 2, as a SimulatorError does
    (an argparse type error would print the usage lines too)."""

    def parse(self, text: str, what: str) -> object:
        return tuple(parse_batches(text, what))

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            setattr(namespace, self.dest, self.parse(values, option_string or self.dest))
        except SimulatorError as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")


class BatchSize(BatchList):
    """argparse action of an option that takes one batch size (:func:`one_batch`); a list or range is
    refused in one line (status 2)."""

    def parse(self, text: str, what: str) -> object:
        return one_batch(text, what)


def _split_times(text: str) -> list[str] | None:
    """``"1024x2048"`` -> ``["1024", "2048"]``; None when ``text`` has no ``x`` separator."""
    for sep in _TIMES:
        if sep in text:
            return text.split(sep)
    return None


def resolution(text: str) -> int | tuple[int, int] | str:
    """argparse type for ``--resolution``: ``224`` (square) or ``HEIGHTxWIDTH`` (``1024x2048``, also
    ``X`` or ``×``, spaces allowed), as :func:`simulator.catalog.parse_resolution` reads it.

    Text that is no valid resolution (``-1x224``, ``abc``, a side above the maximum) comes back as it
    is: the library refuses it when the network is built, in one line naming the value and the range
    (an error here would print argparse's usage lines too)."""
    from simulator.catalog import parse_resolution

    try:
        return parse_resolution(text)
    except SimulatorError:
        return text


def parse_value(text: str) -> int | float | tuple[int, int] | str:
    """A ``--param`` value: an int, a float, ``(h, w)`` for ``AxB``, else the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    parts = _split_times(text)
    if parts is not None and len(parts) == 2:
        try:
            return int(parts[0]), int(parts[1])
        except ValueError:
            pass
    return text


def param(text: str) -> tuple[str, int | float | tuple[int, int] | str]:
    """argparse type for ``--param NAME=VALUE``: ``("num_classes", 150)``."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. num_classes=150), got {text!r}")
    return name, parse_value(value.strip())


def add_size_options(parser: argparse.ArgumentParser) -> None:
    """``--resolution``, ``--seq-len`` and ``--param``: a built-in network's size and parameters."""
    parser.add_argument("--resolution", type=resolution, default=None, metavar="SIZE|HxW",
                        help="input size in pixels: 224 (square) or HEIGHTxWIDTH, e.g. 1024x2048 "
                             "(default: the network's own)")
    add_param_options(parser)


def add_param_options(parser: argparse.ArgumentParser) -> None:
    """``--seq-len`` and ``--param`` (the parameters of a built-in network other than its resolution)."""
    parser.add_argument("--seq-len", type=positive_int, default=None, metavar="N",
                        help="sequence length of a sequence model (BERT), i.e. --param seq_len=N")
    parser.add_argument("--param", dest="params", type=param, action="append", default=[],
                        metavar="NAME=VALUE",
                        help="another keyword parameter of the network (repeatable), e.g. num_classes=150; "
                             "values are ints, floats, HxW pairs or strings")


def network_params(args: argparse.Namespace) -> dict[str, object]:
    """``--seq-len`` and the ``--param`` pairs as one dict (a name given twice is an error)."""

    params: dict[str, object] = {}
    pairs = [*(("seq_len", args.seq_len),) * (args.seq_len is not None), *args.params]
    for name, value in pairs:
        if name in params:
            raise SimulatorError(f"network parameter {name!r} is given twice "
                                 f"({params[name]!r} and {value!r})")
        if name == "resolution":
            raise SimulatorError("give the resolution with --resolution, not --param resolution=...")
        params[name] = value
    return params


def add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network",
                        help="built-in network name (see `roofline list`), path to an .onnx file, or an LLM "
                             "(`roofline list llms`, a config.json: see --phase)")
    parser.add_argument("--batch", action=BatchSize, default=1, help=BATCH_HELP)
    add_size_options(parser)
    add_llm_phase_options(parser)


def nonnegative_int(text: str) -> int:
    """argparse type for a count that may be 0 (an LLM's cached tokens)."""
    return int_at_least(text, 0)


def add_llm_phase_options(parser: argparse.ArgumentParser) -> None:
    """``--phase`` and ``--context``: the forward pass of an LLM given by name or config.json."""
    parser.add_argument("--phase", choices=("prefill", "decode"), default=None,
                        help="for an LLM (`roofline list llms` or a config.json): prefill of --seq-len "
                             "prompt tokens, or one decode step (the default)")
    parser.add_argument("--context", type=nonnegative_int, default=None, metavar="N",
                        help="for an LLM: tokens already in the KV cache (decode default 2048, prefill 0)")


def refuse_mixed_llms(networks: list[str], llms: list[bool], verb: str) -> None:
    """One line ``{verb} LLMs and other networks separately; not LLMs: a, b`` when ``networks`` (with
    ``llms``, whether each is an LLM) mix LLMs with other networks; nothing otherwise (sweep, plot)."""
    if any(llms) and not all(llms):
        raise SimulatorError(f"{verb} LLMs and other networks separately; not LLMs: "
                             + ", ".join(n for n, llm in zip(networks, llms, strict=True) if not llm))


def llm_phase(args: argparse.Namespace) -> dict[str, object] | None:
    """``{"phase", "seq_len", "context"}`` (None where not given) when ``args.network`` is an LLM name
    or config.json, refusing --resolution and --param; None for any other network, refusing --phase
    and --context."""
    from simulator.api import _is_llm_name  # one definition, light for built-in names (api keeps it private)

    if not _is_llm_name(args.network):
        if args.phase is not None or args.context is not None:
            raise SimulatorError(f"--phase and --context apply to LLMs (`roofline list llms` or a "
                                 f"config.json), not to the network {args.network!r}")
        return None
    if args.resolution is not None or args.params:
        raise SimulatorError(f"--resolution and --param do not apply to the LLM {args.network!r}: give "
                             f"--phase, --seq-len (prefill) and --context")
    return {"phase": args.phase, "seq_len": args.seq_len, "context": args.context}


def add_attention_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--attention", choices=ATTENTION_CHOICES, default=None,
                        help="how attention executes: fused (the score matrix stays on chip, as a "
                             "FlashAttention-style kernel) or materialized (written and read back, as an "
                             "unfused runtime does); default: the device profile's")


def with_attention(device, attention: str | None):
    """``device`` (a name, path or Device) as a Device whose attention executes as ``attention``
    (unchanged when None): for the commands whose library call takes devices, not an attention."""
    from simulator.hardware.loader import resolve_device

    device = resolve_device(device)
    if attention is None or device.attention == attention:
        return device
    return device.model_copy(update={"attention": attention})


def add_format_option(parser: argparse.ArgumentParser, *extra: str) -> None:
    """``--format table|json|csv``, and the ``extra`` formats of a command (accuracy: markdown)."""
    parser.add_argument("--format", choices=("table", "json", "csv", *extra), default="table",
                        help="output format (default table)")


def split_list(text: str, what: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; an empty list is an error naming ``what``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise SimulatorError(f"{what} needs at least one value, got {text!r}")
    return items


def parse_setting(text: str) -> tuple[str, list[float]]:
    """``"dram.bandwidth_gb_per_s=100,204.8"`` -> ``("dram.bandwidth_bytes_per_s", [1e11, 2.048e11])``,
    in the override grammar of :mod:`simulator.engine.overrides` (``_scale`` keys keep their values)."""
    from simulator.engine.overrides import ACCEPTED_KEYS, is_override_key, parse_overrides

    key, equals, values_text = (part.strip() for part in text.partition("="))
    if not equals or not key:
        raise SimulatorError(f"--set expects KEY=V1,V2,..., got {text!r}")
    if not is_override_key(key):
        raise SimulatorError(f"unknown --set key {key!r}; accepted: {', '.join(ACCEPTED_KEYS)}")
    (override,) = parse_overrides({key: split_list(values_text, f"--set {key}")})
    return override.key, list(override.values)


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): one hardware field of the override grammar, one value each."""
    from simulator.engine.overrides import RANGES_HELP

    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a hardware field, e.g. dram.bandwidth_gb_per_s=100, l2.capacity_scale=0.5 or "
                             "supply_voltage_v=3.0 (repeatable; `roofline sweep` takes several values). "
                             + RANGES_HELP.replace("%", "%%"))


def swept_settings(args: argparse.Namespace) -> dict[str, list[float]]:
    """The ``--set KEY=V1,V2,...`` options as overrides with their values (a key given twice: one line)."""
    overrides: dict[str, list[float]] = {}
    for text in args.settings:
        key, values = parse_setting(text)
        if key in overrides:
            raise SimulatorError(f"--set {text!r} sets {key!r} a second time")
        overrides[key] = values
    return overrides


def single_settings(args: argparse.Namespace) -> dict[str, float] | None:
    """The ``--set`` options as overrides with one value each (None when there are none)."""
    overrides: dict[str, float] = {}
    for text in args.settings:
        key, values = parse_setting(text)
        if key in overrides:
            raise SimulatorError(f"--set {text!r} sets {key!r} a second time")
        if len(values) != 1:
            raise SimulatorError(f"--set {text!r}: give one value here; `roofline sweep` sweeps several")
        overrides[key] = values[0]
    return overrides or None


def add_view_options(parser: argparse.ArgumentParser, ranked_by: str) -> None:
    """``--summary``, ``--top N`` and ``--by kind``: shorter views than one row per layer
    (:mod:`simulator.report_views`, which refuses more than one in one line); ``ranked_by`` says what
    orders ``--top``."""
    views = parser.add_argument_group("shorter views (one of them)")
    views.add_argument("--summary", action="store_true", help="the totals only, no layer table")
    views.add_argument("--top", type=positive_int, default=None, metavar="N",
                       help=f"the N layers of largest {ranked_by} (largest first), then the totals")
    views.add_argument("--by", choices=("kind",), default=None,
                       help="one row per layer kind (layers, totals and share) instead of one per layer")


# Options that several commands take, defined once here so that their flags, defaults and help
# stay the same everywhere (tests/cli/test_shared_options.py checks each is shared).

#: what every single-valued --precision means
PRECISION_HELP = ("precision of weights and activations (default fp16, or the device's first precision if "
                  "it has no fp16)")
#: what --ideal means in every command that takes it
IDEAL_HELP = ("pure roofline: ignore the device's efficiency model (calibrated kernel efficiencies and "
              "overheads), if any")


def add_device_option(parser: argparse.ArgumentParser, help_text: str = DEVICE_HELP) -> None:
    """``--device DEVICE``: one device, required."""
    parser.add_argument("--device", required=True, help=help_text)


def add_precision_options(parser: argparse.ArgumentParser, mixed: bool = True, plural: bool = False,
                          precision_help: str = PRECISION_HELP) -> None:
    """``--precision`` and, with ``mixed``, ``--weight-precision`` and ``--activation-precision`` (each
    None by default: the command resolves it); ``plural`` for a command that takes lists (sweep)."""
    parser.add_argument("--precision", default=None, help=precision_help)
    if mixed:
        s = "s" if plural else ""
        parser.add_argument("--weight-precision", default=None,
                            help=f"weights' precision{s}, if not --precision")
        parser.add_argument("--activation-precision", default=None,
                            help=f"activations' precision{s}, if not --precision")


def add_fuse_option(parser: argparse.ArgumentParser) -> None:
    """``--no-fuse``: the eager graph instead of the inference view."""
    parser.add_argument("--no-fuse", action="store_true",
                        help="simulate the eager graph instead of the inference view (BatchNorm unfolded)")


def add_ideal_option(parser: argparse.ArgumentParser) -> None:
    """``--ideal``: the pure roofline bound (:data:`IDEAL_HELP`)."""
    parser.add_argument("--ideal", action="store_true", help=IDEAL_HELP)


def add_require_fit_option(parser: argparse.ArgumentParser, subject: str = "the network",
                           otherwise: str = "a warning") -> None:
    """``--require-fit``: exit with status 2 when ``subject`` does not fit in the device's memory
    (``otherwise``: what the command does then without it)."""
    parser.add_argument("--require-fit", action="store_true",
                        help=f"exit with status 2 when {subject} does not fit in the device's memory "
                             f"(default: {otherwise}), for scripted pipelines")


def add_output_option(parser: argparse.ArgumentParser, help_text: str, **kwargs: object) -> None:
    """``-o/--output``: the file a command writes (required unless ``required=False`` is given)."""
    kwargs.setdefault("required", True)
    parser.add_argument("-o", "--output", help=help_text, **kwargs)


def add_force_option(parser: argparse.ArgumentParser) -> None:
    """``--force``: a command that writes a file may replace a shipped profile's file only with it."""
    parser.add_argument("--force", action="store_true", help="allow replacing a file of the shipped profiles")


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: ONNX Runtime's intra-op threads (calibrate, validate)."""
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="ONNX Runtime intra-op threads (default: one per core)")


def add_progress_option(parser: argparse.ArgumentParser, item: str) -> None:
    """``--progress``: a line per ``item`` on stderr (:class:`simulator.cli.progress.Progress`, mode
    ``lines``); without it a bar is drawn on a terminal only."""
    parser.add_argument("--progress", action="store_true",
                        help=f"report each {item} on stderr (a progress bar is shown on a terminal anyway)")
