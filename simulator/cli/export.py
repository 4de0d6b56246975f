"""``roofline export``: a network as a runnable ONNX model with random weights.

Reading ONNX models needs no command of its own: every command that takes a network accepts an
``.onnx`` path (:func:`simulator.catalog.build_network`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.cli import common
from simulator.cli.common import BatchSize, positive_int
from simulator.errors import SimulatorError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", help="built-in network name (see `roofline list`), or an LLM (`roofline "
                        "list llms`, a config.json): one pass (see --phase), the KV cache of --context "
                        "tokens as graph inputs <layer>.past_key/.past_value; MoE and MLA models do not "
                        "export")
    common.add_output_option(parser, "the .onnx file to write", type=Path)
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--batch", action=BatchSize, default=None,
                       help="a fixed batch size, 1 to 2**63 - 1 (default: a symbolic batch dimension named "
                            "'batch'); one size only: lists and ranges (1..64) are refused")
    batch.add_argument("--dynamic-batch", action="store_true",
                       help="a symbolic batch dimension (the default; kept for explicitness)")
    common.add_size_options(parser)
    parser.add_argument("--opset", type=positive_int, default=17,
                        help="ONNX opset (default 17; 20 writes Gelu, 21 GroupNormalization as single ops)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    parser.add_argument("--no-weights", action="store_true",
                        help="write parameter shapes only: a small file for analysis tools, not runnable. "
                             "Needed above 8 GiB of random float32 weights, e.g. a 7B LLM (27 GB); weights "
                             "over 1.8 GB go to <output>.data beside the model")
    common.add_llm_phase_options(parser)
    common.add_force_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.catalog import build_network
    from simulator.io import atomic_path
    from simulator.onnx.writer import export_onnx

    if str(args.network).lower().endswith(".onnx"):
        raise SimulatorError(f"export writes a built-in network as ONNX; {args.network!r} is already an ONNX "
                             "model (exporting it would replace its weights with random ones)")
    if args.output.suffix.lower() != ".onnx":
        raise SimulatorError(f"cannot write {str(args.output)!r}: the output must end in .onnx (the file is "
                             "an ONNX model, which every command reads back by that suffix)")
    network = _llm_network(args) or build_network(args.network, args.resolution,
                                                  params=common.network_params(args))
    batch = args.batch
    if not args.no_weights:
        _check_weight_size(network)
    with atomic_path(args.output, force=args.force) as temporary:
        export_onnx(network, temporary, batch=batch, opset=args.opset, seed=args.seed,
                    weights=not args.no_weights)
    path = args.output
    shape = "x".join(map(str, ("batch" if batch is None else batch, *network.input_shape)))
    print(f"wrote {path}: {network.name}, {len(network.nodes)} layers, input {shape}, opset {args.opset}"
          f"{', shapes only' if args.no_weights else ''}")
    return 0


#: the most random float32 weights export writes (8 GiB): a larger model is exported with --no-weights
MAX_WEIGHT_BYTES = 8 * 2**30


def _check_weight_size(network) -> None:
    """Refuses, in one line naming --no-weights, a model whose random float32 weights (4 bytes per
    parameter) exceed :data:`MAX_WEIGHT_BYTES`: they would be generated in memory and written out."""
    from simulator.model.counts import count_network

    weight_bytes = 4 * count_network(network).params
    if weight_bytes > MAX_WEIGHT_BYTES:
        raise SimulatorError(f"{network.name}: {weight_bytes / 1e9:.1f} GB of random float32 weights exceed "
                             f"the {MAX_WEIGHT_BYTES / 2**30:.0f} GiB export writes; give --no-weights "
                             f"(parameter shapes only)")


def _llm_network(args: argparse.Namespace):
    """The network of one pass of an LLM (``--phase``, ``--seq-len``, ``--context``), None for another
    network; an LLM with a layer kind that has no ONNX writer (``exportable`` false: the experts of a
    mixture of experts, multi-head latent attention) is refused in one line naming those kinds."""
    from simulator.api import _is_llm_name  # light for built-in names (as cli.common's llm_phase)

    if not _is_llm_name(args.network):
        if args.phase is not None or args.context is not None:
            raise SimulatorError(f"--phase and --context apply to LLMs, not to {args.network!r}")
        return None
    from simulator.llm.as_network import llm_network

    if args.resolution is not None or args.params:
        raise SimulatorError(f"{'--resolution' if args.resolution is not None else '--param'} does not apply "
                             f"to the LLM {args.network!r}: give --phase, --seq-len (prefill) and --context")
    network, _ = llm_network(args.network, args.phase, args.seq_len, args.context)
    blocked = list(dict.fromkeys(node.layer.kind for node in network.nodes if not node.layer.exportable))
    if blocked:
        raise SimulatorError(f"cannot export the LLM {args.network!r} as ONNX: its layer kinds "
                             f"{', '.join(blocked)} have no ONNX writer (exportable LLM kinds: RMSNorm, "
                             f"RoPE, CausalAttention, SwiGLU, LMHead); count, simulate, compare, sweep and "
                             f"plot take it by name")
    return network
