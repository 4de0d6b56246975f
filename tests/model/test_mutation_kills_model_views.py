"""The inference view's fused layers create their own output tensor, the builder refuses unknown
methods, and counts are immutable values (issue 12, "Tests that catch real bugs").

* :mod:`simulator.model.counts`: "for a chain [peak activations is] the lecture's
  ``max(input + output)``"; a fused ``conv + ReLU(inplace=True)`` still writes a new tensor (the
  convolution's output), so the view of ``conv(3 → 8, 3×3, padding 1)`` on ``(3, 8, 8)`` peaks at
  ``3·64 + 8·64 = 704`` elements per sample, as the unfused network does (its in-place ReLU adds
  nothing).
* STYLE.md rule 3: data is immutable (frozen dataclasses).
"""

from __future__ import annotations

import dataclasses

import pytest

from simulator.model.counts import count_network
from simulator.model.fusion import inference_view
from simulator.model.graph import NetworkBuilder


def conv_relu():
    net = NetworkBuilder("conv-relu", (3, 8, 8))
    net.relu(net.conv2d(net.input, 8, 3, padding=1), inplace=True)
    return net.build()


def test_a_fused_layer_writes_its_own_output():
    network = conv_relu()
    (fused,) = inference_view(network).nodes
    assert not fused.inplace
    expected = 3 * 8 * 8 + 8 * 8 * 8  # the input and the convolution's output, alive together
    assert count_network(inference_view(network)).peak_activations == expected
    assert count_network(network).peak_activations == expected


def test_an_unknown_builder_method_is_an_attribute_error_naming_it():
    net = NetworkBuilder("n", (4,))
    assert not hasattr(net, "frobnicate")
    with pytest.raises(AttributeError,
                       match="'NetworkBuilder' has no attribute or builder method 'frobnicate'"):
        net.frobnicate(net.input)


def test_network_counts_are_immutable():
    counts = count_network(conv_relu())
    with pytest.raises(dataclasses.FrozenInstanceError):
        counts.params = 0
