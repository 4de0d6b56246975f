"""The engine's totals for C configurations: one frozen dataclass of ``(C,)`` arrays, SI units.

:func:`simulator.engine.evaluate.evaluate` fills it with sums over the layer axis of its
``(configs, layers)`` arrays; :func:`simulator.simulation.simulation_result` reads configuration 0 of
it, a sweep writes it as columns (:meth:`Totals.columns`, the one place where the field names become
strings: a DataFrame's column names).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Totals:
    """Per configuration (arrays of length C unless stated):

    * ``model_size_bytes``: weights stored, ``params · weight bits / 8`` (int64);
    * ``peak_activation_bytes``: ``batch · peak activations · activation bits / 8`` (int64);
    * ``micro_batch``: samples per pass of the plan kept (int64; the batch when it runs whole);
      these three saturate at 2**63 − 1 (:func:`saturated_int64`);
    * ``t_compute_s``, ``t_memory_s``, ``latency_s``: sums over layers of the layer figures;
    * ``throughput_per_s = batch / latency_s``;
    * ``energy_j = energy_compute_j + Σ_v energy_level_j[:, v] + energy_static_j`` (added in that
      order); ``energy_per_sample_j = energy_j / batch``; ``energy_level_j`` is ``(C, V)``, one column
      per memory level;
    * ``memory_bound_s``: latency of the memory-bound layers; ``memory_bound_fraction`` its share
      of ``latency_s``; ``memory_bound``: that share is over one half (bool: a code; :attr:`bound`
      names it ``"memory"``, else ``"compute"``, at the edge);
    * ``fits``: every memory check passes (bool);
    * ``t_comm_s``: tensor-parallel communication time, None when there is none.
    """

    model_size_bytes: np.ndarray
    peak_activation_bytes: np.ndarray
    micro_batch: np.ndarray
    t_compute_s: np.ndarray
    t_memory_s: np.ndarray
    latency_s: np.ndarray
    throughput_per_s: np.ndarray
    energy_j: np.ndarray
    energy_per_sample_j: np.ndarray
    energy_compute_j: np.ndarray
    energy_level_j: np.ndarray
    energy_static_j: np.ndarray
    memory_bound_s: np.ndarray
    memory_bound_fraction: np.ndarray
    memory_bound: np.ndarray
    fits: np.ndarray
    t_comm_s: np.ndarray | None = None

    @property
    def bound(self) -> np.ndarray:
        """``(C,)`` ``"memory"`` where :attr:`memory_bound`, else ``"compute"`` (the names, for the edge)."""
        return np.where(self.memory_bound, "memory", "compute")

    @property
    def t_comm_or_zero_s(self) -> np.ndarray:
        """``t_comm_s``, zeros where there is no tensor-parallel communication."""
        return np.zeros(len(self.latency_s)) if self.t_comm_s is None else self.t_comm_s

    def columns(self) -> dict[str, np.ndarray]:
        """The fields present (``t_comm_s`` left out when None), by name, in declaration order: the
        columns of a sweep's frame."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    @classmethod
    def concatenate(cls, parts: Sequence[Totals]) -> Totals:
        """The totals of consecutive blocks of configurations as one (a block's totals do not depend
        on the other blocks)."""
        if len(parts) == 1:
            return parts[0]
        changes: dict[str, Any] = {}  # field -> array, or None for t_comm_s without a link
        for f in dataclasses.fields(cls):
            values = [getattr(part, f.name) for part in parts]
            changes[f.name] = None if values[0] is None else np.concatenate(values)
        return cls(**changes)


#: int64's largest value, where :func:`saturated_int64` stops
INT64_MAX = 2**63 - 1


def saturated_int64(values: np.ndarray) -> np.ndarray:
    """Non-negative float64 figures as int64, ``INT64_MAX`` where a figure is at least 2**63 (or is
    not a number): a batch near 2**63 (whose float64 is 2**63) or the bytes of one, which a plain
    cast would wrap to a negative number with a RuntimeWarning. Exact figures of such rows are a
    sweep's count columns (Python ints)."""
    out = np.full(np.shape(values), INT64_MAX, dtype=np.int64)
    within = np.asarray(values) < 2.0**63  # False for NaN
    out[within] = np.asarray(values)[within]
    return out


def summed_fields(batch: np.ndarray, latency_s: np.ndarray, memory_bound_s: np.ndarray,
                  compute_j: np.ndarray, level_j: np.ndarray, static_j: np.ndarray) -> dict[str, np.ndarray]:
    """The :class:`Totals` fields that follow from the layer sums, by name (the one place of these
    rules): ``latency_s``; ``energy_j = compute_j + Σ_v level_j[:, v] + static_j`` (added in that
    order); ``throughput_per_s = batch / latency_s``; ``energy_per_sample_j = energy_j / batch``;
    ``memory_bound_fraction = memory_bound_s / latency_s``; ``memory_bound``: ``memory_bound_s >
    latency_s / 2`` (bool). A zero latency or batch gives inf/nan,
    not a warning. ``level_j`` is ``(C, V)``; the other arrays ``(C,)``; seconds, joules."""
    energy_j = compute_j
    for v in range(level_j.shape[1]):
        energy_j = energy_j + level_j[:, v]
    energy_j = energy_j + static_j
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "latency_s": latency_s,
            "throughput_per_s": batch / latency_s,
            "energy_j": energy_j,
            "energy_per_sample_j": energy_j / batch,
            "energy_compute_j": compute_j,
            "energy_level_j": level_j,
            "energy_static_j": static_j,
            "memory_bound_s": memory_bound_s,
            "memory_bound_fraction": memory_bound_s / latency_s,
            "memory_bound": memory_bound_s > latency_s / 2,
        }
