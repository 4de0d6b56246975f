"""The report's LLM views: TTFT, TPOT and tokens/s against batch and context, and the KV cache against
the device's memory, for each LLM of a report (:mod:`simulator.report_html`).

Every number is :func:`simulator.llm.simulate_llm`'s (``roofline llm``'s): per device, weight
precision and context (prompt tokens ``P``) one call over the report's batch sizes, generating
``generate`` tokens per sequence. ``ttft_s`` is the prefill, ``tpot_s`` the mean decode step,
``output_tokens_per_s = B·G / e2e``, the memory is ``weights + KV cache + activations`` against
``capacity_bytes`` (:mod:`simulator.llm.memory`). A context with ``P + G − 1`` above the model's
positions is left out for that model (listed in ``skipped``), as is a precision the LLM rules
(:mod:`simulator.llm.precision`) or the device do not have.

The report's other views show one decode step of the LLM (:func:`simulator.llm.as_network.simulate_phase`,
``roofline simulate``'s pass) over 2,048 cached tokens (its default) when that is one of the contexts,
else over the first.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.errors import SimulatorError

#: prompt lengths [tokens] of the LLM views when the report names none
DEFAULT_CONTEXTS = (256, 512, 1024, 2048, 4096, 8192)
#: output tokens per sequence when the report names none (``roofline llm``'s default)
DEFAULT_GENERATE = 128
#: the metrics of :func:`simulator.llm.simulate_llm` the page shows, per batch size
LLM_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "total_tokens_per_s",
               "energy_per_token_j", "weight_bytes", "kv_cache_bytes", "activation_bytes", "memory_bytes",
               "capacity_bytes", "fits", "max_batch", "prefill_bound", "decode_bound", "decode_dominant")


def is_llm_name(name: object) -> bool:
    """Whether a report's network is an LLM (a built-in LLM, a config.json or a model folder)."""
    from simulator.api import _is_llm_name  # one definition of what names an LLM

    return _is_llm_name(name)


def llm_contexts(name: str, contexts: Sequence[int], generate: int) -> tuple[list[int], list[str]]:
    """The contexts ``P`` of ``contexts`` with ``P + generate − 1 <= max_positions`` for the LLM
    ``name``, and a note for each one left out."""
    from simulator.llm.config import load_config

    positions = load_config(name).max_positions
    kept = [c for c in contexts if c + generate - 1 <= positions]
    notes = [f"{name} context {c} (+ {generate} generated > {positions:,} positions)"
             for c in contexts if c not in kept]
    return kept, notes


def pass_context(contexts: Sequence[int]) -> int:
    """The context of the decode step the report's other views show: ``roofline simulate``'s default
    (2,048 tokens) when it is among ``contexts``, else the first."""
    from simulator.llm.as_network import DEFAULT_TOKENS

    return DEFAULT_TOKENS if DEFAULT_TOKENS in contexts else contexts[0]


def decode_step(name: str, device, batch: int, precision: str, context: int):
    """One decode step of ``name`` over ``context`` cached tokens at ``batch`` sequences, weights at
    ``precision`` (activations by the LLM rules): ``roofline simulate NAME --weight-precision P
    --context C``'s result."""
    from simulator.llm.as_network import simulate_phase

    return simulate_phase(name, device, batch, phase="decode", context=context, weight_precision=precision)


def decode_network(name: str, context: int):
    """The network of that decode step (for its activations alive per layer)."""
    from simulator.llm.as_network import llm_network

    return llm_network(name, "decode", None, context)[0]


def llm_views(name: str, devices: Sequence, pairs: Sequence[tuple[int, str]], batches: Sequence[int],
              contexts: Sequence[int], generate: int) -> dict:
    """The LLM views of ``name``: for each (device index, weight precision) of ``pairs`` and each
    context, :data:`LLM_METRICS` over ``batches`` (lists aligned with them)."""
    from simulator.llm import simulate_llm

    runs = []
    for d, precision in pairs:
        for context in contexts:
            result = simulate_llm(name, devices[d], list(batches), context, generate,
                                  weight_precision=precision)
            rows = result.rows()
            runs.append({"device": d, "precision": precision, "prompt": context,
                         "activation_precision": result.activation_precision,
                         "kv_precision": result.kv_precision, "compute_precision": result.compute_precision,
                         **{key: [row[key] for row in rows] for key in LLM_METRICS}})
    return {"contexts": list(contexts), "generate": generate, "runs": runs}


def check_llm_arguments(contexts: Sequence[int] | None, generate: int | None) -> tuple[list[int], int]:
    """The contexts (default :data:`DEFAULT_CONTEXTS`) and output tokens (default
    :data:`DEFAULT_GENERATE`), each an integer of at least 1; else one line naming the value."""
    contexts = list(DEFAULT_CONTEXTS if contexts is None else contexts)
    generate = DEFAULT_GENERATE if generate is None else generate
    for value, what in [*((c, "context") for c in contexts), (generate, "generate")]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SimulatorError(f"{what} must be an integer of at least 1 (tokens), got {value!r}")
    if not contexts:
        raise SimulatorError("an LLM report needs at least one context (prompt tokens)")
    return sorted(set(contexts)), generate
