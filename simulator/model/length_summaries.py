"""Published summaries of data sets whose per-sample lengths are not available: counts and bounds only.

A summary is not a distribution: it carries no moments, so it cannot stand for a batch's lengths
(:mod:`simulator.model.lengths` needs ``mean L`` and ``mean L²``). It gives what the benchmark fixes:
the number of samples, the longest prompt the reference keeps (its truncation), and the bounds of the
generated output (``min_new_tokens`` / ``max_new_tokens``), each with its source in the file's comments.

Shipped: :data:`SUMMARIES`, one ``statistic,value`` CSV per data set under ``sequence_lengths/``.
"""

from __future__ import annotations

import csv
import importlib.resources
from dataclasses import dataclass
from functools import lru_cache

from simulator.errors import SimulatorError

#: name -> file under ``simulator/model/sequence_lengths/``
SUMMARIES = {"cnn-dailymail-gptj": "cnn-dailymail-gptj.summary.csv"}


@dataclass(frozen=True)
class LengthSummary:
    """A data set's published counts and bounds, in tokens: ``samples`` sequences, prompts of at most
    ``max_input_tokens`` (the reference's truncation), outputs of ``min_output_tokens`` to
    ``max_output_tokens`` generated with ``beams`` beams. ``source``: the file's comments."""

    name: str
    samples: int
    max_input_tokens: int
    min_output_tokens: int
    max_output_tokens: int
    beams: int
    source: str


@lru_cache(maxsize=4)
def load_length_summary(name: str) -> LengthSummary:
    """A shipped summary by name (:data:`SUMMARIES`)."""
    if name not in SUMMARIES:
        raise SimulatorError(f"unknown length summary {name!r}; shipped: {', '.join(SUMMARIES)}")
    text = (importlib.resources.files("simulator.model") / "sequence_lengths" / SUMMARIES[name]).read_text(
        encoding="utf-8")
    comments = " ".join(line[1:].strip() for line in text.splitlines() if line.startswith("#"))
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    values = {row["statistic"]: int(row["value"]) for row in rows}
    return LengthSummary(name, values["samples"], values["max_input_tokens"], values["min_output_tokens"],
                         values["max_output_tokens"], values["beams"], comments)
