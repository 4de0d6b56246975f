"""The sweep engine's two index helpers (issue 21) against their definitions: a count by comparing
every entry, and distinct rows by comparing every pair of configurations."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.evaluate import _count_above, _distinct_rows


@pytest.mark.parametrize("layers", [1, 2, 3, 7, 8, 57, 64, 300])
def test_count_above_counts_the_entries_greater_than_each_value(layers):
    rng = np.random.default_rng(layers)
    # rows sorted from the largest, with ties; values on entries, between them and beyond both ends
    descending = -np.sort(-np.round(rng.random((5, layers)), 1), axis=1)
    rows = rng.integers(0, 5, 400)
    values = np.round(rng.random(400) * 1.4 - 0.2, 1)
    expected = [sum(1 for x in descending[r] if x > v) for r, v in zip(rows, values, strict=True)]
    assert _count_above(descending, rows, values).tolist() == expected


def test_distinct_rows_gives_one_configuration_per_distinct_row():
    rng = np.random.default_rng(1)
    columns = [rng.integers(0, 3, 200).astype(float), np.full(200, 7.0), rng.integers(0, 2, 200) * 0.5]
    first, inverse = _distinct_rows(columns)
    table = np.stack(columns, axis=1)
    distinct = {tuple(row) for row in table.tolist()}
    assert len(first) == len(distinct) == len({tuple(table[i]) for i in first.tolist()})
    for k in range(200):  # each configuration's row is its representative's
        assert tuple(table[k]) == tuple(table[first[inverse[k]]])


def test_distinct_rows_of_constant_columns_is_one_row():
    first, inverse = _distinct_rows([np.full(9, 2.0), np.full(9, 3.0)])
    assert len(first) == 1 and inverse.tolist() == [0] * 9
