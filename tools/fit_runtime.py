"""Fit a runtime's compute scales on the dataset's ``fit`` rows of that runtime (never on ``check`` rows).

    python tools/fit_runtime.py x-cube-ai-9.0
    python tools/fit_runtime.py hf-transformers --tie

A runtime (``hardware_profiles/runtimes/NAME.toml``, :mod:`simulator.hardware.runtime`) scales the
compute fraction of the kernel classes it names, relative to the profile of ``fitted_on``. The fit rows
are the dataset rows of that device whose runtime the file covers and whose role is ``fit``; the
factors (one per class, or one for all with ``--tie``) minimize the squared log error of the expected
prediction on them. Every other row of the runtime, on the same
device or on the other ``devices``, is a check. Prints the ``compute_scale`` table to put in the file.
The fit is the package's Levenberg–Marquardt (:func:`simulator.calibration.cv_fit.levenberg_marquardt`,
numpy only) on the log factors.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from simulator.accuracy import load_measurements, predict  # noqa: E402
from simulator.calibration.cv_fit import levenberg_marquardt  # noqa: E402
from simulator.hardware.loader import available_runtimes, load_runtime, resolve_device  # noqa: E402
from simulator.hardware.runtime import with_runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runtime", choices=sorted(available_runtimes()), help="a shipped runtime")
    parser.add_argument("--tie", action="store_true", help="one factor for every class the file names")
    args = parser.parse_args()
    runtime = load_runtime(available_runtimes()[args.runtime])
    device = resolve_device(runtime.fitted_on)
    rows = [r for r in load_measurements() if r["device"] == runtime.fitted_on and r["role"] == "fit"
            and runtime.covers(r.get("runtime", ""), r.get("runtime_version", ""))]
    if not rows:
        raise SystemExit(f"no fit rows of {runtime.name} on {runtime.fitted_on}")
    classes = list(runtime.compute_scale)

    def scales(x: np.ndarray) -> dict[str, float]:
        return {c: math.exp(x[0 if args.tie else i]) for i, c in enumerate(classes)}

    def residuals(x: np.ndarray) -> np.ndarray:
        trial = with_runtime(device, runtime.model_copy(update={"compute_scale": scales(x)}))
        return np.array([math.log(predict({**r, "device": trial})["expected"] / float(r["value"]))
                         for r in rows])

    x, _ = levenberg_marquardt(residuals, np.zeros(1 if args.tie else len(classes)))
    print(f"fit on {len(rows)} rows of {runtime.fitted_on}:")
    for row, r in zip(rows, residuals(x), strict=True):
        print(f"  {row['id']}: residual {math.expm1(r):+.1%}")
    print("compute_scale = {" + ", ".join(f"{c} = {v:.3f}" for c, v in scales(x).items()) + "}")


if __name__ == "__main__":
    main()
