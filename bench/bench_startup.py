"""Start-up cost of ``roofline`` commands as whole processes, as ratios to ``python -c "import numpy"``.

Each command and the baseline run in turn, ``--repeat`` times (default 7), and each one's time is
the minimum over its runs, so a loaded machine slows all of them alike and the ratio stays
meaningful. Targets (issue 21): ``count resnet50`` at most 1.5x the baseline, ``simulate resnet50
--device jetson-agx-orin`` at most 2.5x. The commands run as ``python -m simulator`` (what the
``roofline`` script runs) with their output discarded.

    python bench/bench_startup.py [--repeat N] [--check]

``--check`` exits with status 1 when a ratio is above its target.

Bytecode: numpy is installed with its compiled ``.pyc`` files, and so is the simulator when
installed from a wheel; a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` instead compiles every
simulator module from source in every process (about a tenth of a second). So that both sides are
measured alike, the processes write and reuse bytecode under a temporary ``PYTHONPYCACHEPREFIX``
(nothing is written into the source tree) after one untimed warm-up run of each command;
``--no-bytecode-cache`` measures with the environment as it is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

#: label -> (arguments to the interpreter, largest ratio to the baseline; None for the baseline)
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "python -c 'import numpy'": (["-c", "import numpy"], None),
    "roofline count resnet50": (["-m", "simulator", "count", "resnet50"], 1.5),
    "roofline simulate resnet50 --device jetson-agx-orin":
        (["-m", "simulator", "simulate", "resnet50", "--device", "jetson-agx-orin"], 2.5),
}


def wall_s(arguments: list[str], environment: dict[str, str]) -> float:
    """Wall-clock seconds of one ``python ARGUMENTS`` process, output discarded."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], stdout=subprocess.DEVNULL, check=True, env=environment)
    return time.perf_counter() - start


def measure(repeat: int, environment: dict[str, str]) -> dict[str, float]:
    """Each command's least wall-clock time over ``repeat`` runs, the commands taken in turn [s]."""
    for arguments, _target in COMMANDS.values():  # untimed: writes the bytecode cache, warms the disk
        wall_s(arguments, environment)
    best_s = {label: float("inf") for label in COMMANDS}
    for _ in range(repeat):
        for label, (arguments, _target) in COMMANDS.items():
            best_s[label] = min(best_s[label], wall_s(arguments, environment))
    return best_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (the minimum counts)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio is above its target")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run with the environment as it is (PYTHONDONTWRITEBYTECODE respected)")
    args = parser.parse_args()
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="roofline-pycache-") as cache:
        if not args.no_bytecode_cache:
            environment.pop("PYTHONDONTWRITEBYTECODE", None)
            environment["PYTHONPYCACHEPREFIX"] = cache
        best_s = measure(args.repeat, environment)
    baseline_label = next(iter(COMMANDS))
    baseline_s = best_s[baseline_label]
    failed = False
    bytecode = "as the environment has it" if args.no_bytecode_cache else "bytecode cached"
    print(f"start-up, min of {args.repeat} runs each ({bytecode}), as ratios to the baseline")
    for label, (_arguments, target) in COMMANDS.items():
        ratio = best_s[label] / baseline_s
        if target is None:
            print(f"  {label:<55}{best_s[label] * 1e3:8.1f} ms  (baseline)")
            continue
        verdict = "ok" if ratio <= target else "ABOVE TARGET"
        failed |= ratio > target
        print(f"  {label:<55}{best_s[label] * 1e3:8.1f} ms  {ratio:5.2f}x  (target <= {target}x: {verdict})")
    return 1 if (failed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
