"""A device's figures for a block of configurations, with what-if overrides applied.

:func:`hardware_arrays` turns a :class:`~simulator.hardware.device.Device` into per-configuration
arrays (:class:`HardwareArrays`), with overrides applied. The grammar of overrides and their ranges
(``--set``) live in :mod:`simulator.engine.overrides`; its names are re-exported here. The checks a
profile passes at load apply to the overridden figures too (:func:`_check_overridden`): levels keep
their order, capacities not growing from one level holding data to the next inside it (a register
file, which holds operands in flight and not a copy of the data, is not bound by the L2's capacity:
an H100's 33 MiB of registers against its 50 MiB L2), bandwidths not falling from the outermost
level inwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.engine.overrides import (
    ACCEPTED_KEYS,
    FACTOR_LIMIT,
    LEVEL_FIELDS,
    LEVEL_SCALES,
    LEVEL_UNITS,
    RANGES_HELP,
    SUPPLY_KEY,
    Override,
    check_applies,
    figure_range,
    is_override_key,
    level_index,
    override_arrays,
    parse_overrides,
)
from simulator.engine.power_limit import device_power_share
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.kernels import TILE_OUTPUTS

__all__ = [
    "ACCEPTED_KEYS", "FACTOR_LIMIT", "LEVEL_FIELDS", "LEVEL_SCALES", "LEVEL_UNITS", "RANGES_HELP",
    "SUPPLY_KEY", "HardwareArrays", "LinkLevel", "Override", "check_applies", "figure_range",
    "hardware_arrays", "is_override_key", "level_index", "override_arrays", "parse_overrides",
]

@dataclass(frozen=True, eq=False)
class LinkLevel:
    """The link between ``N`` tensor-parallel devices as a level, per configuration ``(configs,)``:
    ``devices`` (``N``), ``bandwidth_bytes_per_s`` (per direction), ``latency_s`` (of one transfer, a
    message step) and ``overhead_s``, the expected model's fixed cost of one all-reduce (None or 0: ideal).

    Its stream is an :class:`~simulator.model.layers.AllReduce` node's all-reduced activations: a ring
    all-reduce of ``D`` bytes makes ``2(N−1)`` transfers (:meth:`transfers`) carrying
    ``2(N−1)/N · D`` bytes in all (:func:`~simulator.model.layers.ring_link_elements`), so the level's
    time is ``2(N−1)·latency + 2(N−1)/N · D / bandwidth + overhead``
    (:func:`simulator.engine.timing.link_time_s`). Unlike a memory level, it is not overlapped: the
    time is added to the layer's (an AllReduce node has no other work, so added and overlapped agree).
    """

    devices: np.ndarray
    bandwidth_bytes_per_s: np.ndarray
    latency_s: np.ndarray
    overhead_s: np.ndarray | None = None
    #: the expected model's least bits per all-reduced element, ``(configs,)``: a runtime all-reduces
    #: the row-parallel GEMM's 16-bit output whatever the activation precision
    #: (:data:`simulator.llm.parallel.ALLREDUCE_PAYLOAD_BITS`); None: the activation precision's bits
    #: (the ideal roofline, a lower bound also where a runtime all-reduces fewer bits)
    payload_bits: np.ndarray | None = None
    name: str = "link"

    def transfers(self) -> np.ndarray:
        """``(configs, 1)`` transfers of one ring all-reduce: ``2(N−1)``, each paying ``latency_s``."""
        return 2 * (self.devices[:, None] - 1)


@dataclass(frozen=True, eq=False)
class HardwareArrays:
    """Device parameters per configuration: ``(configs,)`` and ``(configs, levels)`` arrays.

    Levels run from the outermost (index 0) to the innermost. ``weight_store`` and
    ``activation_store`` index the outermost levels holding weights and activations;
    ``activation_buffer`` the next level inside the activation store that also holds activations
    (an on-chip SRAM or L2), or None; ``operand_level`` the innermost level when it holds neither
    (a register file, which sees every operand of every operation).
    """

    level_names: tuple[str, ...]
    stores_weights: tuple[bool, ...]
    stores_activations: tuple[bool, ...]
    peak_ops_per_s: np.ndarray
    bandwidth_bytes_per_s: np.ndarray
    capacity_bytes: np.ndarray
    energy_per_byte_pj: np.ndarray
    mac_energy_pj: np.ndarray
    op_energy_pj: np.ndarray
    #: efficiency class -> (compute fraction, bandwidth fraction, overhead in s); None: ideal roofline
    efficiency: Mapping[str, tuple[float, float, float]] | None = None
    #: static power per configuration [W] (leakage and the rest of the board; 0: not modelled)
    static_power_w: np.ndarray | None = None
    #: the efficiency model's time per kernel, processors (SMs) and output tile per class (None:
    #: no fill model)
    kernel_overhead_s: float = 0.0
    parallel_units: int | None = None
    tile_outputs: Mapping[str, float] | None = None
    #: the link between tensor-parallel devices, a level of its own (:class:`LinkLevel`; None: one
    #: device, no link)
    link: LinkLevel | None = None
    #: the expected model's power-limited share of the dense peak (None: no power term;
    #: :mod:`simulator.engine.power_limit`)
    power_share: float | None = None

    @property
    def weight_store(self) -> int:
        return self.stores_weights.index(True)

    @property
    def activation_store(self) -> int:
        return self.stores_activations.index(True)

    @property
    def activation_buffer(self) -> int | None:
        inner = range(self.activation_store + 1, len(self.level_names))
        return next((v for v in inner if self.stores_activations[v]), None)

    @property
    def operand_level(self) -> int | None:
        last = len(self.level_names) - 1
        if last == 0 or self.stores_weights[last] or self.stores_activations[last]:
            return None
        return last


def _check_overridden(device: Device, peak: np.ndarray, columns: Mapping[str, np.ndarray],
                      keys: Sequence[str]) -> None:
    """The checks a profile passes at load (:class:`~simulator.hardware.device.Device`), applied to the
    overridden figures of every configuration: finite and > 0, capacities not growing from one level
    holding data to the next inside it (a register file holds operands in flight, not a copy of the
    L2's data, and is not bound by its capacity) and bandwidths not falling from the outermost level
    inwards. A failure names the override and the levels."""
    names = [lv.name for lv in device.memory_levels]
    given = ", ".join(keys)
    for what, values in (("peak", peak), *columns.items()):
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            raise SimulatorError(f"overrides {given} on device {device.name!r} make {what} "
                                 f"{values[bad].flat[0]:g}; it must be a finite number greater than 0")
    capacity, bandwidth = columns["capacity_bytes"], columns["bandwidth_bytes_per_s"]
    holding = [v for v, level in enumerate(device.memory_levels) if level.stores]  # not a register file
    for outer, inner in itertools.pairwise(holding):
        larger = np.flatnonzero(capacity[:, inner] > capacity[:, outer])
        if larger.size:
            row = larger[0]
            raise SimulatorError(
                f"overrides {given} make {names[inner]!r} larger than {names[outer]!r} on device "
                f"{device.name!r} ({capacity[row, inner]:.6g} > {capacity[row, outer]:.6g} bytes); levels go "
                "from outermost to innermost, as in a profile")
    for outer in range(len(names) - 1):
        inner = outer + 1
        slower = np.flatnonzero(bandwidth[:, inner] < bandwidth[:, outer])
        if slower.size:
            row = slower[0]
            raise SimulatorError(
                f"overrides {given} make {names[inner]!r} slower than {names[outer]!r} on device "
                f"{device.name!r} ({bandwidth[row, inner]:.6g} < {bandwidth[row, outer]:.6g} bytes/s); "
                "levels go from outermost to innermost, as in a profile")


def hardware_arrays(device: Device, precisions: Sequence[str],
                    overrides: Mapping[str, np.ndarray] | None = None, ideal: bool = False) -> HardwareArrays:
    """The device's parameters for configurations computing at ``precisions`` (one per configuration).

    ``overrides`` replaces fields per configuration, in SI units: ``peak_ops_per_s``,
    ``<level>.bandwidth_bytes_per_s``, ``<level>.capacity_bytes`` and ``<level>.energy_per_byte_pj``
    (level names as in the profile, case-insensitive), as :func:`override_arrays` gives them, and
    ``supply_voltage_v``, which then multiplies every energy figure, an overridden energy per byte
    included, by ``V / supply.voltage_v`` (the figures of a profile and of an override hold at its
    supply). Without ``ideal``, a profile's ``buffer_capacity_fraction`` then scales the capacity of
    the on-chip activation buffer (:attr:`HardwareArrays.activation_buffer`, an overridden one
    included), rounded down to whole bytes: the share activations stay resident in. The level order
    is checked before that scaling.
    ``ideal`` ignores the device's efficiency model (if any) and gives the pure roofline.
    """
    count = len(precisions)
    levels = device.memory_levels
    columns = {  # one row per configuration, each a copy of the profile's (overrides change them)
        "bandwidth_bytes_per_s": np.tile(np.array([lv.bandwidth_bytes_per_s for lv in levels], dtype=float),
                                         (count, 1)),
        "capacity_bytes": np.tile(np.array([lv.capacity_bytes for lv in levels], dtype=float), (count, 1)),
        "energy_per_byte_pj": np.tile(np.array([lv.energy_per_byte_pj for lv in levels], dtype=float),
                                      (count, 1)),
    }
    distinct = {p: k for k, p in enumerate(dict.fromkeys(precisions))}
    code = np.array([distinct[p] for p in precisions], dtype=np.intp)  # each precision's position in distinct
    peak = np.array([device.peak_for(p) for p in distinct], dtype=float)[code]
    mac_energy = np.array([device.energy.mac_energy_pj(p) for p in distinct], dtype=float)[code]
    add_energy = np.array([device.energy.op_energy_pj("add", p) for p in distinct], dtype=float)[code]
    index = {lv.name.lower(): v for v, lv in enumerate(levels)}
    energy_factor: np.ndarray = np.ones(count)  # supply voltage over the profile's (a linear regulator)
    for key, values in (overrides or {}).items():
        if key == "peak_ops_per_s":
            peak = np.broadcast_to(np.asarray(values, dtype=float), (count,)).copy()
            continue
        if key == SUPPLY_KEY:
            if device.supply is None:
                raise SimulatorError(f"cannot override {SUPPLY_KEY!r} on device {device.name!r}: its profile "
                                     "states no [supply] (voltage and a linear regulator)")
            volts = np.broadcast_to(np.asarray(values, dtype=float), (count,))
            energy_factor = volts / device.supply.voltage_v
            continue
        level, _, field = key.partition(".")
        if level.lower() not in index or field not in columns:
            raise SimulatorError(
                f"cannot override {key!r} on device {device.name!r}: expected peak_ops_per_s or "
                f"<level>.<field> with level in {[lv.name for lv in levels]} and field in {list(columns)}")
        columns[field][:, index[level.lower()]] = values
    if overrides:
        _check_overridden(device, peak, columns, list(overrides))
    columns["energy_per_byte_pj"] = columns["energy_per_byte_pj"] * energy_factor[:, None]
    model = None if ideal else device.efficiency
    hardware = HardwareArrays(
        level_names=tuple(lv.name for lv in levels),
        stores_weights=tuple("weights" in lv.stores for lv in levels),
        stores_activations=tuple("activations" in lv.stores for lv in levels),
        peak_ops_per_s=peak,
        static_power_w=float(device.static_power_w) * energy_factor,
        mac_energy_pj=mac_energy * energy_factor,
        op_energy_pj=add_energy * energy_factor,
        efficiency=None if model is None else {
            name: (entry.compute_fraction, entry.bandwidth_fraction, entry.overhead_s)
            for name, entry in model.resolved_classes().items()},
        kernel_overhead_s=0.0 if model is None else model.kernel_overhead_s,
        parallel_units=None if model is None else model.parallel_units,
        tile_outputs=None if model is None else {**TILE_OUTPUTS, **model.tile_outputs},
        power_share=None if model is None else device_power_share(device),
        bandwidth_bytes_per_s=columns["bandwidth_bytes_per_s"],
        capacity_bytes=columns["capacity_bytes"],
        energy_per_byte_pj=columns["energy_per_byte_pj"],
    )
    fraction = None if ideal or device.efficiency is None else device.efficiency.buffer_capacity_fraction
    buffer = hardware.activation_buffer
    if fraction is not None and buffer is not None:  # expected: activations stay in a share of the buffer
        hardware.capacity_bytes[:, buffer] = np.floor(hardware.capacity_bytes[:, buffer] * fraction)
    return hardware
