"""``roofline list``: the built-in networks (matching a pattern), the shipped devices with what
they compute in, what they can only store, their peaks, bandwidth, memory capacity (of the largest
level) and runtimes, or the shipped runtimes
(``DEVICE@RUNTIME``) with the devices they apply to and their compute scales."""

from __future__ import annotations

import argparse


def configure(listing: argparse.ArgumentParser) -> None:
    listing.add_argument("what", nargs="?", choices=("networks", "devices", "llms", "runtimes"),
                         default="networks", help="what to list (default networks)")
    listing.add_argument("pattern", nargs="?", default="*",
                         help="shell-style pattern of names, e.g. 'efficientvit_*' (default: all)")
    listing.set_defaults(handler=run)


#: what each listing holds, for the line that says nothing matched
_WHAT = {"networks": "built-in network", "devices": "shipped device", "llms": "built-in LLM",
         "runtimes": "shipped runtime"}


def matching(names: list[str], what: str, pattern: str) -> list[str]:
    """``names`` that match ``pattern``; none is an error, the same one line (exit status 2) for every
    listing: what was looked for, the pattern, and how to see every name."""
    import fnmatch

    from simulator.errors import SimulatorError

    found = fnmatch.filter(sorted(names), pattern)
    if not found:
        raise SimulatorError(f"no {_WHAT[what]} matches {pattern!r}; `roofline list {what}` lists them all")
    return found


def run(args: argparse.Namespace) -> int:
    if args.what == "networks":
        from simulator.catalog import available_networks

        print("\n".join(matching(available_networks(), "networks", args.pattern)))
        return 0
    if args.what == "llms":
        from simulator.llm.config import available_llms

        print("\n".join(matching(list(available_llms()), "llms", args.pattern)))
        return 0
    if args.what == "runtimes":
        from simulator.hardware.loader import available_runtimes

        return _list_runtimes(matching(list(available_runtimes()), "runtimes", args.pattern))
    from simulator.hardware.loader import (
        available_devices,
        available_runtimes,
        resolve_device,
        resolve_runtime,
    )
    from simulator.precision import PRECISION_BITS
    from simulator.report import render_table
    from simulator.units import format_bytes, format_count

    runtimes = [resolve_runtime(r) for r in sorted(available_runtimes())]
    rows = []
    for name in matching(list(available_devices()), "devices", args.pattern):
        device = resolve_device(name)
        peaks = ", ".join(f"{p} {format_count(device.peak_for(p))} op/s" for p in device.precisions)
        # narrower formats a device has no peak for are stored and widened to compute (W4A16)
        smallest = min(PRECISION_BITS[p] for p in device.precisions)
        stores = [p for p, bits in PRECISION_BITS.items() if p not in device.precisions and bits < smallest]
        dram, main = device.memory_levels[0], device.main_memory
        rows.append([name, peaks, ", ".join(stores) or "-",
                     f"{dram.name} {format_bytes(dram.bandwidth_bytes_per_s)}/s",
                     f"{main.name} {_binary_bytes(main.capacity_bytes)}",
                     ", ".join(f"@{r.name}" for r in runtimes if name in r.devices) or "-"])
    # every column is text (names, lists, quantities with their level and unit): all left-aligned
    print(render_table(["device", "computes in (peak)", "stores only", "outer memory bandwidth",
                        "memory capacity", "runtimes"], rows, left=6))
    return 0


def _list_runtimes(names: list[str]) -> int:
    """One line per runtime: the devices it applies to (the one it was fitted on first), its scales."""
    from simulator.hardware.loader import resolve_runtime
    from simulator.report import render_table

    rows = []
    for name in names:
        runtime = resolve_runtime(name)
        others = [d for d in runtime.devices if d != runtime.fitted_on]
        rows.append([name, runtime.description, f"{runtime.fitted_on} (fit); {', '.join(others) or '-'}",
                     ", ".join(f"{c} x{f:g}" for c, f in runtime.compute_scale.items())])
    # every column is text (the scales are a list of "kind xF"): all left-aligned
    print(render_table(["runtime", "description", "devices", "compute fraction scale"], rows, left=4))
    return 0


def _binary_bytes(value_bytes: int) -> str:
    """``85_899_345_920 -> '80 GiB'``: capacities in the binary units the profiles are written in."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value_bytes >= scale:
            return f"{value_bytes / scale:.4g} {unit}"
    return f"{value_bytes} B"
