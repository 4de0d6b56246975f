"""The engine's int64 totals at the largest batch a sweep takes (2**63 − 1): its float64 is 2**63, past
int64, so a plain cast wrapped to -2**63 with ``RuntimeWarning: invalid value encountered in cast``.
They now saturate at 2**63 − 1, without a warning (warnings are errors in these tests)."""

from __future__ import annotations

import warnings

import numpy as np

from simulator.catalog import build_network
from simulator.engine.evaluate import evaluate
from simulator.engine.workload import simulated_workload
from simulator.hardware.loader import resolve_device
from simulator.simulation import simulate
from simulator.sweeps import sweep

LARGEST = 2**63 - 1
#: ResNet-50's parameters (torchvision's count), 2 bytes each in fp16
RESNET50_PARAMS = 25_557_032


def test_the_totals_of_the_largest_batch_saturate_without_a_warning():
    workload = simulated_workload(build_network("resnet50"), True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        totals = evaluate(workload, resolve_device("h100-sxm"), ["fp16"] * 2, np.array([float(LARGEST), 4.0]),
                          np.array([16.0, 16.0]), np.array([16.0, 16.0])).totals
    # the whole batch runs (its float64 is 2**63): the micro-batch is the batch, 2**63 - 1, not -2**63
    assert totals.micro_batch.tolist()[0] == LARGEST
    assert totals.peak_activation_bytes.tolist()[0] == LARGEST  # n x peak x 2 bytes is far past int64
    assert totals.model_size_bytes.tolist() == [2 * RESNET50_PARAMS] * 2
    assert 0 < totals.peak_activation_bytes.tolist()[1] < LARGEST  # a small batch: its figure, unchanged


def test_a_sweep_and_a_simulation_at_the_largest_batch_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = sweep("resnet50", "h100-sxm", batches=(LARGEST,), precisions=("fp16",))
        result = simulate(build_network("resnet50"), resolve_device("h100-sxm"), batch=LARGEST,
                          precision="fp16")
    assert table["micro_batch"].tolist() == [LARGEST] and result.micro_batch == LARGEST
    assert table["model_size_bytes"].tolist() == [2 * RESNET50_PARAMS]
    assert table["latency_s"].tolist() == [result.latency_s] and result.latency_s > 0


def test_saturated_int64_keeps_what_fits_and_caps_the_rest():
    from simulator.engine.totals import saturated_int64

    values = np.array([0.0, 3.0, 2.0**53, 2.0**62, 2.0**63, 1e30, np.inf, np.nan])
    assert saturated_int64(values).tolist() == [0, 3, 2**53, 2**62, LARGEST, LARGEST, LARGEST, LARGEST]
