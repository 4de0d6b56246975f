"""Sweeps: every configuration of a product of networks, devices, batches, precisions and hardware
overrides, one table row each, evaluated as arrays through the kernels of :mod:`simulator.simulate`.

:func:`sweep` loops only over network shapes (network x resolution) and devices, which differ in
layer count and memory levels. Within one (shape, device) block the product of batches,
precisions and override values is a single array of C configurations that goes once through
:func:`~simulator.simulate.hardware_arrays`, :func:`~simulator.engine.timing.roofline_timing`,
:func:`~simulator.engine.energy.layer_energy` and :func:`~simulator.simulate.memory_checks`, in chunks
of at most :data:`MAX_CHUNK_ELEMENTS` ``(C, levels, layers)`` elements. Totals are sums over the
layer axis of the same C-contiguous arrays (and in the same order) as in
:func:`~simulator.simulate.simulate`, so a row equals the single simulation of its configuration
exactly, bit for bit.

Overrides (``overrides=``) map a key to the values to sweep, in SI units, or to relative scales of
the device's own figure:

* ``peak_ops_per_s``: the peak at every precision [ops/s]; ``peak_scale``: times the device's
  peak at each configuration's compute precision;
* ``<level>.bandwidth_bytes_per_s``, ``<level>.capacity_bytes``, ``<level>.energy_per_byte_pj``:
  a memory level's field (level names as in the profile, case-insensitive);
* ``<level>.bandwidth_scale``, ``<level>.capacity_scale``, ``<level>.energy_per_byte_scale``:
  times the level's own figure (after an absolute override of the same field, if both are given).

Capacities are whole bytes: an overridden capacity is rounded down, ``floor(capacity x scale)``.
Overrides are not checked against the ordering of the hierarchy (a DRAM faster than its L2 is
simulated as given).
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.catalog import build_network
from simulator.engine.energy import layer_energy
from simulator.engine.timing import BITS_PER_BYTE, roofline_timing
from simulator.engine.workload import Workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision
from simulator.simulate import hardware_arrays, memory_checks, simulated_graph, simulated_workload

#: Level fields that may be overridden, in SI units (as :func:`~simulator.simulate.hardware_arrays` takes).
LEVEL_FIELDS = ("bandwidth_bytes_per_s", "capacity_bytes", "energy_per_byte_pj")
#: Relative keys of a level: ``<level>.<scale key>`` multiplies that field.
LEVEL_SCALES = {"bandwidth_scale": "bandwidth_bytes_per_s", "capacity_scale": "capacity_bytes",
                "energy_per_byte_scale": "energy_per_byte_pj"}
PEAK_KEYS = ("peak_ops_per_s", "peak_scale")
#: Largest ``(configs, levels, layers)`` array one chunk may create (~160 MB of float64).
MAX_CHUNK_ELEMENTS = 20_000_000
#: In automatic mode, progress is printed once a sweep has run this long.
PROGRESS_AFTER_S = 1.0

#: Columns of every sweep, in order; override keys follow ``activation_precision`` and the
#: ``energy_<level>_j`` columns follow ``energy_compute_j``.
COLUMNS = ("network", "device", "input_shape", "resolution", "batch", "precision", "weight_precision",
           "activation_precision", "params", "macs", "flops", "model_size_bytes", "peak_activation_bytes",
           "t_compute_s", "t_memory_s", "latency_s", "throughput_per_s", "energy_j", "energy_per_sample_j",
           "energy_compute_j", "bound", "fits", "memory_bound_fraction")
ACCEPTED_KEYS = (*PEAK_KEYS, *(f"<level>.{f}" for f in LEVEL_FIELDS), *(f"<level>.{s}" for s in LEVEL_SCALES))


@dataclass(frozen=True)
class Override:
    """One swept hardware field: ``key`` as given, the ``level`` (None for the peak), the SI
    ``field`` it sets, whether ``values`` are relative ``scale`` factors, and the values."""

    key: str
    level: str | None
    field: str
    scale: bool
    values: tuple[float, ...]


def parse_overrides(overrides: Mapping[str, Sequence[float] | float] | None) -> list[Override]:
    """Validates override keys and values (finite numbers > 0, at least one per key)."""
    parsed = []
    for key, raw in (overrides or {}).items():
        if not isinstance(key, str):
            raise SimulatorError(f"override keys must be strings, got {key!r}")
        if key in PEAK_KEYS:
            level, field, scale = None, "peak_ops_per_s", key == "peak_scale"
        else:
            level, dot, name = key.partition(".")
            if not dot or not level or (name not in LEVEL_FIELDS and name not in LEVEL_SCALES):
                raise SimulatorError(f"unknown override {key!r}; accepted keys: {', '.join(ACCEPTED_KEYS)}")
            field, scale = LEVEL_SCALES.get(name, name), name in LEVEL_SCALES
        values = (raw,) if isinstance(raw, Real) else tuple(raw)
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v)
               or not v > 0]
        if not values or bad:
            raise SimulatorError(f"override {key!r} needs one or more finite numbers greater than 0, "
                                 f"got {list(values)!r}")
        same = [o.key for o in parsed if (o.level or "").lower() == (level or "").lower()
                and o.field == field and o.scale == scale]
        if same:
            raise SimulatorError(f"override {key!r} sets the same field as {same[0]!r}; give it once")
        parsed.append(Override(key, level, field, scale, tuple(float(v) for v in values)))
    return parsed


def _tuple(items, kind) -> tuple:
    """A single item (a name, a path, a number, a Network, a Device) or a sequence of them, as a tuple."""
    return (items,) if isinstance(items, str | Path | kind) else tuple(items)


def _check_batches(batches: Sequence[int]) -> tuple[int, ...]:
    bad = [b for b in batches if isinstance(b, bool) or not isinstance(b, Integral) or b < 1]
    if not batches or bad:
        raise SimulatorError(f"batch sizes must be integers of at least 1, got {list(batches)!r}")
    return tuple(int(b) for b in batches)


def _precision_axes(precisions, weight_precisions, activation_precisions) -> list[tuple[str, ...]]:
    """The three precision axes; an absent weight or activation axis follows ``precision``."""
    if weight_precisions is not None and activation_precisions is not None:
        if len(precisions) > 1:
            raise SimulatorError("precisions has no effect when both weight_precisions and "
                                 f"activation_precisions are given; got precisions={list(precisions)!r}")
        precisions = (None,)
    axes = [tuple(precisions), tuple(weight_precisions or (None,)), tuple(activation_precisions or (None,))]
    for axis in axes:
        if not axis:
            raise SimulatorError("every precision axis needs at least one precision")
        for precision in axis:
            if precision is not None:
                bits_of(precision)
    return axes


def _level_index(device: Device, override: Override) -> int:
    names = [level.name.lower() for level in device.memory_levels]
    if override.level.lower() not in names:
        raise SimulatorError(f"cannot override {override.key!r} on device {device.name!r}: it has no level "
                             f"{override.level!r}; its levels: "
                             f"{', '.join(lv.name for lv in device.memory_levels)}")
    return names.index(override.level.lower())


def _si_overrides(device: Device, overrides: list[Override], compute: list[str],
                  values: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-configuration SI arrays for :func:`hardware_arrays`: absolute values replace the device's
    figure, scales multiply it (absolute first), capacities are rounded down to whole bytes."""
    fields: dict[str, np.ndarray] = {}
    given = sorted(zip(overrides, values, strict=True), key=lambda pair: pair[0].scale)  # absolute first
    for override, column in given:
        if override.level is None:
            key = "peak_ops_per_s"
            base = fields.get(key)
            if base is None:
                peaks = {p: device.peak_for(p) for p in set(compute)}
                base = np.array([peaks[p] for p in compute], dtype=float)
        else:
            level = device.memory_levels[_level_index(device, override)]
            key = f"{level.name}.{override.field}"
            base = fields.get(key)
            if base is None:
                base = np.full(len(compute), float(getattr(level, override.field)))
        fields[key] = base * column if override.scale else column
    for key in fields:
        if key.endswith(".capacity_bytes"):
            fields[key] = np.floor(fields[key])
    return fields


def _column_name(level: str) -> str:
    return "energy_" + re.sub(r"[^0-9a-zA-Z]+", "_", level).strip("_").lower() + "_j"


def _evaluate(workload: Workload, device: Device, ideal: bool, compute: list[str], batch: np.ndarray,
              weight_bits: np.ndarray, activation_bits: np.ndarray,
              overrides: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Totals of one chunk of configurations; each mirrors the matching :class:`SimulationResult` field."""
    hardware = hardware_arrays(device, compute, overrides, ideal)
    timing = roofline_timing(workload, hardware, batch, weight_bits, activation_bits)
    energy = layer_energy(workload, hardware, timing, batch)
    latency_s = timing.latency_s.sum(axis=1)
    # SimulationResult.bound adds memory-bound layer latencies one by one, in layer order
    memory_bound_s = np.cumsum(np.where(timing.memory_bound, timing.latency_s, 0.0), axis=1)[:, -1]
    compute_j = energy.compute_j.sum(axis=1)
    level_j = energy.level_j.sum(axis=2)
    energy_j = compute_j  # summed in the order of SimulationResult.energy_j: compute, then each level
    for v in range(len(hardware.level_names)):
        energy_j = energy_j + level_j[:, v]
    fits = np.ones(len(batch), dtype=bool)
    for v, _, required in memory_checks(workload, hardware, batch, weight_bits, activation_bits):
        fits &= required <= hardware.capacity_bytes[:, v]
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {
            "model_size_bytes": np.ceil(workload.params * weight_bits / BITS_PER_BYTE).astype(np.int64),
            "peak_activation_bytes": np.ceil(batch * workload.peak_activations * activation_bits
                                             / BITS_PER_BYTE).astype(np.int64),
            "t_compute_s": timing.t_compute_s.sum(axis=1),
            "t_memory_s": timing.t_memory_s.sum(axis=1),
            "latency_s": latency_s,
            "throughput_per_s": batch / latency_s,
            "energy_j": energy_j,
            "energy_per_sample_j": energy_j / batch,
            "energy_compute_j": compute_j,
            **{_column_name(name): level_j[:, v] for v, name in enumerate(hardware.level_names)},
            "bound": np.where(memory_bound_s > latency_s / 2, "memory", "compute"),
            "fits": fits,
            "memory_bound_fraction": memory_bound_s / latency_s,
        }
    return columns


class _Progress:
    """Progress lines on stderr: always (True), never (False), or once the sweep has run a while (None)."""

    def __init__(self, mode: bool | None, blocks: int):
        self.mode, self.blocks, self.block, self.start = mode, blocks, 0, time.perf_counter()

    def next_block(self) -> None:
        self.block += 1

    def report(self, label: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        if self.mode or (self.mode is None and elapsed > PROGRESS_AFTER_S):
            print(f"sweep: block {self.block}/{self.blocks} ({label}): {done:,}/{total:,} configurations, "
                  f"{elapsed:.1f} s", file=sys.stderr, flush=True)


def sweep(networks: Sequence[str | Path | Network] | str | Path | Network,
          devices: Sequence[str | Path | Device] | str | Path | Device,
          batches: Sequence[int] = (1,), precisions: Sequence[str] = ("fp16",),
          resolutions: Sequence[int | None] = (None,),
          overrides: Mapping[str, Sequence[float] | float] | None = None,
          weight_precisions: Sequence[str] | None = None, activation_precisions: Sequence[str] | None = None,
          fuse: bool = True, ideal: bool = False, skip_unsupported: bool = False,
          progress: bool | None = None) -> pd.DataFrame:
    """One row per configuration of networks x resolutions x devices x batches x precisions x
    weight precisions x activation precisions x override values, in that order (the last varies
    fastest).

    ``networks``: built-in names, .onnx paths or Network objects (``resolutions`` apply to names);
    ``devices``: shipped names, profile paths or Device objects. ``precisions`` sets weights and
    activations unless ``weight_precisions`` / ``activation_precisions`` give their own axis, as in
    :func:`~simulator.simulate.simulate`; the ``precision`` column is the compute precision, the
    wider of the two. ``overrides``: see the module docstring; each key adds a column of its
    values. A configuration whose compute precision a device has no peak for raises
    SimulatorError, unless ``skip_unsupported`` drops it. ``progress``: print a line per chunk to
    stderr (True), never (False), or once the sweep has run over a second (None).

    Columns (SI units): ``network, device, input_shape, resolution, batch, precision,
    weight_precision, activation_precision, <override keys>, params, macs, flops`` (at the row's
    batch), ``model_size_bytes, peak_activation_bytes, t_compute_s, t_memory_s, latency_s``
    (sums over layers), ``throughput_per_s = batch / latency_s, energy_j, energy_per_sample_j,
    energy_compute_j, energy_<level>_j`` (NaN for a device without that level), ``bound``
    (``memory`` when memory-bound layers take over half the latency), ``fits`` (weights and peak
    activations fit their stores) and ``memory_bound_fraction`` (that share of the latency).
    """
    networks, devices = _tuple(networks, Network), _tuple(devices, Device)
    if not networks or not devices:
        raise SimulatorError("a sweep needs at least one network and one device")
    parsed = parse_overrides(overrides)
    weight_precisions, activation_precisions = (None if axis is None else _tuple(axis, str)
                                                for axis in (weight_precisions, activation_precisions))
    precision_axes = _precision_axes(_tuple(precisions, str), weight_precisions, activation_precisions)
    grid = _Grid.product(_check_batches(_tuple(batches, Integral)), precision_axes, parsed)
    devices = [d if isinstance(d, Device) else resolve_device(d) for d in devices]
    supported = [_supported(device, grid, parsed, skip_unsupported) for device in devices]
    shapes = _shapes(networks, _tuple(resolutions, Integral | None) or (None,))
    frames = []
    reporter = _Progress(progress, len(shapes) * len(devices))
    for resolution, network in shapes:
        workload = simulated_workload(network, fuse)
        counts = count_network(simulated_graph(network, fuse), 1)
        for device, rows in zip(devices, supported, strict=True):
            reporter.next_block()
            if len(rows):
                frames.append(_block(network, resolution, workload, counts, device, grid, rows, parsed, ideal,
                                     reporter))
    return _assemble(frames, [o.key for o in parsed])


def _shapes(networks: tuple, resolutions: tuple) -> list[tuple[int | None, Network]]:
    """``(resolution, Network)`` of every network x resolution; resolutions apply to names only."""
    shapes = []
    for network in networks:
        for resolution in resolutions:
            if isinstance(network, Network) and resolution is not None:
                raise SimulatorError(f"resolution {resolution!r} applies to networks given by name, "
                                     f"not to the Network object {network.name!r}")
            shapes.append((resolution, network if isinstance(network, Network)
                           else build_network(network, resolution)))
    return shapes


@dataclass(frozen=True, eq=False)
class _Grid:
    """The product of batches, precisions and override values, one array entry per configuration."""

    batch: np.ndarray                 # int64
    precision: np.ndarray             # compute precision (str)
    weight_precision: np.ndarray
    activation_precision: np.ndarray
    weight_bits: np.ndarray
    activation_bits: np.ndarray
    values: tuple[np.ndarray, ...]    # one per override, as given (SI or scale)

    @classmethod
    def product(cls, batches: tuple[int, ...], precision_axes: list[tuple[str | None, ...]],
                overrides: list[Override]) -> _Grid:
        axes = [batches, *precision_axes, *(o.values for o in overrides)]
        index = np.unravel_index(np.arange(math.prod(map(len, axes))), [len(a) for a in axes])
        precisions, weights, activations = precision_axes
        pairs = [(w or p, a or p) for p in precisions for w in weights for a in activations]
        pair = np.ravel_multi_index(index[1:4], [len(a) for a in precision_axes])
        return cls(
            batch=np.array(batches, dtype=np.int64)[index[0]],
            precision=np.array([compute_precision(w, a) for w, a in pairs])[pair],
            weight_precision=np.array([w for w, _ in pairs], dtype=object)[pair],
            activation_precision=np.array([a for _, a in pairs], dtype=object)[pair],
            weight_bits=np.array([bits_of(w) for w, _ in pairs], dtype=float)[pair],
            activation_bits=np.array([bits_of(a) for _, a in pairs], dtype=float)[pair],
            values=tuple(np.array(o.values)[index[4 + k]] for k, o in enumerate(overrides)),
        )


def _supported(device: Device, grid: _Grid, overrides: list[Override], skip_unsupported: bool) -> np.ndarray:
    """Indices of the configurations ``device`` can run; checks override levels up front."""
    for override in overrides:
        if override.level is not None:
            _level_index(device, override)
    supported = np.isin(grid.precision, device.precisions)
    missing = sorted({str(p) for p in grid.precision[~supported]})
    if missing and not skip_unsupported:
        raise SimulatorError(f"device {device.name!r} has no peak for precision {missing[0]!r}; its "
                             f"precisions: {', '.join(device.precisions)} (skip_unsupported=True, or "
                             "--skip-unsupported, drops such configurations)")
    return np.flatnonzero(supported)


def _block(network: Network, resolution: int | None, workload: Workload, counts: NetworkCounts,
           device: Device, grid: _Grid, rows: np.ndarray, overrides: list[Override], ideal: bool,
           reporter: _Progress) -> pd.DataFrame:
    """The rows of one network shape on one device, evaluated in chunks of configurations."""
    chunk = max(1, MAX_CHUNK_ELEMENTS // (len(device.memory_levels) * max(workload.layers, 1)))
    parts = []
    for start in range(0, len(rows), chunk):
        index = rows[start:start + chunk]
        compute = grid.precision[index].tolist()
        si = _si_overrides(device, overrides, compute, [v[index] for v in grid.values])
        parts.append(_evaluate(workload, device, ideal, compute, grid.batch[index].astype(float),
                               grid.weight_bits[index], grid.activation_bits[index], si))
        reporter.report(f"{network.name} on {device.name}", start + len(index), len(rows))
    batch = grid.batch[rows]
    return pd.DataFrame({
        "network": network.name,
        "device": device.name,
        "input_shape": "x".join(map(str, network.input_shape)),
        "resolution": pd.array([resolution] * len(rows), dtype="Int64"),
        "batch": batch,
        "precision": grid.precision[rows],
        "weight_precision": grid.weight_precision[rows],
        "activation_precision": grid.activation_precision[rows],
        **{o.key: values[rows] for o, values in zip(overrides, grid.values, strict=True)},
        "params": np.full(len(rows), counts.params, dtype=np.int64),
        "macs": counts.macs * batch,
        "flops": counts.flops * batch,
        **{key: np.concatenate([part[key] for part in parts]) for key in parts[0]},
    })


def _assemble(frames: list[pd.DataFrame], override_keys: list[str]) -> pd.DataFrame:
    """Concatenates blocks in the documented column order (level energies in order of appearance)."""
    split = COLUMNS.index("energy_compute_j") + 1
    head = [*COLUMNS[:8], *override_keys, *COLUMNS[8:split]]
    if not frames:  # every configuration skipped
        return pd.DataFrame(columns=[*head, *COLUMNS[split:]])
    table = pd.concat(frames, ignore_index=True)
    levels = [c for c in table.columns if c not in head and c not in COLUMNS]
    return table[[*head, *levels, *COLUMNS[split:]]]
