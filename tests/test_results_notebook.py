"""A SimulationResult in a notebook: a short repr, an HTML table, the layer table as a DataFrame with
units in its column names, and the layers grouped by kind.

Expected MACs are AlexNet's (the original: 96-256-384-384-256 channels, groups of 2 in conv2,
conv4 and conv5) written out by hand: ``C_out * H_out * W_out * C_in/groups * k * k`` per
convolution, ``in * out`` per fully connected layer.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from simulator import simulate
from simulator.units import format_seconds

CONV_MACS = (96 * 55 * 55 * 3 * 11 * 11 + 256 * 27 * 27 * 48 * 5 * 5 + 384 * 13 * 13 * 256 * 3 * 3
             + 384 * 13 * 13 * 192 * 3 * 3 + 256 * 13 * 13 * 192 * 3 * 3)  # 665,784,864
LINEAR_MACS = 9216 * 4096 + 4096 * 4096 + 4096 * 1000  # 58,621,952


@pytest.fixture(scope="module")
def result():
    return simulate("alexnet", "jetson-agx-orin")  # a profile with an efficiency model


def test_repr_is_one_short_line(result):
    text = repr(result)
    assert "\n" not in text and len(text) < 200  # the dataclass repr ran to thousands of characters
    assert "alexnet" in text and "jetson-agx-orin" in text
    # both latencies: the expected model's and the ideal bound
    assert format_seconds(result.latency_s) in text and format_seconds(result.ideal_latency_s) in text
    assert "energy" in text


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_a_small_table(result):
    parser = _Cells()
    parser.feed(result._repr_html_())
    assert parser.tags[0] == "table" and 5 <= parser.tags.count("tr") <= 20
    assert "alexnet" in parser.text and "jetson-agx-orin" in parser.text


def test_to_frame_is_the_layer_table_with_units_in_the_names(result):
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(result.layers)
    assert list(frame["layer"]) == [layer.name for layer in result.layers]
    for column in ("latency_s", "t_compute_s", "t_memory_s", "energy_j", "bytes_moved",
                   "arithmetic_intensity_ops_per_byte", "bytes_dram", "time_dram_s", "energy_dram_j"):
        assert column in frame.columns
    assert int(frame["macs"].sum()) == CONV_MACS + LINEAR_MACS  # 724,406,816


def test_by_kind_groups_the_layers(result):
    kinds = result.by_kind()
    assert kinds.index.name == "kind"
    assert int(kinds.loc["Conv2d", "macs"]) == CONV_MACS and int(kinds.loc["Conv2d", "layers"]) == 5
    assert int(kinds.loc["Linear", "macs"]) == LINEAR_MACS and int(kinds.loc["Linear", "layers"]) == 3
    assert kinds["latency_share"].sum() == pytest.approx(1.0)
    assert kinds["latency_s"].sum() == pytest.approx(result.latency_s)
    assert list(kinds["latency_s"]) == sorted(kinds["latency_s"], reverse=True)  # the slowest kind first


def test_slowest_layers(result):
    slowest = result.slowest_layers(2)
    ordered = sorted(result.layers, key=lambda layer: layer.latency_s, reverse=True)
    assert [layer.name for layer in slowest] == [layer.name for layer in ordered[:2]]


def test_counts_are_short_in_a_notebook():
    from simulator import count

    counts = count("alexnet")
    text = repr(counts)
    # AlexNet's params by hand: weights + biases of conv1..conv5 and fc6..fc8
    params = (96 * 3 * 11 * 11 + 96 + 256 * 48 * 5 * 5 + 256 + 384 * 256 * 9 + 384 + 384 * 192 * 9 + 384
              + 256 * 192 * 9 + 256 + 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000)
    assert "\n" not in text and len(text) < 200
    assert f"{params:,} params" in text and f"{CONV_MACS + LINEAR_MACS:,} MACs" in text
    frame = counts.to_frame()
    assert len(frame) == len(counts.layers) and int(frame["params"].sum()) == params
    assert int(frame.loc[frame["kind"] == "Conv2d", "macs"].sum()) == CONV_MACS
