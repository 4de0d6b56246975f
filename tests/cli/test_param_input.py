"""``--param NAME=VALUE`` checked against the network function's signature (simulator.catalog.check_params,
issue 23): an int parameter takes a whole number from 1 to 2**31 - 1, a float one a finite number
above 0, a str one a string; anything else is one stderr line naming the value and what is
expected, exit status 2, no traceback. Counts stay Python ints (simulator.model.counts).

ResNet-18 (torchvision): 11,689,512 parameters with its 512 -> 1000 classifier; with ``num_classes=C``
the fc layer has ``512·C + C`` parameters instead of 513,000, the rest unchanged.
"""

from __future__ import annotations

import json

import pytest

from simulator.catalog import MAX_INT_PARAM, build_network
from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.model.counts import count_network
from simulator.model.graph import NetworkBuilder
from tests.helpers import one_line_error

RESNET18_PARAMS = 11_689_512
RESNET18_FC_PARAMS = 512 * 1000 + 1000


@pytest.mark.parametrize(("written", "shown"), [
    ("-1", "-1"), ("0", "0"), ("2.5", "2.5"), ("1e9", "1000000000.0"), ("abc", "'abc'"), ("True", "'True'"),
    ("3000000000", "3000000000"),
])
@pytest.mark.parametrize("command", [["count"], ["simulate", "--device", "reference-45nm"]])
def test_num_classes_must_be_a_whole_number_in_range(capsys, command, written, shown):
    one_line_error(capsys, [command[0], "resnet18", *command[1:], "--param", f"num_classes={written}"],
                   "num_classes", f"got {shown}", "whole number from 1 to 2,147,483,647")


def test_the_largest_integer_parameter_is_2_to_the_31_minus_1():
    assert MAX_INT_PARAM == 2**31 - 1


def test_a_valid_num_classes_changes_only_the_classifier(capsys):
    # 10 classes: fc has 512·10 + 10 = 5,130 parameters instead of 513,000
    status = main(["count", "resnet18", "--param", "num_classes=10", "--format", "json"])
    out, _ = capsys.readouterr()
    document = json.loads(out)
    assert status == 0
    assert document["totals"]["params"] == RESNET18_PARAMS - RESNET18_FC_PARAMS + 512 * 10 + 10
    fc = document["layers"][-1]
    assert (fc["name"], fc["params"], fc["macs"]) == ("fc", 5130, 5120)
    for value in (*document["totals"].values(), *(layer["params"] for layer in document["layers"])):
        assert type(value) is int


@pytest.mark.parametrize(("network", "setting", "parts"), [
    ("mobilenet_v2", "width_mult=abc", ("width_mult", "finite number greater than 0", "'abc'")),
    ("mobilenet_v2", "width_mult=0", ("width_mult", "finite number greater than 0", "got 0")),
    ("mobilenet_v2", "width_mult=-1.5", ("width_mult", "got -1.5")),
    ("mobilenet_v2", "width_mult=inf", ("width_mult", "got inf")),
    ("bert_base", "seq_len=0", ("seq_len", "whole number from 1", "got 0")),
    ("bert_base", "seq_len=1.5", ("seq_len", "whole number from 1", "got 1.5")),
    ("efficientvit_seg_b1", "num_classes=2.5", ("num_classes", "whole number from 1", "got 2.5")),
    ("efficientvit_seg_b1", "dataset=5", ("dataset", "must be a str", "got 5")),
])
def test_other_parameters_are_checked_against_their_type(capsys, network, setting, parts):
    one_line_error(capsys, ["count", network, "--param", setting], *parts)


def test_a_float_parameter_takes_an_int_and_gives_whole_counts():
    counts = count_network(build_network("mobilenet_v2", params={"width_mult": 1}))
    assert counts.params == 3_504_872  # torchvision's MobileNetV2 (width 1.0)
    assert all(type(layer.params) is int and type(layer.macs) is int for layer in counts.layers)


@pytest.mark.parametrize("value", [2.5, -1, True, "3", None, 10**12])
def test_the_api_checks_num_classes_too(value):
    with pytest.raises(SimulatorError, match="num_classes must be a whole number"):
        build_network("resnet18", params={"num_classes": value})


def test_a_segmenter_keeps_none_as_its_default_class_count():
    # efficientvit_seg's num_classes defaults to None (the dataset's: Cityscapes, 19 classes):
    # 4,803,443 parameters (the EfficientViT repository's seg.py model)
    network = build_network("efficientvit_seg_b1", params={"num_classes": None})
    assert count_network(network).params == 4_803_443


@pytest.mark.parametrize(("size", "message"),
                         [(2.5, "params 12.5"), (-1, "params -5"), (True, "output shape")])
def test_a_hand_built_network_with_a_fractional_or_negative_size_has_no_counts(size, message):
    # Linear 4 -> size: 4·size + size parameters; counts are whole numbers, dimensions at least 1
    net = NetworkBuilder("tiny", (4,))
    net.linear(net.input, size)
    with pytest.raises(SimulatorError, match=message):
        count_network(net.build())
