"""Decoder-only LLM architectures from a Hugging Face ``config.json`` (plain JSON, no weights, no
``transformers``), and the built-in configs shipped in ``simulator/llm/configs/``.

Families (``model_type``): ``llama``, ``mistral``, ``qwen2`` (RMSNorm, RoPE, grouped-query attention,
SwiGLU MLP; Qwen2 has q/k/v biases), ``mixtral`` (the same with a top-k mixture-of-experts MLP) and
``gpt2`` (learned positions, LayerNorm, GELU MLP, biases, tied LM head).

Built-in configs: copies of the published HF configs, checked by parameter count (research/llm:
``mlc-ai/llm-perf-bench/model_configs/Llama-2-{7b,13b,70b}-chat-hf.json@d401356f``, vidur
``vidur/config/model_config.py@7d475133``, transformers' ``MistralConfig``/``MixtralConfig``/``GPT2Config``
defaults).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import SimulatorError, UnknownNameError

LLAMA_FAMILY = ("llama", "mistral", "qwen2", "mixtral")
FAMILIES = (*LLAMA_FAMILY, "gpt2")


@dataclass(frozen=True)
class LLMConfig:
    """The architecture fields that set shapes and counts (names follow the HF Llama config)."""

    name: str
    family: str  # model_type
    hidden_size: int  # d
    intermediate_size: int  # I (per expert for MoE)
    num_layers: int
    num_heads: int  # H
    num_kv_heads: int  # KV (GQA: KV < H; MQA: 1)
    head_dim: int  # hd
    vocab_size: int  # V
    max_positions: int
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # biases on q, k, v (and o for Llama's flag; Qwen2: q, k, v only)
    mlp_bias: bool = False
    num_experts: int = 0  # E (0: dense MLP)
    experts_per_token: int = 0  # k

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def kv_elements_per_token(self) -> int:
        """KV-cache elements per token: ``2 · layers · KV · hd`` (K and V of every layer)."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim


def _field(cfg: dict[str, Any], source: str, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    if default is None:
        raise SimulatorError(f"{source}: config.json has no {' or '.join(keys)}")
    return default


def parse_config(cfg: dict[str, Any], name: str) -> LLMConfig:
    """An :class:`LLMConfig` from a parsed HF config.json; an unsupported ``model_type`` is an error."""
    family = cfg.get("model_type")
    if family not in FAMILIES:
        raise SimulatorError(
            f"{name}: model_type {family!r} is not supported; supported: {', '.join(FAMILIES)}"
        )
    if family == "gpt2":
        d, heads = _field(cfg, name, "n_embd"), _field(cfg, name, "n_head")
        return LLMConfig(
            name=name,
            family=family,
            hidden_size=d,
            intermediate_size=_field(cfg, name, "n_inner", default=4 * d),
            num_layers=_field(cfg, name, "n_layer"),
            num_heads=heads,
            num_kv_heads=heads,
            head_dim=d // heads,
            vocab_size=_field(cfg, name, "vocab_size"),
            max_positions=_field(cfg, name, "n_positions"),
            tie_word_embeddings=True,
            attention_bias=True,
            mlp_bias=True,
        )
    d, heads = _field(cfg, name, "hidden_size"), _field(cfg, name, "num_attention_heads")
    return LLMConfig(
        name=name,
        family=family,
        hidden_size=d,
        intermediate_size=_field(cfg, name, "intermediate_size"),
        num_layers=_field(cfg, name, "num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=_field(cfg, name, "num_key_value_heads", default=heads),
        head_dim=_field(cfg, name, "head_dim", default=d // heads),
        vocab_size=_field(cfg, name, "vocab_size"),
        max_positions=_field(cfg, name, "max_position_embeddings", default=4096),
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        attention_bias=bool(cfg.get("attention_bias", family == "qwen2")),
        mlp_bias=bool(cfg.get("mlp_bias", False)),
        num_experts=int(cfg.get("num_local_experts") or 0),
        experts_per_token=int(cfg.get("num_experts_per_tok") or 0) if cfg.get("num_local_experts") else 0,
    )


def available_llms() -> dict[str, Path]:
    """Built-in configs by name (the file name without ``.json``)."""
    root = importlib.resources.files("simulator.llm") / "configs"
    return {
        Path(str(e)).stem: Path(str(e)) for e in sorted(root.iterdir(), key=str) if str(e).endswith(".json")
    }


def is_llm(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a built-in LLM or is a path to a ``config.json``."""
    text = str(name_or_path)
    return text in available_llms() or (text.endswith(".json") and Path(text).is_file())


@functools.cache
def _load(path: str, name: str) -> LLMConfig:
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SimulatorError(f"{path}: cannot read config.json: {err}") from None
    if not isinstance(cfg, dict):
        raise SimulatorError(f"{path}: config.json must hold an object")
    return parse_config(cfg, name)


def load_config(name_or_path: str | Path | LLMConfig) -> LLMConfig:
    """A built-in config by name (``"llama_3_8b"``) or a ``config.json`` by path."""
    if isinstance(name_or_path, LLMConfig):
        return name_or_path
    text = str(name_or_path)
    builtin = available_llms()
    if text in builtin:
        return _load(str(builtin[text]), text)
    if text.endswith(".json") or "/" in text:
        path = Path(text)
        return _load(str(path), path.parent.name if path.name == "config.json" else path.stem)
    raise UnknownNameError("LLM", text, builtin)
