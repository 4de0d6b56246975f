"""The sweep's search helpers that replaced slower equivalents (issue 21): each against its definition
computed the plain way."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.evaluate import _count_above, _distinct_rows


@pytest.mark.parametrize("layers", [1, 2, 7, 8, 57, 63, 64, 65, 300])
def test_count_above_is_the_number_of_larger_entries(layers):
    rng = np.random.default_rng(layers)
    # few distinct values, so that ties with the query are common; inf as a crossover of no compute
    table = rng.choice([0.0, 1.0, 2.5, 7.0, np.inf], (40, layers))
    descending = -np.sort(-table, axis=1)
    rows = rng.integers(0, 40, 3000)
    values = rng.choice([0.0, 0.5, 1.0, 2.5, 3.0, 7.0, 8.0], 3000)
    expected = [int((descending[r] > v).sum()) for r, v in zip(rows.tolist(), values.tolist(), strict=True)]
    assert _count_above(descending, rows, values).tolist() == expected


@pytest.mark.parametrize("runs", [1, 2, 160])
def test_distinct_rows_finds_each_rows_first_configuration(runs):
    rng = np.random.default_rng(runs)
    rows = rng.integers(0, 3, (40, 3)).astype(float)  # 40 draws of at most 27 distinct rows
    columns = [np.repeat(rows[:, k], runs) for k in range(3)] + [np.full(40 * runs, 5.0)]  # one constant
    first, inverse = _distinct_rows(columns)
    table = np.stack(columns, axis=1)
    distinct = {tuple(row) for row in table.tolist()}
    assert len(first) == len(distinct)
    # every configuration's row is its representative's, and the representative is the row's first
    assert (table[first[inverse]] == table).all()
    first_seen = {}
    for i, row in enumerate(table.tolist()):
        first_seen.setdefault(tuple(row), i)
    assert sorted(first.tolist()) == sorted(first_seen.values())
