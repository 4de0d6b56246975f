"""Every registered layer kind is declared in full: formula, ONNX writer, a maker, kernel class, traits.

A kind is declared once, in its module under :mod:`simulator.model.layers`; this test is the
check that adding a kind did not leave one of its traits out. It needs no ``onnx`` package: the
writers and readers are registered by the layer modules themselves.
"""

import pytest

from simulator.kernels import EFFICIENCY_CLASSES
from simulator.model.formulas import FORMULAS
from simulator.model.layers import (
    BUILDER_METHODS,
    LAYER_KINDS,
    ONNX_READERS,
    ONNX_WRITERS,
    PRODUCERS,
    Activation,
    AdaptivePool,
    Conv,
    Fused,
    SharedConv,
)

BOOLEAN_TRAITS = ("is_view", "inplace_capable", "absorbs_batchnorm", "absorbs_activation", "exportable")

#: instances of the kinds whose kernel class depends on the layer (a property, not a ClassVar)
EXAMPLES = {
    Conv: [Conv(8, (3, 3), (1, 1), (1, 1), (1, 1)), Conv(8, (3, 3), (1, 1), (1, 1), (1, 1), groups=8)],
    AdaptivePool: [AdaptivePool("avg", (1, 1)), AdaptivePool("avg", (7, 7))],
    SharedConv: [SharedConv(8, (3, 3), (1, 1), (1, 1), (1, 1), shares="head.conv")],
    Fused: [Fused(Conv(8, (1, 1), (1, 1), (0, 0), (1, 1)), (Activation("relu"),), ((8, 4, 4),))],
}


def efficiency_classes(kind):
    declared = kind.efficiency_class
    if isinstance(declared, property):
        assert kind in EXAMPLES, f"{kind.__name__}: add examples of its per-layer efficiency_class"
        return [layer.efficiency_class for layer in EXAMPLES[kind]]
    return [declared]


@pytest.mark.parametrize("name", sorted(LAYER_KINDS))
def test_every_layer_kind_declares_every_trait(name):
    kind = LAYER_KINDS[name]
    assert kind in FORMULAS, f"{name} has no cost formula"
    if kind.exportable:
        assert kind in ONNX_WRITERS, f"{name} is exportable but has no ONNX writer"
    else:
        assert kind not in ONNX_WRITERS, f"{name} has an ONNX writer but is marked exportable = False"
    # made by a builder method or an ONNX reader, or says what else makes it
    assert PRODUCERS.get(kind) or kind.made_by, f"{name}: no builder method or ONNX reader makes it"
    for trait in BOOLEAN_TRAITS:
        assert isinstance(getattr(kind, trait), bool), f"{name}.{trait} is not a bool"
    for efficiency_class in efficiency_classes(kind):
        assert isinstance(efficiency_class, str) and efficiency_class in EFFICIENCY_CLASSES, (
            f"{name}: efficiency_class {efficiency_class!r} is not one of {EFFICIENCY_CLASSES}")


def test_the_imported_and_fused_kinds_are_not_exported():
    not_exported = {kind.__name__ for kind in LAYER_KINDS.values() if not kind.exportable}
    assert {"Fused", "GenericOp", "Unsupported"} <= not_exported
    assert Fused.made_by == "inference view"


def test_every_declared_maker_is_registered():
    for kind, producers in PRODUCERS.items():
        assert kind in LAYER_KINDS.values()
        for producer in producers:
            source, _, name = producer.partition(" ") if producer.startswith("ONNX ") else \
                producer.partition(".")
            assert name in (ONNX_READERS if source == "ONNX" else BUILDER_METHODS), producer


def test_a_pool_to_one_value_per_channel_is_a_global_pool_and_any_other_is_elementwise():
    assert AdaptivePool("avg", (1, 1)).efficiency_class == "global_pool"
    assert AdaptivePool("max", (1,)).efficiency_class == "global_pool"
    assert AdaptivePool("avg", (7, 7)).efficiency_class == "elementwise"
