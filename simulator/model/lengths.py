"""Variable-length inputs: a batch of sequences of different lengths, padded or not as the runtime runs it.

A batch of ``B`` sequences of lengths ``L_1 … L_B`` is given as a list of lengths (``"128,256"``), as a
shipped length distribution of a data set (``"squad-v1.1"``: :data:`DISTRIBUTIONS`, one CSV per data
set under ``sequence_lengths/`` with its source and method) or as one effective length (``"200"``:
every sequence that long). ``padding`` says how the runtime runs it:

* ``none``: padding removed (TensorRT's variable-sequence-length BERT kernels, packed ``[ΣL_i, E]``
  tokens): every layer works on the real tokens only;
* ``max``: every sequence padded to the padded length ``P`` (the network's ``seq_len``; for a
  distribution its ``max_seq_length``, for a list its longest sequence) and run as ``B × P``.

**How each layer kind's cost follows the lengths.** For a token-wise layer (Linear, LayerNorm, GELU,
residual add, an embedding lookup) the per-sequence cost is ``a + b·L``: summed over the batch,
``B·a + b·ΣL_i`` (the total token count). Self-attention on one sequence of ``L`` tokens, width ``E``,
``h`` heads: ``Q Kᵀ`` and ``A V`` cost ``L·L·E`` MACs each, the softmax and scaling act on ``h·L²``
scores, so the batch costs ``2·E·ΣL_i²`` MACs: attention is computed per sequence (a sequence never
attends to another's tokens), so its term is the sum of squares, **not** ``B·(mean L)²``; the two
differ by ``B·Var(L)``. Every per-sample quantity of such a network (MACs, element-wise operations,
bytes of every tensor, live activations, residency thresholds) is therefore a polynomial
``q(L) = a + b·L + c·L²``, and its batch total is ``B·(a + b·m₁ + c·m₂)`` with the length moments
``m₁ = mean L`` and ``m₂ = mean L²``.

:func:`simulator.engine.lengths.variable_length_workload` uses that exactly, without assuming which
layer is which: it builds the network at three lengths ``L_0, L_1, L_2`` (:func:`fit_lengths`), takes
the Lagrange weights ``w_j = E[ℓ_j(L)]`` of the quadratic through them (``Σ_j w_j = 1``), and forms
every per-sample array as ``Σ_j w_j · q(L_j)``; a fourth length checks that the network's costs are
quadratic in its length (else a SimulatorError).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from simulator.errors import SimulatorError

PADDING_MODES = ("none", "max")
#: the shipped length distributions: name -> file under ``simulator/model/sequence_lengths/`` (each a full
#: distribution of every sample; a data set known only by published bounds is a summary instead:
#: :mod:`simulator.model.length_summaries`). The LLM data sets give prompt (input) lengths, and OpenOrca's
#: ``-output`` its reference responses' lengths.
DISTRIBUTIONS = {
    "squad-v1.1": "squad-v1.1.csv",
    "openorca-llama2-70b": "openorca-llama2-70b.csv",
    "openorca-llama2-70b-output": "openorca-llama2-70b-output.csv",
    "cnn-dailymail-llama3.1-8b": "cnn-dailymail-llama3.1-8b.csv",
}


@dataclass(frozen=True)
class SequenceLengths:
    """A multiset of sequence lengths: ``counts[i]`` sequences of ``lengths[i]`` tokens.

    ``padded_length``: the length a padded runtime pads each sequence to (a data set's
    ``max_seq_length``; a list's longest sequence). ``batch``: the batch the lengths describe
    (a list: its number of sequences; a distribution or an effective length: None, any batch).
    """

    name: str
    lengths: tuple[int, ...]
    counts: tuple[int, ...]
    padded_length: int
    source: str = ""
    batch: int | None = None

    @property
    def samples(self) -> int:
        return sum(self.counts)

    @property
    def mean_length(self) -> Fraction:
        """``m₁ = Σ n_i·L_i / Σ n_i`` (tokens per sequence, exact)."""
        return Fraction(sum(n * length for n, length in zip(self.counts, self.lengths, strict=True)),
                        self.samples)

    @property
    def mean_square_length(self) -> Fraction:
        """``m₂ = Σ n_i·L_i² / Σ n_i`` (what attention's score terms scale with, exact)."""
        return Fraction(sum(n * length * length for n, length in zip(self.counts, self.lengths, strict=True)),
                        self.samples)

    def describe(self) -> str:
        """One line: the name, samples, mean and root-mean-square length."""
        return (f"{self.name} ({self.samples:,} sequences, mean {float(self.mean_length):.1f} tokens, "
                f"rms {math.sqrt(self.mean_square_length):.1f}, padded length {self.padded_length})")


def _distribution_path(name: str):
    return importlib.resources.files("simulator.model") / "sequence_lengths" / DISTRIBUTIONS[name]


@lru_cache(maxsize=8)
def load_distribution(name: str) -> SequenceLengths:
    """A shipped distribution by name: a CSV of ``length,samples`` rows after ``#`` comment lines
    (the source and method; ``# max_seq_length: N`` gives the padded length)."""
    if name not in DISTRIBUTIONS:
        raise SimulatorError(f"unknown sequence-length distribution {name!r}; shipped: "
                             f"{', '.join(DISTRIBUTIONS)} (or a list of lengths such as 128,256)")
    text = _distribution_path(name).read_text(encoding="utf-8")
    comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    padded = next(int(line.split(":", 1)[1]) for line in comments if line.startswith("max_seq_length:"))
    rows = list(csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#")))
    return SequenceLengths(name, tuple(int(r["length"]) for r in rows),
                           tuple(int(r["samples"]) for r in rows), padded, " ".join(comments))


def parse_lengths(spec: object) -> SequenceLengths:
    """``spec`` as sequence lengths: a :class:`SequenceLengths`, a shipped distribution's name
    (``"squad-v1.1"``), a list of lengths (``"128,256"`` or ``[128, 256]``: a batch of those
    sequences) or one effective length (``"200"`` or ``200``: every sequence that long)."""
    if isinstance(spec, SequenceLengths):
        return spec
    if isinstance(spec, str) and spec.strip() in DISTRIBUTIONS:
        return load_distribution(spec.strip())
    values: list[object]
    if isinstance(spec, str):
        values = [part.strip() for part in spec.split(",")]
    elif isinstance(spec, int | list | tuple) and not isinstance(spec, bool):
        values = list(spec) if isinstance(spec, list | tuple) else [spec]
    else:
        values = []
    try:
        lengths = [int(v) for v in values if not isinstance(v, bool | float)]
    except ValueError:
        lengths = []
    if not values or len(lengths) != len(values) or min(lengths) < 1:
        raise SimulatorError(f"sequence lengths must be a distribution ({', '.join(DISTRIBUTIONS)}), a "
                             f"list of whole numbers of at least 1 (128,256) or one effective length, "
                             f"got {spec!r}")
    if len(lengths) == 1:
        return SequenceLengths(f"every sequence {lengths[0]} tokens", (lengths[0],), (1,), lengths[0])
    distinct = sorted(set(lengths))
    return SequenceLengths(",".join(map(str, lengths)), tuple(distinct),
                           tuple(lengths.count(length) for length in distinct), max(lengths),
                           batch=len(lengths))


def check_padding(padding: object) -> str:
    if padding not in PADDING_MODES:
        raise SimulatorError(f"padding must be one of {', '.join(PADDING_MODES)}, got {padding!r}")
    return str(padding)


def lagrange_weights(nodes: tuple[int, int, int], lengths: SequenceLengths) -> tuple[Fraction, ...]:
    """``w_j = E[ℓ_j(L)]``, the expectation over ``lengths`` of the Lagrange basis polynomials through
    ``nodes``: ``ℓ_j(L) = Π_{k≠j} (L − L_k)/(L_j − L_k)``, whose expectation needs only ``m₁`` and
    ``m₂``. For any quadratic ``q``, ``E[q(L)] = Σ_j w_j·q(L_j)`` exactly."""
    m1, m2 = lengths.mean_length, lengths.mean_square_length
    weights = []
    for j, lj in enumerate(nodes):
        a, b = (nodes[k] for k in range(3) if k != j)
        # (L − a)(L − b) = L² − (a + b)·L + a·b
        weights.append((m2 - (a + b) * m1 + a * b) / Fraction((lj - a) * (lj - b)))
    return tuple(weights)


def fit_lengths(padded: int) -> tuple[tuple[int, int, int], int]:
    """Three fit lengths and a check length within ``1 .. padded`` (distinct when ``padded >= 4``)."""
    top = max(padded, 4)
    return (top, max(1, top // 2), max(1, top // 4)), max(1, (3 * top) // 4)


@dataclass(frozen=True, eq=False)
class VariableBatch:
    """A simulation's variable-length batch: ``params`` as the result reports them (``seq_lengths``,
    ``padding`` and the padded ``seq_len``), ``network_params`` the network is built with at its
    padded length."""

    lengths: SequenceLengths
    padding: str
    params: dict[str, object]
    network_params: dict[str, object]

    @property
    def run_lengths(self) -> SequenceLengths:
        """The lengths as the runtime runs them: padding max runs every sequence at ``seq_len``
        (the padded length); without padding, one length is the network at that length."""
        if self.padding == "max":
            return dataclasses.replace(self.lengths, padded_length=int(self.network_params["seq_len"]))
        if len(self.lengths.lengths) == 1:
            return dataclasses.replace(self.lengths, padded_length=self.lengths.lengths[0])
        return self.lengths


def variable_batch(batch: int, params: Mapping[str, object] | None, seq_lengths: object,
                   padding: str | None) -> VariableBatch:
    """The variable-length batch of :func:`simulator.simulation.simulate` (arguments as it takes them;
    ``seq_lengths``/``padding`` may also be keys of ``params``). The padded length is ``params``'
    ``seq_len`` when given, else the lengths' own (a distribution's ``max_seq_length``, a list's
    longest); no sequence may exceed it. A list's batch is its number of sequences."""
    given = dict(params or {})
    seq_lengths = given.pop("seq_lengths", None) if seq_lengths is None else seq_lengths
    padding = given.pop("padding", None) if padding is None else padding
    given.pop("seq_lengths", None)
    given.pop("padding", None)
    if seq_lengths is None:
        raise SimulatorError(f"padding {padding!r} needs sequence lengths (seq_lengths: "
                             f"{', '.join(DISTRIBUTIONS)}, a list such as 128,256 or one length)")
    lengths = parse_lengths(seq_lengths)
    padding = check_padding("none" if padding is None else padding)
    padded = given.get("seq_len", lengths.padded_length)
    if isinstance(padded, bool) or not isinstance(padded, int) or max(lengths.lengths) > padded:
        raise SimulatorError(f"seq_len {padded!r} is shorter than the longest sequence "
                             f"({max(lengths.lengths)} tokens) of {lengths.name}; give seq_len >= it")
    if lengths.batch is not None and batch != lengths.batch:
        raise SimulatorError(f"the lengths {lengths.name} are a batch of {lengths.batch} sequences, got "
                             f"batch {batch}; give batch {lengths.batch}")
    shown = seq_lengths if isinstance(seq_lengths, str) else ",".join(map(str, lengths.lengths))
    if lengths.batch is not None:
        shown = lengths.name
    shown_params = {**given, "seq_len": padded, "seq_lengths": shown, "padding": padding}
    return VariableBatch(lengths, padding, shown_params, {**given, "seq_len": padded})
