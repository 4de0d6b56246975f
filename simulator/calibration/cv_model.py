"""The expected model as a function of a few physical figures, evaluated fast on cached dataset rows.

A device *family* (:data:`FAMILIES`) shares its ``[efficiency]`` figures between its devices; each
figure is a :class:`Parameter` with a unit, a physical range it is clamped to, and a default (the
value a fit falls back to where its rows say nothing). The figures, and the kernel classes they
describe (the engine's, :mod:`simulator.engine.efficiency`):

* ``kernel_overhead_s``: the time every kernel costs on top of its roofline time (launch, ramp-up
  and drain) [s], 2–10 µs on a datacenter GPU (:data:`LAUNCH_RANGE_S`), 0.5–50 µs on Orin;
* ``conv_overhead_s``: a convolution kernel's extra fixed cost [s], 0–10 µs
  (:data:`CONV_EXTRA_RANGE_S`);
* ``compute_fraction``: the share of the dense peak a kernel class reaches, 0.05–1 on a GPU
  (0.005–1 for a microcontroller's depthwise and element-wise kernels);
* ``bandwidth_fraction``: the share of DRAM bandwidth the memory-bound classes (depthwise and
  element-wise kernels) reach, 0.05–1; the GEMM-like classes' share is 0.9 (a stream benchmark's),
  not fitted;
* ``tile`` (outputs per thread block of the GEMM-like classes, 1024–16384, a grid) and
  ``buffer_fraction`` (the share of the L2 activations stay resident in, 1/128–1, a grid): they
  change the waves and the residency in steps, which a gradient does not see;
* ``tensor_energy_pj`` (the datacenter GPUs): the energy per dense int8/fp8 tensor operation on a
  4N-class process, 0.1–1 pJ (:mod:`simulator.engine.power_limit`): with a device's ``max_power_w``
  and ``static_power_w`` it caps the sustained compute rate at ``(P_max − P_static) / E``, the clock
  under the power limit (an H100 NVL's 400 W against an H100 SXM's 700 W on the same die);
* ``scale:RUNTIME:CLASS``: a runtime's factor on a class's compute fraction, 0.01–10 (a shipped
  runtime file names the classes; one factor when the file gives them all one value); a runtime
  with no row in the fold takes the newest older file's fitted factor (:func:`runtime_factor`);
* ``kernel_share`` (the microcontrollers): the share of the CMSIS-NN inner loops' rate a whole
  layer of X-CUBE-AI 7.3 reaches, 0.1–2, one for the family; a board's compute fraction of a class
  is ``kernel_share`` times the fraction its core and Flash allow, derived from the kernels'
  instruction mix and the cores' published timings, not fitted (:mod:`simulator.hardware.cortex_m`),
  so that a board with no rows gets its own figures (a family's ``derived``);
* ``device:DEVICE`` (a family with ``device_factor``: the microcontrollers): a board's factor on
  the derived figures, 0.2–5, fitted where the fold holds rows of the board (how far its layers run
  from its core's derived inner-loop rate: the loops' stalls the derivation does not count, its
  memory system), 1 where it holds none: a board with no rows gets ``kernel_share`` times its own
  derived figures. The weak prior (:data:`simulator.calibration.cv_fit.PRIOR_WEIGHT`, centred on 1)
  splits each board's offset between the shared ``kernel_share`` and its own factor, so that
  ``kernel_share`` lands near the mean offset of the boards in the fold.

For every row a :class:`RowCase` holds the per-layer roofline times of the row's workload on its
device, once per tile (``T_compute / fill``) and once per buffer share (``T_memory``), built once
(:func:`row_case`), so that a trial of the figures costs a few vector operations:

``latency = Σ_layers [max(T_compute / (fill · cf · s · d), T_memory / bf) + overhead_class
+ k · kernel_overhead] + t_host``

(:func:`simulator.engine.efficiency.expected_latency_s`; ``s`` the runtime factor, ``d`` the derived
per-device factor of the layer's class (1 where the family has none), ``k`` the kernels
the layer launches; ``t_host`` the host copies where the row's conditions include them,
:mod:`simulator.calibration.host_transfer`, else 0). A row's workload is the one it ran: an MLPerf
BERT row's SQuAD lengths, padding removed on TensorRT (:func:`simulator.accuracy.row_sequence_lengths`,
passed in by :func:`simulator.calibration.crossval.build_cases`). On the Orin family the per-kernel
overhead is read as GPU cycles: a device at lower clocks (``jetson-agx-orin-maxq``) pays it times
the reference device's peak over its own.

**The family rule** (what transfers between devices, decided on physical grounds, never from a held-out
device's errors). NVIDIA GPUs running TensorRT share, across Ampere, Ada and Hopper, the figures that
describe the software stack and the SM, not the chip: the per-kernel overhead (a launch cost [s], the
CUDA driver's and TensorRT's, the same on every such GPU, read as time, not cycles), a convolution's
extra fixed cost [s], the compute fraction (the share of the dense tensor peak TensorRT's GEMM and
convolution kernels reach), the GEMM-like tile (outputs per thread block, TensorRT's tactic shapes) and
the share of the L2 activations stay resident in. Each device keeps its own data-sheet figures: peaks,
SMs (``parallel_units``, which set the waves the tile fills), memory capacity and bandwidth, L2 size,
clocks. So the "NVIDIA datacenter GPUs (TensorRT)" family holds the A100s, H100 and H200 (the fitted
rows) and the Ada data-center cards L4 and L40S (profiles written from their data sheets, whose
``[efficiency]`` carries the family's shipped figures with their own SM counts); GH200 and H100 NVL
join through ``extends``. The Jetson Orins stay a family of their own: a shared-LPDDR5 SoC whose
memory-bound kernels reach a share of DRAM bandwidth a datacenter GPU's stream figure does not
describe.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.calibration.host_transfer import host_transfer_s, transfers_included
from simulator.catalog import resolve_network
from simulator.engine.configs import hardware_arrays
from simulator.engine.efficiency import expected_latency_s, fill_fraction
from simulator.engine.power_limit import TENSOR_ENERGY_RANGE_PJ, uncapped_power_share
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import simulated_workload
from simulator.hardware.cortex_m import board_fraction
from simulator.hardware.device import EfficiencyModel, KernelEfficiency
from simulator.hardware.loader import resolve_device, resolve_runtime
from simulator.kernels import CLASS_FALLBACK
from simulator.precision import bits_of, compute_precision, normalize

#: the GEMM-like classes' bandwidth share on a GPU (a stream benchmark's), not fitted
GEMM_BANDWIDTH_FRACTION = 0.9
#: the GEMM-like tiles a GPU fit tries [outputs per thread block]
TILES = (1024, 2048, 4096, 8192, 16384)
#: the shares of the on-chip activation buffer (L2) a GPU fit tries
BUFFER_FRACTIONS = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125)


@dataclass(frozen=True)
class Parameter:
    """One fitted figure: ``low <= value <= high`` [unit], searched on a log scale when ``log``."""

    name: str
    unit: str
    low: float
    high: float
    default: float
    log: bool = False
    #: a figure that changes nothing on one side of a threshold (a power limit that does not bind)
    #: has no gradient there: the fit also starts from these values
    #: (:func:`simulator.calibration.cv_fit.starting_points`)
    starts: tuple[float, ...] = ()

    def value(self, z: float) -> float:
        """The figure for the unconstrained coordinate ``z``: ``low + (high − low) · σ(z)`` (on
        ``log`` values when ``log``), so that every trial lies in the range."""
        share = 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))
        if self.log:
            value = math.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * share)
        else:
            value = self.low + (self.high - self.low) * share
        return min(max(value, self.low), self.high)  # rounding never leaves the range

    def coordinate(self, value: float) -> float:
        """The inverse of :meth:`value` (a value at a bound is moved just inside)."""
        if self.log:
            share = (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            share = (value - self.low) / (self.high - self.low)
        share = min(max(share, 1e-6), 1 - 1e-6)
        return math.log(share / (1 - share))


def _fraction(name: str, low: float, default: float) -> Parameter:
    return Parameter(name, "1", low, 1.0, default)


def _overhead(name: str, low: float, default: float, high: float = 50e-6) -> Parameter:
    return Parameter(name, "s", low, high, default, log=low > 0)


#: a datacenter GPU kernel's fixed cost (low, default, high) [s]: 3.4 µs a kernel in a CUDA graph,
#: 3.8 µs launched back to back from a stream, 9.6 µs with a synchronization after each (NVIDIA
#: Technical Blog, "Getting Started with CUDA Graphs", A. Gray, 2019): 2–10 µs, the range the GPU
#: profiles state for their ``kernel_overhead_us``
LAUNCH_RANGE_S = (2e-6, 5e-6, 10e-6)
#: a convolution kernel's extra fixed cost on a datacenter GPU (low, default, high) [s]: at most one
#: more kernel's worth (10 µs, the same blog's synchronized launch); it was 0–50 µs before the
#: leave-one-device-out errors were seen (docs/out_of_sample_analysis.md)
CONV_EXTRA_RANGE_S = (0.0, 2e-6, 10e-6)


@dataclass(frozen=True)
class Family:
    """Devices that share their figures. ``slots`` maps the engine's kernel classes (as a profile's
    ``[efficiency]`` names them; a class not named falls back as the engine's lookup does) to a slot,
    and each slot has a compute-fraction parameter, a bandwidth share (a parameter's name or a
    number) and a fixed overhead parameter (or none)."""

    name: str
    device_class: str
    devices: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    slots: Mapping[str, str]
    compute: Mapping[str, str]
    bandwidth: Mapping[str, str | float]
    class_overhead: Mapping[str, str] = field(default_factory=dict)
    kernel_overhead: str | None = None
    #: the GEMM-like tiles and L2 shares searched (a GPU's fill and residency); (None,): no such model
    tiles: tuple[int | None, ...] = (None,)
    buffers: tuple[float | None, ...] = (None,)
    #: the SMs a kernel spreads over (a data sheet's); None: each device profile's ``parallel_units``
    units: int | None = None
    #: the device whose clock the per-kernel overhead is read at (None: the same time on every device)
    clock_reference: str | None = None
    #: whether each device of a fold's rows has its own factor on every compute fraction (fitted; a
    #: device without a row in the fold gets 1, the family's figures)
    device_factor: bool = False
    #: ``(device, slot) -> factor`` on the slot's compute fraction, derived from the device's data
    #: sheet, never fitted (None: 1)
    derived: Callable[[str, str], float] | None = None

    def derived_factor(self, device: str, slot: str) -> float:
        """The derived factor of ``slot``'s compute fraction on ``device`` (1 without ``derived``)."""
        return 1.0 if self.derived is None else self.derived(device, slot)

    @property
    def parallel(self) -> bool:
        """Whether the devices spread a kernel over SMs (the profile's ``parallel_units``)."""
        return self.tiles != (None,)


_GPU_SLOTS = {"conv": "conv", "gemm": "gemm", "attention": "gemm", "depthwise_conv": "other",
              "elementwise": "other", "default": "other"}
_MCU_SLOTS = {"default": "conv", "gemm": "gemm", "depthwise_conv": "depthwise", "elementwise": "depthwise"}


@functools.cache
def cortex_m_fraction(device: str, slot: str) -> float:
    """A Cortex-M board's share of its SIMD peak in a CMSIS-NN-class kernel of ``slot`` (its core's
    cycles per MAC and its Flash stalls, :func:`simulator.hardware.cortex_m.board_fraction`)."""
    return board_fraction(resolve_device(device), slot)


#: the microcontrollers' one fitted figure: the share of the derived inner-loop rate a whole layer
#: reaches (loop setup, im2col of convolutions, requantization, and X-CUBE-AI 7.3's kernels not being
#: CMSIS-NN's), 0.1–2 (above 1: a library faster than CMSIS-NN's loops; the product is clamped at 1)
KERNEL_SHARE = Parameter("kernel_share", "1", 0.1, 2.0, 0.7, log=True)

#: the energy per dense int8/fp8 tensor operation on a 4N-class process [pJ/op], 0.1–1
#: (:mod:`simulator.engine.power_limit`): with each device's power limit, its power-limited share of
#: the dense peak
TENSOR_ENERGY = Parameter("tensor_energy_pj", "pJ", TENSOR_ENERGY_RANGE_PJ[0], TENSOR_ENERGY_RANGE_PJ[2],
                          TENSOR_ENERGY_RANGE_PJ[1], log=True,
                          starts=tuple(TENSOR_ENERGY_RANGE_PJ[0] * 10 ** (k / 4) for k in (1, 2, 3)))

#: the device families and their figures (ranges: see the module docstring)
FAMILIES = (
    Family("NVIDIA datacenter GPUs (TensorRT)", "datacenter GPU",
           ("a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h200-sxm", "l4", "l40s"),
           (_overhead("kernel_overhead_s", *LAUNCH_RANGE_S),
            _overhead("conv_overhead_s", *CONV_EXTRA_RANGE_S), _fraction("compute_fraction", 0.05, 0.6),
            TENSOR_ENERGY),
           _GPU_SLOTS, dict.fromkeys(("conv", "gemm", "other"), "compute_fraction"),
           dict.fromkeys(("conv", "gemm", "other"), GEMM_BANDWIDTH_FRACTION),
           {"conv": "conv_overhead_s"}, "kernel_overhead_s", TILES, BUFFER_FRACTIONS),
    Family("Jetson Orin (TensorRT)", "edge GPU", ("jetson-agx-orin", "jetson-agx-orin-maxq"),
           (_overhead("kernel_overhead_s", 0.5e-6, 5e-6), _fraction("compute_fraction", 0.05, 0.6),
            _fraction("bandwidth_fraction", 0.05, 0.5)),
           _GPU_SLOTS, dict.fromkeys(("conv", "gemm", "other"), "compute_fraction"),
           {"conv": GEMM_BANDWIDTH_FRACTION, "gemm": GEMM_BANDWIDTH_FRACTION, "other": "bandwidth_fraction"},
           kernel_overhead="kernel_overhead_s", tiles=TILES, buffers=BUFFER_FRACTIONS,
           clock_reference="jetson-agx-orin"),
    Family("Cortex-M (X-CUBE-AI 7.3/8.0 and runtimes)", "microcontroller",
           ("nucleo-l4r5zi", "nucleo-h7a3zi-q", "nucleo-u575zi-q", "stm32h743"),
           (KERNEL_SHARE,), _MCU_SLOTS, dict.fromkeys(("conv", "gemm", "depthwise"), "kernel_share"),
           dict.fromkeys(("conv", "gemm", "depthwise"), 1.0), device_factor=True,
           derived=cortex_m_fraction),
)
#: a runtime's factor on a compute fraction: its range, and 1 (no change) where no row says otherwise
SCALE_LOW, SCALE_HIGH = 0.01, 10.0
#: a device's factor on its family's compute fractions (``device_factor``): its range
DEVICE_LOW, DEVICE_HIGH = 0.2, 5.0


def device_parameter(device: str) -> Parameter:
    """A device's factor on its family's compute fractions, 0.2–5, 1 by default."""
    return Parameter(f"device:{device}", "1", DEVICE_LOW, DEVICE_HIGH, 1.0, log=True)


@functools.cache
def _extends_of(path: Path, mtime_ns: int) -> str | None:
    """The ``extends`` name of the profile at ``path`` (None: it extends nothing), parsed once per
    version of the file: ``mtime_ns`` is in the key so that an edited profile is read again (a CV
    run asks for the family of each of its ~750 rows, and each parse of the TOML took ~3 ms)."""
    from simulator.compat import tomllib

    base = tomllib.loads(path.read_text(encoding="utf-8")).get("extends")
    return base if isinstance(base, str) else None


def extends_chain(device: str) -> tuple[str, ...]:
    """``device`` and the devices its shipped profile ``extends``, nearest first (gh200 ->
    ``("gh200", "h100-sxm")``); at most 9 names."""
    from simulator.hardware.loader import available_devices

    shipped = available_devices()
    chain = [device]
    while len(chain) < 9:
        path = shipped.get(chain[-1])
        base = None if path is None else _extends_of(path, path.stat().st_mtime_ns)
        if base is None:
            break
        chain.append(base)
    return tuple(chain)


def family_of(device: str) -> Family | None:
    """The family that describes ``device`` (None: no family, so no cross-validated figure): the one
    that lists it, else the family of the shipped profile it ``extends`` (a profile written from a
    data sheet on top of a family member inherits that member's expected model, so its rows are
    that family's: GH200 and H100 NVL from h100-sxm, the Orin NX and Nano from the AGX Orin)."""
    return next((f for name in extends_chain(device) for f in FAMILIES if name in f.devices), None)


def runtime_parameters(runtime: str) -> dict[str, Parameter]:
    """``class -> Parameter`` of a shipped runtime's factors: one per class its file names, or one
    for all when the file gives every class the same factor."""
    scales = resolve_runtime(runtime).compute_scale
    tied = len(set(scales.values())) == 1
    return {name: Parameter(f"scale:{runtime}:{'all' if tied else name}", "1", SCALE_LOW, SCALE_HIGH, 1.0,
                            log=True) for name in scales}


def _lookup_name(efficiency_class: str, names: Sequence[str]) -> str:
    """The class name a profile's table answers ``efficiency_class`` with (the engine's fallback)."""
    cls: str | None = efficiency_class
    while cls is not None:
        if cls in names:
            return cls
        cls = CLASS_FALLBACK.get(cls)
    return "default"


@dataclass(frozen=True, eq=False)
class RowCase:
    """One dataset row, ready to predict: its per-layer roofline times by tile and by buffer share,
    the slot, runtime factor and kernels of each layer, and what to compare with."""

    id: str
    device: str
    family: Family
    metric: str
    batch: int
    measured: float
    compute_s: Mapping[int | None, np.ndarray]   # tile -> per-layer T_compute / fill [s]
    memory_s: Mapping[float | None, np.ndarray]  # buffer share -> per-layer T_memory [s]
    slots: tuple[str, ...]
    scales: tuple[str | None, ...]                # per layer: the runtime factor's parameter name
    kernels: np.ndarray
    overhead_scale: float
    #: the host copies the row's conditions include, per batch [s] (:mod:`.host_transfer`; 0: none)
    host_s: float = 0.0
    #: per layer, the power-limited compute time per pJ of ``tensor_energy_pj`` [s/pJ]
    #: (:mod:`simulator.engine.power_limit`: ``T = ops / R_power``, ``R_power ∝ 1 / E``); None: no limit
    power_s_per_pj: np.ndarray | None = None


def _units(family: Family, device) -> int | None:
    """The SMs of ``device`` for the fill model: the family's, else the profile's (None: no fill)."""
    if not family.parallel:
        return None
    return family.units or (device.efficiency.parallel_units if device.efficiency else None)


def _trial_device(device, family: Family, tile: int | None, buffer: float | None):
    """``device`` with ideal fractions but the family's fill and residency at ``tile``/``buffer``."""
    one = KernelEfficiency(compute_fraction=1.0, bandwidth_fraction=1.0)
    model = EfficiencyModel(source="cross-validation trial", classes={"default": one},
                            parallel_units=_units(family, device),
                            tile_outputs=dict.fromkeys(("conv", "gemm", "attention"), tile) if tile else {},
                            buffer_capacity_fraction=buffer)
    return device.model_copy(update={"efficiency": model})


def _roofline_times(workload, trial, family: Family, compute: str, bits: float, batch: int):
    """Per-layer ``T_compute / fill`` by tile and ``T_memory`` by buffer share, each at fractions 1:
    the buffer shares as configurations of one engine call (the activation buffer's capacity times
    the share, rounded down to whole bytes, as the engine scales it); the fill of each tile by the
    engine's :func:`~simulator.engine.efficiency.fill_fraction`."""
    shares = [1.0 if b is None else b for b in family.buffers]
    base = hardware_arrays(trial, [compute])
    buffer = base.activation_buffer
    overrides = None
    if buffer is not None:
        capacity = np.floor(base.capacity_bytes[0, buffer] * np.array(shares))
        overrides = {f"{base.level_names[buffer]}.capacity_bytes": capacity}
    count = len(shares)
    hardware = hardware_arrays(trial, [compute] * count, overrides)
    batches, bit_array = np.full(count, float(batch)), np.full(count, float(bits))
    timing = roofline_timing(workload, hardware, batches, bit_array, bit_array)
    memory_s = {b: timing.t_memory_s[i] for i, b in enumerate(family.buffers)}
    ideal_compute = timing.ops[0] / hardware.peak_ops_per_s[0]
    compute_s = {}
    for tile in family.tiles:
        tiles = {**(base.tile_outputs or {}), **dict.fromkeys(("conv", "gemm", "attention"), tile)}
        fill = fill_fraction(workload, dataclasses.replace(base, tile_outputs=tiles), batches[:1])[0]
        compute_s[tile] = ideal_compute / fill
    return compute_s, memory_s, ideal_compute


def _row_workload(name: str, resolution, batch: int, params: Mapping[str, object], attention: str):
    """The per-sample workload of ``name`` as the row ran it: with ``seq_lengths``/``padding`` in
    ``params`` (an MLPerf BERT row: SQuAD v1.1's lengths, padding removed on TensorRT, by
    :func:`simulator.accuracy.row_sequence_lengths`) the variable-length batch's workload, as
    :func:`simulator.simulation.simulate` builds it; else the network at its fixed shape."""
    if {"seq_lengths", "padding"} & set(params):
        from simulator.engine.lengths import variable_length_workload
        from simulator.model.lengths import variable_batch

        variable = variable_batch(batch, params, None, None)
        fixed = variable.network_params
        workload, _ = variable_length_workload(
            lambda length: resolve_network(name, resolution, 1, {**fixed, "seq_len": length}),
            variable.run_lengths, variable.padding, True, attention)
        return workload
    return simulated_workload(resolve_network(name, resolution, batch, params), True, attention)


def row_case(row: Mapping[str, str], params: Mapping[str, object], runtime: str | None,
             family: Family | None = None) -> RowCase:
    """Build ``row``'s network (with its parsed ``params``, :func:`simulator.accuracy.parse_params`)
    and workload once and its roofline times at every tile and buffer share of its family
    (``runtime``: the shipped runtime file that covers the row, or None; ``family``: by default the
    device's, :func:`family_of`)."""
    device = resolve_device(row["device"])
    family = family or family_of(row["device"])
    params = dict(params)
    resolution = params.pop("resolution", None)
    batch = int(row["batch"])
    workload = _row_workload(row["network"], resolution, batch, params, device.attention)
    precision = normalize(row["precision"], "precision")
    compute = compute_precision(precision, precision)
    compute_s, memory_s, ideal_compute = _roofline_times(workload, _trial_device(device, family, None, None),
                                                         family,
                                          compute, bits_of(precision), batch)
    base_names = tuple(family.slots)
    factors = runtime_parameters(runtime) if runtime else {}
    slots, scales = [], []
    for cls in workload.efficiency_classes:
        name = _lookup_name(cls, (*base_names, *factors))
        slots.append(family.slots[_lookup_name(name, base_names)])
        scales.append(factors[name].name if name in factors else None)
    kernels = np.ones(workload.layers) if workload.kernels is None else np.asarray(workload.kernels, float)
    host_s = (host_transfer_s(resolve_network(row["network"], resolution, batch, params), batch,
                              bits_of(precision), row["device"]) if transfers_included(row) else 0.0)
    return RowCase(row["id"], row["device"], family, row["metric"], batch, float(row["value"]), compute_s,
                   memory_s, tuple(slots), tuple(scales), kernels, overhead_scale(family, device, compute),
                   host_s, _power_s_per_pj(family, device, ideal_compute))


def _power_s_per_pj(family: Family, device, ideal_compute_s: np.ndarray) -> np.ndarray | None:
    """Per layer ``T_ideal / s_power(1 pJ)`` [s/pJ]: times the family's ``tensor_energy_pj`` [pJ] the
    compute time at the power-limited rate (:func:`simulator.engine.power_limit.power_share`, without
    its cap at 1, which the compute fraction's own cap makes moot); None where the family has no such
    figure or the device no power limit."""
    if TENSOR_ENERGY not in family.parameters or device.max_power_w is None:
        return None
    share = uncapped_power_share(1.0, max(device.peak_ops_per_s.values()), device.energy.scale,
                                 device.max_power_w, device.static_power_w)
    return ideal_compute_s / share


@dataclass(frozen=True, eq=False)
class Stack:
    """Many row cases of one family concatenated layer by layer, for a vectorized prediction."""

    cases: tuple[RowCase, ...]
    row_of_layer: np.ndarray
    slot_index: np.ndarray
    scale_index: np.ndarray       # index into the scale names (last: no factor)
    scale_names: tuple[str, ...]
    device_index: np.ndarray      # index into the device factors' names (last: none)
    device_names: tuple[str, ...]
    derived: np.ndarray           # per layer: the family's derived factor of its device and slot
    kernels: np.ndarray
    overhead_scale: np.ndarray
    compute_s: Mapping[int | None, np.ndarray]
    memory_s: Mapping[float | None, np.ndarray]
    log_measured: np.ndarray
    throughput: np.ndarray
    batch: np.ndarray
    host_s: np.ndarray
    power_s_per_pj: np.ndarray | None = None

    @property
    def family(self) -> Family:
        return self.cases[0].family


def stack(cases: Sequence[RowCase]) -> Stack:
    """Concatenate ``cases`` (one family) for :func:`predict_stack`."""
    family = cases[0].family
    slot_names = tuple(family.compute)
    scale_names = tuple(sorted({s for c in cases for s in c.scales if s is not None}))
    where = {name: i for i, name in enumerate(scale_names)}
    devices = tuple(sorted({c.device for c in cases})) if family.device_factor else ()
    cat = np.concatenate
    return Stack(
        tuple(cases), cat([np.full(len(c.slots), i) for i, c in enumerate(cases)]),
        np.array([slot_names.index(s) for c in cases for s in c.slots], dtype=int),
        np.array([len(scale_names) if s is None else where[s] for c in cases for s in c.scales], dtype=int),
        scale_names,
        np.array([devices.index(c.device) if c.device in devices else len(devices)
                  for c in cases for _ in c.slots], dtype=int),
        tuple(device_parameter(d).name for d in devices),
        np.array([family.derived_factor(c.device, s) for c in cases for s in c.slots]),
        cat([c.kernels for c in cases]),
        cat([np.full(len(c.slots), c.overhead_scale) for c in cases]),
        {t: cat([c.compute_s[t] for c in cases]) for t in family.tiles},
        {b: cat([c.memory_s[b] for c in cases]) for b in family.buffers},
        np.log([c.measured for c in cases]),
        np.array([c.metric == "throughput_per_s" for c in cases]), np.array([c.batch for c in cases], float),
        np.array([c.host_s for c in cases]),
        None if all(c.power_s_per_pj is None for c in cases) else
        cat([np.zeros(len(c.slots)) if c.power_s_per_pj is None else c.power_s_per_pj for c in cases]))


def predict_stack(data: Stack, values: Mapping[str, float], tile: int | None,
                  buffer: float | None) -> np.ndarray:
    """Each stacked row's expected value (latency [s] or throughput [1/s]) at the figures ``values``
    (by parameter name; a device factor not given is 1, a runtime factor not given is
    :func:`runtime_factor`'s)."""
    family = data.family
    slot_names = tuple(family.compute)
    compute = np.array([values[family.compute[s]] for s in slot_names])
    bandwidth = np.array([b if isinstance(b, float) else values[b] for b in
                          (family.bandwidth[s] for s in slot_names)])
    fixed = np.array([values[family.class_overhead[s]] if s in family.class_overhead else 0.0
                      for s in slot_names])
    scale = np.array([runtime_factor(values, name) for name in data.scale_names] + [1.0])
    device = np.array([values.get(name, 1.0) for name in data.device_names] + [1.0])
    kernel_s = values[family.kernel_overhead] if family.kernel_overhead else 0.0
    fraction = np.minimum(compute[data.slot_index] * scale[data.scale_index] * device[data.device_index]
                          * data.derived, 1.0)
    t_compute = data.compute_s[tile] / fraction
    if data.power_s_per_pj is not None and TENSOR_ENERGY.name in values:  # the clock under the power limit
        t_compute = np.maximum(t_compute, data.power_s_per_pj * values[TENSOR_ENERGY.name])
    layers = expected_latency_s(t_compute, data.memory_s[buffer], 1.0,
                                bandwidth[data.slot_index],
                                fixed[data.slot_index] + kernel_s * data.overhead_scale * data.kernels)
    latency = np.bincount(data.row_of_layer, weights=layers, minlength=len(data.cases)) + data.host_s
    return np.where(data.throughput, data.batch / latency, latency)


@functools.cache
def _older_runtimes(runtime: str) -> tuple[str, ...]:
    from simulator.hardware.loader import available_runtimes
    from simulator.hardware.runtime import older_runtimes

    return tuple(older_runtimes(resolve_runtime(runtime), [resolve_runtime(n) for n in available_runtimes()]))


def runtime_factor(values: Mapping[str, float], name: str) -> float:
    """The runtime factor ``name`` (``scale:RUNTIME:CLASS``) at the figures ``values``; where the fit
    has none (no row of RUNTIME among its rows: the time split holds every X-CUBE-AI 9.0 row out), the
    factor of the same class (or of all classes, ``scale:OLDER:all``) of the NEWEST older file of the
    same runtime that has one (:func:`simulator.hardware.runtime.older_runtimes`: 9.0 takes 8.1's),
    else 1 (the bare device, the version its profile describes). The product reads a version with no
    file the same way (:func:`simulator.hardware.runtime.newest_at_or_below`). A rule, not a parameter:
    nothing is fitted; it was adopted after seeing the time-split fold (docs/out_of_sample.md)."""
    if name in values:
        return values[name]
    _, runtime, cls = name.split(":", 2)
    for older in _older_runtimes(runtime):
        for candidate in (f"scale:{older}:{cls}", f"scale:{older}:all"):
            if candidate in values:
                return values[candidate]
    return 1.0


def overhead_scale(family: Family, device, precision: str) -> float:
    """The factor on the family's per-kernel overhead for ``device`` computing at ``precision``:
    the clock reference's clock over the device's (the overhead read as GPU cycles), else 1. The
    clock ratio is the ratio of peak per SM (``peak / parallel_units``) at each device's highest
    peak (its Tensor Cores' dense rate, clocked as the whole GPU is): one figure for every precision,
    as a profile states one ``kernel_overhead_us`` (the profiles' peaks, rounded as their data sheets
    print them, give ratios that differ in the fourth digit between precisions; ``precision`` is not
    used). A module with fewer SMs at the same clock (an Orin NX against the AGX) pays the same
    overhead."""
    if not family.clock_reference or family.clock_reference == device.name:
        return 1.0
    reference = resolve_device(family.clock_reference)

    def per_unit(d) -> float:
        units = d.efficiency.parallel_units if d.efficiency and d.efficiency.parallel_units else 1
        return max(d.peak_ops_per_s.values()) / units

    return per_unit(reference) / per_unit(device)


def efficiency_model(family: Family, values: Mapping[str, float], tile: int | None, buffer: float | None,
                     device, precision: str) -> EfficiencyModel:
    """The ``[efficiency]`` of ``device`` (computing at ``precision``) that the figures ``values``
    describe, as a profile would hold it (runtime factors are not part of a profile)."""
    factor = values.get(device_parameter(device.name).name, 1.0) if family.device_factor else 1.0
    classes = {}
    for cls, slot in family.slots.items():
        bandwidth = family.bandwidth[slot]
        classes[cls] = KernelEfficiency(
            compute_fraction=min(values[family.compute[slot]] * factor
                                 * family.derived_factor(device.name, slot), 1.0),
            bandwidth_fraction=bandwidth if isinstance(bandwidth, float) else values[bandwidth],
            overhead_s=values[family.class_overhead[slot]] if slot in family.class_overhead else 0.0)
    kernel_s = values[family.kernel_overhead] if family.kernel_overhead else 0.0
    return EfficiencyModel(source=f"cross-validation fit ({family.name})", classes=classes,
                           kernel_overhead_s=kernel_s * overhead_scale(family, device, precision),
                           parallel_units=_units(family, device),
                           tile_outputs=dict.fromkeys(("conv", "gemm", "attention"), tile) if tile else {},
                           buffer_capacity_fraction=buffer, tensor_energy_pj=values.get(TENSOR_ENERGY.name))
