"""The engine's sum of memory-bound latencies (:func:`simulator.engine.evaluate.memory_bound_sum_s`)
sums each configuration's row as numpy sums one row alone (pairwise, as the latency total), whatever
the number of configurations: a sweep's row then equals the single simulation of its configuration
bit for bit (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.evaluate import memory_bound_sum_s


def sequential(row) -> float:
    total = 0.0
    for value in row:
        total += float(value)  # Python floats: one IEEE addition after another, left to right
    return total


@pytest.mark.parametrize("configs", [1, 2, 3, 9, 200])
@pytest.mark.parametrize("layers", [1, 7, 57, 300])
def test_memory_bound_latency_is_summed_as_each_row_alone(configs, layers):
    rng = np.random.default_rng(configs * 1000 + layers)
    # magnitudes spread over 12 decades, so that two orders of addition round differently
    latency_s = 10.0 ** rng.uniform(-9, 3, (configs, layers))
    memory_bound = rng.random((configs, layers)) < 0.6
    work = np.empty(configs * layers + 5)  # a scratch array longer than needed, as a sweep's block passes
    got = memory_bound_sum_s(memory_bound, latency_s)
    # each configuration's masked row as a 1-D array of its own, summed by numpy (pairwise)
    expected = [float(np.where(memory_bound[c], latency_s[c], 0.0).sum()) for c in range(configs)]
    assert got.tolist() == expected
    assert memory_bound_sum_s(memory_bound, latency_s, work).tolist() == expected
    # and each configuration alone gives its own row's figure
    alone = [memory_bound_sum_s(memory_bound[c:c + 1], latency_s[c:c + 1])[0] for c in range(configs)]
    assert alone == expected
    # all layers memory-bound: the latency total, summed the same way (Totals.latency_s)
    everything = memory_bound_sum_s(np.ones_like(memory_bound), latency_s)
    assert everything.tolist() == latency_s.sum(axis=1).tolist()


def test_a_sequential_sum_would_differ_on_these_rows():
    """The test above can fail: adding the layers one by one (the order before) differs from numpy's
    pairwise sum of the row."""
    rng = np.random.default_rng(57)
    rows = 10.0 ** rng.uniform(-9, 3, (50, 300))
    assert any(float(row.sum()) != sequential(row) for row in rows)
