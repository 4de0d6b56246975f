"""Reading a Hugging Face ``config.json`` (parsed JSON) into an
:class:`~simulator.llm.architecture.LLMConfig`: each family's keys and defaults (those of its
transformers config class), the family-specific readers (DeepSeek, Qwen-MoE, OPT, GPT-J, Falcon) and
the sliding windows (:func:`_sliding_window`). The families and their sources: :mod:`simulator.llm.config`.
"""

from __future__ import annotations

import difflib
from typing import Any

from simulator.errors import SimulatorError
from simulator.llm.architecture import (
    FAMILIES,
    LIMITS,
    QK_NORM_FAMILIES,
    WINDOWED_FAMILIES,
    LLMConfig,
    _shown,
    check_bool,
    check_int,
    keys_of,
)

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
