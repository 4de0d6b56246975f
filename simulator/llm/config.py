"""Decoder-only LLM architectures from a Hugging Face ``config.json`` (plain JSON, no weights, no
``transformers``), and the built-in configs shipped in ``simulator/llm/configs/``.

Families (``model_type``): ``llama``, ``mistral``, ``qwen2`` (RMSNorm, RoPE, grouped-query attention,
SwiGLU MLP; Qwen2 has q/k/v biases), ``mixtral`` (the same with a top-k mixture-of-experts MLP),
``phi3`` (a Llama with fused qkv and gate_up projections: the same parameters), ``gemma`` and
``gemma2`` (head_dim given, tied LM head, GeGLU; Gemma-2: four norms per layer, sliding window on even
layers), ``gemma3_text`` (Gemma-2's layout with q/k norms, five local layers per global one), ``qwen3``
(a Llama with q/k norms), ``qwen2_moe`` (Qwen2 with routed experts and a gated shared expert), ``deepseek_v2``
(multi-head latent attention caching a ``kv_lora_rank + qk_rope_head_dim``
latent, routed + shared experts, dense first layers), ``deepseek_v3`` (V2's layout with a sigmoid
router and its per-expert score-correction bias; the MTP module is not built), ``falcon`` (LayerNorm,
multi-query or grouped KV heads, attention and MLP side by side), ``gpt2`` (learned positions,
LayerNorm, GELU MLP, biases, tied LM head), ``opt`` (GPT-2's layout with ReLU) and ``gptj`` (GPT-2's
keys; Falcon-7B's parallel block without attention biases, rotary on ``rotary_dim`` dimensions, an
untied LM head with a bias). Sliding windows (:func:`simulator.llm.families._sliding_window`) cap the KV
cache and the keys attention reads. The architecture's fields and ranges: :mod:`simulator.llm.architecture`;
the reading of a config.json: :mod:`simulator.llm.families`; this module finds and loads one.

A model is named by a built-in name, a ``config.json`` path, a model folder (``DIR/config.json``) or a
hub id found in the local Hugging Face cache (:func:`hub_config`; nothing is ever downloaded).

Built-in configs added for issue 20, each the ``config.json`` of its Hugging Face repository:

=================  ======================================  =========================================
file               source (huggingface.co/...)             published parameters (model card)
=================  ======================================  =========================================
phi_3_mini_4k      microsoft/Phi-3-mini-4k-instruct        3.8B (3,821,079,552: keras-hub's preset)
qwen2_5_7b         Qwen/Qwen2.5-7B-Instruct                7.61B, 6.53B non-embedding
gemma_2_9b         google/gemma-2-9b                       9,241,705,984 (safetensors total)
deepseek_v2_lite   deepseek-ai/DeepSeek-V2-Lite            15.7B total, 2.4B activated per token
deepseek_v3        deepseek-ai/DeepSeek-V3                 671B main model + 14B MTP module = 685B
qwen1_5_moe_a2_7b  Qwen/Qwen1.5-MoE-A2.7B                  14.3B total, 2.7B activated
qwen3_8b           Qwen/Qwen3-8B                           8.2B
gemma_3_1b         google/gemma-3-1b-pt                    999,885,952 ("1B")
gemma_7b           google/gemma-7b                         8.54B
llama_3_2_1b       meta-llama/Llama-3.2-1B                 1.23B (tied LM head)
opt_125m           facebook/opt-125m                       125M (125,239,296)
falcon_7b          tiiuae/falcon-7b                        7B (6,921,720,704)
llama_3_1_8b       meta-llama/Llama-3.1-8B                 8.03B (8,030,261,248)
llama_3_1_70b      meta-llama/Llama-3.1-70B                70.6B (70,553,706,496)
llama_3_1_405b     meta-llama/Llama-3.1-405B               406B (405,853,388,800)
gpt_j_6b           EleutherAI/gpt-j-6b                     6,053,381,344 (see below: HF 6,050,882,784)
=================  ======================================  =========================================

Llama-3.1 (``rope_scaling`` ``rope_type`` llama3, factor 8 over ``original_max_position_embeddings``
8,192) holds ``max_position_embeddings`` = 131,072 positions: that is its context limit here. GPT-J's
model card counts mesh-transformer-jax's checkpoint, whose 8 model-parallel shards each hold a copy
of the replicated parameters: ``ln_1`` and ``fc_out``'s bias in each of the 28 layers, ``ln_f``, and
the input embedding's bias (a one-hot ``hk.Linear``, absent from Hugging Face's ``wte``):
``6,050,882,784 + 7·(28·(2·4096 + 4096) + 2·4096) + 8·4096 = 6,053,381,344``; transformers'
``GPTJForCausalLM`` holds 6,050,882,784 parameters, the count here.

Built-in configs: copies of the published HF configs, checked by parameter count (research/llm:
``mlc-ai/llm-perf-bench/model_configs/Llama-2-{7b,13b,70b}-chat-hf.json@d401356f``, vidur
``vidur/config/model_config.py@7d475133``, transformers' ``MistralConfig``/``MixtralConfig``/``GPT2Config``
defaults).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
import re
from pathlib import Path

from simulator.errors import SimulatorError, UnknownNameError
from simulator.llm.architecture import (
    FAMILIES,
    GPT_FAMILY,
    KEYS,
    LIMITS,
    LLAMA_FAMILY,
    POST_NORM_FAMILIES,
    QK_NORM_FAMILIES,
    WINDOWED_FAMILIES,
    LLMConfig,
    check_bool,
    check_int,
    keys_of,
)
from simulator.llm.families import closest_family, parse_config

#: the names other modules import from here: the architecture (:mod:`simulator.llm.architecture`), the
#: reader of config.json files (:mod:`simulator.llm.families`) and the finding of them (this module)
__all__ = [
    "FAMILIES", "GPT_FAMILY", "HUB_ID", "KEYS", "LIMITS", "LLAMA_FAMILY", "POST_NORM_FAMILIES",
    "QK_NORM_FAMILIES", "WINDOWED_FAMILIES", "LLMConfig", "available_llms", "check_bool", "check_int",
    "closest_family", "hub_cache_dir", "hub_config", "is_llm", "keys_of", "load_config", "parse_config",
]


def available_llms() -> dict[str, Path]:
    """Built-in configs by name (the file name without ``.json``)."""
    root = importlib.resources.files("simulator.llm") / "configs"
    return {
        Path(str(e)).stem: Path(str(e)) for e in sorted(root.iterdir(), key=str) if str(e).endswith(".json")
    }


def is_llm(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a built-in LLM, a ``config.json``, a model folder holding one,
    or a hub id (``org/name``) whose config is in the local Hugging Face cache."""
    text = str(name_or_path)
    if text in available_llms() or (text.endswith(".json") and Path(text).is_file()):
        return True
    if Path(text).is_dir():
        return (Path(text) / "config.json").is_file()
    return bool(HUB_ID.match(text)) and not Path(text).exists() and hub_config(text) is not None


#: a Hugging Face hub id: ``org/name`` (letters, digits, ``-``, ``_``, ``.``; no leading dot)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def hub_cache_dir() -> Path:
    """The local hub cache as ``huggingface_hub`` finds it: ``$HF_HUB_CACHE``, else
    ``$HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
    ``~/.cache/huggingface/hub``."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "huggingface" / "hub"


def hub_config(hub_id: str) -> Path | None:
    """``models--ORG--NAME/snapshots/<rev>/config.json`` in the local hub cache: the revision
    ``refs/main`` points to, else the most recently written snapshot holding one; None when absent.
    Reads the disk only (nothing is downloaded)."""
    repo = hub_cache_dir() / ("models--" + hub_id.replace("/", "--"))
    try:
        main = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        main = ""
    if main and (repo / "snapshots" / main / "config.json").is_file():
        return repo / "snapshots" / main / "config.json"
    found = [p for p in (repo / "snapshots").glob("*/config.json") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


@functools.cache
def _load(path: str, name: str) -> LLMConfig:
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:  # ValueError: not UTF-8, not JSON
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SimulatorError(f"{path}: cannot read config.json (a UTF-8 JSON object): {reason}") from None
    if not isinstance(cfg, dict):
        raise SimulatorError(f"{path}: config.json must hold an object")
    return parse_config(cfg, name)


def load_config(name_or_path: str | Path | LLMConfig) -> LLMConfig:
    """A built-in config by name (``"llama_3_8b"``), a ``config.json`` by path, a model folder
    (``./Phi-3-mini-4k-instruct``: reads ``DIR/config.json``) or a hub id (``meta-llama/Llama-3.1-8B``)
    found in the local Hugging Face cache (:func:`hub_config`; never downloaded)."""
    if isinstance(name_or_path, LLMConfig):
        return name_or_path
    text = str(name_or_path)
    builtin = available_llms()
    if text in builtin:
        return _load(str(builtin[text]), text)
    path = Path(text)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SimulatorError(f"{text}: a model folder must hold a config.json (Hugging Face format); "
                                 f"none there")
        return _load(str(path / "config.json"), path.resolve().name)
    if HUB_ID.match(text) and not path.exists() and not text.endswith(".json"):
        found = hub_config(text)
        if found is None:
            raise SimulatorError(
                f"{text}: not in the local Hugging Face cache ({hub_cache_dir()}; HF_HUB_CACHE or HF_HOME "
                f"move it) and no model folder of that name here; nothing is downloaded: run "
                f"`huggingface-cli download {text} config.json` or give a config.json path, a model "
                f"folder or a built-in LLM ({', '.join(builtin)})"
            )
        return _load(str(found), text)
    if text.endswith(".json") or "/" in text:
        return _load(str(path), path.parent.name if path.name == "config.json" else path.stem)
    raise UnknownNameError("LLM", text, builtin)
