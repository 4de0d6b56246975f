"""Networks side by side on one device, as the lecture compares EfficientViT with SegFormer.

:func:`compare` simulates each network at one configuration (device, batch, precision, attention,
ideal or expected model) and returns a :class:`Comparison`: the results, and derived from them
per network the latency, throughput, energy, MACs, params, model size, peak activations and fit
(:meth:`Comparison.frame`), the latency split by layer kind (:meth:`Comparison.kind_latency_s`,
:meth:`Comparison.kinds_frame`) and the speed-up relative to the first network,
``speedup_i = latency_0 / latency_i`` (above 1: faster than the first; its inverse
``relative_latency_i = latency_i / latency_0`` is how many times slower). The CLI (``roofline
compare``) and the chart (:func:`simulator.plots.compare_chart`) both read a Comparison, so
neither recomputes anything.

:func:`compare_devices` is the other axis: one network on several devices, the first device the
reference (``speedup_i = latency on device 0 / latency on device i``). A Comparison knows which
axis it spans (:attr:`Comparison.axis`) and labels its entries by it (:attr:`Comparison.labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulator.catalog import Resolution, resolve_network
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.model.graph import Network
from simulator.precision import bits_of, storage_bytes
from simulator.results import SimulationResult
from simulator.simulation import simulate
from simulator.units import format_seconds

#: columns of :meth:`Comparison.frame`, in order (SI units)
COLUMNS = ("network", "device", "input_shape", "batch", "precision", "attention", "ideal", "latency_s",
           "throughput_per_s", "energy_j", "energy_per_sample_j", "macs", "params", "model_size_bytes",
           "kv_cache_bytes", "peak_activations", "peak_activation_bytes", "fits", "bound", "speedup",
           "relative_latency")


def kind_latency_s(result: SimulationResult) -> dict[str, float]:
    """Latency of ``result``'s layers summed per layer kind [s], kinds in the order of their first layer.

    These are the layers' own latencies; their sum is the result's latency (the engine's total is
    the sum of its layers' times).
    """
    split: dict[str, float] = {}
    for layer in result.layers:
        split[layer.kind] = split.get(layer.kind, 0.0) + layer.latency_s
    return split


def _check_distinct(entries: Sequence[object], what: str) -> None:
    """Entries of a comparison are its columns: one given twice (``compare resnet18 resnet18``) is an
    error naming it, before anything is simulated where the names are known up front."""
    seen: set[str] = set()
    for entry in entries:
        name = entry.name if isinstance(entry, Network | Device) else str(entry)
        if name in seen:
            raise SimulatorError(f"{what} {name!r} is given twice; a comparison takes each {what} once "
                                 f"(got {len(entries)} {what}s)")
        seen.add(name)


@dataclass(frozen=True)
class Comparison:
    """Simulation results of several networks at one configuration; the first is the reference."""

    results: tuple[SimulationResult, ...]

    def __post_init__(self) -> None:
        if not self.results:
            raise SimulatorError("a comparison needs at least one network")
        _check_distinct(self.labels, self.axis)

    @property
    def reference(self) -> SimulationResult:
        return self.results[0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.network for r in self.results)

    @property
    def axis(self) -> str:
        """``"device"`` when one network runs on several devices (:func:`compare_devices`), else
        ``"network"``."""
        one_network = len({r.network for r in self.results}) == 1
        return "device" if one_network and len({r.device for r in self.results}) > 1 else "network"

    @property
    def labels(self) -> tuple[str, ...]:
        """What tells the entries apart: the device names across devices, else the network names."""
        return tuple(r.device for r in self.results) if self.axis == "device" else self.names

    @property
    def speedups(self) -> tuple[float, ...]:
        """``latency of the first network / latency of each``: 1 for the first, above 1 when faster."""
        return tuple(self.reference.latency_s / r.latency_s for r in self.results)

    @property
    def relative_latencies(self) -> tuple[float, ...]:
        """``latency of each / latency of the first``: how many times slower than the first."""
        return tuple(r.latency_s / self.reference.latency_s for r in self.results)

    def kind_latency_s(self) -> tuple[dict[str, float], ...]:
        """Each network's latency split by layer kind (:func:`kind_latency_s`)."""
        return tuple(kind_latency_s(r) for r in self.results)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every layer kind of any network, the largest total latency over the networks first."""
        totals: dict[str, float] = {}
        for split in self.kind_latency_s():
            for kind, seconds in split.items():
                totals[kind] = totals.get(kind, 0.0) + seconds
        return tuple(sorted(totals, key=lambda kind: -totals[kind]))

    def frame(self) -> pd.DataFrame:
        """One row per network with :data:`COLUMNS` (SI units; ``peak_activations`` in elements)."""
        rows = []
        for result, speedup, relative in zip(self.results, self.speedups, self.relative_latencies,
                                             strict=True):
            counts = result.counts
            rows.append({
                "network": result.network, "device": result.device,
                "input_shape": "×".join(map(str, counts.input_shape)), "batch": result.batch,
                "precision": result.precision, "attention": result.attention, "ideal": result.ideal,
                "latency_s": result.latency_s, "throughput_per_s": result.throughput_per_s,
                "energy_j": result.energy_j, "energy_per_sample_j": result.energy_per_sample_j,
                "macs": counts.macs, "params": counts.params, "model_size_bytes": result.model_size_bytes,
                "kv_cache_bytes": result.kv_cache_bytes,
                "peak_activations": counts.peak_activations,
                "peak_activation_bytes": int(storage_bytes(counts.peak_activations,
                                                           bits_of(result.activation_precision))),
                "fits": result.fits, "bound": result.bound, "speedup": speedup, "relative_latency": relative,
            })
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def __repr__(self) -> str:
        """One line: what is compared, and each entry's latency with its speed-up over the first."""
        first = self.reference
        where = f"of {first.network}" if self.axis == "device" else f"on {first.device}"
        entries = ", ".join(f"{label} {format_seconds(result.latency_s)} ({speedup:.3g}×)"
                            for label, result, speedup in zip(self.labels, self.results, self.speedups,
                                                              strict=True))
        return f"<Comparison of {len(self.results)} {self.axis}s {where}, batch {first.batch}: {entries}>"

    def _repr_html_(self) -> str:
        """The main columns of :meth:`frame` as an HTML table, for Jupyter."""
        columns = ["network", "device", "precision", "batch", "latency_s", "speedup", "throughput_per_s",
                   "energy_per_sample_j", "fits"]
        return self.frame()[columns].to_html(index=False)

    def kinds_frame(self) -> pd.DataFrame:
        """Latency [s] per layer kind (rows, :attr:`kinds` order) and entry (columns, :attr:`labels`:
        networks, or devices); 0 where an entry has no layer of that kind."""
        splits = self.kind_latency_s()
        return pd.DataFrame({name: [split.get(kind, 0.0) for kind in self.kinds]
                             for name, split in zip(self.labels, splits, strict=True)},
                            index=pd.Index(self.kinds, name="kind"))


def compare(networks: Sequence[Network | str | Path], device: Device | str | Path, batch: int = 1,
            precision: str | None = None, attention: str | None = None, ideal: bool = False,
            resolution: Resolution | None = None, params: Mapping[str, object] | None = None,
            fuse: bool = True, overrides: Mapping[str, float] | None = None) -> Comparison:
    """Simulate ``networks`` (Networks, built-in names or .onnx paths) on ``device`` at one
    configuration (see :func:`simulator.simulation.simulate` for ``precision``, ``attention``,
    ``ideal`` and ``fuse``) and compare them; the first network is the reference of the speed-ups.

    ``resolution`` and ``params`` build every named network at that size and with those keyword
    parameters (a network that does not take one is an error naming the ones it takes);
    ``overrides`` change the device's figures for every network (one value per key, as in
    :func:`~simulator.simulation.simulate`).
    """
    if isinstance(networks, str | Path | Network):
        networks = [networks]
    if not networks:
        raise SimulatorError("a comparison needs at least one network")
    _check_distinct(list(networks), "network")
    device = resolve_device(device)
    llms = [_is_llm_name(network) for network in networks]
    params = _network_params(params, any(llms))
    return Comparison(tuple(
        _simulate_llm(network, device, batch, precision, attention, ideal, resolution, params, fuse,
                      overrides) if llm else
        simulate(network, device, batch=batch, precision=precision, attention=attention, ideal=ideal,
                 resolution=resolution, params=_cnn_params(params), fuse=fuse, overrides=overrides)
        for network, llm in zip(networks, llms, strict=True)))


def compare_devices(network: Network | str | Path, devices: Sequence[Device | str | Path], batch: int = 1,
                    precision: str | None = None, attention: str | None = None, ideal: bool = False,
                    resolution: Resolution | None = None, params: Mapping[str, object] | None = None,
                    fuse: bool = True, overrides: Mapping[str, float] | None = None) -> Comparison:
    """Simulate one ``network`` on each of ``devices`` (Devices, shipped names or profile paths,
    ``DEVICE@RUNTIME`` included) at one configuration and compare them; the first device is the
    reference of the speed-ups (``latency on the first / latency on each``). Options as for
    :func:`compare`; ``precision=None`` runs each device at its own default precision, and
    ``overrides`` apply to every device.
    """
    if isinstance(devices, str | Path | Device):
        devices = [devices]
    if not devices:
        raise SimulatorError("a comparison across devices needs at least one device")
    _check_distinct(list(devices), "device")
    if _is_llm_name(network):
        params = _network_params(params, True)
        return Comparison(tuple(
            _simulate_llm(network, device, batch, precision, attention, ideal, resolution, params, fuse,
                          overrides) for device in devices))
    params = _network_params(params, False)
    if not isinstance(network, Network):  # built once, not once per device
        network = resolve_network(network, resolution, batch, params)
    return Comparison(tuple(
        simulate(network, resolve_device(device), batch=batch, precision=precision, attention=attention,
                 ideal=ideal, fuse=fuse, overrides=overrides)
        for device in devices))


def _is_llm_name(network: object) -> bool:
    """Whether ``network`` names an LLM (:func:`simulator.llm.as_network.is_llm_network`; the LLM
    package loads only when a name is neither a built-in network nor an .onnx path)."""
    from simulator.catalog import is_network_path
    from simulator.model.registry import NETWORKS

    if not isinstance(network, str | Path) or is_network_path(network) or str(network) in NETWORKS:
        return False
    from simulator.llm.as_network import is_llm_network

    return is_llm_network(network)


#: the parameters of an LLM's pass that no other network takes (``seq_len`` is BERT's too)
_LLM_ONLY = ("phase", "context")


def _network_params(params: Mapping[str, object] | None, any_llm: bool) -> dict[str, object]:
    """``params`` checked: a mapping; ``phase`` and ``context`` need an LLM among the entries."""
    if params is not None and not isinstance(params, Mapping):
        raise SimulatorError(f"network parameters must be a mapping of name to value (e.g. "
                             f"{{'num_classes': 150}}), got {params!r}")
    params = dict(params or {})
    given = [key for key in _LLM_ONLY if params.get(key) is not None]
    if given and not any_llm:
        verb = "apply" if len(given) > 1 else "applies"
        raise SimulatorError(f"{' and '.join(given)} {verb} to LLMs (`roofline list llms` or a config.json); "
                             f"no network compared is one")
    return params


def _cnn_params(params: Mapping[str, object]) -> dict[str, object]:
    """The parameters of a network that is no LLM: the LLM's ``phase`` and ``context`` left out."""
    return {key: value for key, value in params.items() if key not in _LLM_ONLY}


def _simulate_llm(model: str | Path, device: Device | str | Path, batch: int, precision: str | None,
                  attention: str | None, ideal: bool, resolution: Resolution | None,
                  params: Mapping[str, object], fuse: bool,
                  overrides: Mapping[str, float] | None) -> SimulationResult:
    """One pass of the LLM ``model`` (:func:`simulator.llm.as_network.simulate_phase`): ``params`` among
    ``phase``, ``seq_len`` (a prefill's prompt) and ``context``; ``precision`` sets weights and
    activations. Resolution, attention, eager graphs and overrides do not apply to it: each is refused
    in one line."""
    from simulator.llm.as_network import PASS_PARAMS as LLM_PARAMS
    from simulator.llm.as_network import simulate_phase

    unknown = sorted(set(params) - set(LLM_PARAMS))
    refused = [what for what, given in (("resolution", resolution is not None), ("attention", attention),
                                        ("fuse=False", not fuse), ("overrides", overrides),
                                        (f"parameter {unknown[0]!r}" if unknown else "", unknown)) if given]
    if refused:
        verb = "do" if len(refused) > 1 else "does"
        raise SimulatorError(f"{', '.join(refused)} {verb} not apply to the LLM {str(model)!r}, which takes "
                             f"{', '.join(LLM_PARAMS)} and a precision")
    return simulate_phase(model, device, batch, precision=precision, ideal=ideal,
                          **{key: params.get(key) for key in LLM_PARAMS})
