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

:func:`variable_length_workload` uses that exactly, without assuming which layer is which: it builds the
network at three lengths ``L_0, L_1, L_2``, takes the Lagrange weights ``w_j = E[ℓ_j(L)]`` of the
quadratic through them (``Σ_j w_j = 1``), and forms every per-sample array as ``Σ_j w_j · q(L_j)``; a
fourth length checks that the network's costs are quadratic in its length (else a SimulatorError).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from simulator.errors import SimulatorError
from simulator.model.counts import LayerCounts, NetworkCounts, count_network
from simulator.model.graph import Network

PADDING_MODES = ("none", "max")
#: the shipped length distributions: name -> file under ``simulator/model/sequence_lengths/``
DISTRIBUTIONS = {"squad-v1.1": "squad-v1.1.csv"}


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


def _nodes(padded: int) -> tuple[tuple[int, int, int], int]:
    """Three fit lengths and a check length within ``1 .. padded`` (distinct when ``padded >= 4``)."""
    top = max(padded, 4)
    return (top, max(1, top // 2), max(1, top // 4)), max(1, (3 * top) // 4)


def _combine(arrays: list[object], weights: tuple[Fraction, ...]) -> object:
    return sum(float(w) * np.asarray(a, dtype=float) for w, a in zip(weights, arrays, strict=True))


def _quadratic_holds(values: list[np.ndarray], nodes: tuple[int, ...], check: int,
                     checked: np.ndarray) -> bool:
    single = SequenceLengths("check", (check,), (1,), check)
    predicted = _combine(values, lagrange_weights(nodes, single))
    return bool(np.allclose(predicted, checked, rtol=1e-9, atol=1e-6))


def variable_length_workload(build: Callable[[int], Network], lengths: SequenceLengths, padding: str,
                             fuse: bool, attention: str):
    """The per-sample :class:`~simulator.engine.workload.Workload` of a batch drawn from ``lengths``
    (its arrays times the batch are the batch's totals), and the function that counts the batch.

    ``build(L)`` builds the network at sequence length ``L``. ``padding="max"``: the network at the
    padded length, as today. ``padding="none"``: every per-sample array is ``E[q(L)]`` by the
    Lagrange weights of :func:`lagrange_weights` (see the module docstring).
    """
    from simulator.engine.workload import simulated_workload
    from simulator.model.fusion import simulated_graph

    padding = check_padding(padding)
    if padding == "max" or (len(lengths.lengths) == 1 and lengths.lengths[0] == lengths.padded_length):
        network = build(lengths.padded_length)
        return simulated_workload(network, fuse, attention), (
            lambda batch: count_network(simulated_graph(network, fuse), batch))
    nodes, check = _nodes(lengths.padded_length)
    networks = [build(length) for length in nodes]
    workloads = [simulated_workload(network, fuse, attention) for network in networks]
    checked = simulated_workload(build(check), fuse, attention)
    weights = lagrange_weights(nodes, lengths)
    changes: dict[str, object] = {}
    for field in dataclasses.fields(workloads[0]):
        values = [getattr(w, field.name) for w in workloads]
        if not isinstance(values[0], np.ndarray):
            continue
        if any(np.shape(v) != np.shape(values[0]) for v in [*values, getattr(checked, field.name)]) or not (
                _quadratic_holds(values, nodes, check, getattr(checked, field.name))):
            what = field.name.replace("_", " ")
            raise SimulatorError(f"network {workloads[0].network!r}: its {what} are not a quadratic in the "
                                 f"sequence length; variable lengths with padding none need a network of "
                                 f"token-wise layers and self-attention (use padding max)")
        changes[field.name] = _combine(values, weights)
    changes["layer_macs"] = tuple(round(v) for v in _combine([w.layer_macs for w in workloads], weights))
    changes["peak_activations"] = math.ceil(float(_combine([w.peak_activations for w in workloads], weights)))
    workload = dataclasses.replace(workloads[0], **changes)
    graphs = [simulated_graph(network, fuse) for network in networks]
    return workload, lambda batch: variable_counts(graphs, weights, lengths, batch)


def variable_counts(graphs: list[Network], weights: tuple[Fraction, ...], lengths: SequenceLengths,
                    batch: int) -> NetworkCounts:
    """Counts of a batch of ``batch`` sequences drawn from ``lengths``, padding removed: each layer's
    MACs, FLOPs and output elements are ``batch · Σ_j w_j · q(L_j)`` in exact arithmetic, rounded to
    whole numbers only for a distribution (a list's totals are whole by construction). Shapes and
    parameters are those of the network at the longest fit length."""
    per = [count_network(graph, 1) for graph in graphs]

    def total(values: list[int]) -> int:
        return round(batch * sum((w * v for w, v in zip(weights, values, strict=True)), Fraction(0)))

    layers = tuple(
        LayerCounts(name=parts[0].name, kind=parts[0].kind, output_shape=(batch, *parts[0].output_shape[1:]),
                    params=parts[0].params, macs=total([p.macs for p in parts]),
                    flops=total([p.flops for p in parts]),
                    output_elements=total([p.output_elements for p in parts]), allocates=parts[0].allocates)
        for parts in zip(*(counts.layers for counts in per), strict=True))
    return NetworkCounts(per[0].network, batch, (batch, *per[0].input_shape[1:]), layers,
                         total([c.total_activations for c in per]), total([c.peak_activations for c in per]))


def sequence_builder(network: object, params: Mapping[str, object] | None,
                     resolution: object) -> Callable[[int], Network]:
    """``L -> Network``: the built-in network ``network`` with ``seq_len=L`` and its other ``params``;
    a network without a ``seq_len`` parameter is refused naming those that have one."""
    from simulator.catalog import build_network, network_parameters
    from simulator.model.registry import NETWORKS

    if (not isinstance(network, str) or network not in NETWORKS
            or "seq_len" not in network_parameters(network)):
        takes = sorted(name for name in NETWORKS if "seq_len" in network_parameters(name))
        raise SimulatorError(f"sequence lengths apply to built-in networks with a seq_len parameter "
                             f"({', '.join(takes)}), got {network!r}")
    others = {key: value for key, value in (params or {}).items() if key != "seq_len"}
    return lambda length: build_network(network, resolution, 1, {**others, "seq_len": length})


@dataclass(frozen=True, eq=False)
class VariableBatch:
    """A simulation's variable-length batch: ``params`` as the result reports them (``seq_lengths``,
    ``padding`` and the padded ``seq_len``), ``network_params`` the network is built with at its
    padded length, and ``build`` (``L -> Network``)."""

    lengths: SequenceLengths
    padding: str
    params: dict[str, object]
    network_params: dict[str, object]
    build: Callable[[int], Network]

    def prepare(self, fuse: bool, attention: str):
        """``(workload, counts(batch))`` of the batch (:func:`variable_length_workload`): padding max
        runs the network at its ``seq_len``; one length without padding, the network at that length."""
        lengths = self.lengths
        if self.padding == "max":
            lengths = dataclasses.replace(lengths, padded_length=int(self.network_params["seq_len"]))
        elif len(lengths.lengths) == 1:
            lengths = dataclasses.replace(lengths, padded_length=lengths.lengths[0])
        return variable_length_workload(self.build, lengths, self.padding, fuse, attention)


def variable_batch(network: object, resolution: object, batch: int, params: Mapping[str, object] | None,
                   seq_lengths: object, padding: str | None) -> VariableBatch:
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
    build = sequence_builder(network, given, resolution)
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
    return VariableBatch(lengths, padding, shown_params, {**given, "seq_len": padded}, build)
