"""EmbeddingBag (DLRM's sparse features): parameters, pooling work and the rows a lookup reads, by hand."""

import pytest

from simulator.engine.workload import build_workload
from simulator.errors import ShapeError
from simulator.model.counts import count_network
from simulator.model.graph import NetworkBuilder


def _bag_network(rows=1000, dim=16, lookups=5, mode="sum"):
    net = NetworkBuilder("bags", (4,))
    bag = net.embedding_bag(net.input, rows, dim, lookups, mode=mode, name="bag")
    net.linear(net.concat(net.input, bag, dim=0, name="cat"), 2, name="fc")
    return net.build()


def test_sum_bag_counts_the_table_and_the_pooling_adds():
    counts = count_network(_bag_network())
    bag = next(layer for layer in counts.layers if layer.name == "bag")
    assert bag.output_shape == (1, 16)
    assert bag.params == 1000 * 16            # the whole table, as nn.EmbeddingBag.weight
    assert bag.macs == 0
    assert bag.flops == (5 - 1) * 16          # four adds pool five rows, per element


def test_mean_bag_adds_one_divide_per_element():
    bag = next(layer for layer in count_network(_bag_network(mode="mean")).layers if layer.name == "bag")
    assert bag.flops == (5 - 1) * 16 + 16


def test_a_bag_reads_the_rows_it_gathers_not_its_table():
    workload = build_workload(_bag_network(rows=10**6, dim=16, lookups=5), fuse=False)
    i = workload.names.index("bag")
    assert workload.gathered_weight_elements[i] == 5 * 16    # per sample: 5 rows of 16
    assert workload.weight_elements[i] == 0                  # the 16 M-element table is never streamed
    fc = workload.names.index("fc")
    assert workload.weight_elements[fc] == (4 + 16) * 2 + 2


@pytest.mark.parametrize("options, words", [
    ({"mode": "max"}, "mode must be one of sum, mean"),
    ({"lookups": 0}, "lookups 0"),
])
def test_bad_bags_are_one_line(options, words):
    with pytest.raises(ShapeError) as error:
        _bag_network(**options)
    assert "\n" not in str(error.value) and words in str(error.value)
