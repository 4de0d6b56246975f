"""Entry points of the public API that are more than a re-export (see :mod:`simulator`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.catalog import Resolution, is_network_path, resolve_network
from simulator.errors import SimulatorError
from simulator.model.counts import NetworkCounts, count_network
from simulator.model.fusion import simulated_graph
from simulator.model.graph import Network
from simulator.model.registry import NETWORKS

if TYPE_CHECKING:  # the engine is loaded by a simulation only: `roofline count` stays light
    from simulator.hardware.device import Device
    from simulator.results import SimulationResult

#: the parameters of an LLM's forward pass (:func:`simulator.llm.as_network.llm_network`)
LLM_PARAMS = ("phase", "seq_len", "context")


def _is_llm_name(network: object) -> bool:
    """Whether ``network`` names an LLM (a built-in LLM or a config.json); a built-in network's name or
    an .onnx path is answered without loading :mod:`simulator.llm` (``roofline count`` stays light)."""
    if not isinstance(network, str | Path) or is_network_path(network) or str(network) in NETWORKS:
        return False
    from simulator.llm.config import is_llm

    return is_llm(network)


def count(network: Network | str | Path, batch: int = 1, resolution: Resolution | None = None,
          fused: bool = False, params: Mapping[str, object] | None = None) -> NetworkCounts:
    """Hardware-independent counts of ``network`` (a Network, built-in name or .onnx path; a name
    at ``resolution`` and with the keyword ``params`` of its function) at ``batch``; ``fused``
    counts the inference view (BatchNorm and activations folded). An LLM (a name of
    :func:`llm_names` or a config.json) counts one forward pass, with ``params`` among
    :data:`LLM_PARAMS` (``{"phase": "prefill", "seq_len": 512}``; default one decode step over 2,048
    cached tokens); its parameters are the whole model's."""
    if _is_llm_name(network):
        network, params = _llm_pass(network, resolution, params), None
    return count_network(simulated_graph(resolve_network(network, resolution, batch, params), fused), batch)


def _llm_pass(network: str | Path, resolution: Resolution | None,
              params: Mapping[str, object] | None) -> Network:
    """The network of one pass of the LLM ``network`` with ``params`` among :data:`LLM_PARAMS`; a
    resolution or another parameter is an error naming them."""
    from simulator.llm.as_network import llm_network

    params = dict(params or {})
    unknown = sorted(set(params) - set(LLM_PARAMS))
    if resolution is not None or unknown:
        raise SimulatorError(f"LLM {str(network)!r} takes the parameters {', '.join(LLM_PARAMS)}, got "
                             f"{'resolution' if resolution is not None else unknown[0]!r}")
    return llm_network(network, **params)[0]


#: the settings of :func:`simulator.simulation.simulate` that one pass of an LLM takes; the others must
#: keep their defaults (:func:`simulate`)
LLM_SETTINGS = ("precision", "weight_precision", "activation_precision", "ideal", "params")


def simulate(network: Network | str | Path, device: Device | str | Path, batch: int = 1,
             **settings: object) -> SimulationResult:
    """``network`` on ``device`` at ``batch``: :func:`simulator.simulation.simulate`, whose keyword
    arguments ``settings`` are and where they are documented (``precision``, ``weight_precision``,
    ``activation_precision``, ``fuse``, ``resolution``, ``ideal``, ``overrides``, ``params``,
    ``micro_batching``, ``attention``, ``seq_lengths``, ``padding``); another name is an error naming
    them. An LLM (a name of :func:`llm_names` or a config.json) simulates one forward pass, as
    :func:`count` counts it: ``params`` among :data:`LLM_PARAMS` (``{"phase": "decode", "context":
    1024}``; default one decode step over 2,048 cached tokens), the LLM's precision rules
    (:func:`simulator.llm.as_network.simulate_phase`), so a decode step at context ``c`` equals
    :func:`simulator.simulate_llm`'s time per output token at prompt ``c``; the settings other than
    :data:`LLM_SETTINGS` do not apply to it (an error naming them unless they keep their defaults)."""
    import inspect

    from simulator.configuration import resolve_config
    from simulator.simulation import simulate as simulate_network

    # the settings' names and defaults, defined once: the signature of the stage that resolves them
    parameters = inspect.signature(resolve_config).parameters.items()
    defaults = {name: p.default for name, p in parameters if name not in ("network", "device", "batch")}
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise SimulatorError(f"simulate takes the settings {', '.join(defaults)}, got {unknown[0]!r}")
    if not _is_llm_name(network):
        return simulate_network(network, device, batch, **settings)
    from simulator.llm.as_network import simulate_phase

    given = [name for name, value in settings.items()
             if name not in LLM_SETTINGS and not _kept_default(value, defaults[name])]
    if given:
        raise SimulatorError(f"{', '.join(given)} do not apply to the LLM {str(network)!r} (one forward "
                             f"pass: params {', '.join(LLM_PARAMS)})")
    params = settings.pop("params", None) or {}
    unknown = sorted(set(params) - set(LLM_PARAMS))
    if unknown:
        raise SimulatorError(f"LLM {str(network)!r} takes the parameters {', '.join(LLM_PARAMS)}, got "
                             f"{unknown[0]!r}")
    return simulate_phase(network, device, batch, **{name: settings[name] for name in LLM_SETTINGS[:4]
                                                     if name in settings}, **dict(params))


def _kept_default(value: object, default: object) -> bool:
    """Whether a setting ``value`` leaves ``default`` as it is (None, or an empty mapping or list, for a
    default of None)."""
    if default is None:
        return value is None or (isinstance(value, Mapping | list | tuple | str) and not value)
    return value is default or (isinstance(value, bool) and value == default)


def device_names() -> list[str]:
    """Names of the shipped device profiles."""
    from simulator.hardware.loader import available_devices  # profiles (pydantic) only when asked for

    return sorted(available_devices())


def runtime_names() -> list[str]:
    """Names of the shipped runtimes (``DEVICE@RUNTIME``, ``roofline list runtimes``)."""
    from simulator.hardware.loader import available_runtimes

    return sorted(available_runtimes())


def llm_names() -> list[str]:
    """Names of the built-in LLM configurations (``roofline list llms``)."""
    from simulator.llm.config import available_llms

    return sorted(available_llms())


def export_onnx(network: Network | str | Path, path: str | Path, batch: int | None = 1,
                resolution: Resolution | None = None, params: Mapping[str, object] | None = None,
                **options: object) -> Path:
    """Write ``network`` (a Network or a built-in name, at ``resolution`` and with ``params``) as a
    runnable ONNX model with random weights to ``path`` (``batch=None``: a symbolic batch), as
    ``roofline export`` does; ``options`` as for :func:`simulator.onnx.writer.export_onnx` (``opset``,
    ``seed``, ``weights``). An LLM (a name of :func:`llm_names` or a config.json) writes one forward
    pass, ``params`` among :data:`LLM_PARAMS` as for :func:`count`. Needs the optional ``onnx`` package."""
    try:
        from simulator.onnx.writer import export_onnx as write
    except ImportError as error:
        raise SimulatorError(f"exporting ONNX needs the optional onnx package ({error}); "
                             "pip install \"roofline-simulator[onnx]\"") from None
    if _is_llm_name(network):
        network, params = _llm_pass(network, resolution, params), None
    return write(resolve_network(network, resolution, batch or 1, params), path, batch, **options)
