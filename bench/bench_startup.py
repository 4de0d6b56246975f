"""Start-up cost of ``roofline`` commands as whole processes, as ratios to ``python -c "import numpy"``.

Each command and the baseline run in turn, ``--repeat`` times (default 7), and each one's time is
the minimum over its runs, so a loaded machine slows all of them alike and the ratio stays
meaningful. Both the wall-clock time and the CPU time (user + system) of each process are shown;
the targets are checked on CPU time, which waiting for a core on a loaded machine does not inflate.
Targets (issue 21): ``count resnet50`` at most 1.5x the baseline, ``simulate resnet50 --device
jetson-agx-orin`` at most 2.5x. The commands run as ``python -m simulator`` (what the
``roofline`` script runs) with their output discarded.

    python bench/bench_startup.py [--repeat N] [--check] [--breakdown]

``--check`` exits with status 1 when a ratio is above its target. ``--breakdown`` also shows where the
CPU time of ``simulate`` goes, in one process that imports in stages (:data:`STAGES`, the least of
``--repeat`` runs for each stage): the interpreter's start, numpy, pydantic's ``BaseModel`` and
``Field`` (what every profile model needs), :mod:`simulator.hardware.device` (its model classes), the
first ``simulate`` call (the simulator's other modules, the cached profile, the simulation and its
table), a second call (the command's work alone) and the process's exit (as ``roofline`` ends it:
:func:`simulator.cli.exit_process`, without the interpreter's teardown).

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


#: the stages of :data:`BREAKDOWN`, in order
STAGES = ("interpreter start", "import numpy", "pydantic BaseModel, Field", "simulator.hardware.device",
          "first simulate (other imports + work)", "second simulate (work)",
          "process exit (cli.exit_process)")
#: the program that times :data:`STAGES` (CPU time of the process, all its threads) and prints them in ms
BREAKDOWN = """
import contextlib, io, time
marks = [time.process_time()]
import numpy
marks.append(time.process_time())
from pydantic import BaseModel, Field
marks.append(time.process_time())
import simulator.hardware.device
marks.append(time.process_time())
from simulator.cli import exit_process, main
for _ in range(2):
    with contextlib.redirect_stdout(io.StringIO()):
        main(["simulate", "resnet50", "--device", "jetson-agx-orin"])
    marks.append(time.process_time())
print(" ".join(str((b - a) * 1e3) for a, b in zip([0.0, *marks], marks)))
exit_process(0)
"""


def breakdown(repeat: int, environment: dict[str, str]) -> list[float]:
    """The least CPU time of each of :data:`STAGES` over ``repeat`` runs of :data:`BREAKDOWN` [ms],
    against the profile cache of a first, untimed run; the last stage is the process's CPU time less
    the others' (what it spends after the second call)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="roofline-profiles-") as profiles:
        environment = {**environment, "ROOFLINE_CACHE_DIR": profiles}
        for _ in range(repeat + 1):
            cpu_s = _children_cpu_s()
            stages = subprocess.run([sys.executable, "-c", BREAKDOWN], capture_output=True, text=True,
                                    check=True, env=environment).stdout.split()
            stages_ms = [float(stage) for stage in stages]
            runs.append([*stages_ms, (_children_cpu_s() - cpu_s) * 1e3 - sum(stages_ms)])
    return [min(run[stage] for run in runs[1:]) for stage in range(len(STAGES))]


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
    parser.add_argument("--breakdown", action="store_true",
                        help="also show the CPU time of simulate's stages (imports, the command's work)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run with the environment as it is (PYTHONDONTWRITEBYTECODE respected)")
    args = parser.parse_args()
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="roofline-pycache-") as cache:
        if not args.no_bytecode_cache:
            environment.pop("PYTHONDONTWRITEBYTECODE", None)
            environment["PYTHONPYCACHEPREFIX"] = cache
        best_s = measure(args.repeat, environment)
        stages_ms = breakdown(args.repeat, environment) if args.breakdown else []
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
    if stages_ms:
        print(f"simulate resnet50 --device jetson-agx-orin in stages, one process, CPU time (least of "
              f"{args.repeat} runs each; as ratios to the baseline's CPU time):")
        for stage, ms in zip(STAGES, stages_ms, strict=True):
            print(f"  {stage:<53} {ms:7.1f} ms {ms / 1e3 / baseline_cpu_s:5.2f}x")
    return 1 if (failed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
