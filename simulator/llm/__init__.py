"""LLM inference on the roofline engine: what this subpackage owns.

* :mod:`~simulator.llm.config`: architectures from Hugging Face ``config.json`` files and the built-in
  configs (``llama_2_7b`` ... ``gpt2``): the fields and their ranges (``LIMITS``) in
  :mod:`~simulator.llm.architecture`, each family's reader in :mod:`~simulator.llm.families`;
* :mod:`~simulator.llm.arguments`: the ranges of a run's arguments (batch, prompt + generate within the
  model's positions, tp, pp at most the layers), checked where they enter;
* :mod:`~simulator.llm.precision`: weight, activation and KV-cache precisions, and the arithmetic's;
* :mod:`~simulator.llm.network`: one forward pass as a network of layer kinds, per tensor-parallel device;
* :mod:`~simulator.llm.phases`: prefill and decode evaluated and the generation summed in closed form; a
  pass's workload and its slopes in :mod:`~simulator.llm.workload`, repeated layers grouped in
  :mod:`~simulator.llm.groups`;
* :mod:`~simulator.llm.parallel`: tensor and pipeline parallelism (links, all-reduces, what is not modelled);
* :mod:`~simulator.llm.memory`: weights + KV cache + activations against device memory, largest batch;
* :mod:`~simulator.llm.inference`: :func:`simulate_llm` and its metrics (TTFT, TPOT, tokens/s, energy);
* :mod:`~simulator.llm.sweep`: :func:`sweep_llm`, vectorized over batch × prompt × generate × precision ×
  tp × device;
* :mod:`~simulator.llm.validation`: predictions for the rows of ``hardware_profiles/measurements/llm.csv``.
"""

from simulator.llm.config import LLMConfig, available_llms, is_llm, load_config
from simulator.llm.inference import LLMResult, simulate_llm
from simulator.llm.memory import LLMMemoryError
from simulator.llm.sweep import sweep_llm

__all__ = [
    "LLMConfig",
    "LLMMemoryError",
    "LLMResult",
    "available_llms",
    "is_llm",
    "load_config",
    "simulate_llm",
    "sweep_llm",
]
