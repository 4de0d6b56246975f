"""Batching behaves as on real devices: throughput never falls as the batch doubles, for every
built-in network on every shipped device, at every precision the device computes in, in the ideal
bound and in the expected model (a batch that would spill its activations runs in micro-batches
that fit the on-chip buffer, see :func:`simulator.engine.evaluate._run_batches`)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.catalog import available_networks
from simulator.hardware.loader import available_devices, available_runtimes, resolve_device, resolve_runtime
from simulator.sweeps import sweep

BATCHES = [2**k for k in range(11)]  # 1, 2, 4, ..., 1024
#: equal per-sample times may differ in the last bits
SLACK = 1e-9


#: every shipped device with each runtime that applies to it (the ideal bound is the device's own)
RUNTIME_DEVICES = sorted(f"{device}@{name}" for name in available_runtimes()
                         for device in resolve_runtime(name).devices)

#: the cases CI's second Python runs too (a datacenter GPU's expected model, a microcontroller's ideal
#: bound, a runtime); the others, a few seconds each, run once per CI (the ``once_per_ci`` marker)
EVERY_PYTHON = {("h100-sxm", False), ("stm32h743", True), ("jetson-agx-orin@hf-transformers", False)}
CASES = ([(d, i) for d in sorted(available_devices()) for i in (True, False)]
         + [(d, False) for d in RUNTIME_DEVICES])


@pytest.mark.parametrize(("device_name", "ideal"),
                         [pytest.param(d, i, marks=() if (d, i) in EVERY_PYTHON else pytest.mark.once_per_ci)
                          for d, i in CASES])
def test_throughput_never_falls_as_the_batch_doubles(device_name, ideal):
    device = resolve_device(device_name)
    falls = []
    for precision in device.precisions:
        table = sweep(available_networks(), device, batches=BATCHES, precisions=[precision], ideal=ideal)
        for network, rows in table.groupby("network", sort=False):
            throughput = rows.sort_values("batch")["throughput_per_s"].to_numpy()
            drops = np.flatnonzero(throughput[1:] < throughput[:-1] * (1 - SLACK))
            falls += [f"{network} {precision}: batch {BATCHES[i]} -> {BATCHES[i + 1]}: "
                      f"{throughput[i]:.6g} -> {throughput[i + 1]:.6g}/s" for i in drops]
    assert not falls, "\n".join(falls)


def test_the_cases_every_python_runs_are_cases():
    assert set(CASES) >= EVERY_PYTHON
