"""One simulation's configuration, resolved: the first stage of :func:`simulator.simulation.simulate`.

:func:`resolve_config` checks the arguments of ``simulate`` and resolves them (network and device by
name or path, precisions, what-if overrides in SI units, attention, a variable-length batch) into a
:class:`ResolvedConfig`; :func:`simulated_network` builds what the engine evaluates (the
simulated graph's workload and the counts of the network at the batch), a :class:`SimulatedNetwork`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulator.catalog import Resolution, resolve_network
from simulator.engine.overrides import override_arrays, parse_overrides
from simulator.engine.workload import Workload, simulated_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.counts import NetworkCounts, check_batch, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.precision import bits_of, compute_precision, normalize

if TYPE_CHECKING:
    from simulator.model.lengths import VariableBatch


def check_flag(value: object, name: str) -> bool:
    """An on/off argument of the API must be a bool (or numpy's): a string such as ``"false"`` or
    ``"no"`` is truthy in Python and would silently turn the option on, so it is an error."""
    if not isinstance(value, bool | np.bool_):
        raise SimulatorError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


@dataclass(frozen=True, eq=False)
class SimulatedNetwork:
    """What the engine evaluates for one configuration: the workload of the simulated graph (fused
    when the configuration fuses) and the counts of the network at the configuration's batch."""

    workload: Workload
    counts: NetworkCounts


@dataclass(frozen=True, eq=False)
class ResolvedConfig:
    """One configuration of :func:`simulator.simulation.simulate`, checked and resolved (SI units).

    ``compute``, ``weight_precision``, ``activation_precision``: precision names (arithmetic at
    ``compute``); ``weight_bits``/``activation_bits``: ``(1,)`` arrays of bits per element, the engine's
    configuration axis of length 1; ``overrides_si``: the what-if figures as the engine takes them,
    ``overrides`` as the result reports them (key -> the value given); ``variable``/``build``: a
    variable-length batch and the ``seq_len -> Network`` builder it runs (None otherwise)."""

    network: Network
    device: Device
    batch: int
    compute: str
    weight_precision: str
    activation_precision: str
    weight_bits: np.ndarray
    activation_bits: np.ndarray
    overrides_si: Mapping[str, np.ndarray]
    overrides: dict[str, float]
    fuse: bool
    ideal: bool
    micro_batching: bool
    attention: str
    resolution: Resolution | None
    params: dict[str, object]
    variable: VariableBatch | None = None
    build: Callable[[int], Network] | None = None

    @property
    def expected_model(self) -> bool:
        """The device's efficiency model applies (it has one, and the run is not ``ideal``)."""
        return self.device.efficiency is not None and not self.ideal


def simulated_network(config: ResolvedConfig) -> SimulatedNetwork:
    """The workload the engine evaluates for ``config`` and the network's counts at its batch; a
    variable-length batch is the length-weighted workload of
    :func:`simulator.engine.lengths.variable_length_workload`."""
    if config.variable is not None and config.build is not None:
        from simulator.engine.lengths import variable_length_workload

        variable = config.variable
        workload, count_batch = variable_length_workload(config.build, variable.run_lengths, variable.padding,
                                                         config.fuse, config.attention)
        return SimulatedNetwork(workload, count_batch(config.batch))
    return SimulatedNetwork(simulated_workload(config.network, config.fuse, config.attention),
                            count_network(simulated_graph(config.network, config.fuse), config.batch))


def resolve_config(network: Network | str | Path, device: Device | str | Path, batch: int = 1, *,
                   precision: str | None = None, weight_precision: str | None = None,
                   activation_precision: str | None = None, fuse: bool = True,
                   resolution: Resolution | None = None, ideal: bool = False,
                   overrides: Mapping[str, float] | None = None, params: Mapping[str, object] | None = None,
                   micro_batching: bool = True, attention: str | None = None, seq_lengths: object = None,
                   padding: str | None = None) -> ResolvedConfig:
    """The arguments of :func:`simulator.simulation.simulate` (documented there), checked in the order
    they are listed and resolved; a bad one raises :class:`~simulator.errors.SimulatorError` naming it.
    This signature is the one definition of the settings' names and defaults: ``simulate`` passes its
    keyword ``settings`` through, and :func:`simulator.api.simulate` checks a caller's names against it."""
    check_batch(batch)
    variable = build = None
    if params is not None and not isinstance(params, Mapping):
        raise SimulatorError(f"network parameters must be a mapping of name to value, got "
                             f"{type(params).__name__} {params!r}")
    if seq_lengths is not None or padding is not None or {"seq_lengths", "padding"} & set(params or {}):
        from simulator.model.lengths import variable_batch

        variable = variable_batch(batch, params, seq_lengths, padding)
        build = _sequence_builder(network, variable.network_params, resolution)
        params = variable.params
    ideal, fuse, micro_batching = (check_flag(value, name) for value, name in (
        (ideal, "ideal"), (fuse, "fuse"), (micro_batching, "micro_batching")))
    precision, weight_precision, activation_precision = (
        None if value is None else normalize(value, name) for value, name in (
            (precision, "precision"), (weight_precision, "weight_precision"),
            (activation_precision, "activation_precision")))
    network = resolve_network(network, resolution, batch, variable.network_params if variable else params)
    device = resolve_device(device)
    precision = precision or device.default_precision
    weight_precision = weight_precision or precision
    activation_precision = activation_precision or precision
    compute = compute_precision(weight_precision, activation_precision)
    weight_bits = np.array([bits_of(weight_precision)], float)
    activation_bits = np.array([bits_of(activation_precision)], float)
    device.peak_for(compute)
    parsed = parse_overrides(overrides)
    for override in parsed:
        if len(override.values) != 1:
            raise SimulatorError(f"simulate takes one value per override, got {override.key!r}: "
                                 f"{list(override.values)} (sweep takes several)")
    si = override_arrays(device, parsed, [compute], [np.array(o.values) for o in parsed])
    return ResolvedConfig(
        network, device, batch, compute, weight_precision, activation_precision, weight_bits,
        activation_bits, si, {o.key: o.values[0] for o in parsed}, fuse, ideal, micro_batching,
        attention or device.attention, resolution, dict(params or {}), variable, build)


def _sequence_builder(network: object, params: Mapping[str, object],
                      resolution: Resolution | None) -> Callable[[int], Network]:
    """``L -> Network``: the built-in ``network`` with ``seq_len=L`` and its other ``params``; a
    network without a ``seq_len`` parameter is refused, naming those that have one."""
    from simulator.catalog import network_parameters
    from simulator.model.registry import NETWORKS

    if (not isinstance(network, str) or network not in NETWORKS
            or "seq_len" not in network_parameters(network)):
        takes = sorted(name for name in NETWORKS if "seq_len" in network_parameters(name))
        raise SimulatorError(f"sequence lengths apply to built-in networks with a seq_len parameter "
                             f"({', '.join(takes)}), got {network!r}")
    return lambda length: resolve_network(network, resolution, 1, {**params, "seq_len": length})
