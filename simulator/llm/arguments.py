"""The arguments of an LLM run, checked where they enter (:func:`~simulator.llm.inference.simulate_llm`,
:func:`~simulator.llm.sweep.sweep_llm`): each bad value is one :class:`SimulatorError` naming the value
and what was expected.

Ranges:

* ``batch``: an integer, or a non-empty list of them, from 1 to :data:`MAX_BATCH`;
* ``prompt`` and ``generate``: integers of at least 1 with ``prompt + generate − 1`` at most the
  model's ``max_positions`` (:func:`check_context`);
* ``tp``: an integer of at least 1 that divides the attention heads and the intermediate size (and
  splits or replicates the KV heads evenly: :func:`simulator.llm.network.shard`);
* ``pp``: an integer from 1 to the number of layers (each stage holds at least one layer);
* ``ideal``, ``check_memory``: ``True`` or ``False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.errors import SimulatorError
from simulator.llm.config import LLMConfig, check_int

#: the largest batch accepted: far beyond what any device holds (it bounds the numbers, not the work)
MAX_BATCH = 10**12


def positive_int(value: Any, what: str, high: int | None = None) -> int:
    """``value`` as an int when it is an integer from 1 to ``high`` (no bool, float or string)."""
    return check_int(value, what, 1, high)


def check_batches(batch: Any) -> np.ndarray:
    """The batch sizes as a float array of integers: one integer or a non-empty list of them."""
    values = [batch] if isinstance(batch, int | np.integer) or not isinstance(batch, Sequence | np.ndarray) \
        else list(batch)
    if isinstance(batch, str) or not values:
        raise SimulatorError(f"batch must be an integer from 1 to {MAX_BATCH:,} or a non-empty list of "
                             f"them, got {batch!r}")
    return np.array([positive_int(b, "batch", MAX_BATCH) for b in values], dtype=float)


def check_context(cfg: LLMConfig, prompt: Any, generate: Any) -> tuple[int, int]:
    """``(prompt, generate)`` when ``prompt + generate − 1 <= max_positions``: the prompt fills
    positions ``0 … P−1`` and the decode step that yields output token ``j >= 2`` runs at position
    ``P + j − 2``, so ``G`` output tokens occupy ``P + G − 1`` positions (the last one is returned,
    never fed back). vLLM's ``max_model_len`` check counts ``P + G`` instead (one position of
    slack)."""
    prompt = positive_int(prompt, "prompt")
    generate = positive_int(generate, "generate")
    if prompt + generate - 1 > cfg.max_positions:
        raise SimulatorError(
            f"{cfg.name}: prompt {prompt:,} + generate {generate:,} needs {prompt + generate - 1:,} "
            f"positions (the last output token is never fed back); the model has {cfg.max_positions:,} "
            f"({cfg.key('max_positions')}): use prompt + generate <= {cfg.max_positions + 1:,}"
        )
    return prompt, generate


def check_parallelism(cfg: LLMConfig, tp: Any, pp: Any) -> tuple[int, int]:
    """``(tp, pp)``: tp an integer of at least 1 (its divisibility is the network's to check), pp
    from 1 to the number of layers."""
    tp = positive_int(tp, "tp (tensor-parallel devices)")
    pp = positive_int(pp, "pp (pipeline stages)")
    if pp > cfg.num_layers:
        raise SimulatorError(f"{cfg.name}: pp {pp:,} pipeline stages exceed its {cfg.num_layers} layers "
                             f"(each stage holds at least one layer): use pp from 1 to {cfg.num_layers}")
    return tp, pp


def check_flag(value: Any, what: str) -> bool:
    """``value`` when it is ``True`` or ``False`` (the string ``"false"`` is neither)."""
    if not isinstance(value, bool | np.bool_):
        raise SimulatorError(f"{what} must be True or False, got {value!r}")
    return bool(value)
