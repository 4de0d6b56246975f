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

from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.inference import METRICS, evaluate_llm
from simulator.llm.precision import default_activation_precision, llm_compute_precision


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
    :data:`~simulator.llm.inference.METRICS`; a precision a device has no peak for is skipped."""
    cfg = load_config(model)
    frames = []
    for device_name, tp, prompt in itertools.product(devices, tps, prompts):
        device = resolve_device(device_name)
        combos = [
            (g, w, b)
            for g, w, b in itertools.product(generates, weight_precisions, batches)
            if llm_compute_precision(w, default_activation_precision(w)) in device.peak_ops_per_s
        ]
        if not combos:
            continue
        gen = np.array([c[0] for c in combos], dtype=float)
        weights = [c[1] for c in combos]
        acts = [default_activation_precision(w) for w in weights]
        kvs = [kv_precision or a for a in acts]
        batch = np.array([c[2] for c in combos], dtype=float)
        metrics = evaluate_llm(
            cfg, device, batch, np.full(len(batch), float(prompt)), gen, tp, weights, acts, kvs, ideal=ideal
        )
        frame = pd.DataFrame(
            {
                "model": cfg.name,
                "device": device.name,
                "tp": tp,
                "prompt": prompt,
                "generate": gen.astype(int),
                "weight_precision": weights,
                "activation_precision": acts,
                "kv_precision": kvs,
                "batch": batch.astype(int),
                **{key: metrics[key] for key in METRICS},
            }
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
