"""LLM sweeps: batch × prompt × generate × precision × tp × device, vectorized.

Configurations sharing a device, a tensor parallelism and a prompt length run through the engine in
one block (:func:`simulator.llm.inference.evaluate_llm`): batch, output length and precisions vary
inside a block as arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from simulator.errors import SimulatorError
from simulator.hardware.loader import resolve_device
from simulator.llm.arguments import check_batches, check_context, check_flag, check_parallelism
from simulator.llm.config import load_config
from simulator.llm.inference import METRICS, evaluate_llm
from simulator.llm.network import shard
from simulator.llm.precision import default_activation_precision, llm_compute_precision, weight_bits

#: the columns before the metrics, one row per configuration
CONDITIONS = ("model", "device", "tp", "prompt", "generate", "weight_precision", "activation_precision",
              "kv_precision", "batch")


def sweep_llm(
    model: str,
    devices: Sequence[str],
    batches: Sequence[int] = (1,),
    prompts: Sequence[int] = (2048,),
    generates: Sequence[int] = (128,),
    weight_precisions: Sequence[str] = ("fp16",),
    tps: Sequence[int] = (1,),
    kv_precision: str | None = None,
    ideal: bool = False,
) -> pd.DataFrame:
    """One row per configuration (device, tp, prompt, generate, weight precision, batch) with
    :data:`~simulator.llm.inference.METRICS`; a precision a device has no peak for is skipped, and
    a sweep left with no configuration at all is an error naming the devices' precisions. Every
    value is checked as :func:`~simulator.llm.inference.simulate_llm` checks it
    (:mod:`simulator.llm.arguments`)."""
    cfg = load_config(model)
    batches = [int(b) for b in check_batches(list(batches))]
    for prompt, generate in itertools.product(prompts, generates):
        check_context(cfg, prompt, generate)
    for tp in tps:
        shard(cfg, check_parallelism(cfg, tp, 1)[0])
    ideal = check_flag(ideal, "ideal")
    for w in weight_precisions:
        weight_bits(w)
    columns: dict[str, list] = {key: [] for key in (*CONDITIONS, *METRICS)}
    skipped = {}
    computes = {w: llm_compute_precision(w, default_activation_precision(w)) for w in weight_precisions}
    resolved = {name: resolve_device(name) for name in devices}  # each profile read once
    for device_name, tp, prompt in itertools.product(devices, tps, prompts):
        device = resolved[device_name]
        combos = [
            (g, w, b)
            for g, w, b in itertools.product(generates, weight_precisions, batches)
            if computes[w] in device.peak_ops_per_s
        ]
        if not combos:
            skipped[device.name] = ", ".join(device.precisions)
            continue
        count = len(combos)
        gen = np.array([c[0] for c in combos], dtype=float)
        weights = [c[1] for c in combos]
        acts = [default_activation_precision(w) for w in weights]
        kvs = [kv_precision or a for a in acts]
        batch = np.array([c[2] for c in combos], dtype=float)
        metrics = evaluate_llm(
            cfg, device, batch, np.full(count, float(prompt)), gen, tp, weights, acts, kvs, ideal=ideal
        )
        block = {
            "model": [cfg.name] * count,
            "device": [device.name] * count,
            "tp": np.full(count, tp),
            "prompt": np.full(count, prompt),
            "generate": gen.astype(int),
            "weight_precision": weights,
            "activation_precision": acts,
            "kv_precision": kvs,
            "batch": batch.astype(int),
            **{key: metrics[key] for key in METRICS},
        }
        for key, values in block.items():
            columns[key].append(values)
    frames = columns["model"]
    if not frames:
        computes = sorted({llm_compute_precision(w, default_activation_precision(w))
                           for w in weight_precisions})
        lacking = "; ".join(f"{name} has {precisions}" for name, precisions in skipped.items())
        raise SimulatorError(
            f"{cfg.name}: no configuration to sweep: weights {', '.join(weight_precisions)} compute in "
            f"{', '.join(computes)}, which no device has a peak for ({lacking}); an LLM sweep computes "
            f"in its weights' default activations: fp16, bf16 or fp8 (roofline llm takes "
            f"--activation-precision)"
        )
    # one frame built once from each column's blocks (a frame per block and a concat cost more than
    # the blocks' evaluation)
    return pd.DataFrame({key: _joined(parts) for key, parts in columns.items()})


def _joined(parts: list) -> np.ndarray | list:
    """One column from its blocks: numpy arrays concatenated, lists of names chained."""
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return list(itertools.chain.from_iterable(parts))
