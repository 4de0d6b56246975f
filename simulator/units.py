"""Display formatting: SI base units in, human-readable strings out. Only for display."""

from __future__ import annotations

import math

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_count(value: float) -> str:
    """``61_000_000 -> '61M'``, ``724_406_816 -> '724M'`` (decimal prefixes)."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.3g}{prefix}" if value / scale < 100 else f"{value / scale:.0f}{prefix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_bytes(value_bytes: float) -> str:
    """``244_000_000 -> '244 MB'`` (decimal units, as model sizes are quoted in the lecture)."""
    for scale, prefix in _PREFIXES:
        if abs(value_bytes) >= scale:
            return f"{value_bytes / scale:.3g} {prefix}B"
    return f"{value_bytes:.0f} B"


def format_seconds(value_s: float) -> str:
    """``0.00123 -> '1.23 ms'``."""
    if value_s == 0 or not math.isfinite(value_s):
        return f"{value_s:g} s"
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if abs(value_s) >= scale:
            return f"{value_s / scale:.3g} {unit}"
    return f"{value_s / 1e-12:.3g} ps"


def format_joules(value_j: float) -> str:
    """``0.0042 -> '4.2 mJ'``."""
    if value_j == 0 or not math.isfinite(value_j):
        return f"{value_j:g} J"
    for scale, unit in ((1, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")):
        if abs(value_j) >= scale:
            return f"{value_j / scale:.3g} {unit}"
    return f"{value_j / 1e-12:.3g} pJ"
