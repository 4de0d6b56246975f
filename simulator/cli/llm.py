"""``roofline llm``: LLM inference (prefill, decode, KV cache) of a built-in model or a config.json.

The flags are read as text and checked here and in :func:`simulator.llm.simulate_llm`, so a bad
value is one line naming it (exit 2), never argparse's usage block.
"""

from __future__ import annotations

import argparse

from simulator.cli.common import (
    BATCH_GRAMMAR,
    add_device_option,
    add_format_option,
    add_ideal_option,
    parse_batches,
)
from simulator.errors import SimulatorError

FLAG_RANGES = """\
ranges of the flags:
  --batch      integers from 1 to 10^12: a list (1,8), or ranges as in sweep (1..64 doubles)
  --prompt     an integer of at least 1; --generate an integer of at least 1, with
               prompt + generate - 1 <= the model's positions (max_position_embeddings;
               GPT-2: n_positions): the last output token is never fed back
  --tp         an integer of at least 1 dividing the attention heads and intermediate size
               (and the KV heads, or a multiple of them); > 1 needs a device with [interconnect]
  --pp         an integer from 1 to the number of layers (each stage holds its share of the
               layers and is charged its share of the energy)
"""


def field_notes() -> dict[str, str]:
    """What each config.json field may hold beyond its range (the ranges come from LIMITS); the
    multi-head-latent-attention and DeepSeek-MoE fields name every DeepSeek family the config reader
    supports (:data:`simulator.llm.config.FAMILIES`), so a new one shows up here by itself."""
    from simulator.llm.config import FAMILIES

    deepseek = ", ".join(family for family in FAMILIES if family.startswith("deepseek"))
    return {
        "hidden_size": "a multiple of the heads without head_dim",
        "intermediate_size": "GPT-2: default 4 x n_embd",
        "num_kv_heads": "divides the heads; default the heads",
        "head_dim": "default hidden / heads",
        "max_positions": "default 2,048 (llama), 32,768 (qwen2), 131,072",
        "num_experts": "mixtral only; default 8",
        "experts_per_token": f"mixtral (default 2), qwen2_moe, {deepseek}; <= experts",
        "sliding_window": "mistral, mixtral, phi3, gemma2 (even layers), qwen2 (use_sliding_window)",
        "q_lora_rank": f"{deepseek} (multi-head latent attention); null: none",
        "kv_lora_rank": f"{deepseek}: the cached latent (plus qk_rope_head_dim)",
        "qk_nope_head_dim": deepseek,
        "qk_rope_head_dim": deepseek,
        "v_head_dim": deepseek,
        "moe_intermediate_size": f"qwen2_moe, {deepseek}: one routed expert's width",
        "shared_intermediate_size": f"qwen2_moe ({deepseek}: n_shared_experts x moe_intermediate_size)",
    }


def epilog() -> str:
    """The ranges of the flags and of every config.json field (:data:`simulator.llm.config.LIMITS`)."""
    from simulator.llm.config import FAMILIES, KEYS, LIMITS

    notes = field_notes()
    lines = [FLAG_RANGES, f"integer fields of a config.json (model_type {', '.join(FAMILIES)}):"]
    for field, (low, high) in LIMITS.items():
        gpt2 = KEYS["gpt2"].get(field, KEYS["llama"][field])
        key = KEYS["llama"][field] + (f" ({gpt2})" if gpt2 != KEYS["llama"][field] else "")
        span = f"{max(low, 1):,} .. {high:,}"
        lines.append(f"  {key:<38} {span:<16} {notes.get(field, '')}".rstrip())
    lines.append("  tie_word_embeddings, attention_bias, mlp_bias: true or false (JSON booleans)")
    return "\n".join(lines)


def _positive(text: str, flag: str) -> int:
    """``text`` as an integer of at least 1; else one line naming ``flag``."""
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < 1:
        raise SimulatorError(f"{flag} must be an integer of at least 1, got {text!r}")
    return value


def _batches(text: str) -> list[int]:
    """Batch sizes in the grammar of every batch option (:func:`simulator.cli.common.parse_batches`):
    ``1,8``, ``1..64`` (doubling), ``1-4`` (every integer), ``8..64:8`` (a step); one row each."""
    return parse_batches(text, "--batch")


def configure(llm: argparse.ArgumentParser) -> None:
    llm.formatter_class = argparse.RawDescriptionHelpFormatter
    llm.epilog = epilog()
    llm.add_argument(
        "model", help="a built-in LLM (llama_3_8b, ...), a Hugging Face config.json, a model folder holding "
        "one, or a hub id (org/name) in the local Hugging Face cache (nothing is downloaded)"
    )
    add_device_option(llm)
    llm.add_argument("--batch", default="1", help="batch sizes, one row each (default 1): " + BATCH_GRAMMAR)
    llm.add_argument("--prompt", default="2048",
                     help="prompt tokens per sequence, >= 1 (default 2048; prompt + generate - 1 at most "
                          "the model's positions)")
    llm.add_argument("--generate", default="128", help="output tokens per sequence, >= 1 (default 128)")
    llm.add_argument("--tp", default="1",
                     help="tensor-parallel devices, >= 1, dividing the heads (default 1)")
    llm.add_argument("--pp", default="1", help="pipeline stages, 1 to the number of layers (default 1)")
    llm.add_argument("--weight-precision", "--precision", dest="weight_precision", default="fp16",
                     help="fp16, bf16, fp8, int8 or int4 (the activations follow; --precision is the same)")
    llm.add_argument(
        "--activation-precision", default=None, help="fp16, bf16, fp8 or int8 (default: by weights)"
    )
    llm.add_argument(
        "--kv-precision", default=None, help="fp16, bf16, fp8 or int8 (default: the activations')"
    )
    add_ideal_option(llm)
    add_format_option(llm)
    from simulator.cli import llm_serving

    llm_serving.add_options(llm)
    llm.epilog = f"{llm.epilog}\n\n{llm_serving.SERVING_HELP}"
    llm.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.cli import llm_serving
    from simulator.io import dumps_json
    from simulator.llm import simulate_llm
    from simulator.report import error_band_record, expected_trust, render_csv_records, tool_record

    if llm_serving.wanted(args):
        return llm_serving.run(args, _positive(args.tp, "--tp"), _positive(args.pp, "--pp"))
    batch = _batches(args.batch)
    prompt, generate = _positive(args.prompt, "--prompt"), _positive(args.generate, "--generate")
    tp, pp = _positive(args.tp, "--tp"), _positive(args.pp, "--pp")
    result = simulate_llm(
        args.model,
        args.device,
        batch,
        prompt,
        generate,
        tp,
        pp,
        args.weight_precision,
        args.activation_precision,
        args.kv_precision,
        args.ideal,
        check_memory=True,
    )
    rows = result.rows()
    if args.format == "json":
        print(
            dumps_json({"tool": tool_record(),
                        "settings": {"model": args.model, "device": args.device, "batch": batch,
                                     "prompt": prompt, "generate": generate, "tp": tp, "pp": pp,
                                     "weight_precision": result.weight_precision,
                                     "activation_precision": result.activation_precision,
                                     "kv_precision": result.kv_precision, "ideal": result.ideal},
                        "model": result.model, "device": result.device,
                        "expected_error_band": error_band_record(result.device, not result.ideal, llm=True),
                        "configurations": rows}, indent=2)
        )
    elif args.format == "csv":
        print(render_csv_records(rows), end="")
    else:
        print(
            f"{result.model} on {tp * pp} x {result.device} (tp {tp}, pp {pp}): prompt "
            f"{result.prompt}, generate {result.generate}; weights {result.weight_precision}, activations "
            f"{result.activation_precision}, KV {result.kv_precision}, compute {result.compute_precision}"
            f"{', ideal' if result.ideal else ''}"
        )
        header = (
            "batch",
            "TTFT ms",
            "TPOT ms",
            "e2e s",
            "out tok/s",
            "tot tok/s",
            "J/token",
            "weights GB",
            "KV GB",
            "fits",
            "max batch",
            "prefill",
            "decode",
        )
        print("  ".join(f"{h:>10}" for h in header))
        for r in rows:
            cells = (
                r["batch"],
                f"{r['ttft_s'] * 1e3:.2f}",
                f"{r['tpot_s'] * 1e3:.3f}",
                f"{r['e2e_latency_s']:.3f}",
                f"{r['output_tokens_per_s']:.1f}",
                f"{r['total_tokens_per_s']:.1f}",
                f"{r['energy_per_token_j']:.4f}",
                f"{r['weight_bytes'] / 1e9:.2f}",
                f"{r['kv_cache_bytes'] / 1e9:.2f}",
                "yes" if r["fits"] else "NO",
                r["max_batch"],
                f"{r['prefill_bound']}/{r['prefill_dominant']}",
                f"{r['decode_bound']}/{r['decode_dominant']}",
            )
            print("  ".join(f"{c!s:>10}" for c in cells))
        if not result.ideal:
            print(f"trust: {expected_trust(result.device, llm=True)}")
    return 0
