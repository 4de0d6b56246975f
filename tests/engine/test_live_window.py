"""The residency rule's live window, by hand (issue 23): a tensor stays in the on-chip buffer when
the largest live set over *its own lifetime* fits (:mod:`simulator.engine.workload`).

Network: five bias-free linears over ``T = 256`` tokens, widths ``64 → 8 → 16 → 8 → 64 → 8``
(input ``x``, intermediates ``a, b, c, d``, output ``y``). In a chain, the step running layer ``k``
holds its input and its output (:mod:`simulator.model.counts`), so per sample, in units of ``T``
elements:

====  =======  ===========
step  layer    live set
====  =======  ===========
0     x → a    64 + 8 = 72
1     a → b    8 + 16 = 24
2     b → c    16 + 8 = 24
3     c → d    8 + 64 = 72
4     d → y    64 + 8 = 72
====  =======  ===========

``b`` lives over steps 1..2 and its largest live set is ``24·T``; ``a`` (steps 0..1), ``c`` (2..3)
and ``d`` (3..4) each meet a step of ``72·T``. ``x`` and ``y`` always live in DRAM. So the
thresholds are ``24·T`` and ``72·T`` elements, and ``b`` alone stays on chip when ``n·24·T·4 <= C``.
A window one step wider on either side would give ``b`` a step of ``72·T`` (step 0 or step 3), and
``b`` would spill with the rest.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.workload import build_workload
from simulator.hardware.loader import load_device
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

T = 256
WIDTHS = (64, 8, 16, 8, 64, 8)  # x, a, b, c, d, y
BYTES = 4  # fp32
B_LIVE = (8 + 16) * T  # b's largest live set, elements per sample
OTHERS_LIVE = (64 + 8) * T  # a's, c's and d's
#: an SRAM of exactly one sample's live set around b: b fits at batch 1 (n·L·b/8 <= C, with equality)
SRAM_BYTES = B_LIVE * BYTES
DRAM_BYTES_PER_S = 100e9


def chain():
    net = NetworkBuilder("widths", (T, WIDTHS[0]))
    x = net.input
    for width in WIDTHS[1:]:
        x = net.linear(x, width, bias=False)
    return net.build()


@pytest.fixture
def device(device_file):
    return load_device(device_file("live-window", {"fp32_tera_ops_per_s": 1000}, [
        {"name": "dram", "capacity_gib": 8, "bandwidth_gb_per_s": DRAM_BYTES_PER_S / 1e9,
         "stores": ["weights", "activations"], "energy_table_entry": "dram-32bit"},
        {"name": "sram", "capacity_kib": SRAM_BYTES / 1024, "bandwidth_tb_per_s": 10,
         "stores": ["activations"], "energy_table_entry": "sram-32bit"},
        {"name": "register-file", "capacity_kib": 64, "bandwidth_tb_per_s": 100, "stores": [],
         "energy_table_entry": "rf-32bit"}]))


def test_the_live_sets_are_each_steps_input_and_output():
    work = build_workload(chain(), fuse=False)
    # 72, 24, 24, 72, 72 (· T): the table of the module docstring
    assert list(work.live_elements) == [(WIDTHS[k] + WIDTHS[k + 1]) * T for k in range(5)]


def test_each_tensor_is_thresholded_by_the_largest_live_set_of_its_own_lifetime():
    work = build_workload(chain(), fuse=False)
    assert list(work.spill_thresholds) == [B_LIVE, OTHERS_LIVE]
    x, a, b, c, d, y = (w * T for w in WIDTHS)
    # row 0 (budget below 24·T): every tensor spilled, so each layer moves its input and output in DRAM
    assert list(work.spilled_elements[0]) == [x + a, a + b, b + c, c + d, d + y]
    # row 1 (24·T <= budget < 72·T): b alone is resident, so layers 1 and 2 move only a and c in DRAM
    assert list(work.spilled_elements[1]) == [x + a, a, c, c + d, d + y]
    # row 2 (budget >= 72·T): a, b, c, d resident, only the input and the output reach DRAM
    assert list(work.spilled_elements[2]) == [x, 0, 0, 0, y]


@pytest.mark.parametrize("n, b_resident", [(1, True), (2, False)])
def test_the_middle_tensor_stays_on_chip_while_the_batch_fits_its_window(device, n, b_resident):
    # n = 1: n·24·T·4 bytes = the SRAM exactly, b is resident (<=); n = 2: twice that, it spills
    result = simulate(chain(), device, batch=n, precision="fp32", ideal=True, micro_batching=False)
    x, a, b, c, d, y = (w * T for w in WIDTHS)
    weights = sum(WIDTHS[k] * WIDTHS[k + 1] for k in range(5)) * BYTES  # read once per batch
    # every tensor but the pinned x and y is written once and read once; a, c, d always spill
    spilled = x + y + 2 * (a + c + d) + (0 if b_resident else 2 * b)
    assert result.level_bytes()["dram"] == pytest.approx(weights + n * spilled * BYTES, rel=1e-12)
    # the SRAM sees every activation access: each layer's input and output
    assert result.level_bytes()["sram"] == pytest.approx(n * BYTES * (x + 2 * (a + b + c + d) + y), rel=1e-12)


def test_budget_just_below_the_window_spills_the_middle_tensor():
    work = build_workload(chain(), fuse=False)
    below, at = work.spilled_for_budget(np.array([B_LIVE - 1.0, float(B_LIVE)]))
    assert below.sum() - at.sum() == 2 * WIDTHS[2] * T  # b's write and read
