"""The Cortex-M cycles per MAC (simulator.hardware.cortex_m), checked against counts done by hand from
the CMSIS-NN loops and the cores' timings, and the MCU family's use of them (cv_model)."""

from __future__ import annotations

import pytest

from simulator.calibration.cv_model import efficiency_model, family_of
from simulator.errors import SimulatorError
from simulator.hardware import cortex_m
from simulator.hardware.loader import resolve_device

MCU_BOARDS = ("nucleo-l4r5zi", "nucleo-u575zi-q", "nucleo-h7a3zi-q", "stm32h743")


def test_cortex_m4_convolution_loop():
    """arm_nn_mat_mult_kernel_s8_s16's iteration in order: LDR LDR LDR (3 neighbouring loads: 4
    cycles), 2 SXTB16, LDR (alone: 2), 2 SXTB16, 4 SMLAD, LDR LDR (3), 4 SMLAD, SUBS, BNE (taken: 2)."""
    cycles = 4 + 2 + 2 + 2 + 4 + 3 + 4 + 1 + 2
    assert cycles == 24
    assert cortex_m.core_cycles_per_mac("cortex-m4", "conv") == pytest.approx(cycles / 16)


def test_cortex_m4_dense_and_depthwise_loops():
    """Dense: 3 lone loads (2 each), 6 SXTB16/SXTAB16, 4 SMLAD, SUBS, BNE (2) per 8 MACs. Depthwise:
    4 neighbouring loads (5), 12 SXTB16/PKH, 4 SMLAD, 2 neighbouring loads (3), 3 ALU, BNE (2) per 8
    MACs, plus its im2col: a lone load (2), 4 SIMD, 2 stores (1 each), SUBS, BNE (2) per 4 elements,
    one element a MAC."""
    assert cortex_m.core_cycles_per_mac("cortex-m4", "gemm") == pytest.approx((3 * 2 + 6 + 4 + 1 + 2) / 8)
    depthwise = (5 + 12 + 4 + 3 + 3 + 2) / 8 + (2 + 4 + 2 + 1 + 2) / 4
    assert cortex_m.core_cycles_per_mac("cortex-m4", "depthwise") == pytest.approx(depthwise)
    # LLVM times the Cortex-M33 with the Cortex-M4's model
    assert cortex_m.core_cycles_per_mac("cortex-m33", "depthwise") == pytest.approx(depthwise)


def test_cortex_m7_loops_at_their_dual_issue_bound():
    """Two instructions a cycle, one MAC pipe, one SIMD pipe: the convolution loop's 20 instructions
    (8 SMLAD) take 10 cycles; the dense loop's 15 (6 SIMD, 4 SMLAD) take 8; the depthwise loop's 26
    (12 SIMD) 13, its im2col's 9 (4 SIMD, 2 stores) 5."""
    assert cortex_m.core_cycles_per_mac("cortex-m7", "conv") == pytest.approx(10 / 16)
    assert cortex_m.core_cycles_per_mac("cortex-m7", "gemm") == pytest.approx(8 / 8)
    assert cortex_m.core_cycles_per_mac("cortex-m7", "depthwise") == pytest.approx(13 / 8 + 5 / 4)


def test_board_fractions_add_the_flash_stalls():
    """L4R5 (120 MHz, Flash 160 MB/s): a convolution MAC reads half a weight byte, 0.75 cycles a byte:
    1 / (2 x (1.5 + 0.375)). H7A3 (280 MHz, 640 MB/s): the data cache holds a convolution's weights
    (1 / (2 x 0.625)); a dense MAC stalls 280 / 640 cycles on its byte."""
    l4 = resolve_device("nucleo-l4r5zi")
    assert cortex_m.board_fraction(l4, "conv") == pytest.approx(1 / (2 * (1.5 + 0.5 * 120 / 160)))
    h7 = resolve_device("nucleo-h7a3zi-q")
    assert cortex_m.board_fraction(h7, "conv") == pytest.approx(0.8)
    assert cortex_m.board_fraction(h7, "gemm") == pytest.approx(1 / (2 * (1.0 + 280 / 640)))


def test_a_board_without_rows_gets_its_own_derived_figures():
    """The family's one share times the board's derived fraction, whatever rows were fitted: at
    kernel_share 0.5 the H7A3's convolutions run at 0.5 x 0.8 of its peak."""
    device = resolve_device("nucleo-h7a3zi-q")
    model = efficiency_model(family_of(device.name), {"kernel_share": 0.5}, None, None, device, "int8")
    assert model.for_class("conv").compute_fraction == pytest.approx(0.4)
    assert model.for_class("depthwise_conv").compute_fraction == pytest.approx(0.5 / (2 * (13 / 8 + 5 / 4)))


def test_shipped_classes_of_a_board_stand_in_their_derived_ratio():
    """The shipped profiles hold the fitted share times each board's fitted factor times its derived
    fraction per class, so on one board the classes' fractions stand in the derived ratio, whatever
    was fitted: on the H7A3 (Cortex-M7, dual issue) convolution 1 / (2 x 10/16) = 0.8 of the SIMD peak,
    depthwise 1 / (2 x (13/8 + 5/4)) = 0.1739, a ratio of 2 x 2.875 x 0.8 = 4.6."""
    h7 = resolve_device("nucleo-h7a3zi-q").efficiency
    ratio = h7.for_class("conv").compute_fraction / h7.for_class("depthwise_conv").compute_fraction
    assert ratio == pytest.approx(2 * (13 / 8 + 5 / 4) * 0.8, rel=1e-9)
    for name in MCU_BOARDS:
        device = resolve_device(name)
        fraction = device.efficiency.for_class
        shares = {slot: fraction(slot).compute_fraction / cortex_m.board_fraction(device, key)
                  for slot, key in (("conv", "conv"), ("gemm", "gemm"), ("depthwise_conv", "depthwise"))}
        assert max(shares.values()) == pytest.approx(min(shares.values()), rel=1e-9), (name, shares)


def test_unknown_core_or_kernel_is_one_line_error():
    with pytest.raises(SimulatorError, match="unknown core 'cortex-m0'"):
        cortex_m.core_cycles_per_mac("cortex-m0", "conv")
    with pytest.raises(SimulatorError, match="unknown kernel class 'pool'"):
        cortex_m.core_cycles_per_mac("cortex-m4", "pool")
