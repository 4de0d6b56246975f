"""Hardware descriptions: memory levels, energy tables and devices, in SI base units.

A :class:`Device` has per-precision peaks in ops/s (a multiply-accumulate counts as 2 ops, as
vendors count TOPS; dense, not 2:4-sparse figures), memory levels ordered from the outermost
(largest, slowest: DRAM, or Flash on a microcontroller) to the innermost (register file), and an
:class:`EnergyTable` of per-operation and per-access energies in pJ.

Energy figures come from M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014 (45 nm, 0.9 V), and the lecture's simplified 32-bit table (S. Han et al., NeurIPS
2015, after Horowitz). A device on another process node scales the table by a stated factor;
off-chip entries (``on_chip = false``, DRAM) are not scaled, as their energy is set by the DRAM
die and its I/O rather than by the compute die's process.

Devices are read from data files by :mod:`simulator.hardware.loader`.
"""

from __future__ import annotations

import itertools
import math
from numbers import Real
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator.errors import SimulatorError
from simulator.kernels import CLASS_FALLBACK, class_lookup

#: What a memory level may hold.
Storable = Literal["weights", "activations"]

#: The two operations of a multiply-accumulate, as named in energy tables.
MAC_OPERATIONS = ("mult", "add")

BITS_PER_BYTE = 8


def _strict_number(value: object) -> object:
    """A number stays a number: a string (``"68"``) or a boolean is refused rather than coerced, and so
    is a non-finite value (``inf``, ``nan``): a unit-less or infinite figure would give wrong times."""
    if isinstance(value, bool) or not isinstance(value, Real):
        shown = f"{type(value).__name__} {value!r}"[:80]
        raise ValueError(f"must be a number (without quotes), got {shown}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ValueError(f"must be a finite number, got {str(value)[:40]}")
    return value


#: A finite float given as a number (an int is accepted); strings, booleans, inf and nan are refused.
Number = Annotated[float, BeforeValidator(_strict_number)]
#: A whole number given as a number (an integral float such as ``2.0`` is accepted).
Whole = Annotated[int, BeforeValidator(_strict_number)]


class _Frozen(BaseModel):
    # schemas are built at the first validation, not at import: a shipped profile read back from the
    # cache (simulator.hardware.profile_cache, model_construct) is never validated again
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)


def _per_byte(energy_per_access_pj: float, access_bits: int) -> float:
    """Energy of one byte when an access moves ``access_bits``: ``E_access / (bits / 8)`` [pJ/byte]."""
    return energy_per_access_pj / (access_bits / BITS_PER_BYTE)


class MemoryLevel(_Frozen):
    """One level of a device's memory hierarchy.

    ``energy_per_access_pj`` is the energy of one access of ``access_bits`` bits (e.g. Horowitz's
    64-bit SRAM read); ``stores`` says whether weights and/or activations live here (empty for a
    register file, which only holds operands in flight). ``source`` covers capacity and
    bandwidth, ``energy_source`` the energy figure.
    """

    name: str = Field(min_length=1)
    capacity_bytes: Whole = Field(gt=0)
    bandwidth_bytes_per_s: Number = Field(gt=0)
    energy_per_access_pj: Number = Field(gt=0)
    access_bits: Whole = Field(gt=0)
    stores: frozenset[Storable] = frozenset()
    source: str
    energy_source: str = ""

    @property
    def energy_per_byte_pj(self) -> float:
        """``energy_per_access_pj / (access_bits / 8)`` [pJ/byte]."""
        return _per_byte(self.energy_per_access_pj, self.access_bits)


class OperationEnergy(_Frozen):
    """Energy of one operation (``add`` or ``mult``) per precision, in pJ, with its source."""

    energy_pj: dict[str, Number] = Field(min_length=1)
    source: str

    @field_validator("energy_pj")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [precision for precision, energy in value.items() if not energy > 0]
        if bad:
            raise ValueError(f"energies must be greater than 0 pJ; not so for {', '.join(bad)}")
        return value


class MemoryAccessEnergy(_Frozen):
    """Energy of one memory access of ``access_bits`` bits, in pJ (an entry of an energy table).

    ``on_chip = false`` marks off-chip memory (DRAM), which a device's process scale leaves alone.
    """

    access_bits: Whole = Field(gt=0)
    energy_per_access_pj: Number = Field(gt=0)
    on_chip: StrictBool  # true or false, not 1 or "yes"
    source: str

    @property
    def energy_per_byte_pj(self) -> float:
        """``energy_per_access_pj / (access_bits / 8)`` [pJ/byte]."""
        return _per_byte(self.energy_per_access_pj, self.access_bits)


class EnergyTable(_Frozen):
    """Per-operation and per-memory-access energies in pJ, e.g. Horowitz's 45 nm table.

    ``operations`` maps an operation (``add``, ``mult``) to its energies per precision;
    ``memory_access`` maps an entry name (``sram-32kib-64bit``) to an access energy. All figures
    already include ``scale`` (1 for the table as published; see :meth:`scaled`).
    """

    name: str = Field(min_length=1)
    description: str = ""
    source: str
    operations: dict[str, OperationEnergy]
    memory_access: dict[str, MemoryAccessEnergy] = {}
    scale: Number = Field(default=1.0, gt=0)
    scale_source: str = ""

    def __hash__(self) -> int:
        return hash((self.name, self.scale))

    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions with both a ``mult`` and an ``add`` figure, i.e. those with a MAC energy."""
        if not all(op in self.operations for op in MAC_OPERATIONS):
            return ()
        adds = self.operations["add"].energy_pj
        return tuple(p for p in self.operations["mult"].energy_pj if p in adds)

    def op_energy_pj(self, operation: str, precision: str) -> float:
        """Energy of one ``operation`` (``"add"`` / ``"mult"``) at ``precision`` [pJ]."""
        if operation not in self.operations:
            raise SimulatorError(f"energy table {self.name!r} has no operation {operation!r}; "
                                 f"valid: {', '.join(self.operations)}")
        energies = self.operations[operation].energy_pj
        if precision not in energies:
            raise SimulatorError(f"energy table {self.name!r} has no {operation!r} energy for precision "
                                 f"{precision!r}; valid: {', '.join(energies)}")
        return energies[precision]

    def mac_energy_pj(self, precision: str) -> float:
        """One multiply-accumulate: ``E_mult + E_add`` at ``precision`` [pJ] (45 nm fp32: 3.7 + 0.9 = 4.6)."""
        return sum(self.op_energy_pj(operation, precision) for operation in MAC_OPERATIONS)

    def access(self, entry: str) -> MemoryAccessEnergy:
        """The memory-access entry named ``entry``; an unknown name raises SimulatorError."""
        if entry not in self.memory_access:
            raise SimulatorError(f"energy table {self.name!r} has no memory access entry {entry!r}; "
                                 f"valid: {', '.join(self.memory_access)}")
        return self.memory_access[entry]

    def scaled(self, factor: float, source: str) -> EnergyTable:
        """This table for another process: operations and on-chip accesses times ``factor``.

        Off-chip entries are kept: DRAM energy depends on the DRAM die and I/O, not on the compute
        die's process. ``source`` gives the factor's rationale.
        """
        if not factor > 0:
            raise SimulatorError(f"energy scale factor must be greater than 0, got {factor!r}")
        on_chip = [entry.energy_per_access_pj for entry in self.memory_access.values() if entry.on_chip]
        largest = max([e for entry in self.operations.values() for e in entry.energy_pj.values()] + on_chip,
                      default=0.0)
        if not math.isfinite(largest * factor):
            raise SimulatorError(f"energy scale factor {factor:g} makes the energies of table {self.name!r} "
                                 "overflow to infinity; it must keep them finite")
        operations = {
            op: OperationEnergy(energy_pj={p: e * factor for p, e in entry.energy_pj.items()},
                                source=entry.source)
            for op, entry in self.operations.items()
        }
        memory_access = {
            name: entry.model_copy(update={"energy_per_access_pj": entry.energy_per_access_pj * factor})
            if entry.on_chip else entry
            for name, entry in self.memory_access.items()
        }
        return self.model_copy(update={"operations": operations, "memory_access": memory_access,
                                       "scale": self.scale * factor, "scale_source": source})


class KernelEfficiency(_Frozen):
    """Achievable fractions of peak and bandwidth, and a fixed overhead, for one class of kernel.

    The figures given (``model_fields_set``) are the entry's own; an entry of a class that refines
    another (:data:`simulator.kernels.CLASS_FALLBACK`: ``[efficiency.gemv] bandwidth_fraction``) takes
    the others from that class (:meth:`EfficiencyModel.for_class`), so equality and the hash count them
    too: two entries with the same values but different figures given look up differently."""

    compute_fraction: Number = Field(default=1.0, gt=0, le=1)
    bandwidth_fraction: Number = Field(default=1.0, gt=0, le=1)
    overhead_s: Number = Field(default=0.0, ge=0)

    def __eq__(self, other: object) -> bool:
        return (super().__eq__(other) is True and isinstance(other, KernelEfficiency)
                and self.model_fields_set == other.model_fields_set)

    def __hash__(self) -> int:
        return hash((self.compute_fraction, self.bandwidth_fraction, self.overhead_s,
                     frozenset(self.model_fields_set)))


class EfficiencyModel(_Frozen):
    """How far real kernels fall short of the roofline on this device (:mod:`simulator.engine.efficiency`).

    ``classes``: per kernel class, achieved fractions of peak and bandwidth and a fixed overhead.
    ``kernel_overhead_s``: time every kernel costs on top (launch, ramp-up and drain; a GPU's
    kernel boundary under CUDA graphs). ``parallel_units``: the processors a kernel's thread blocks
    are spread over (a GPU's SMs), and ``tile_outputs``: output elements per thread block by class
    (default :data:`simulator.kernels.TILE_OUTPUTS`); with them a kernel too small to fill the
    machine, or ending in a partial wave, runs at the fraction of it that it fills. ``source``
    says where the figures come from (data sheet, fit and on which rows).
    """

    source: str
    classes: dict[str, KernelEfficiency]
    kernel_overhead_s: Number = Field(default=0.0, ge=0)
    parallel_units: Whole | None = Field(default=None, gt=0)
    #: the runtime whose kernels the model describes ("" when it is the device's usual one)
    runtime: str = ""
    tile_outputs: dict[str, Whole] = {}
    #: LLM inference (:mod:`simulator.llm`): a serving runtime's fixed cost per forward pass
    #: (scheduling, sampling, host synchronization), added once to the prefill and once per decode step
    step_overhead_s: Number = Field(default=0.0, ge=0)
    #: LLM inference: the share of the dense tensor peak the serving runtime's GEMM-like kernels
    #: (projections, fused attention) reach in a forward pass, in place of the ``gemm`` and
    #: ``attention`` classes' (None: those classes' own); where a pass is compute-bound (a prefill, a
    #: large decode batch) its time is ``ops / (peak · fraction)``
    llm_compute_fraction: Number | None = Field(default=None, gt=0, le=1)
    #: the share of an on-chip activation buffer (a GPU's L2) that a runtime's activations stay
    #: resident in: the expected model's residency and micro-batching use ``capacity × fraction``
    #: (weights streaming through, other data, set conflicts), the ideal bound the whole capacity
    #: (None: the whole capacity)
    buffer_capacity_fraction: Number | None = Field(default=None, gt=0, le=1)
    #: energy per dense int8/fp8 tensor operation on a TSMC 4N-class process [pJ/op], scaled by the
    #: profile's energy scale on another process: with ``max_power_w`` it caps the sustained compute
    #: rate at the power limit (:mod:`simulator.engine.power_limit`); None: no power term
    tensor_energy_pj: Number | None = Field(default=None, gt=0)

    @field_validator("tile_outputs")
    @classmethod
    def _tiles(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [name for name, tile in value.items() if not tile > 0]
        if bad:
            raise ValueError(f"tile outputs must be greater than 0; not so for {', '.join(bad)}")
        return value

    def for_class(self, name: str) -> KernelEfficiency:
        """The entry of ``name``, else that of the class it refines, else ``default``, else the ideal
        roofline (:func:`simulator.kernels.class_lookup`, as the engine looks classes up). An entry of
        a refined class takes the figures it does not give from the class it refines, looked up the
        same way: ``[efficiency.gemv] bandwidth_fraction = 0.8`` is the ``gemm`` entry (as a runtime
        or an LLM pass's ``llm_compute_fraction`` leaves it) streaming at 0.8 of bandwidth."""
        cls: str | None = name
        while cls is not None and cls not in self.classes:
            cls = CLASS_FALLBACK.get(cls)
        if cls is None:
            # the ideal entry unvalidated: its defaults are valid, and a cached profile builds no schema
            return class_lookup(self.classes, "default", KernelEfficiency.model_construct())
        entry, refined = self.classes[cls], CLASS_FALLBACK.get(cls)
        if refined is None or entry.model_fields_set >= set(KernelEfficiency.model_fields):
            return entry
        return self.for_class(refined).model_copy(
            update={field: getattr(entry, field) for field in entry.model_fields_set})

    def resolved_classes(self) -> dict[str, KernelEfficiency]:
        """Every class the profile names, each with all its figures (:meth:`for_class`): the table the
        engine looks layers up in (:func:`simulator.kernels.class_lookup`)."""
        return {name: self.for_class(name) for name in self.classes}


class Interconnect(_Frozen):
    """The link between devices for tensor parallelism (NVLink): bandwidth per direction per device
    [bytes/s] and the latency of one message [s] (the per-step cost of a ring all-reduce)."""

    name: str = Field(min_length=1)
    bandwidth_bytes_per_s: Number = Field(gt=0)
    latency_s: Number = Field(ge=0)
    source: str
    #: the expected (non-ideal) model's fixed cost of one all-reduce on top of its ring time (NCCL's
    #: launch, synchronization and protocol cost) [s]; 0 in the ideal roofline
    allreduce_overhead_s: Number = Field(default=0.0, ge=0)


class Supply(_Frozen):
    """How the board is powered, for energy measured at its supply: the voltage the profile's energy
    figures hold for [V], and the regulator between the supply and the core. Behind a linear regulator
    (``ldo``) the current drawn does not depend on the supply voltage, so energy at the supply scales
    with it: ``E(V) = E(voltage_v) · V / voltage_v`` (the ``supply_voltage_v`` override). A switching
    regulator's conversion is not modelled. ``min_voltage_v`` .. ``max_voltage_v``: the part's
    operating range (its data sheet), which a ``supply_voltage_v`` override must lie in (not stated:
    no override)."""

    voltage_v: Number = Field(gt=0)
    regulator: Literal["ldo"]
    source: str
    min_voltage_v: Number | None = Field(default=None, gt=0)
    max_voltage_v: Number | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_range(self) -> Supply:
        low, high = self.min_voltage_v, self.max_voltage_v
        if (low is None) != (high is None) or (
                low is not None and high is not None and not low <= self.voltage_v <= high):
            raise ValueError(f"give both min_voltage_v and max_voltage_v, with min_voltage_v <= voltage_v "
                             f"<= max_voltage_v; got {low}, {self.voltage_v}, {high}")
        return self


class Device(_Frozen):
    """A device for the roofline model: peaks per precision, a memory hierarchy, an energy table.

    ``peak_ops_per_s``: dense peak per precision in ops/s, a MAC counting 2 ops (vendor TOPS).
    ``memory_levels``: outermost (largest, slowest) first, innermost (register file) last.
    ``energy``: the resolved energy table, the device's process scale already applied.
    """

    name: str = Field(min_length=1)
    description: str = ""
    source: str
    energy: EnergyTable  # before the peaks, which are checked against it
    peak_ops_per_s: dict[str, Number] = Field(min_length=1)
    peak_source: str = ""
    memory_levels: tuple[MemoryLevel, ...] = Field(min_length=1)
    #: calibrated kernel efficiencies; None means the ideal roofline
    efficiency: EfficiencyModel | None = None
    #: the device-to-device link (NVLink) for tensor parallelism; None: no multi-device link known
    interconnect: Interconnect | None = None
    #: how attention executes by default on this device's usual runtime: ``fused`` (the score
    #: matrix stays on chip) or ``materialized`` (written to memory), and why
    attention: Literal["fused", "materialized"] = "fused"
    attention_source: str = ""
    #: power drawn whatever the work (leakage, clocks, the rest of the board: a data sheet's or a
    #: measured idle power, or a fit), times the latency in the energy [W]; 0 when unknown
    static_power_w: Number = Field(default=0.0, ge=0)
    static_power_source: str = ""
    #: the most the device (or board) may draw: its TDP or power limit [W]; None when unknown. Average
    #: power while running, ``energy / latency``, lies between ``static_power_w`` and this
    max_power_w: Number | None = Field(default=None, gt=0)
    max_power_source: str = ""
    #: the supply the energy figures hold for; None: not stated (no supply-voltage override)
    supply: Supply | None = None

    def __hash__(self) -> int:
        return hash(self.name)

    @field_validator("peak_ops_per_s")
    @classmethod
    def _check_peaks(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        bad = [precision for precision, peak in value.items() if not peak > 0]
        if bad:
            raise ValueError(f"peaks must be greater than 0 ops/s; not so for {', '.join(bad)}")
        energy = info.data.get("energy")
        if energy is None:  # the table itself failed validation
            return value
        missing = [p for p in value if p not in energy.precisions]
        if missing:
            raise ValueError(f"energy table {energy.name!r} has no add and mult energy for "
                             f"{', '.join(missing)} (it has: {', '.join(energy.precisions)})")
        return value

    @field_validator("memory_levels")
    @classmethod
    def _check_levels(cls, levels: tuple[MemoryLevel, ...]) -> tuple[MemoryLevel, ...]:
        seen: dict[str, str] = {}
        for level in levels:  # `--set dram.…` matches names case-insensitively: so must uniqueness
            key = level.name.casefold()
            if key in seen:
                raise ValueError(f"memory level names must be unique ignoring case; {seen[key]!r} and "
                                 f"{level.name!r} name the same level")
            seen[key] = level.name
        for kind in ("weights", "activations"):
            if not any(kind in level.stores for level in levels):
                raise ValueError(f"no memory level stores {kind} (set stores = [\"{kind}\", ...] on one)")
        for outer, inner in itertools.pairwise(levels):
            # a register file (stores nothing) holds operands in flight, not a copy of the data outside
            if inner.stores and inner.capacity_bytes > outer.capacity_bytes:
                raise ValueError(f"levels go from outermost to innermost, but {inner.name!r} is larger than "
                                 f"{outer.name!r} ({inner.capacity_bytes} > {outer.capacity_bytes} bytes)")
            if inner.bandwidth_bytes_per_s < outer.bandwidth_bytes_per_s:
                raise ValueError(f"levels go from outermost to innermost, but {inner.name!r} is slower than "
                                 f"{outer.name!r} ({inner.bandwidth_bytes_per_s:g} < "
                                 f"{outer.bandwidth_bytes_per_s:g} bytes/s)")
        return levels

    @model_validator(mode="after")
    def _check_power(self) -> Device:
        if self.max_power_w is not None and self.static_power_w > self.max_power_w:
            raise ValueError(f"static_power_w {self.static_power_w:g} W exceeds max_power_w "
                             f"{self.max_power_w:g} W; the static power is part of the maximum")
        return self

    @property
    def main_memory(self) -> MemoryLevel:
        """The largest memory level (DRAM on a GPU, Flash on a microcontroller): what its capacity
        is quoted as."""
        return max(self.memory_levels, key=lambda level: level.capacity_bytes)

    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions the device has a peak for, in the order of its profile."""
        return tuple(self.peak_ops_per_s)

    @property
    def default_precision(self) -> str:
        """The precision a simulation uses when none is given: fp16 when the device has a peak for it,
        else the first precision of its profile (a CPU or a microcontroller). Decided here only."""
        return "fp16" if "fp16" in self.peak_ops_per_s else self.precisions[0]

    @property
    def energy_scale(self) -> float:
        """Factor applied to the published energy table for this device's process (1 = unscaled)."""
        return self.energy.scale

    @property
    def energy_scale_source(self) -> str:
        """Why the energy table was scaled by :attr:`energy_scale`."""
        return self.energy.scale_source

    def peak_for(self, precision: str) -> float:
        """Dense peak at ``precision`` [ops/s]; an unknown precision raises SimulatorError."""
        if precision not in self.peak_ops_per_s:
            raise SimulatorError(f"device {self.name!r} has no peak for precision {precision!r}; "
                                 f"its precisions: {', '.join(self.precisions)}")
        return self.peak_ops_per_s[precision]

    def level(self, name: str) -> MemoryLevel:
        """The memory level called ``name``; an unknown name raises SimulatorError."""
        for level in self.memory_levels:
            if level.name == name:
                return level
        raise SimulatorError(f"device {self.name!r} has no memory level {name!r}; "
                             f"its levels: {', '.join(level.name for level in self.memory_levels)}")

    def _outermost_storing(self, kind: Storable) -> MemoryLevel:
        return next(level for level in self.memory_levels if kind in level.stores)

    @property
    def weight_store(self) -> MemoryLevel:
        """The outermost level that stores weights (DRAM on a GPU, Flash on a microcontroller)."""
        return self._outermost_storing("weights")

    @property
    def activation_store(self) -> MemoryLevel:
        """The outermost level that stores activations (DRAM on a GPU, SRAM on a microcontroller)."""
        return self._outermost_storing("activations")

    def ridge_point_ops_per_byte(self, precision: str, level: MemoryLevel | str | None = None) -> float:
        """Roofline ridge point ``peak_ops_per_s / bandwidth_bytes_per_s`` [ops/byte].

        ``level`` is a level or its name; by default the outermost level. Above this arithmetic
        intensity a kernel is compute-bound, below it bound by that level's bandwidth.
        """
        if level is None:
            level = self.memory_levels[0]
        elif isinstance(level, str):
            level = self.level(level)
        return self.peak_for(precision) / level.bandwidth_bytes_per_s
