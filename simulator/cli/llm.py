"""``roofline llm``: LLM inference (prefill, decode, KV cache) of a built-in model or a config.json."""

from __future__ import annotations

import argparse
import csv
import io

from simulator.cli.common import DEVICE_HELP


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers of at least 1, got {text!r}")
    return values


def configure(llm: argparse.ArgumentParser) -> None:
    llm.add_argument(
        "model", help="a built-in LLM (llama_3_8b, ...) or a path to a Hugging Face config.json"
    )
    llm.add_argument("--device", required=True, help=DEVICE_HELP)
    llm.add_argument("--batch", type=_ints, default=[1], help="batch sizes, comma-separated (default 1)")
    llm.add_argument("--prompt", type=int, default=2048, help="prompt tokens per sequence (default 2048)")
    llm.add_argument("--generate", type=int, default=128, help="output tokens per sequence (default 128)")
    llm.add_argument("--tp", type=int, default=1, help="tensor-parallel devices (default 1)")
    llm.add_argument("--pp", type=int, default=1, help="pipeline stages (default 1)")
    llm.add_argument("--weight-precision", "--precision", dest="weight_precision", default="fp16",
                     help="fp16, bf16, fp8, int8 or int4 (the activations follow; --precision is the same)")
    llm.add_argument(
        "--activation-precision", default=None, help="fp16, bf16, fp8 or int8 (default: by weights)"
    )
    llm.add_argument(
        "--kv-precision", default=None, help="fp16, bf16, fp8 or int8 (default: the activations')"
    )
    llm.add_argument("--ideal", action="store_true", help="the pure roofline (ignore the efficiency model)")
    llm.add_argument("--format", choices=("table", "json", "csv"), default="table")
    llm.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.io import dumps_json
    from simulator.llm import simulate_llm

    result = simulate_llm(
        args.model,
        args.device,
        args.batch,
        args.prompt,
        args.generate,
        args.tp,
        args.pp,
        args.weight_precision,
        args.activation_precision,
        args.kv_precision,
        args.ideal,
        check_memory=True,
    )
    rows = result.rows()
    if args.format == "json":
        print(
            dumps_json({"model": result.model, "device": result.device, "configurations": rows}, indent=2)
        )
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        print(out.getvalue(), end="")
    else:
        print(
            f"{result.model} on {args.tp * args.pp} x {result.device} (tp {args.tp}, pp {args.pp}): prompt "
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
    return 0
