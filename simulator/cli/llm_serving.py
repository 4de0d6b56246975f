"""``roofline llm MODEL --serving``: in-flight batching at a steady state (:mod:`simulator.llm.serving`).

The options are added to ``roofline llm`` by :func:`add_options`; :func:`wanted` says whether a run asks
for serving (``--serving`` or any serving-only option), :func:`run` prints it.
"""

from __future__ import annotations

import argparse
import re

from simulator.cli.common import BATCH_GRAMMAR, parse_batches
from simulator.errors import SimulatorError

#: the serving-only options (their dests) and their defaults: any other value asks for serving
SERVING_ONLY = {"concurrency": None, "target_tpot": None, "target_ttft": None, "chunk_tokens": None,
                "block_size": "16", "kv_memory_fraction": "0.9", "percentile": "99"}
_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
SERVING_HELP = """\
serving (--serving, or any option below): in-flight batching at a steady state, a paged KV cache
  --concurrency   sequences in flight, one row each (default 1..256): the batch grammar
  --prompt/--generate  the data set's input and output lengths: a mean, or a list of samples (294,512,80)
  --target-tpot 40ms / --target-ttft 500ms   the largest concurrency meeting them (TTFT at --percentile)
  --chunk-tokens  chunked prefill: tokens per engine step, decode tokens included (default: no chunking)
  --block-size    KV block in tokens (default 16, vLLM's); --kv-memory-fraction of free memory (0.9)
"""


def add_options(llm: argparse.ArgumentParser) -> None:
    group = llm.add_argument_group("serving (in-flight batching at a steady state; see below)")
    group.add_argument("--serving", action="store_true",
                       help="steady-state in-flight batching over a paged KV cache (not one static batch)")
    group.add_argument("--concurrency", default=None,
                       help="sequences in flight, one row each (default 1..256): " + BATCH_GRAMMAR)
    group.add_argument("--target-tpot", default=None,
                       help="time per output token to meet, with a unit (40ms, 0.04s): prints the largest "
                            "concurrency that meets it")
    group.add_argument("--target-ttft", default=None,
                       help="time to first token to meet at --percentile, with a unit (500ms)")
    group.add_argument("--chunk-tokens", default=None,
                       help="chunked prefill: tokens per engine step, decode tokens included (vLLM's "
                            "max_num_batched_tokens, TensorRT-LLM's max_num_tokens); default: no chunking")
    group.add_argument("--block-size", default="16", help="KV cache block in tokens (default 16, vLLM's)")
    group.add_argument("--kv-memory-fraction", default="0.9",
                       help="share of the memory left after weights and activations given to KV blocks, "
                            "in (0, 1] (default 0.9, TensorRT-LLM's)")
    group.add_argument("--percentile", default="99",
                       help="TTFT percentile over the prompt samples (default 99)")


def wanted(args: argparse.Namespace) -> bool:
    """Whether the run asks for serving: ``--serving`` or a serving-only option away from its default."""
    return bool(args.serving) or any(getattr(args, k) != v for k, v in SERVING_ONLY.items())


def parse_duration(text: str, flag: str) -> float:
    """``"40ms"`` -> 0.04 (s, ms or us; a unit is required)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|ms|us)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise SimulatorError(f"{flag} must be a positive duration with a unit (40ms, 0.04s, 500us), "
                             f"got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SimulatorError(f"{flag} must be a number, got {text!r}") from None


def _lengths(text: str, flag: str) -> list[int]:
    values = []
    for item in text.split(","):
        try:
            value = int(item.strip())
        except ValueError:
            value = 0
        if value < 1:
            raise SimulatorError(f"{flag} must be an integer of at least 1 or a comma list of them, "
                                 f"got {text!r}")
        values.append(value)
    return values


def run(args: argparse.Namespace, tp: int, pp: int) -> int:
    from simulator.io import dumps_json
    from simulator.llm.serving import concurrency_for_target, simulate_serving
    from simulator.report import render_csv_records

    if args.batch != "1":
        raise SimulatorError("--batch is static batching; with --serving give --concurrency "
                             "(sequences in flight)")
    common = {
        "input_tokens": _lengths(args.prompt, "--prompt"),
        "output_tokens": _lengths(args.generate, "--generate"),
        "tp": tp, "pp": pp, "weight_precision": args.weight_precision,
        "activation_precision": args.activation_precision, "kv_precision": args.kv_precision,
        "block_tokens": parse_batches(args.block_size, "--block-size")[0],
        "chunk_tokens": None if args.chunk_tokens is None
        else parse_batches(args.chunk_tokens, "--chunk-tokens")[0],
        "kv_memory_fraction": _number(args.kv_memory_fraction, "--kv-memory-fraction"),
        "percentile": _number(args.percentile, "--percentile"), "ideal": args.ideal,
    }
    target = None
    if args.target_tpot is not None or args.target_ttft is not None:
        if args.concurrency is not None:
            raise SimulatorError("give --concurrency or a target (--target-tpot/--target-ttft), not both")
        tpot = None if args.target_tpot is None else parse_duration(args.target_tpot, "--target-tpot")
        ttft = None if args.target_ttft is None else parse_duration(args.target_ttft, "--target-ttft")
        target, result = concurrency_for_target(args.model, args.device, tpot, ttft, **common)
    else:
        conc = parse_batches(args.concurrency or "1..256", "--concurrency")
        result = simulate_serving(args.model, args.device, conc, check_memory=True, **common)
    rows = result.rows()
    if args.format == "json":
        print(dumps_json({"model": result.model, "device": result.device, "target_concurrency": target,
                          "configurations": rows}, indent=2))
        return 0
    if args.format == "csv":
        print(render_csv_records(rows), end="")
        return 0
    chunk = f"chunked prefill {result.chunk_tokens:,} tokens/step" if result.chunk_tokens else "no chunking"
    print(f"{result.model} on {tp * pp} x {result.device} (tp {tp}, pp {pp}), in-flight batching: input "
          f"{result.input_tokens_mean:g}, output {result.output_tokens_mean:g} tokens (mean); {chunk}; "
          f"KV {result.block_tokens}-token blocks, {result.kv_bytes_per_sequence / 1e6:.2f} MB per sequence, "
          f"pool {result.kv_pool_bytes / 1e9:.2f} GB per device: largest concurrency that fits "
          f"{result.max_concurrency:,}{', ideal' if args.ideal else ''}")
    if target is not None:
        goals = ", ".join(f"{k} <= {v}" for k, v in (("TPOT", args.target_tpot), (f"TTFT p{args.percentile}",
                                                                                  args.target_ttft)) if v)
        print(f"largest concurrency meeting {goals}: {target:,}" if target else
              f"no concurrency meets {goals} (concurrency 1 shown)")
    pct = f"TTFT p{args.percentile}"
    header = ("concurrency", "active", "TTFT ms", pct, "TPOT ms", "stall ms", "out tok/s", "tot tok/s",
              "J/token", "KV GB", "fits")
    print("  ".join(f"{h:>11}" for h in header))
    for r in rows:
        cells = (r["concurrency"], r["active"], f"{r['ttft_s'] * 1e3:.2f}", f"{r['ttft_p_s'] * 1e3:.2f}",
                 f"{r['tpot_s'] * 1e3:.3f}", f"{r['stall_s'] * 1e3:.3f}", f"{r['output_tokens_per_s']:.1f}",
                 f"{r['total_tokens_per_s']:.1f}", f"{r['energy_per_token_j']:.4f}",
                 f"{r['kv_cache_bytes'] / 1e9:.2f}", "yes" if r["fits"] else "NO")
        print("  ".join(f"{c!s:>11}" for c in cells))
    return 0
