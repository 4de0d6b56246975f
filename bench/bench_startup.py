"""Start-up cost of ``roofline`` commands as whole processes, as ratios to ``python -c "import numpy"``.

Each command and the baseline run in turn, ``--repeat`` times (default 7), and each one's time is
the minimum over its runs, so a loaded machine slows all of them alike and the ratio stays
meaningful. Both the wall-clock time and the CPU time (user + system) of each process are shown;
the targets are checked on CPU time, which waiting for a core on a loaded machine does not inflate.
Targets (issue 21): ``count resnet50`` at most 1.5x the baseline, ``simulate resnet50 --device
jetson-agx-orin`` at most 2.5x. The commands run as ``python -m simulator`` (what the
``roofline`` script runs) with their output discarded.

    python bench/bench_startup.py [--repeat N] [--check]

``--check`` exits with status 1 when a ratio is above its target.

Bytecode: numpy is installed with its compiled ``.pyc`` files, and so is the simulator when
installed from a wheel; a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` instead compiles every
simulator module from source in every process (about a tenth of a second). So that both sides are
measured alike, the processes write and reuse bytecode under a temporary ``PYTHONPYCACHEPREFIX``
(nothing is written into the source tree) after one untimed warm-up run of each command;
``--no-bytecode-cache`` measures with the environment as it is.

Profiles: the warm-up run also validates the device profile once and caches it
(:mod:`simulator.hardware.profile_cache`), in a temporary ``ROOFLINE_CACHE_DIR``, so the timed runs read
it back as every run after a user's first does (a first run, of a new version or an edited profile,
validates it: some tens of milliseconds more).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_s(arguments: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one ``python ARGUMENTS`` process, output discarded."""
    start, cpu = time.perf_counter(), _children_cpu_s()
    subprocess.run([sys.executable, *arguments], stdout=subprocess.DEVNULL, check=True, env=environment)
    return time.perf_counter() - start, _children_cpu_s() - cpu


def measure(repeat: int, environment: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Each command's least wall-clock and least CPU time over ``repeat`` runs, the commands taken in
    turn [s]; the profile cache in a temporary folder of its own."""
    with tempfile.TemporaryDirectory(prefix="roofline-profiles-") as profiles:
        environment = {**environment, "ROOFLINE_CACHE_DIR": profiles}
        for arguments, _target in COMMANDS.values():  # untimed: writes the bytecode and profile caches
            run_s(arguments, environment)
        best = {label: (float("inf"), float("inf")) for label in COMMANDS}
        for _ in range(repeat):
            for label, (arguments, _target) in COMMANDS.items():
                wall, cpu = run_s(arguments, environment)
                best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
    return best


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
    baseline_wall_s, baseline_cpu_s = best_s[next(iter(COMMANDS))]
    failed = False
    bytecode = "as the environment has it" if args.no_bytecode_cache else "bytecode cached"
    print(f"start-up, min of {args.repeat} runs each ({bytecode}), as ratios to the baseline: "
          "wall-clock and CPU time (the target is checked on CPU time, which waiting for a core on a "
          "loaded machine does not inflate)")
    for label, (_arguments, target) in COMMANDS.items():
        wall, cpu = best_s[label]
        if target is None:
            print(f"  {label:<53} wall {wall * 1e3:7.1f} ms  cpu {cpu * 1e3:7.1f} ms  (baseline)")
            continue
        ratio = cpu / baseline_cpu_s
        verdict = "ok" if ratio <= target else "ABOVE TARGET"
        failed |= ratio > target
        print(f"  {label:<53} wall {wall * 1e3:7.1f} ms {wall / baseline_wall_s:5.2f}x  "
              f"cpu {cpu * 1e3:7.1f} ms {ratio:5.2f}x  (target <= {target}x: {verdict})")
    return 1 if (failed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
