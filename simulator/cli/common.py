"""Options that several commands of :mod:`simulator.cli` take, defined once here so that their flags,
defaults and help stay the same everywhere (``--device``, ``--precision``, ``--ideal``, ``--format``,
``-o/--output``, ...; tests/cli/test_shared_options.py checks each is shared).

The argument grammar lives in one module per concept, and its names are importable from here too, as
the command modules import them:

* :mod:`simulator.cli.argtypes`: integers with a lower bound, comma-separated lists;
* :mod:`simulator.cli.batches`: the batch grammar (``1..64``, ``1-8``, ``8..64:8``) and its actions;
* :mod:`simulator.cli.network_options`: the network argument, its size and parameters, an LLM's phase;
* :mod:`simulator.cli.settings`: ``--set KEY=VALUE`` hardware overrides.
"""

from __future__ import annotations

import argparse

from simulator.cli.argtypes import int_at_least, nonnegative_int, positive_int, split_list
from simulator.cli.batches import (
    BATCH_GRAMMAR,
    BATCH_HELP,
    MAX_RANGE_VALUES,
    BatchList,
    BatchSize,
    one_batch,
    parse_batches,
)
from simulator.cli.network_options import (
    add_llm_phase_options,
    add_network_options,
    add_param_options,
    add_size_options,
    llm_phase,
    network_params,
    param,
    parse_value,
    refuse_mixed_llms,
    resolution,
)
from simulator.cli.settings import add_settings_option, parse_setting, single_settings, swept_settings

#: what the command modules import from here: the options defined below and the argument grammar of
#: the modules above
__all__ = [
    "ATTENTION_CHOICES", "BATCH_GRAMMAR", "BATCH_HELP", "DEVICE_HELP", "IDEAL_HELP", "MAX_RANGE_VALUES",
    "PRECISION_HELP", "BatchList", "BatchSize", "add_attention_option", "add_device_option",
    "add_force_option", "add_format_option", "add_fuse_option", "add_ideal_option",
    "add_llm_phase_options", "add_network_options", "add_output_option", "add_param_options",
    "add_precision_options", "add_progress_option", "add_require_fit_option", "add_settings_option",
    "add_size_options", "add_threads_option", "add_view_options", "int_at_least", "llm_phase",
    "network_params", "nonnegative_int", "one_batch", "param", "parse_batches", "parse_setting",
    "parse_value", "positive_int", "refuse_mixed_llms", "resolution", "single_settings", "split_list",
    "swept_settings", "with_attention",
]

#: how attention executes (:func:`simulator.simulation.simulate`); the default is the device's
ATTENTION_CHOICES = ("fused", "materialized")
#: what every --device accepts
DEVICE_HELP = ("device name (see `roofline list devices`) or profile path, optionally followed by "
               "@RUNTIME for another runtime's kernels (see `roofline list runtimes`)")


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
