"""Fit the compute scales of a runtime the cross-validation does not fit, on EVERY row of that runtime.

    python tools/fit_runtime.py hf-transformers --tie

A runtime (``hardware_profiles/runtimes/NAME.toml``, :mod:`simulator.hardware.runtime`) scales the
compute fraction of the kernel classes it names, relative to the profiles it applies to. The factors of
the runtimes a device family of the cross-validation covers (X-CUBE-AI 8.1 and 9.0, TinyEngine,
CMSIS-NN, TF-Lite Micro) are that family's fit of every row, written by ``python tools/fit_profiles.py``;
this script is for the others (HuggingFace transformers on Orin, whose LLM rows the cross-validation
leaves out). The rows: every dataset row whose runtime the file covers, on any device it names, whatever
its ``role`` (the column is not read); the factors (one per class, or one for all with ``--tie``)
minimize the squared log error of the expected prediction on them. Rows that do not depend on a factor
(memory-bound decode) add a constant. Prints the ``compute_scale`` table to put in the file. The fit is
the package's Levenberg–Marquardt (:func:`simulator.calibration.cv_fit.levenberg_marquardt`, numpy
only) on the log factors.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from simulator.accuracy import load_measurements, predict  # noqa: E402
from simulator.calibration.cv_fit import levenberg_marquardt  # noqa: E402
from simulator.hardware.loader import available_runtimes, load_runtime, resolve_device  # noqa: E402
from simulator.hardware.runtime import with_runtime  # noqa: E402


def fitted_by_profiles() -> set[str]:
    """The runtimes whose factors ``tools/fit_profiles.py`` writes: those covering latency or throughput
    rows of ``gpu.csv`` or ``mcu.csv`` on a device they name (a cross-validated family's rows)."""
    rows = [r for r in load_measurements() if r.get("table") != "llm"]
    return {name for name, path in available_runtimes().items()
            if any((runtime := load_runtime(path)).covers(r.get("runtime", ""), r.get("runtime_version", ""))
                   and r["device"] in runtime.devices for r in rows)}


@dataclass(frozen=True)
class RuntimeFit:
    """A runtime's fitted ``compute_scale``, the rows it was fitted on and their residuals."""

    runtime: str
    scales: dict[str, float]
    rows: tuple[dict, ...]
    residuals: tuple[float, ...]


def fit_runtime(name: str, tie: bool | None = None) -> RuntimeFit:
    """Fit ``name``'s factors on every row it covers (``tie``: one factor for all classes; None: tied
    when the shipped file gives every class the same factor, as cv_model reads a file)."""
    runtime = load_runtime(available_runtimes()[name])
    if tie is None:
        tie = len(set(runtime.compute_scale.values())) == 1
    devices = {device: resolve_device(device) for device in runtime.devices}
    rows = tuple(r for r in load_measurements() if r["device"] in devices and r["metric"] in METRICS
                 and runtime.covers(r.get("runtime", ""), r.get("runtime_version", "")))
    if not rows:
        raise SystemExit(f"no rows of {runtime.name} on {', '.join(devices)}")
    classes = list(runtime.compute_scale)

    def scales(x: np.ndarray) -> dict[str, float]:
        return {c: math.exp(x[0 if tie else i]) for i, c in enumerate(classes)}

    def residuals(x: np.ndarray) -> np.ndarray:
        trial = runtime.model_copy(update={"compute_scale": scales(x)})
        return np.array([math.log(predict({**r, "device": with_runtime(devices[r["device"]], trial)})
                                  ["expected"] / float(r["value"])) for r in rows])

    x, _ = levenberg_marquardt(residuals, np.zeros(1 if tie else len(classes)))
    return RuntimeFit(name, scales(x), rows, tuple(math.expm1(r) for r in residuals(x)))


#: the metrics a runtime's rows are fitted on (latency, throughput, an LLM's)
METRICS = ("latency_s", "throughput_per_s", "ttft_s", "tpot_s", "output_tokens_per_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runtime", choices=sorted(available_runtimes()), help="a shipped runtime")
    parser.add_argument("--tie", action="store_true", help="one factor for every class the file names")
    args = parser.parse_args()
    if args.runtime in fitted_by_profiles():
        raise SystemExit(f"{args.runtime}: its factors are a device family's fit of every row; "
                         "run python tools/fit_profiles.py")
    fit = fit_runtime(args.runtime, args.tie or None)
    sources = sorted({r["source"].split(":")[0] for r in fit.rows})
    print(f"fit on all {len(fit.rows)} rows of {args.runtime} ({len(sources)} sources: "
          f"{', '.join(sources)}):")
    for row, residual in zip(fit.rows, fit.residuals, strict=True):
        print(f"  {row['id']}: residual {residual:+.1%}")
    print("compute_scale = {" + ", ".join(f"{c} = {v:.6g}" for c, v in fit.scales.items()) + "}")


if __name__ == "__main__":
    main()
