"""A variable-length batch through the engine: its per-sample workload and its counts.

The lengths and why the batch's figures are ``E[q(L)]`` of quadratics ``q``:
:mod:`simulator.model.lengths`. Here the network is built at three lengths (the Lagrange nodes of
:func:`~simulator.model.lengths.fit_lengths`), each build's workload and counts are combined with the
weights of :func:`~simulator.model.lengths.lagrange_weights`, and a fourth build checks that every
array is a quadratic in the length.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from simulator.engine.workload import Workload, simulated_workload
from simulator.errors import SimulatorError
from simulator.model.counts import LayerCounts, NetworkCounts, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.model.lengths import SequenceLengths, check_padding, fit_lengths, lagrange_weights


def _combine(arrays: Sequence[object], weights: tuple[Fraction, ...]) -> np.ndarray:
    return sum((float(w) * np.asarray(a, dtype=float) for w, a in zip(weights, arrays, strict=True)),
               np.zeros(()))


def _quadratic_holds(values: list[np.ndarray], nodes: tuple[int, int, int], check: int,
                     checked: np.ndarray) -> bool:
    single = SequenceLengths("check", (check,), (1,), check)
    predicted = _combine(values, lagrange_weights(nodes, single))
    return bool(np.allclose(predicted, checked, rtol=1e-9, atol=1e-6))


def variable_length_workload(build: Callable[[int], Network], lengths: SequenceLengths, padding: str,
                             fuse: bool, attention: str,
                             ) -> tuple[Workload, Callable[[int], NetworkCounts]]:
    """The per-sample :class:`~simulator.engine.workload.Workload` of a batch drawn from ``lengths``
    (its arrays times the batch are the batch's totals), and the function that counts the batch.

    ``build(L)`` builds the network at sequence length ``L``. ``padding="max"``: the network at the
    padded length, as today. ``padding="none"``: every per-sample array is ``E[q(L)]`` by the
    Lagrange weights of :func:`lagrange_weights` (see the module docstring).
    """
    padding = check_padding(padding)
    if padding == "max" or (len(lengths.lengths) == 1 and lengths.lengths[0] == lengths.padded_length):
        network = build(lengths.padded_length)
        return simulated_workload(network, fuse, attention), (
            lambda batch: count_network(simulated_graph(network, fuse), batch))
    nodes, check = fit_lengths(lengths.padded_length)
    networks = [build(length) for length in nodes]
    workloads = [simulated_workload(network, fuse, attention) for network in networks]
    checked = simulated_workload(build(check), fuse, attention)
    weights = lagrange_weights(nodes, lengths)
    changes: dict[str, Any] = {}  # Workload fields of several types, by name
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
