"""Sweeps: every configuration of a product of networks, devices, batches, precisions and hardware
overrides, one table row each, evaluated as arrays through the kernels of :mod:`simulator.simulation`.

:func:`sweep` loops only over network shapes (network x resolution) and devices, which differ in
layer count and memory levels. Within one (shape, device) block the product of batches,
precisions and override values is a single array of C configurations that goes once, in chunks
of at most :data:`MAX_CHUNK_ELEMENTS` ``(C, levels, layers)`` elements, through
:func:`simulator.engine.evaluate.evaluate`, the kernel :func:`~simulator.simulation.simulate` runs
on one configuration.

Overrides (``overrides=``) map a key to the values to sweep, in the grammar of
:mod:`simulator.engine.configs` (SI or friendly units in the key, or relative ``_scale`` keys).
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.engine.configs import Override, level_index, override_arrays, parse_overrides
from simulator.engine.evaluate import evaluate
from simulator.engine.workload import Workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision
from simulator.simulation import (
    resolve,
    resolve_network,
    simulated_graph,
    simulated_workload,
)

#: Largest ``(configs, levels, layers)`` array one chunk may create (~160 MB of float64).
MAX_CHUNK_ELEMENTS = 20_000_000
#: In automatic mode, progress is printed once a sweep has run this long.
PROGRESS_AFTER_S = 1.0

#: Columns of every sweep, in order; override keys follow ``activation_precision`` and the
#: ``energy_<level>_j`` columns follow ``energy_compute_j``.
COLUMNS = ("network", "device", "input_shape", "resolution", "batch", "precision", "weight_precision",
           "activation_precision", "params", "macs", "flops", "model_size_bytes", "peak_activation_bytes",
           "t_compute_s", "t_memory_s", "latency_s", "throughput_per_s", "energy_j", "energy_per_sample_j",
           "energy_compute_j", "bound", "fits", "memory_bound_fraction", "micro_batch")


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


def _column_name(level: str) -> str:
    return "energy_" + re.sub(r"[^0-9a-zA-Z]+", "_", level).strip("_").lower() + "_j"


def _evaluate(workload: Workload, device: Device, ideal: bool, compute: list[str], batch: np.ndarray,
              weight_bits: np.ndarray, activation_bits: np.ndarray,
              overrides: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The sweep's columns of one chunk of configurations: the engine's totals, by level."""
    evaluation = evaluate(workload, device, compute, batch, weight_bits, activation_bits, overrides, ideal)
    totals = dict(evaluation.totals)
    level_j = totals.pop("energy_level_j")
    totals.pop("memory_bound_s")
    columns = {key: totals[key] for key in COLUMNS if key in totals}
    split = list(columns).index("energy_compute_j") + 1
    items = list(columns.items())
    levels = [(_column_name(name), level_j[:, v]) for v, name in enumerate(evaluation.hardware.level_names)]
    return dict(items[:split] + levels + items[split:])


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
    :func:`~simulator.simulation.simulate`; the ``precision`` column is the compute precision, the
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
    devices = [resolve(d) for d in devices]
    supported = [_supported(device, grid, parsed, skip_unsupported) for device in devices]
    shapes = _shapes(networks, _tuple(resolutions, Integral | None) or (None,))
    frames = []
    reporter = _Progress(progress, len(shapes) * len(devices))
    for resolution, network in shapes:
        counts = count_network(simulated_graph(network, fuse), 1)
        for device, rows in zip(devices, supported, strict=True):
            reporter.next_block()
            workload = simulated_workload(network, fuse, device.attention)
            if len(rows):
                frames.append(_block(network, resolution, workload, counts, device, grid, rows, parsed, ideal,
                                     reporter))
    return _assemble(frames, [o.key for o in parsed])


def _shapes(networks: tuple, resolutions: tuple) -> list[tuple[int | None, Network]]:
    """``(resolution, Network)`` of every network x resolution; resolutions apply to names only."""
    shapes = []
    for network in networks:
        for resolution in resolutions:
            shapes.append((resolution, resolve_network(network, resolution)))
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
            level_index(device, override)
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
        si = override_arrays(device, overrides, compute, [v[index] for v in grid.values])
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
