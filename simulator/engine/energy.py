"""Energy of every layer from operation and data-movement counts, vectorized over configurations.

``E = n·(MACs·E_MAC + element-wise ops·E_add) + Σ_levels bytes_level · E_byte(level) + P_static · t``

* ``E_MAC = E_mult + E_add`` at the compute precision (Horowitz 45 nm: fp32 3.7 + 0.9 = 4.6 pJ);
  an element-wise operation (bias add, activation, pooling, normalization) costs one add;
* ``bytes_level`` follows the traffic rule of :func:`simulator.engine.timing.level_bytes`, and
  ``E_byte = energy per access / bytes per access`` of the level.

``P_static`` is the device's static power (leakage, clocks and the rest of the board: every shipped
profile states it with its source, an idle measurement, a data-sheet estimate or a fit; 0 where a
profile gives none) and ``t`` the layer's latency, so ``E / t`` is at least ``P_static`` (and on every
shipped profile at most its ``max_power_w``: tests/hardware/test_static_power.py). The parts (compute,
one per memory level, static) add up to the total by construction; the first two are the dynamic energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.configs import HardwareArrays
from simulator.engine.timing import Timing
from simulator.engine.workload import Workload

PJ_PER_J = 1e12


@dataclass(frozen=True, eq=False)
class Energy:
    """Per-layer energy for every configuration, in joules."""

    compute_j: np.ndarray   # (C, L)
    level_j: np.ndarray     # (C, V, L)
    static_j: np.ndarray    # (C, L) static power times the layer's latency

    @property
    def total_j(self) -> np.ndarray:
        """``(C, L)``: compute plus every memory level plus static."""
        return self.compute_j + self.level_j.sum(axis=1) + self.static_j


def compute_energy_j(workload: Workload, hardware: HardwareArrays, batch: np.ndarray) -> np.ndarray:
    """``(C, L)`` ``n·(MACs·E_MAC + element-wise ops·E_add)`` [J]."""
    compute = workload.macs * hardware.mac_energy_pj[:, None]
    compute += workload.elementwise_ops * hardware.op_energy_pj[:, None]
    compute *= batch[:, None]
    compute /= PJ_PER_J
    return compute


def level_energy_j(level_bytes: np.ndarray, hardware: HardwareArrays) -> np.ndarray:
    """``(C, V, L)`` bytes crossing each level times its energy per byte [J]."""
    energy = level_bytes * hardware.energy_per_byte_pj[:, :, None]
    energy /= PJ_PER_J
    return energy


def static_energy_j(static_power_w: np.ndarray | None, latency_s: np.ndarray) -> np.ndarray:
    """``(C, L)`` static power ``(C,)`` times each layer's latency [J] (None: no static power)."""
    power = np.zeros(len(latency_s)) if static_power_w is None else static_power_w
    return power[:, None] * latency_s


def layer_energy(workload: Workload, hardware: HardwareArrays, timing: Timing, batch: np.ndarray) -> Energy:
    """Compute and data-movement energy of each layer for every configuration."""
    return Energy(compute_energy_j(workload, hardware, batch), level_energy_j(timing.level_bytes, hardware),
                  static_energy_j(hardware.static_power_w, timing.latency_s))
