"""The network a command runs and its parameters: the ``network`` argument, ``--batch``, the size
options and, for an LLM, ``--phase`` and ``--context``.

A network's size and other parameters: ``--resolution 224`` or ``--resolution 1024x2048`` (height
× width), ``--seq-len N`` for sequence models and ``--param NAME=VALUE`` (repeatable) for any other
keyword parameter of a built-in network's function (``roofline count segformer_b5 --param
num_classes=150``). :func:`network_params` gathers them into the ``params`` of
:func:`simulator.catalog.build_network`, which refuses a name the network does not take (listing
the ones it does) and any of them for an .onnx model.
"""

from __future__ import annotations

import argparse

from simulator.cli.argtypes import nonnegative_int, positive_int
from simulator.cli.batches import BATCH_HELP, BatchSize
from simulator.errors import SimulatorError

#: separators of ``HEIGHTxWIDTH``
_TIMES = ("x", "X", "×")


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


def network_error_line(error: SimulatorError) -> str:
    """``error``'s line, where it is an unknown network name, with the LLMs every network argument also
    takes (``roofline list llms``, a config.json); a ``.json`` path that is no file is said to be one."""
    from simulator.errors import UnknownNameError

    if not (isinstance(error, UnknownNameError) and str(error).startswith("unknown network ")):
        return str(error)
    from simulator.api import llm_names

    if str(error.name).lower().endswith(".json"):
        return (f"no config.json at {error.name!r}: an LLM is a config.json path or a built-in name "
                f"({', '.join(llm_names())})")
    return f"{UnknownNameError('network', error.name, [*error.choices, *llm_names()])}; an LLM may also be " \
           f"a config.json or a model folder"
