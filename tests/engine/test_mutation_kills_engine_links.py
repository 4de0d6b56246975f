"""Tensor-parallel all-reduce time through :func:`simulator.engine.evaluate.evaluate` (issue 12):
the ``link`` figures reach the timing, only layers that all-reduce pay, the expected model's
fixed cost per all-reduce is added, and the totals sum the layers. Expected values from the
docstring of :func:`simulator.engine.timing.link_time_s`:
``t = 2(N−1)·latency + 2(N−1)/N · bytes / bandwidth + overhead`` per all-reducing layer on ``N > 1``
devices, 0 otherwise, with ``bytes = batch · elements · bits/8``.

Workload: two bias-free 4096 → 4096 linears (fp16, batch 16) on ``h100-sxm``; the first
all-reduces its 4096 outputs per sample, the second nothing (``allreduce_elements = [4096, 0]``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.engine.evaluate import evaluate
from simulator.engine.workload import build_workload
from simulator.hardware.loader import resolve_device
from simulator.model.graph import NetworkBuilder

K = 4096
BATCH = 16
LINK_BYTES_PER_S, LINK_LATENCY_S = 450e9, 5e-6
DEVICES = (1.0, 2.0, 8.0)


def workload(allreduce=(float(K), 0.0)):
    net = NetworkBuilder("two-proj", (K,))
    net.linear(net.linear(net.input, K, bias=False), K, bias=False)
    plain = build_workload(net.build(), fuse=False)
    return plain if allreduce is None else dataclasses.replace(plain, allreduce_elements=np.array(allreduce))


def run(work, link=None, ideal=True):
    configs = len(DEVICES)
    bits = np.full(configs, 16.0)
    return evaluate(work, resolve_device("h100-sxm"), ["fp16"] * configs, np.full(configs, float(BATCH)),
                    bits, bits, ideal=ideal, link=link, micro_batching=False)


def link(overhead_s=None):
    figures = {"devices": np.array(DEVICES), "link_bandwidth_bytes_per_s": np.full(3, LINK_BYTES_PER_S),
               "link_latency_s": np.full(3, LINK_LATENCY_S)}
    if overhead_s is not None:
        figures["allreduce_overhead_s"] = np.full(3, overhead_s)
    return figures


def ring_s(n: float, overhead_s: float = 0.0) -> float:
    if n == 1:
        return 0.0
    data = BATCH * K * 2  # bytes, fp16
    return 2 * (n - 1) * LINK_LATENCY_S + 2 * (n - 1) / n * data / LINK_BYTES_PER_S + overhead_s


@pytest.mark.parametrize("overhead_s", [None, 40e-6])
def test_only_the_all_reducing_layer_pays_the_ring_time_and_its_overhead(overhead_s):
    ev = run(workload(), link(overhead_s))
    alone = run(workload(None))  # the same layers without communication
    for config, n in enumerate(DEVICES):
        expected = ring_s(n, overhead_s or 0.0)
        assert ev.timing.t_comm_s[config, 0] == pytest.approx(expected, rel=1e-12)
        assert ev.timing.t_comm_s[config, 1] == 0.0  # the second layer all-reduces nothing
        assert ev.totals.t_comm_s[config] == pytest.approx(expected, rel=1e-12)
        assert ev.totals.latency_s[config] == pytest.approx(alone.totals.latency_s[config] + expected,
                                                          rel=1e-12)


def test_without_a_link_or_without_all_reduces_there_is_no_communication():
    assert run(workload()).totals.t_comm_s is None            # all-reduces, but no link given
    assert run(workload(None), link()).totals.t_comm_s is None  # a link, but nothing all-reduced
