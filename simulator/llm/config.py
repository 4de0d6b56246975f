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
untied LM head with a bias). Sliding windows (:func:`_sliding_window`) cap the KV cache and the keys
attention reads.

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

import difflib
import functools
import importlib.resources
import json
import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import SimulatorError, UnknownNameError

LLAMA_FAMILY = ("llama", "mistral", "qwen2", "mixtral", "phi3", "gemma", "gemma2", "qwen2_moe", "deepseek_v2",
                "deepseek_v3", "qwen3", "gemma3_text", "falcon", "gptj")
#: families with learned positions, LayerNorm and biases (GPT-2, OPT)
GPT_FAMILY = ("gpt2", "opt")
#: families with an RMSNorm of head_dim on every query and key head (``q_norm``, ``k_norm``)
QK_NORM_FAMILIES = ("qwen3", "gemma3_text")
#: families with Gemma-2's four norms per layer (after attention and after the MLP as well)
POST_NORM_FAMILIES = ("gemma2", "gemma3_text")
FAMILIES = (*LLAMA_FAMILY, *GPT_FAMILY)
#: families whose config's ``sliding_window`` limits every layer's attention (transformers' classes);
#: Qwen2 only with ``use_sliding_window`` (layers from ``max_window_layers`` on), Gemma-2 on even layers
WINDOWED_FAMILIES = ("mistral", "mixtral", "phi3")

#: ``(low, high)`` of every integer field of :class:`LLMConfig`, inclusive. The upper bounds lie far
#: beyond every published model (the largest of each today: Llama-3.1-405B's 126 layers, 16,384
#: hidden, 53,248 intermediate and 128 heads; Gemma's 256 head dim and 256k vocabulary; 256 routed
#: experts in DeepSeek-V3; a 10M-token context in Llama 4 Scout) and bound the work of one run:
#: the engine's cost grows with the square of the layer count (1,000 layers take seconds).
LIMITS: dict[str, tuple[int, int]] = {
    "hidden_size": (1, 131_072),
    "intermediate_size": (1, 1_048_576),
    "num_layers": (1, 1_000),
    "num_heads": (1, 4_096),
    "num_kv_heads": (1, 4_096),
    "head_dim": (1, 4_096),
    "vocab_size": (1, 4_194_304),
    "max_positions": (1, 16_777_216),
    "num_experts": (0, 1_024),
    "experts_per_token": (0, 1_024),
    "sliding_window": (0, 16_777_216),
    "q_lora_rank": (0, 131_072),
    "kv_lora_rank": (0, 131_072),
    "qk_nope_head_dim": (0, 4_096),
    "qk_rope_head_dim": (0, 4_096),
    "v_head_dim": (0, 4_096),
    "moe_intermediate_size": (0, 1_048_576),
    "shared_intermediate_size": (0, 1_048_576),
}
#: the config.json key of each field, per family (GPT-2's own names; the Llama family's)
KEYS: dict[str, dict[str, str]] = {
    "gpt2": {"hidden_size": "n_embd", "intermediate_size": "n_inner", "num_layers": "n_layer",
             "num_heads": "n_head", "vocab_size": "vocab_size", "max_positions": "n_positions"},
    "llama": {"hidden_size": "hidden_size", "intermediate_size": "intermediate_size",
              "num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
              "num_kv_heads": "num_key_value_heads", "head_dim": "head_dim", "vocab_size": "vocab_size",
              "max_positions": "max_position_embeddings", "num_experts": "num_local_experts",
              "experts_per_token": "num_experts_per_tok", "sliding_window": "sliding_window",
              "q_lora_rank": "q_lora_rank", "kv_lora_rank": "kv_lora_rank",
              "qk_nope_head_dim": "qk_nope_head_dim", "qk_rope_head_dim": "qk_rope_head_dim",
              "v_head_dim": "v_head_dim", "moe_intermediate_size": "moe_intermediate_size",
              "shared_intermediate_size": "shared_expert_intermediate_size"},
}
#: ``max_position_embeddings`` when a config leaves it out: the transformers config class's default
#: (``LlamaConfig`` 2048, ``MistralConfig``/``MixtralConfig`` 4096·32, ``Qwen2Config`` 32768)
DEFAULT_MAX_POSITIONS = {"llama": 2048, "falcon": 2048, "opt": 2048, "mistral": 131_072, "qwen2": 32_768,
                         "mixtral": 131_072, "phi3": 4096,
                         "gemma": 8192, "gemma2": 8192, "deepseek_v2": 2048, "deepseek_v3": 4096,
                         "qwen3": 40_960,
                         "gemma3_text": 131_072}
#: tied LM head when a config leaves ``tie_word_embeddings`` out (``GemmaConfig``/``Gemma2Config``: true)
DEFAULT_TIED = {"gemma": True, "gemma2": True, "gemma3_text": True}
#: ``sliding_window`` when a config leaves it out (``Gemma2Config``: 4096; ``Qwen2Config``: 4096)
DEFAULT_WINDOW = {"gemma2": 4096, "qwen2": 4096, "qwen3": 4096, "gemma3_text": 4096}
#: Mixtral's expert counts when its config leaves them out (``MixtralConfig``'s defaults)
MIXTRAL_DEFAULTS = {"num_local_experts": 8, "num_experts_per_tok": 2}


KEYS["opt"] = {**KEYS["llama"], "intermediate_size": "ffn_dim"}
KEYS["falcon"] = {**KEYS["llama"], "num_kv_heads": "num_kv_heads"}
KEYS["gptj"] = KEYS["gpt2"]


def keys_of(family: str) -> dict[str, str]:
    """The config.json key of each field in ``family`` (GPT-2's, OPT's and Falcon's own names)."""
    return KEYS.get(family, KEYS["llama"])


def _shown(value: Any) -> str:
    """``repr(value)``, shortened to one readable line (a 400-digit integer, a long string)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} characters)"


def check_int(value: Any, what: str, low: int, high: int | None = None) -> int:
    """``value`` when it is an integer (not a bool, not a float such as ``4096.0``) in
    ``[low, high]`` (no upper bound when ``high`` is None); else a one-line :class:`SimulatorError`
    naming ``what``, the value and the range."""
    expected = f"an integer of at least {low:,}" if high is None else f"an integer from {low:,} to {high:,}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or \
            (high is not None and value > high):
        raise SimulatorError(f"{what} must be {expected}, got {_shown(value)}")
    return int(value)


def check_bool(value: Any, what: str) -> bool:
    """``value`` when it is ``true`` or ``false`` (JSON booleans; the string ``"false"`` is not)."""
    if not isinstance(value, bool):
        raise SimulatorError(f"{what} must be true or false, got {_shown(value)}")
    return value


@dataclass(frozen=True)
class LLMConfig:
    """The architecture fields that set shapes and counts (names follow the HF Llama config).

    Every integer field lies in its :data:`LIMITS` range; the fields are checked on construction
    (:meth:`check`), so a config built in Python is held to the same ranges as a config.json."""

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
    sliding_window: int = 0  # W: a windowed layer's query sees its last W positions (0: no window)
    sliding_layers: tuple[bool, ...] = ()  # which layers the window limits (empty: all of them)
    # DeepSeek-V2 multi-head latent attention (kv_lora_rank 0: standard attention)
    q_lora_rank: int = 0  # 0: q_proj d -> H·(dn+dr); else q_a_proj, q_a_layernorm, q_b_proj
    kv_lora_rank: int = 0  # r: the cached latent's width (plus dr)
    qk_nope_head_dim: int = 0  # dn
    qk_rope_head_dim: int = 0  # dr
    v_head_dim: int = 0  # dv
    # DeepSeek's and Qwen-MoE's experts: their own width, shared experts, dense layers among them
    moe_intermediate_size: int = 0  # one expert's width (0: intermediate_size, as Mixtral)
    shared_intermediate_size: int = 0  # the always-on shared experts as one gated MLP of this width
    shared_expert_gate: bool = False  # Qwen-MoE: sigmoid(Linear d -> 1) scales the shared output
    qk_norm: bool = False  # an RMSNorm of head_dim on every query and key head (Qwen3, Gemma-3)
    parallel_block: int = 0  # Falcon: attention and MLP side by side from 1 shared norm or 2 (0: in turn)
    embed_proj_dim: int = 0  # OPT's word_embed_proj_dim when it differs from d (project_in/out); 0: none
    final_norm: bool = True  # a norm before the LM head (OPT with do_layer_norm_before false: none)
    moe_layers: tuple[bool, ...] = ()  # which layers have the experts (empty: all, when is_moe)
    lm_head_bias: bool = False  # GPT-J: the LM head has a bias of V
    router_bias: bool = False  # DeepSeek-V3: the router's e_score_correction_bias (E per MoE layer)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Each field in its range, KV heads dividing the query heads, ``1 <= k <= E`` for MoE."""
        if self.family not in FAMILIES:
            raise SimulatorError(f"{self.name}: family {_shown(self.family)} is not supported; "
                                 f"supported: {', '.join(FAMILIES)}")
        for field, (low, high) in LIMITS.items():
            check_int(getattr(self, field), f"{self.name}: {field}", low, high)
        for field in ("tie_word_embeddings", "attention_bias", "mlp_bias"):
            check_bool(getattr(self, field), f"{self.name}: {field}")
        check_bool(self.shared_expert_gate, f"{self.name}: shared_expert_gate")
        check_bool(self.qk_norm, f"{self.name}: qk_norm")
        check_bool(self.final_norm, f"{self.name}: final_norm")
        check_bool(self.lm_head_bias, f"{self.name}: lm_head_bias")
        check_bool(self.router_bias, f"{self.name}: router_bias")
        check_int(self.parallel_block, f"{self.name}: parallel_block", 0, 2)
        check_int(self.embed_proj_dim, f"{self.name}: embed_proj_dim", 0, LIMITS["hidden_size"][1])
        for field in ("sliding_layers", "moe_layers"):
            flags = getattr(self, field)
            if not isinstance(flags, tuple) or any(not isinstance(flag, bool) for flag in flags) or \
                    len(flags) not in (0, self.num_layers):
                raise SimulatorError(f"{self.name}: {field} must be a tuple of {self.num_layers} booleans "
                                     f"(one per layer) or empty (every layer), got {_shown(flags)}")
        if self.num_heads % self.num_kv_heads:
            raise SimulatorError(f"{self.name}: {self.num_heads} attention heads are not a multiple of "
                                 f"{self.num_kv_heads} key-value heads (grouped-query attention needs "
                                 f"num_attention_heads divisible by num_key_value_heads)")
        if self.kv_lora_rank and not (self.qk_nope_head_dim and self.qk_rope_head_dim and self.v_head_dim):
            raise SimulatorError(f"{self.name}: multi-head latent attention (kv_lora_rank "
                                 f"{self.kv_lora_rank}) needs qk_nope_head_dim, qk_rope_head_dim and "
                                 f"v_head_dim of at least 1")
        if (self.num_experts == 0) != (self.experts_per_token == 0) or \
                self.experts_per_token > self.num_experts:
            raise SimulatorError(f"{self.name}: experts per token {self.experts_per_token} must be from 1 "
                                 f"to the {self.num_experts} experts (both 0: a dense MLP)")

    def key(self, field: str) -> str:
        """The config.json key of ``field`` in this family (``num_layers``: ``num_hidden_layers``)."""
        return keys_of(self.family).get(field, field)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (DeepSeek-V2): ``kv_lora_rank > 0``."""
        return self.kv_lora_rank > 0

    @property
    def expert_intermediate_size(self) -> int:
        """One routed expert's width: ``moe_intermediate_size``, else ``intermediate_size``."""
        return self.moe_intermediate_size or self.intermediate_size

    def is_moe_layer(self, layer: int) -> bool:
        """Whether layer ``layer`` has the mixture of experts (:attr:`moe_layers`; Mixtral: every layer)."""
        return self.is_moe and (not self.moe_layers or self.moe_layers[layer])

    def window(self, layer: int) -> int:
        """Layer ``layer``'s attention window ``W`` (0: it attends to the whole context)."""
        if self.sliding_layers and not self.sliding_layers[layer]:
            return 0
        return self.sliding_window

    def kv_tokens_held(self, tokens: int) -> int:
        """Token slots of the KV cache summed over layers for a sequence of ``tokens`` positions:
        ``Σ_layers min(tokens, W_layer)`` (a windowed layer keeps its last ``W`` positions only, as
        Mistral's rolling buffer and vLLM's sliding-window blocks do; a full layer keeps all)."""
        return sum(min(tokens, self.window(i) or tokens) for i in range(self.num_layers))


def _int(cfg: dict[str, Any], source: str, family: str, field: str, default: Any = None) -> int:
    """The integer field ``field`` under its config.json key, in its :data:`LIMITS` range;
    ``default`` when the key is missing or null (an error when there is no default)."""
    key = keys_of(family)[field]
    value = cfg.get(key)
    if value is None:
        if default is None:
            raise SimulatorError(f"{source}: config.json has no {key}")
        return default
    low, high = LIMITS[field]
    return check_int(value, f"{source}: {key}", max(low, 1), high)


def _bool(cfg: dict[str, Any], source: str, key: str, default: bool) -> bool:
    value = cfg.get(key)
    return default if value is None else check_bool(value, f"{source}: {key}")


def closest_family(model_type: str) -> str:
    """The supported family nearest ``model_type``: the longest common prefix, then the nearest length,
    then :mod:`difflib`'s similarity (``gemma3``: ``gemma3_text``; ``qwen3_moe``: ``qwen3``)."""
    def score(family: str) -> tuple[int, int, float]:
        prefix = next((i for i, (a, b) in enumerate(zip(model_type, family, strict=False)) if a != b),
                      min(len(model_type), len(family)))
        return prefix, -abs(len(family) - len(model_type)), \
            difflib.SequenceMatcher(None, model_type, family).ratio()
    return max(FAMILIES, key=score)


def parse_config(cfg: dict[str, Any], name: str) -> LLMConfig:
    """An :class:`LLMConfig` from a parsed HF config.json; an unsupported ``model_type`` is an error.

    Ranges (:data:`LIMITS`): every size an integer of at least 1 (``num_hidden_layers`` at most
    1,000, ``hidden_size`` at most 131,072, ...), ``num_key_value_heads`` dividing
    ``num_attention_heads``, ``hidden_size`` divisible by ``num_attention_heads`` unless ``head_dim``
    is given (as transformers' attention requires), booleans as JSON ``true``/``false``. Missing:
    ``num_key_value_heads`` = heads, ``head_dim`` = hidden / heads, ``max_position_embeddings`` the
    family's default (:data:`DEFAULT_MAX_POSITIONS`), Mixtral's 8 experts and 2 per token; GPT-2's
    ``n_inner`` = 4 · ``n_embd``. A mixture of experts is ``mixtral``'s only (``num_local_experts`` in
    another family's config is an error: its transformers class would build a dense MLP).
    """
    family = cfg.get("model_type")
    if not isinstance(family, str) or family not in FAMILIES:
        raise SimulatorError(
            f"{name}: model_type {_shown(family)} is not supported; supported: {', '.join(FAMILIES)}"
            + (f" (closest: {closest_family(family)})" if isinstance(family, str) else "")
        )
    d = _int(cfg, name, family, "hidden_size")
    heads = _int(cfg, name, family, "num_heads")
    key_d, key_heads = keys_of(family)["hidden_size"], keys_of(family)["num_heads"]
    head_dim = None if family in ("gpt2", "gptj") else _int(cfg, name, family, "head_dim", default=0) or None
    if head_dim is None and d % heads:
        raise SimulatorError(f"{name}: {key_d} {d:,} is not divisible by {key_heads} {heads} "
                             f"(each head needs hidden / heads features; give head_dim otherwise)")
    common = {
        "name": name,
        "family": family,
        "hidden_size": d,
        "num_layers": _int(cfg, name, family, "num_layers"),
        "num_heads": heads,
        "vocab_size": _int(cfg, name, family, "vocab_size"),
    }
    if family == "gpt2":
        return LLMConfig(
            **common,
            intermediate_size=_int(cfg, name, family, "intermediate_size", default=4 * d),
            num_kv_heads=heads,
            head_dim=d // heads,
            max_positions=_int(cfg, name, family, "max_positions"),
            tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", True),
            attention_bias=True,
            mlp_bias=True,
        )
    if family == "opt":
        return _opt(cfg, name, common)
    if family == "gptj":
        return _gptj(cfg, name, common)
    if family == "falcon":
        return _falcon(cfg, name, common, head_dim)
    if family in ("deepseek_v2", "deepseek_v3"):
        return _deepseek(cfg, name, common)
    if family == "qwen2_moe":
        return _qwen2_moe(cfg, name, common)
    kv_heads = _int(cfg, name, family, "num_kv_heads", default=heads)
    if heads % kv_heads:
        raise SimulatorError(f"{name}: num_attention_heads {heads} is not divisible by "
                             f"num_key_value_heads {kv_heads} (each key-value head serves a group of "
                             f"query heads)")
    experts = per_token = 0
    if family == "mixtral":
        experts = _int(cfg, name, family, "num_experts", default=MIXTRAL_DEFAULTS["num_local_experts"])
        per_token = _int(cfg, name, family, "experts_per_token",
                         default=MIXTRAL_DEFAULTS["num_experts_per_tok"])
        if per_token > experts:
            raise SimulatorError(f"{name}: num_experts_per_tok {per_token} exceeds num_local_experts "
                                 f"{experts}")
    else:
        for key in ("num_local_experts", "num_experts_per_tok"):
            if cfg.get(key) is not None:
                raise SimulatorError(f"{name}: {key} is read for model_type mixtral only, not {family} "
                                     f"(transformers builds a dense {family} MLP); remove it")
    window, sliding_layers = _sliding_window(cfg, name, family, common["num_layers"])
    return LLMConfig(
        **common,
        intermediate_size=_int(cfg, name, family, "intermediate_size"),
        num_kv_heads=kv_heads,
        head_dim=head_dim or d // heads,
        max_positions=_int(cfg, name, family, "max_positions", default=DEFAULT_MAX_POSITIONS[family]),
        tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", DEFAULT_TIED.get(family, False)),
        attention_bias=_bool(cfg, name, "attention_bias", family == "qwen2"),
        mlp_bias=_bool(cfg, name, "mlp_bias", False),
        num_experts=experts,
        experts_per_token=per_token,
        sliding_window=window,
        sliding_layers=sliding_layers,
        qk_norm=family in QK_NORM_FAMILIES,
    )


def _deepseek(cfg: dict[str, Any], name: str, common: dict[str, Any]) -> LLMConfig:
    """DeepSeek-V2 (``DeepseekV2Config``): multi-head latent attention (``kv_lora_rank``, ``q_lora_rank``
    or none, ``qk_nope_head_dim``, ``qk_rope_head_dim``, ``v_head_dim``), ``n_routed_experts`` of
    ``moe_intermediate_size`` with ``num_experts_per_tok`` per token, ``n_shared_experts`` always on,
    dense MLPs (``intermediate_size``) before ``first_k_dense_replace``. Defaults as the config class.

    DeepSeek-V3 (``deepseek_v3``) is the same layout; its router scores with a sigmoid and, under
    ``topk_method`` ``noaux_tc`` (``DeepseekV3Config``'s default), adds an ``e_score_correction_bias`` of
    ``n_routed_experts`` to the scores it ranks: a bias of the router here (:attr:`LLMConfig.router_bias`,
    ``E`` parameters per MoE layer). DeepSeek's ``modeling_deepseek.py`` (the repository's ``auto_map``)
    holds it as an ``nn.Parameter`` and the checkpoint stores it; transformers' native
    ``DeepseekV3TopkRouter`` registers it as a buffer, so its ``num_parameters()`` is ``58 · 256`` =
    14,848 lower for DeepSeek-V3. The multi-token-prediction module (``num_nextn_predict_layers``: the
    checkpoint's ``model.layers.61``, 14B of the model card's 685B) is not built: transformers builds no
    MTP layer and a runtime runs it only for speculative decoding, so counts and costs are the 671B main
    model's. Sigmoid scoring and group-limited routing (``n_group``, ``topk_group``) cost a few
    element-wise operations per expert per token, counted as the softmax router's."""
    family = common["family"]

    def field(key: str, default: Any = None) -> int:
        return _int(cfg, name, family, key, default)

    rope, nope = field("qk_rope_head_dim", 64), field("qk_nope_head_dim", 128)
    experts = check_int(cfg["n_routed_experts"], f"{name}: n_routed_experts", 1, LIMITS["num_experts"][1]) \
        if cfg.get("n_routed_experts") is not None else 0
    per_token = field("experts_per_token", 0) if experts else 0
    if experts and not 1 <= per_token <= experts:
        raise SimulatorError(f"{name}: num_experts_per_tok {per_token} must be from 1 to n_routed_experts "
                             f"{experts}")
    expert = field("moe_intermediate_size", 1407) if experts else 0
    first = _key_int(cfg, name, "first_k_dense_replace", 0, 1_000)
    freq = _key_int(cfg, name, "moe_layer_freq", 1, 1_000, 1)
    layers = range(common["num_layers"])
    return LLMConfig(
        **common,
        intermediate_size=field("intermediate_size"),
        num_kv_heads=common["num_heads"],  # MLA: every head reads the one latent (no GQA grouping)
        head_dim=nope + rope,
        max_positions=field("max_positions", 2048),
        tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", False),
        attention_bias=_bool(cfg, name, "attention_bias", False),
        num_experts=experts,
        experts_per_token=per_token,
        q_lora_rank=field("q_lora_rank", 0) if "q_lora_rank" in cfg else 1536,  # null: no q compression
        kv_lora_rank=field("kv_lora_rank", 512),
        qk_nope_head_dim=nope,
        qk_rope_head_dim=rope,
        v_head_dim=field("v_head_dim", 128),
        moe_intermediate_size=expert,
        shared_intermediate_size=_key_int(cfg, name, "n_shared_experts", 0, 1_024) * expert,
        moe_layers=tuple(i >= first and i % freq == 0 for i in layers) if experts else (),
        router_bias=bool(experts) and family == "deepseek_v3"
        and cfg.get("topk_method", "noaux_tc") == "noaux_tc",
    )


def _qwen2_moe(cfg: dict[str, Any], name: str, common: dict[str, Any]) -> LLMConfig:
    """Qwen-MoE (``Qwen2MoeConfig``): Qwen2's attention (q/k/v biases), ``num_experts`` routed experts of
    ``moe_intermediate_size`` with ``num_experts_per_tok`` per token, one shared expert of
    ``shared_expert_intermediate_size`` scaled by a sigmoid gate (``Linear d -> 1``), experts on layers
    with ``(i + 1) % decoder_sparse_step == 0`` not in ``mlp_only_layers``. Defaults as the config class."""
    family = "qwen2_moe"
    heads = common["num_heads"]
    kv_heads = _int(cfg, name, family, "num_kv_heads", default=heads)
    if heads % kv_heads:
        raise SimulatorError(f"{name}: num_attention_heads {heads} is not divisible by "
                             f"num_key_value_heads {kv_heads}")
    experts = _key_int(cfg, name, "num_experts", 1, LIMITS["num_experts"][1], 60)
    per_token = _key_int(cfg, name, "num_experts_per_tok", 1, experts, 4)
    step = _key_int(cfg, name, "decoder_sparse_step", 1, 1_000, 1)
    dense = cfg.get("mlp_only_layers") or []
    if not isinstance(dense, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in dense):
        raise SimulatorError(f"{name}: mlp_only_layers must list layer indices, got {_shown(dense)}")
    layers = common["num_layers"]
    return LLMConfig(
        **common,
        intermediate_size=_int(cfg, name, family, "intermediate_size", default=5632),
        num_kv_heads=kv_heads,
        head_dim=common["hidden_size"] // heads,
        max_positions=_int(cfg, name, family, "max_positions", default=32_768),
        tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", False),
        attention_bias=_bool(cfg, name, "qkv_bias", True),
        num_experts=experts,
        experts_per_token=per_token,
        moe_intermediate_size=_int(cfg, name, family, "moe_intermediate_size", default=1408),
        shared_intermediate_size=_key_int(cfg, name, "shared_expert_intermediate_size", 0, 1_048_576, 5632),
        shared_expert_gate=True,
        moe_layers=tuple((i + 1) % step == 0 and i not in dense for i in range(layers)),
    )


def _opt(cfg: dict[str, Any], name: str, common: dict[str, Any]) -> LLMConfig:
    """OPT (``OPTConfig``): GPT-2's layout with ReLU, ``ffn_dim``, learned positions of
    ``max_position_embeddings + 2`` rows (OPT's offset), ``enable_bias`` on every projection, the LM
    head tied; ``word_embed_proj_dim`` other than ``hidden_size`` adds ``project_in``/``project_out``
    (OPT-350m); ``do_layer_norm_before`` false (post-norm) drops the final LayerNorm."""
    d, family = common["hidden_size"], "opt"
    proj = _key_int(cfg, name, "word_embed_proj_dim", 1, LIMITS["hidden_size"][1], d)
    bias = _bool(cfg, name, "enable_bias", True)
    return LLMConfig(
        **common,
        intermediate_size=_int(cfg, name, family, "intermediate_size"),
        num_kv_heads=common["num_heads"],
        head_dim=d // common["num_heads"],
        max_positions=_int(cfg, name, family, "max_positions", default=2048),
        tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", True),
        attention_bias=bias,
        mlp_bias=bias,
        embed_proj_dim=0 if proj == d else proj,
        final_norm=_bool(cfg, name, "do_layer_norm_before", True)
        and not _bool(cfg, name, "_remove_final_layer_norm", False),
    )


def _gptj(cfg: dict[str, Any], name: str, common: dict[str, Any]) -> LLMConfig:
    """GPT-J (``GPTJConfig``, transformers' ``modeling_gptj.py``): GPT-2's keys (``n_embd``, ``n_layer``,
    ``n_head``, ``n_inner`` default ``4·d``, ``n_positions``), q/k/v/out projections without bias,
    ``fc_in``/``fc_out`` with biases, one LayerNorm ``ln_1`` feeding attention and the MLP side by
    side, rotary positions on ``rotary_dim`` of each head's dimensions (checked: at most ``d/H``; no
    parameters), the final ``ln_f``, and an LM head (untied by default) with a bias of ``V``."""
    d, heads, family = common["hidden_size"], common["num_heads"], "gptj"
    _key_int(cfg, name, "rotary_dim", 1, d // heads, d // heads)
    return LLMConfig(
        **common,
        intermediate_size=_int(cfg, name, family, "intermediate_size", default=4 * d),
        num_kv_heads=heads,
        head_dim=d // heads,
        max_positions=_int(cfg, name, family, "max_positions", default=2048),
        tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", False),
        attention_bias=False,
        mlp_bias=True,
        parallel_block=1,
        lm_head_bias=True,
    )


def _falcon(cfg: dict[str, Any], name: str, common: dict[str, Any], head_dim: int | None) -> LLMConfig:
    """Falcon (``FalconConfig``): LayerNorm, rotary, ``bias`` on every projection or none, a GELU MLP
    of ``ffn_hidden_size`` (default ``4·d``), the LM head tied; ``parallel_attn``: attention and MLP
    side by side on one LayerNorm (Falcon-7B); ``new_decoder_architecture``: ``num_kv_heads`` and
    ``num_ln_in_parallel_attn`` norms (default 2: Falcon-40B/180B); else ``multi_query`` (one KV head)."""
    d, heads, family = common["hidden_size"], common["num_heads"], "falcon"
    new = _bool(cfg, name, "new_decoder_architecture", False)
    if new:
        kv_heads = _int(cfg, name, family, "num_kv_heads", default=heads)
    else:
        kv_heads = 1 if _bool(cfg, name, "multi_query", True) else heads
    if heads % kv_heads:
        raise SimulatorError(f"{name}: num_attention_heads {heads} is not divisible by num_kv_heads "
                             f"{kv_heads}")
    norms = _key_int(cfg, name, "num_ln_in_parallel_attn", 1, 2, 2) if new else 1
    parallel = new or _bool(cfg, name, "parallel_attn", True)
    bias = _bool(cfg, name, "bias", False)
    return LLMConfig(
        **common,
        intermediate_size=_key_int(cfg, name, "ffn_hidden_size", 1, LIMITS["intermediate_size"][1], 4 * d),
        num_kv_heads=kv_heads,
        head_dim=head_dim or d // heads,
        max_positions=_int(cfg, name, family, "max_positions", default=2048),
        tie_word_embeddings=_bool(cfg, name, "tie_word_embeddings", True),
        attention_bias=bias,
        mlp_bias=bias,
        parallel_block=norms if parallel else 0,
    )


def _key_int(cfg: dict[str, Any], source: str, key: str, low: int, high: int, default: int = 0) -> int:
    """``cfg[key]`` as an integer in ``[low, high]``; ``default`` when missing or null."""
    value = cfg.get(key)
    return default if value is None else check_int(value, f"{source}: {key}", low, high)


def _sliding_window(cfg: dict[str, Any], name: str, family: str, layers: int) -> tuple[int, tuple[bool, ...]]:
    """``(W, sliding_layers)`` as the family's transformers class reads them: ``sliding_window`` on
    every layer (Mistral, Mixtral, Phi-3; null: none), on even layers (Gemma-2: local, global, ...),
    on layers from ``max_window_layers`` when ``use_sliding_window`` (Qwen2); none for Llama and
    Gemma. A ``layer_types`` list (``"sliding_attention"``/``"full_attention"``, newer configs)
    names the windowed layers itself."""
    if family not in (*WINDOWED_FAMILIES, "gemma2", "gemma3_text", "qwen2", "qwen3"):
        return 0, ()
    if family in ("qwen2", "qwen3") and not _bool(cfg, name, "use_sliding_window", False):
        return 0, ()
    window = cfg.get("sliding_window", DEFAULT_WINDOW.get(family))
    if window is None:
        return 0, ()
    window = check_int(window, f"{name}: sliding_window", 1, LIMITS["sliding_window"][1])
    types = cfg.get("layer_types")
    if types is not None:
        kinds = ("sliding_attention", "full_attention")
        if not isinstance(types, list) or len(types) != layers or any(t not in kinds for t in types):
            raise SimulatorError(f"{name}: layer_types must list {layers} of {', '.join(kinds)} "
                                 f"(one per layer), got {_shown(types)}")
        return window, tuple(t == "sliding_attention" for t in types)
    if family == "gemma2":
        return window, tuple(i % 2 == 0 for i in range(layers))
    if family == "gemma3_text":  # sliding_window_pattern 6: five local layers, then a global one
        pattern = _key_int(cfg, name, "sliding_window_pattern", 1, 1_000, 6)
        return window, tuple((i + 1) % pattern != 0 for i in range(layers))
    if family in ("qwen2", "qwen3"):
        first = check_int(cfg.get("max_window_layers", 28), f"{name}: max_window_layers", 0)
        return window, tuple(i >= first for i in range(layers))
    return window, ()


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
