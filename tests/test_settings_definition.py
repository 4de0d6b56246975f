"""simulate()'s settings (names and defaults) are defined once, by the signature of the stage that resolves
them (:func:`simulator.configuration.resolve_config`): :func:`simulator.simulation.simulate` passes them
through instead of restating them, and the public :func:`simulator.simulate` checks a caller's names
against that one signature."""

import inspect

import pytest

from simulator import simulate as public_simulate
from simulator.configuration import resolve_config
from simulator.errors import SimulatorError
from simulator.simulation import simulate

SETTINGS = ("precision", "weight_precision", "activation_precision", "fuse", "resolution", "ideal",
            "overrides", "params", "micro_batching", "attention", "seq_lengths", "padding")


def test_the_settings_are_the_keyword_only_parameters_of_resolve_config():
    parameters = inspect.signature(resolve_config).parameters.values()
    assert tuple(p.name for p in parameters if p.kind is p.KEYWORD_ONLY) == SETTINGS


def test_simulate_does_not_restate_them():
    kinds = {p.name: p.kind for p in inspect.signature(simulate).parameters.values()}
    assert not set(kinds) & set(SETTINGS)
    assert list(kinds.values())[-1] is inspect.Parameter.VAR_KEYWORD


def test_a_setting_reaches_the_resolved_configuration_and_a_misspelt_one_is_refused():
    # int8 weights and activations: the result's precision is the one given, not the device's fp16 default
    assert simulate("resnet18", "h100-sxm", precision="int8", ideal=True).weight_precision == "int8"
    with pytest.raises(TypeError, match="precison"):
        simulate("resnet18", "h100-sxm", precison="int8")
    with pytest.raises(SimulatorError, match=f"takes the settings {', '.join(SETTINGS)}, got 'precison'"):
        public_simulate("resnet18", "h100-sxm", precison="int8")
