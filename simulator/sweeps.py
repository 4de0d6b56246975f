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

Large sweeps stream: :func:`iter_sweep` yields the table in order as DataFrame chunks of at most
``chunk_rows`` rows, never holding the whole product (the product is indexed, not materialized),
and :func:`write_sweep` writes those chunks as CSV, JSON Lines, a JSON array or Parquet (the
``parquet`` extra, pyarrow) to a temporary file renamed over the target at the end, so an
interrupted sweep leaves the previous file as it was. ``workers=N`` evaluates chunks in N worker
processes on this machine; ``client=`` (a ``dask.distributed`` Client, the ``dask`` extra) on a
cluster; both give exactly the in-process rows, in the same order. :func:`write_sweep_partitioned`
has the cluster's workers write one file per chunk into a directory. Library code prints nothing:
``progress=`` takes a callable that receives a :class:`SweepProgress` after each chunk.

Counts are exact: ``params, macs, flops, model_size_bytes, peak_activation_bytes`` are Python-int
products (``macs = batch x MACs per sample``, ``peak_activation_bytes = ceil(batch x peak
activations x bits / 8)``), int64 columns unless a value passes 2**63 - 1 (then Python ints; see
:mod:`simulator.sweep_files` for each format). A batch is at most :data:`MAX_BATCH` = 2**63 - 1.
Writing lives in :mod:`simulator.sweep_files`; worker processes (which die with their parent) and
dask clusters in :mod:`simulator.sweep_workers`.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from simulator.catalog import resolve_network
from simulator.engine.configs import Override, check_applies, override_arrays, parse_overrides
from simulator.engine.evaluate import evaluate_totals
from simulator.engine.workload import Workload, simulated_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision
from simulator.simulation import check_flag
from simulator.sweep_files import (  # noqa: F401 (written here: the sweep's API and its tests' entry points)
    COUNT_COLUMNS,
    FORMATS,
    PARQUET_DIGITS,
    _arrow,
    _check_parquet_digits,
    _records,
    _replacing_directory,
    _write_chunks,
    sweep_format,
    write_sweep,
)
from simulator.sweep_workers import _WORKER, _dask_workers, _ordered, _pool_results, _remote_compute

#: Most ``configs x levels x layers`` of one chunk (its rows: fewer for a large network). The engine
#: never holds such an array (it works in blocks of :data:`~simulator.engine.evaluate.BLOCK_ELEMENTS`):
#: this bounds a chunk's rows, see :func:`chunk_memory_bound_bytes`.
MAX_CHUNK_ELEMENTS = 20_000_000
#: The engine's block temporaries alive at once at most (a plan's passes and remainder with their
#: per-level arrays, their combination, a first pass's arrays), each of at most
#: :data:`~simulator.engine.evaluate.BLOCK_ELEMENTS` float64: the fixed part of the bound
BLOCK_ARRAYS = 32
#: Arrays per configuration besides the table's columns that a chunk's evaluation holds (the device's
#: figures, the sums, their totals), and per memory level (bandwidth, capacity, energy, its sum)
ENGINE_ARRAYS, ENGINE_ARRAYS_PER_LEVEL = 16, 2
#: Most rows one streamed chunk holds (a chunk is also bounded by :data:`MAX_CHUNK_ELEMENTS`).
CHUNK_ROWS = 16_384
#: The largest batch size a sweep takes: its batch column and arrays are int64.
MAX_BATCH = 2**63 - 1

#: Columns of every sweep, in order; override keys follow ``activation_precision`` and the
#: ``energy_<level>_j`` columns follow ``energy_compute_j``.
COLUMNS = ("network", "device", "input_shape", "resolution", "batch", "precision", "weight_precision",
           "activation_precision", "params", "macs", "flops", "model_size_bytes", "peak_activation_bytes",
           "t_compute_s", "t_memory_s", "latency_s", "throughput_per_s", "energy_j", "energy_per_sample_j",
           "energy_compute_j", "energy_static_j", "bound", "fits", "memory_bound_fraction", "micro_batch")


#: the ``bound`` column's names of the engine's code (``Totals.memory_bound``: False, True)
BOUND_NAMES = ("compute", "memory")


def _strings(names: Sequence[str], codes: np.ndarray):
    """``names[codes]`` as the column pandas makes of such strings (its default string dtype: object
    on pandas 2, ``str`` on pandas 3), taken from the few distinct names instead of converting every
    row's string (a tenth of a sweep's time)."""
    return _string_array(tuple(names)).take(codes)


#: the key of a part's row count (:meth:`SweepPlan._frame_columns`): no column's name
_ROWS = "__rows__"


class _Coded(NamedTuple):
    """A string column as the few ``names`` and each row's position in them (``codes``)."""

    names: tuple[str, ...]
    codes: np.ndarray


@functools.lru_cache(maxsize=256)
def _string_array(names: tuple[str, ...]):
    """The pandas array of ``names`` (built once: a Series costs more than taking from it)."""
    return pd.Series(list(names), dtype=None).array


def chunk_memory_bound_bytes(plan: SweepPlan) -> int:
    """The most memory one chunk of ``plan`` adds to a process [bytes] (what a streamed sweep holds
    beyond the network's arrays, however many chunks it writes):

    ``rows · (columns + ENGINE_ARRAYS + ENGINE_ARRAYS_PER_LEVEL · levels) · 8 B · 2 + BLOCK_ARRAYS ·
    BLOCK_ELEMENTS · 8 B``

    with ``rows`` the largest chunk (:data:`CHUNK_ROWS`, fewer where ``rows · levels · layers`` would
    pass :data:`MAX_CHUNK_ELEMENTS`), ``columns`` the table's: each configuration's figures as the
    engine's arrays and again as the chunk's DataFrame (8 bytes a value; strings are shared), and the
    engine's block temporaries. With the defaults, 16,384 rows of about 40 columns: about 48 MiB;
    SegFormer-B5 (1,021 layers, 6,529 rows a chunk) about 38 MiB. bench/bench_sweep_memory.py measures
    the peak a sweep's chunks add against it (about half of it, for both)."""
    from simulator.engine.evaluate import BLOCK_ELEMENTS

    rows, levels = 0, 0
    for d, device in enumerate(plan.devices):
        if not plan.supported[d].any():
            continue
        for _, network in plan.shapes:
            layers = simulated_workload(network, plan.fuse, device.attention).layers
            step = min(CHUNK_ROWS, MAX_CHUNK_ELEMENTS // (len(device.memory_levels) * max(layers, 1)))
            rows = max(rows, min(max(1, step), plan.grid.size))
        levels = max(levels, len(device.memory_levels))
    per_row = len(plan.columns) + ENGINE_ARRAYS + ENGINE_ARRAYS_PER_LEVEL * levels
    return rows * per_row * 8 * 2 + BLOCK_ARRAYS * BLOCK_ELEMENTS * 8


def _tuple(items, kind) -> tuple:
    """A single item (a name, a path, a number, a Network, a Device) or a sequence of them, as a tuple."""
    return (items,) if isinstance(items, str | Path | kind) else tuple(items)


def _check_batches(batches: Sequence[int]) -> tuple[int, ...]:
    bad = [b for b in batches if isinstance(b, bool) or not isinstance(b, Integral) or b < 1]
    if not batches or bad:
        raise SimulatorError(f"batch sizes must be integers of at least 1, got {list(batches)!r}")
    large = [int(b) for b in batches if b > MAX_BATCH]
    if large:
        raise SimulatorError(f"batch sizes must be at most 2**63 - 1 = {MAX_BATCH:,} (the largest batch the "
                             f"sweep's int64 arrays hold), got {large[0]}")
    return tuple(int(b) for b in batches)


def _precision_axes(precisions, weight_precisions, activation_precisions) -> list[tuple[str, ...]]:
    """The three precision axes; an absent weight or activation axis follows ``precision``."""
    if weight_precisions is not None and activation_precisions is not None:
        if precisions is None:
            precisions = (None,)
        elif len(precisions) > 1:
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
    """The sweep's columns of one chunk of configurations: the engine's totals, by level (evaluated in
    cache-sized blocks, :func:`~simulator.engine.evaluate.evaluate_totals`)."""
    totals, level_names = evaluate_totals(workload, device, compute, batch, weight_bits, activation_bits,
                                          overrides, ideal)
    level_j = totals.energy_level_j
    present = totals.columns()
    present["bound"] = present.pop("memory_bound")  # a code: named in the frame (SweepPlan.frame)
    columns = {key: present[key] for key in COLUMNS if key in present}
    split = list(columns).index("energy_compute_j") + 1
    items = list(columns.items())
    levels = [(_column_name(name), level_j[:, v]) for v, name in enumerate(level_names)]
    return dict(items[:split] + levels + items[split:])


@dataclass(frozen=True)
class SweepProgress:
    """What a ``progress`` callable receives after each chunk: configurations done of the total,
    the block (network on device) the chunk belongs to, and the seconds since the sweep began."""

    done: int
    total: int
    label: str
    elapsed_s: float


ProgressCallback = Callable[[SweepProgress], None]


def sweep(networks: Sequence[str | Path | Network] | str | Path | Network,
          devices: Sequence[str | Path | Device] | str | Path | Device,
          batches: Sequence[int] = (1,), precisions: Sequence[str] | None = None,
          resolutions: Sequence[int | None] = (None,),
          overrides: Mapping[str, Sequence[float] | float] | None = None,
          weight_precisions: Sequence[str] | None = None, activation_precisions: Sequence[str] | None = None,
          fuse: bool = True, ideal: bool = False, skip_unsupported: bool = False,
          progress: ProgressCallback | None = None, workers: int = 1, client=None) -> pd.DataFrame:
    """One row per configuration of networks x resolutions x devices x batches x precisions x
    weight precisions x activation precisions x override values, in that order (the last varies
    fastest): the chunks of :func:`iter_sweep`, concatenated.

    ``networks``: built-in names, .onnx paths or Network objects (``resolutions`` apply to names);
    ``devices``: shipped names, profile paths or Device objects. ``precisions`` sets weights and
    activations unless ``weight_precisions`` / ``activation_precisions`` give their own axis, as in
    :func:`~simulator.simulation.simulate`; without it, each device runs at its own
    :attr:`~simulator.hardware.device.Device.default_precision`, as ``simulate`` does. The
    ``precision`` column is the compute precision, the wider of the two. ``overrides``: see the
    module docstring; each key adds a column of its values. A configuration whose compute
    precision a device has no peak for raises SimulatorError, unless ``skip_unsupported`` drops it.
    ``progress``: a callable given a :class:`SweepProgress` after each chunk (nothing is printed).
    ``workers``: worker processes on this machine; ``client``: a ``dask.distributed`` Client to
    evaluate on its cluster instead.

    Columns (SI units): ``network, device, input_shape, resolution, batch, precision,
    weight_precision, activation_precision, <override keys>, params, macs, flops`` (at the row's
    batch), ``model_size_bytes, peak_activation_bytes, t_compute_s, t_memory_s, latency_s``
    (sums over layers), ``throughput_per_s = batch / latency_s, energy_j, energy_per_sample_j,
    energy_compute_j, energy_<level>_j`` (NaN for a device without that level), ``bound``
    (``memory`` when memory-bound layers take over half the latency), ``fits`` (weights and peak
    activations fit their stores) and ``memory_bound_fraction`` (that share of the latency).
    """
    plan = plan_sweep(networks, devices, batches, precisions, resolutions, overrides, weight_precisions,
                      activation_precisions, fuse, ideal, skip_unsupported)
    return plan.table(progress=progress, workers=workers, client=client)


def iter_sweep(networks, devices, batches: Sequence[int] = (1,), precisions: Sequence[str] | None = None,
               resolutions: Sequence[int | None] = (None,),
               overrides: Mapping[str, Sequence[float] | float] | None = None,
               weight_precisions: Sequence[str] | None = None,
               activation_precisions: Sequence[str] | None = None, fuse: bool = True, ideal: bool = False,
               skip_unsupported: bool = False, progress: ProgressCallback | None = None, workers: int = 1,
               client=None, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The rows of :func:`sweep` (same arguments), in order, as DataFrames of at most ``chunk_rows``
    rows with the same columns: memory stays bounded whatever the number of configurations.
    Arguments are checked (and the product sized) before the first chunk is computed."""
    plan = plan_sweep(networks, devices, batches, precisions, resolutions, overrides, weight_precisions,
                      activation_precisions, fuse, ideal, skip_unsupported)
    return plan.chunks(progress=progress, workers=workers, client=client, chunk_rows=chunk_rows)


def plan_sweep(networks, devices, batches: Sequence[int] = (1,), precisions: Sequence[str] | None = None,
               resolutions: Sequence[int | None] = (None,),
               overrides: Mapping[str, Sequence[float] | float] | None = None,
               weight_precisions: Sequence[str] | None = None,
               activation_precisions: Sequence[str] | None = None, fuse: bool = True, ideal: bool = False,
               skip_unsupported: bool = False) -> SweepPlan:
    """The checked product of :func:`sweep`'s arguments, not yet evaluated: its ``size``
    (configurations), ``columns``, a ``sample`` of its first rows and its ``chunks``."""
    networks, devices = _tuple(networks, Network), _tuple(devices, Device)
    if not networks or not devices:
        raise SimulatorError("a sweep needs at least one network and one device")
    fuse, ideal, skip_unsupported = (check_flag(value, name) for value, name in (
        (fuse, "fuse"), (ideal, "ideal"), (skip_unsupported, "skip_unsupported")))
    parsed = parse_overrides(overrides)
    weight_precisions, activation_precisions = (None if axis is None else _tuple(axis, str)
                                                for axis in (weight_precisions, activation_precisions))
    devices = tuple(resolve_device(d) for d in devices)
    # no precisions: each device at its own default (the axis holds them all; a device runs its own)
    defaults = precisions is None and (weight_precisions is None or activation_precisions is None)
    if defaults:
        precisions = tuple(dict.fromkeys(device.default_precision for device in devices))
    precision_axes = _precision_axes(None if precisions is None else _tuple(precisions, str),
                                     weight_precisions, activation_precisions)
    grid = _Grid.product(_check_batches(_tuple(batches, Integral)), precision_axes, parsed)
    supported = tuple(_supported(device, grid, parsed, skip_unsupported,
                                 device.default_precision if defaults else None) for device in devices)
    shapes = tuple(_shapes(networks, _tuple(resolutions, Integral | None) or (None,)))
    return SweepPlan(shapes, devices, grid, supported, tuple(parsed), fuse, ideal)


def _ceil_bytes(bits: int) -> int:
    """Bytes holding ``bits`` bits, ``ceil(bits / 8)``, in exact integers (as
    :func:`simulator.precision.storage_bytes` in floats)."""
    return -(-bits // 8)


def effective_resolution(resolution: int | None, input_shape: tuple[int, ...]) -> int | None:
    """The ``resolution`` column: the one asked for, else the side of a square ``(C, H, W)`` input
    (the network's default); none for any other input (``input_shape`` has it)."""
    if resolution is not None:
        return resolution
    if len(input_shape) == 3 and input_shape[1] == input_shape[2]:
        return input_shape[1]
    return None


def _shapes(networks: tuple, resolutions: tuple) -> list[tuple[int | None, Network]]:
    """``(resolution, Network)`` of every network x resolution; resolutions apply to names only."""
    shapes = []
    for network in networks:
        for resolution in resolutions:
            shapes.append((resolution, resolve_network(network, resolution)))
    return shapes


@dataclass(frozen=True, eq=False)
class _Grid:
    """The product of batches, precisions and override values, indexed: configuration ``i`` of the
    product is ``np.unravel_index(i, shape)``; only the precision pairs (a few) are tabulated."""

    shape: tuple[int, ...]            # batches, precisions, weights, activations, *override values
    batches: np.ndarray               # int64
    precision: np.ndarray             # per precision pair: compute precision (str)
    weight_precision: np.ndarray      # per pair (object)
    activation_precision: np.ndarray
    base_precision: np.ndarray        # per pair: the value of the precision axis (object; None if unused)
    weight_bits: np.ndarray
    activation_bits: np.ndarray
    values: tuple[np.ndarray, ...]    # one axis per override, as given (SI or scale)

    @classmethod
    def product(cls, batches: tuple[int, ...], precision_axes: list[tuple[str | None, ...]],
                overrides: list[Override]) -> _Grid:
        precisions, weights, activations = precision_axes
        pairs = [(w or p, a or p) for p in precisions for w in weights for a in activations]
        return cls(
            shape=(len(batches), *(len(a) for a in precision_axes), *(len(o.values) for o in overrides)),
            batches=np.array(batches, dtype=np.int64),
            precision=np.array([compute_precision(w, a) for w, a in pairs]),
            weight_precision=np.array([w for w, _ in pairs], dtype=object),
            activation_precision=np.array([a for _, a in pairs], dtype=object),
            base_precision=np.array([p for p, _, _ in itertools.product(precisions, weights, activations)],
                                    dtype=object),
            weight_bits=np.array([bits_of(w) for w, _ in pairs], dtype=float),
            activation_bits=np.array([bits_of(a) for _, a in pairs], dtype=float),
            values=tuple(np.array(o.values) for o in overrides),
        )

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def take(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """``(batch, precision pair, override values)`` of the configurations at ``flat`` indices."""
        index = np.unravel_index(flat, self.shape)
        pair = np.ravel_multi_index(index[1:4], self.shape[1:4])
        return self.batches[index[0]], pair, tuple(v[index[4 + k]] for k, v in enumerate(self.values))

    def pair_of(self, flat: np.ndarray) -> np.ndarray:
        index = np.unravel_index(flat, self.shape)
        return np.ravel_multi_index(index[1:4], self.shape[1:4])


def _supported(device: Device, grid: _Grid, overrides: list[Override], skip_unsupported: bool,
               default: str | None = None) -> np.ndarray:
    """Which precision pairs ``device`` runs (a boolean per pair): those it has a peak for, and with
    ``default`` (a sweep without precisions) only those of its own default precision. Checks up front
    that every override applies to the device (:func:`~simulator.engine.configs.check_applies`)."""
    for override in overrides:
        check_applies(device, override)
    mine = np.ones(len(grid.precision), dtype=bool) if default is None else grid.base_precision == default
    supported = np.isin(grid.precision, device.precisions) & mine
    missing = sorted({str(p) for p in grid.precision[mine & ~supported]})
    if missing and not skip_unsupported:
        raise SimulatorError(f"device {device.name!r} has no peak for precision {missing[0]!r}; its "
                             f"precisions: {', '.join(device.precisions)} (skip_unsupported=True, or "
                             "--skip-unsupported, drops such configurations)")
    return supported


@dataclass(frozen=True)
class _Unit:
    """One chunk: configurations ``start:stop`` of the product for network shape ``shape`` on
    device ``device`` (those the device supports)."""

    number: int
    shape: int
    device: int
    start: int
    stop: int


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """A checked sweep product (see :func:`plan_sweep`); picklable, so workers can evaluate it."""

    shapes: tuple[tuple[int | None, Network], ...]
    devices: tuple[Device, ...]
    grid: _Grid
    supported: tuple[np.ndarray, ...]
    overrides: tuple[Override, ...]
    fuse: bool
    ideal: bool
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def size(self) -> int:
        """The number of configurations (rows) the sweep has."""
        per_pair = self.grid.size // max(len(self.grid.precision), 1)
        return len(self.shapes) * per_pair * sum(int(s.sum()) for s in self.supported)

    @property
    def columns(self) -> list[str]:
        """The table's columns, in order (level energies in order of the devices that have rows)."""
        split = COLUMNS.index("energy_compute_j") + 1
        head = [*COLUMNS[:8], *(o.key for o in self.overrides), *COLUMNS[8:split]]
        levels: list[str] = []
        for device, supported in zip(self.devices, self.supported, strict=True):
            if supported.any() and self.shapes:
                levels += [c for c in map(_column_name, (lv.name for lv in device.memory_levels))
                           if c not in levels]
        return [*head, *levels, *COLUMNS[split:]]

    def empty(self) -> pd.DataFrame:
        return pd.DataFrame(columns=self.columns)

    def units(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[_Unit]:
        """The chunks in table order; each at most ``chunk_rows`` configurations and at most
        :data:`MAX_CHUNK_ELEMENTS` ``(configs, levels, layers)`` elements."""
        number = 0
        for s, (_, network) in enumerate(self.shapes):
            for d, device in enumerate(self.devices):
                if not self.supported[d].any():
                    continue
                layers = simulated_workload(network, self.fuse, device.attention).layers
                step = max(1, min(int(chunk_rows),
                                  MAX_CHUNK_ELEMENTS // (len(device.memory_levels) * max(layers, 1))))
                for start in range(0, self.grid.size, step):
                    yield _Unit(number, s, d, start, min(start + step, self.grid.size))
                    number += 1

    def rows(self, unit: _Unit) -> np.ndarray:
        """The product indices of ``unit``'s configurations that its device supports."""
        flat = np.arange(unit.start, unit.stop, dtype=np.int64)
        supported = self.supported[unit.device]
        return flat if supported.all() else flat[supported[self.grid.pair_of(flat)]]

    def compute(self, unit: _Unit, cache: dict | None = None) -> dict[str, np.ndarray]:
        """The engine's columns of ``unit`` (the expensive part; what workers run)."""
        cache = {} if cache is None else cache
        key = (self.token, unit.shape, unit.device)
        if key not in cache:
            network, device = self.shapes[unit.shape][1], self.devices[unit.device]
            cache[key] = simulated_workload(network, self.fuse, device.attention)
        device, rows = self.devices[unit.device], self.rows(unit)
        if not len(rows):
            return {}
        batch, pair, values = self.grid.take(rows)
        names = self.grid.precision.tolist()  # one str object per pair: hashed once, not once per row
        compute = list(map(names.__getitem__, pair.tolist()))
        si = override_arrays(device, list(self.overrides), compute, list(values))
        return _evaluate(cache[key], device, self.ideal, compute, batch.astype(float),
                         self.grid.weight_bits[pair], self.grid.activation_bits[pair], si)

    def compute_part(self, unit: _Unit, cache: dict | None = None) -> dict[str, Any]:
        """:meth:`compute` of ``unit`` with the rest of its columns (:meth:`_frame_columns`): what a
        worker returns, so that the parent only makes the DataFrame (strings travel as codes)."""
        return self._frame_columns(unit, self.compute(unit, cache), self.counts(unit.shape))

    def frame(self, unit: _Unit, computed: Mapping[str, np.ndarray], counts: NetworkCounts) -> pd.DataFrame:
        """The table rows of ``unit`` from its computed columns."""
        return self._framed([self._frame_columns(unit, computed, counts)])

    def _frame_columns(self, unit: _Unit, computed: Mapping[str, np.ndarray],
                       counts: NetworkCounts) -> dict[str, Any]:
        """The columns of ``unit``'s rows as arrays, string columns as :class:`_Coded` (names and
        codes) and the resolution as its values and mask, for :meth:`_framed`; :data:`_ROWS`: the rows."""
        resolution, network = self.shapes[unit.shape]
        device, rows = self.devices[unit.device], self.rows(unit)
        batch, pair, values = self.grid.take(rows)
        n = len(rows)
        effective = effective_resolution(resolution, network.input_shape)
        same = np.zeros(n, dtype=np.intp)
        columns = {
            _ROWS: n,
            "network": _Coded((network.name,), same),
            "device": _Coded((device.name,), same),
            "input_shape": _Coded(("x".join(map(str, network.input_shape)),), same),
            "resolution": (np.full(n, effective or 0, dtype=np.int64), np.full(n, effective is None)),
            "batch": batch,
            "precision": _Coded(tuple(self.grid.precision.tolist()), pair),
            "weight_precision": _Coded(tuple(self.grid.weight_precision), pair),
            "activation_precision": _Coded(tuple(self.grid.activation_precision), pair),
            **{o.key: v for o, v in zip(self.overrides, values, strict=True)},
            **computed,
            **self._exact_counts(batch, pair, counts, computed.get("micro_batch")),
        }
        if "bound" in computed:  # the engine's code (memory-bound: True), named here
            columns["bound"] = _Coded(BOUND_NAMES, np.asarray(computed["bound"], dtype=np.intp))
        return columns

    def _framed(self, parts: Sequence[dict[str, Any]]) -> pd.DataFrame:
        """One DataFrame of the rows of consecutive ``parts`` (:meth:`_frame_columns`, emptied here:
        each part's column is dropped once concatenated), each column made once: arrays
        concatenated, string columns taken from their few names (:func:`_strings`), NaN where a
        part's device lacks a level."""
        n = sum(part[_ROWS] for part in parts)
        table: dict[str, Any] = {}
        for name in self.columns:
            values: list[Any] = [part.pop(name, None) for part in parts]
            first = values[0]
            if isinstance(first, _Coded):
                names = tuple(dict.fromkeys(item for value in values for item in value.names))
                position = {item: k for k, item in enumerate(names)}
                codes = [np.array([position[item] for item in value.names], dtype=np.intp)[value.codes]
                         if value.names != names else value.codes for value in values]
                table[name] = _strings(names, codes[0] if len(codes) == 1 else np.concatenate(codes))
            elif isinstance(first, tuple):  # Int64: values and mask
                table[name] = pd.arrays.IntegerArray(*(np.concatenate([v[k] for v in values])
                                                       if len(values) > 1 else first[k] for k in (0, 1)))
            else:
                arrays = [np.full(part[_ROWS], np.nan) if value is None else value  # a level the device lacks
                          for part, value in zip(parts, values, strict=True)]
                table[name] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        return pd.DataFrame(table, index=pd.RangeIndex(n))

    def table(self, progress: ProgressCallback | None = None, workers: int = 1, client=None) -> pd.DataFrame:
        """The whole table (:func:`sweep`): the chunks' columns, framed once."""
        _check_progress(progress)
        if isinstance(workers, bool) or not isinstance(workers, Integral) or workers < 1:
            raise SimulatorError(f"workers must be an integer of at least 1, got {workers!r}")
        start, done, total = time.perf_counter(), 0, self.size
        parts = []
        for unit, part in self._computed(int(workers), client, CHUNK_ROWS):
            done += part[_ROWS]
            if progress is not None:
                network, device = self.shapes[unit.shape][1], self.devices[unit.device]
                progress(SweepProgress(done, total, f"{network.name} on {device.name}",
                                       time.perf_counter() - start))
            if part[_ROWS]:
                parts.append(part)
        return self._framed(parts) if parts else self.empty()

    def counts(self, shape: int) -> NetworkCounts:
        """The per-sample counts of network shape ``shape`` (counted once per plan)."""
        if shape not in self._counts:
            self._counts[shape] = count_network(simulated_graph(self.shapes[shape][1], self.fuse), 1)
        return self._counts[shape]

    @functools.cached_property
    def _counts(self) -> dict[int, NetworkCounts]:
        return {}

    @functools.cached_property
    def wide_counts(self) -> bool:
        """Whether a count column may pass 2**63 - 1, int64's largest (then every count column of the
        table holds Python ints, dtype object): the bound is the largest ``macs`` and ``flops`` (at
        the largest batch) and the largest bit counts the byte columns are computed from
        (``params x weight bits``, ``batch x peak activations x activation bits``), of each network."""
        if not self.shapes or not self.grid.size:
            return False
        batch = int(self.grid.batches.max())
        weight_bits, activation_bits = int(self.grid.weight_bits.max()), int(self.grid.activation_bits.max())
        largest = 0
        for shape in range(len(self.shapes)):
            counts = self.counts(shape)
            largest = max(largest, batch * counts.macs, batch * counts.flops, counts.params * weight_bits,
                          batch * counts.peak_activations * activation_bits)
        return largest > MAX_BATCH

    def _exact_counts(self, batch: np.ndarray, pair: np.ndarray, counts: NetworkCounts,
                      micro_batch: np.ndarray | None) -> dict[str, np.ndarray]:
        """The count columns of rows with ``batch`` and precision ``pair``, as exact integers:
        ``macs = batch · macs per sample`` (``flops`` alike), ``model_size_bytes = ceil(params ·
        weight bits / 8)``, ``peak_activation_bytes = ceil(batch · peak activations · activation bits
        / 8)`` (the engine's float64 figures lose digits past 2**53 and its int64 ones wrap past
        2**63): in int64 arrays where :attr:`wide_counts` says every product fits, else in Python
        ints. ``micro_batch``: the engine's (int64 of a float64) becomes the row's batch where the
        batch ran whole (the float64 of a batch near 2**63 is 2**63, which int64 wraps)."""
        pair_bits = self.grid.weight_bits[pair], self.grid.activation_bits[pair]
        if self.wide_counts:
            batches = [int(b) for b in batch.tolist()]
            weight_bits, activation_bits = ([int(b) for b in bits.tolist()] for bits in pair_bits)
            columns = {key: np.array(values, dtype=object) for key, values in {
                "params": [counts.params] * len(batches),
                "macs": [counts.macs * b for b in batches],
                "flops": [counts.flops * b for b in batches],
                "model_size_bytes": [_ceil_bytes(counts.params * w) for w in weight_bits],
                "peak_activation_bytes": [_ceil_bytes(b * counts.peak_activations * a)
                                          for b, a in zip(batches, activation_bits, strict=True)],
            }.items()}
        else:  # every product below is at most 2**63 - 1 (wide_counts): exact in int64
            batches = batch.astype(np.int64)
            weight_bits, activation_bits = (bits.astype(np.int64) for bits in pair_bits)
            columns = {
                "params": np.full(len(batches), counts.params, dtype=np.int64),
                "macs": counts.macs * batches,
                "flops": counts.flops * batches,
                "model_size_bytes": -(-(counts.params * weight_bits) // 8),
                "peak_activation_bytes": -(-(batches * counts.peak_activations * activation_bits) // 8),
            }
        if micro_batch is not None:  # split: a power of two below the batch (as the engine's float64 sees it)
            whole = batch.astype(np.int64)
            split = (micro_batch > 0) & (micro_batch.astype(float) < whole.astype(float))
            columns["micro_batch"] = np.where(split, micro_batch, whole).astype(np.int64)
        return columns

    def sample(self, rows: int = 64) -> pd.DataFrame:
        """The first ``rows`` rows of the table (for a size estimate), or fewer if it has fewer."""
        for unit in self.units(chunk_rows=rows):
            computed = self.compute(unit)
            return self.frame(unit, computed, self.counts(unit.shape))
        return self.empty()

    def chunks(self, progress: ProgressCallback | None = None, workers: int = 1, client=None,
               chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """The table in order, chunk by chunk (see :func:`iter_sweep`)."""
        _check_progress(progress)
        if isinstance(workers, bool) or not isinstance(workers, Integral) or workers < 1:
            raise SimulatorError(f"workers must be an integer of at least 1, got {workers!r}")
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, Integral) or chunk_rows < 1:
            raise SimulatorError(f"chunk_rows must be an integer of at least 1, got {chunk_rows!r}")
        return self._chunks(progress, int(workers), client, int(chunk_rows))

    def _chunks(self, progress, workers, client, chunk_rows) -> Iterator[pd.DataFrame]:
        start, done, total = time.perf_counter(), 0, self.size
        for unit, part in self._computed(workers, client, chunk_rows, views=True):
            table = self._framed([part])  # copies the columns: a worker's block is free once it is made
            done += len(table)
            if progress is not None:
                network, device = self.shapes[unit.shape][1], self.devices[unit.device]
                progress(SweepProgress(done, total, f"{network.name} on {device.name}",
                                       time.perf_counter() - start))
            if len(table):
                yield table

    def _computed(self, workers, client, chunk_rows,
                  views: bool = False) -> Iterator[tuple[_Unit, dict[str, Any]]]:
        """Each unit and its columns (:meth:`compute_part`), in order, computed here, in ``workers``
        processes or on ``client``'s cluster (a worker returning its columns, strings as codes, costs
        less in all than one returning a DataFrame: pickling a frame's string arrays). ``views``: a
        worker's columns may be views of its shared block, valid until the next unit is asked for."""
        units = self.units(chunk_rows)
        if client is not None or workers > 1:
            for shape in range(len(self.shapes)):  # counted once here, not in every worker
                self.counts(shape)
        if client is not None:
            window = 4 * _dask_workers(client)
            plan = client.scatter(self, broadcast=True)
            submit = lambda unit: client.submit(_remote_compute, plan, unit, pure=False)  # noqa: E731
            yield from zip(self.units(chunk_rows), _ordered(submit, units, window), strict=True)
        elif workers > 1:
            parts = _pool_results(self, units, workers, views, min(chunk_rows, self.grid.size))
            yield from zip(self.units(chunk_rows), parts, strict=True)
        else:
            cache: dict = {}
            for unit in units:
                yield unit, self.compute_part(unit, cache)


def _check_progress(progress) -> None:
    if progress is not None and progress is not False and not callable(progress):
        raise SimulatorError("progress takes a callable (given a SweepProgress after each chunk) or None; "
                             f"got {progress!r} (library code prints nothing)")


def _remote_write(plan: SweepPlan, unit: _Unit, path: str, fmt: str) -> int:
    table = plan.frame(unit, plan.compute(unit, _WORKER), plan.counts(unit.shape))
    if not len(table):  # a chunk the device skipped entirely: no part
        return 0
    with open(path, "wb") as stream:
        _write_chunks([table], stream, fmt, plan)
    return len(table)


def write_sweep_partitioned(plan: SweepPlan, directory: str | Path, fmt: str = "parquet", client=None,
                            chunk_rows: int = CHUNK_ROWS, progress: ProgressCallback | None = None) -> int:
    """Writes ``plan``'s table as a directory of ``part-NNNNN.<fmt>`` files, one per chunk, in table
    order (concatenating them in name order gives the table). With a dask ``client`` each worker
    writes its own parts (the directory must be on a file system the workers share); without, they
    are written here. The directory appears whole, by rename, at the end. Returns the rows."""
    if fmt not in FORMATS.values():
        raise SimulatorError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS.values())}")
    if fmt == "parquet":
        _arrow()
    _check_progress(progress)
    suffix = {v: k for k, v in FORMATS.items()}[fmt]
    start, done, total = time.perf_counter(), 0, plan.size
    with _replacing_directory(Path(directory)) as temporary:
        name = lambda unit: str(temporary / f"part-{unit.number:05d}{suffix}")  # noqa: E731
        if client is not None:
            window = 4 * _dask_workers(client)
            remote = client.scatter(plan, broadcast=True)
            submit = lambda unit: client.submit(_remote_write, remote, unit, name(unit), fmt,  # noqa: E731
                                                pure=False)
            written = _ordered(submit, plan.units(chunk_rows), window)
        else:
            written = (_remote_write(plan, unit, name(unit), fmt) for unit in plan.units(chunk_rows))
        for rows in written:
            done += rows
            if progress is not None:
                progress(SweepProgress(done, total, str(directory), time.perf_counter() - start))
    return done
