"""A network's bound by hand (issue 23): ``memory`` when its memory-bound layers take more than half
of its latency, else ``compute`` (:func:`simulator.engine.evaluate.evaluate`, ``totals["bound"]``
and ``memory_bound_fraction``).

Device: ``dram-only`` of ``tests/conftest.py`` (fp32 1 TOPS, DRAM 100 GB/s, no on-chip buffer: every
byte crosses DRAM); ideal roofline, fp32, batch 1. Bias-free linears over ``T = 256`` tokens:

* ``64 → 64``: ``2·T·64·64 = 2,097,152`` ops (2.097 µs) against ``4·(64·64 + 2·T·64) = 147,456``
  bytes (1.475 µs): compute-bound, 2.097 µs;
* ``64 → 8`` and ``8 → 64``: ``2·T·64·8 = 262,144`` ops (0.262 µs) against
  ``4·(64·8 + T·64 + T·8) = 75,776`` bytes (0.758 µs): memory-bound, 0.758 µs each.

One ``64 → 64`` then one squeeze pair (``64 → 8 → 64``): memory-bound share 1.516 / 3.613 = 0.42,
the network is compute-bound; with two squeeze pairs: 3.031 / 5.128 = 0.59, memory-bound.
"""

from __future__ import annotations

import pytest

from simulator.hardware.loader import load_device
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

T = 256
PEAK_OPS_PER_S, DRAM_BYTES_PER_S, BYTES = 1e12, 100e9, 4
WIDE_S = 2 * T * 64 * 64 / PEAK_OPS_PER_S                         # compute-bound 64 → 64
SQUEEZE_S = BYTES * (64 * 8 + T * 64 + T * 8) / DRAM_BYTES_PER_S   # memory-bound 64 → 8 or 8 → 64


def squeezes(pairs: int):
    net = NetworkBuilder(f"squeeze{pairs}", (T, 64))
    x = net.linear(net.input, 64, bias=False)
    for _ in range(pairs):
        x = net.linear(net.linear(x, 8, bias=False), 64, bias=False)
    return net.build()


@pytest.mark.parametrize("pairs, bound", [(1, "compute"), (2, "memory")])
def test_the_network_is_bound_by_what_takes_most_of_its_latency(dram_only_path, pairs, bound):
    result = simulate(squeezes(pairs), load_device(dram_only_path), precision="fp32", ideal=True)
    assert [layer.bound for layer in result.layers] == ["compute"] + ["memory"] * (2 * pairs)
    memory_s = 2 * pairs * SQUEEZE_S
    assert result.latency_s == pytest.approx(WIDE_S + memory_s, rel=1e-12)
    fraction = memory_s / (WIDE_S + memory_s)   # 0.42 with one pair, 0.59 with two
    assert 1 / 3 < fraction < 2 / 3            # so a threshold other than 1/2 would tell
    assert result.memory_bound_fraction == pytest.approx(fraction, rel=1e-12)
    assert result.bound == bound
