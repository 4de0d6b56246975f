"""Cycles per MAC of CMSIS-NN's int8 inner loops on a Cortex-M4, M33 and M7, derived (not fitted).

A microcontroller's share of its SIMD peak (2 MACs a cycle: one SMLAD) is set by its core's
microarchitecture and its Flash, which is why one board's fitted factor cannot transfer to another
board. This module derives the cycles a MAC costs from two published things, never from a
measurement row:

**The instruction mix of the kernels** (ARM-software/CMSIS-NN, the ``ARM_MATH_DSP`` paths, read
from the source; post-increment addressing folds the pointer updates into the loads):

* convolution: the inner loop of ``arm_nn_mat_mult_kernel_s8_s16``
  (Source/ConvolutionFunctions/arm_nn_mat_mult_kernel_s8_s16.c @ 1e52d6833aecc075a487005fc16e75ce4c255182),
  two output channels x two im2col columns x four depth elements = 16 MACs per iteration:
  ``LDR b0, LDR b1, LDR a0, SXTB16, SXTB16 (read_and_pad_reordered), LDR a1, SXTB16, SXTB16,
  4 x SMLAD, LDR b0, LDR b1, 4 x SMLAD, SUBS, BNE``: 6 loads, 4 SIMD, 8 MAC, 2 loop instructions;
  each weight byte (int8, matrix A) serves the two columns: 0.5 weight bytes per MAC. The im2col
  copy of a convolution is shared by all output channels and is left out (about 2.75/C cycles a
  MAC on a Cortex-M4 for C output channels: 0.17 at C = 16).
* dense layer: the inner loop of ``arm_nn_vec_mat_mult_t_s8`` (Source/NNSupportFunctions/
  arm_nn_vec_mat_mult_t_s8.c @ 058a6a118d145a89e70fb49acd706653e75e899d), two rows x four columns
  = 8 MACs: ``LDR vec, SXTAB16, SXTAB16, LDR ker0, SXTB16, SXTB16, SMLAD, SMLAD, LDR ker1, SXTB16,
  SXTB16, SMLAD, SMLAD, SUBS, BNE``; each weight byte serves one MAC (batch 1): 1 byte per MAC.
* depthwise convolution: the inner loop of ``arm_depthwise_conv_s8_opt`` (Source/ConvolutionFunctions/
  arm_depthwise_conv_s8_opt.c @ 46fee474cf968e2f070a59d94359a419369ae833), four channels x two
  kernel taps = 8 MACs: ``4 x LDR (2 weight words, 2 activation words), 4 x SXTB16, 3 x PKH, SMLAD,
  PKH, SMLAD, 2 x LDR, 3 x PKH, SMLAD, PKH, SMLAD, 2 x ADD (row_pos, col_pos), SUBS, BNE``; plus its
  im2col, ``arm_q7_to_q15_with_offset`` (Source/NNSupportFunctions/arm_q7_to_q15_with_offset.c @
  46fee474cf968e2f070a59d94359a419369ae833), 4 elements per iteration: ``LDR, 2 x SXTAB16, PKHTB,
  PKHBT, 2 x STR, SUBS, BNE``, and in a depthwise layer each copied element serves one MAC. Two
  weight words per 8 MACs: 1 byte per MAC. Element-wise kernels are not derived: they take the
  depthwise figure (the family's slot for both).

**The cores' timings**:

* Cortex-M4 (and the Cortex-M33, which LLVM schedules with the same model: llvm/llvm-project
  llvm/lib/Target/ARM/ARMProcessors.td @ 02ac9ddc328d24ad4a2f3abc616f8e9f8b67e1f6,
  ``ProcessorModel<"cortex-m33", CortexM4Model, ...>``; no cycle table of the M33 itself was found in
  a stored copy): one instruction issued a cycle (ARMScheduleM4.td @
  9bcdb40f4963f6e938ed0b7e1ebc48f28e6c48e9: IssueWidth = 1, "the entire cpu as a single pipeline");
  SMLAD, SXTB16, PKH and ALU instructions 1 cycle; a load 2 cycles, 1 when the next instruction is
  a load too (Cortex-M4 TRM, instruction timings: LDR 2 cycles, neighbouring loads pipeline their
  address and data phases; LoadLatency = 2, "latency when not pipelined"); ``STR Rx,[Ry,#imm]`` 1
  cycle (the TRM: the data phase overlaps the next instruction; the LLVM model's WriteST latency 1);
  a taken branch 2 cycles (the TRM's 1 + P at its best case P = 1; LLVM's MispredictPenalty = 2,
  "best case branch taken cost"). The loop's cycles are the sum in source order.
* Cortex-M7 (ARMScheduleM7.td @ 6a5553319e1ba4ac3484f966a95f2407ca76525d): dual issue
  (IssueWidth = 2) over "two ALU, two LOAD, a STORE, a MAC, a BRANCH and a VFP pipe"; SMLAD on the
  one M7UnitMAC; SXTB16, SXTAB16 and PKH on the one M7UnitSIMD, each starting an issue group
  (BeginGroup: slot 0 only). The loop's cycles are its resource bound, ``max(⌈n/2⌉, n_SIMD, n_MAC,
  ⌈n_load/2⌉, n_store, n_branch)`` for n instructions: the in-order core reaches it where the
  compiler hides the load-use latencies, so it is the loop's least time.

**Flash** (weights): the cores are in order, so a load that waits on the Flash stalls the
pipeline: ``weight bytes per MAC x clock / Flash bandwidth`` cycles a MAC are added, the
bandwidth being the board profile's (its read width over its wait states plus one). The Cortex-M7
boards have a 16 KB L1 data cache, which holds a convolution's or a depthwise layer's weights while
they are read again for every output pixel, so only their dense layers (each weight read once)
stall on Flash; the M4's ART and the U5's caches sit on the Flash path and are not taken to hold a
layer's weights (ART: a prefetch buffer and small caches; the U575's 8 KB ICACHE also holds code).
A layer whose weights exceed the M7's 16 KB is not modelled apart.

The share of the peak a kernel class reaches on a board: ``1 / (2 MAC/cycle x cycles per MAC)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulator.errors import SimulatorError

#: MACs one SMLAD does a cycle: the peak every Cortex-M profile states (2 ops/MAC x 2 MAC/cycle x clock)
PEAK_MACS_PER_CYCLE = 2

LOAD, STORE, SIMD, MAC, ALU, BRANCH = "load", "store", "simd", "mac", "alu", "branch"


@dataclass(frozen=True)
class Loop:
    """One inner-loop iteration: its instructions in source order and the MACs it does."""

    instructions: tuple[str, ...]
    macs: int


def _seq(*parts: tuple[str, int]) -> tuple[str, ...]:
    return tuple(kind for kind, count in parts for _ in range(count))


#: arm_nn_mat_mult_kernel_s8_s16's inner loop (2 channels x 2 columns x 4 depth)
CONV_LOOP = Loop(_seq((LOAD, 3), (SIMD, 2), (LOAD, 1), (SIMD, 2), (MAC, 4), (LOAD, 2), (MAC, 4), (ALU, 1),
                      (BRANCH, 1)), 16)
#: arm_nn_vec_mat_mult_t_s8's inner loop (2 rows x 4 columns)
GEMM_LOOP = Loop(_seq((LOAD, 1), (SIMD, 2), (LOAD, 1), (SIMD, 2), (MAC, 2), (LOAD, 1), (SIMD, 2), (MAC, 2),
                      (ALU, 1), (BRANCH, 1)), 8)
#: arm_depthwise_conv_s8_opt's inner loop (4 channels x 2 taps)
DEPTHWISE_LOOP = Loop(_seq((LOAD, 4), (SIMD, 7), (MAC, 1), (SIMD, 1), (MAC, 1), (LOAD, 2), (SIMD, 3),
                           (MAC, 1), (SIMD, 1), (MAC, 1), (ALU, 3), (BRANCH, 1)), 8)
#: arm_q7_to_q15_with_offset's loop (4 elements; in a depthwise layer one element per MAC)
IM2COL_LOOP = Loop(_seq((LOAD, 1), (SIMD, 4), (STORE, 2), (ALU, 1), (BRANCH, 1)), 4)

#: per kernel class of the MCU family: the loops a MAC runs through and the weight bytes it reads
KERNELS: dict[str, tuple[tuple[Loop, ...], float]] = {
    "conv": ((CONV_LOOP,), 0.5),
    "gemm": ((GEMM_LOOP,), 1.0),
    "depthwise": ((DEPTHWISE_LOOP, IM2COL_LOOP), 1.0),
}


def in_order_single_issue_cycles(instructions: Sequence[str]) -> int:
    """Cortex-M4/M33 cycles of ``instructions`` in order: 1 each, a load 2 unless the next one is a
    load, a taken branch 2."""
    cycles = 0
    for i, kind in enumerate(instructions):
        if kind == LOAD:
            cycles += 1 if i + 1 < len(instructions) and instructions[i + 1] == LOAD else 2
        elif kind == BRANCH:
            cycles += 2
        else:
            cycles += 1
    return cycles


def dual_issue_cycles(instructions: Sequence[str]) -> int:
    """Cortex-M7 cycles of ``instructions``: the resource bound ``max(⌈n/2⌉, n_SIMD, n_MAC,
    ⌈n_load/2⌉, n_store, n_branch)``."""
    count = {kind: sum(k == kind for k in instructions) for kind in (LOAD, STORE, SIMD, MAC, BRANCH)}
    return max(math.ceil(len(instructions) / 2), count[SIMD], count[MAC], math.ceil(count[LOAD] / 2),
               count[STORE], count[BRANCH])


@dataclass(frozen=True)
class Core:
    """A core's timing model and whether an L1 data cache holds a layer's re-read weights."""

    name: str
    cycles: Callable[[tuple[str, ...]], float]  # (instructions) -> cycles
    data_cache: bool


CORES = {
    "cortex-m4": Core("cortex-m4", in_order_single_issue_cycles, False),
    "cortex-m33": Core("cortex-m33", in_order_single_issue_cycles, False),
    "cortex-m7": Core("cortex-m7", dual_issue_cycles, True),
}

#: each microcontroller profile's core (the profiles' descriptions and MLPerf system descriptions)
BOARD_CORES = {
    "nucleo-l4r5zi": "cortex-m4",
    "nucleo-u575zi-q": "cortex-m33",
    "nucleo-h7a3zi-q": "cortex-m7",
    "stm32h743": "cortex-m7",
    "stm32f746": "cortex-m7",
}


def core_cycles_per_mac(core: str, kernel: str) -> float:
    """Core cycles a MAC of ``kernel`` (conv, gemm, depthwise) costs on ``core``, Flash aside."""
    if core not in CORES:
        raise SimulatorError(f"unknown core {core!r}; choose one of {', '.join(sorted(CORES))}")
    if kernel not in KERNELS:
        raise SimulatorError(f"unknown kernel class {kernel!r}; choose one of {', '.join(KERNELS)}")
    loops, _ = KERNELS[kernel]
    return sum(CORES[core].cycles(loop.instructions) / loop.macs for loop in loops)


def flash_cycles_per_mac(core: str, kernel: str, clock_hz: float,
                         flash_bandwidth_bytes_per_s: float) -> float:
    """Stall cycles a MAC of ``kernel`` waits on Flash: weight bytes per MAC x clock / bandwidth,
    0 where the core's data cache holds the re-read weights (conv, depthwise on a Cortex-M7)."""
    _, weight_bytes_per_mac = KERNELS[kernel]
    if CORES[core].data_cache and kernel != "gemm":
        return 0.0
    return weight_bytes_per_mac * clock_hz / flash_bandwidth_bytes_per_s


def board_fraction(device, kernel: str) -> float:
    """The share of ``device``'s int8 peak a CMSIS-NN-class ``kernel`` reaches:
    ``1 / (2 x (core cycles + Flash cycles) per MAC)``; the clock is the profile's int8 peak over
    4 ops a cycle, the Flash bandwidth its weights level's."""
    if device.name not in BOARD_CORES:
        raise SimulatorError(f"no core known for device {device.name!r}; "
                             f"choose one of {', '.join(sorted(BOARD_CORES))}")
    core = BOARD_CORES[device.name]
    clock_hz = device.peak_ops_per_s["int8"] / (2 * PEAK_MACS_PER_CYCLE)
    flash = next(m for m in device.memory_levels if "weights" in m.stores)
    cycles = core_cycles_per_mac(core, kernel) + flash_cycles_per_mac(core, kernel, clock_hz,
                                                                      flash.bandwidth_bytes_per_s)
    return 1.0 / (PEAK_MACS_PER_CYCLE * cycles)
