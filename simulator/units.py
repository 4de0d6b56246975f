"""Display formatting: SI base units in, human-readable strings out. Only for display."""

from __future__ import annotations

import math

_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
#: At or past this, a value is written in scientific notation (``1.23e+21``): no prefix is left.
_BEYOND_PREFIXES = 1e21


def format_count(value: float) -> str:
    """``61_000_000 -> '61M'``, ``724_406_816 -> '724M'`` (decimal prefixes up to exa, E = 1e18;
    scientific notation beyond, ``1.23e+21``), never more than three digits before a prefix."""
    if not math.isfinite(value) or abs(value) >= _BEYOND_PREFIXES:
        return f"{value:.3g}"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            scaled = value / scale
            text = f"{scaled:.3g}" if abs(scaled) < 100 else f"{scaled:.0f}"
            if abs(float(text)) >= 1000:  # 999.6 rounds to 1000: the next prefix up
                return format_count(math.copysign(scale * 1000, value))
            return f"{text}{prefix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_bytes(value_bytes: float) -> str:
    """``244_000_000 -> '244 MB'`` (decimal units, as model sizes are quoted in the lecture), up to
    EB (1e18 bytes); scientific notation beyond (``1.23e+21 B``)."""
    if not math.isfinite(value_bytes) or abs(value_bytes) >= _BEYOND_PREFIXES:
        return f"{value_bytes:.3g} B"
    for scale, prefix in _PREFIXES:
        if abs(value_bytes) >= scale:
            text = f"{value_bytes / scale:.3g}"
            if "e" in text:  # 999.9 rounds to 1e+03: the next prefix up
                return format_bytes(math.copysign(scale * 1000, value_bytes))
            return f"{text} {prefix}B"
    return f"{value_bytes:.0f} B"


_SUBUNITS = ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def _format_small(value: float, unit: str) -> str:
    """Three significant digits with the largest prefix from 1 down to pico that keeps it >= 1."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    for scale, prefix in _SUBUNITS:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value / 1e-12:.3g} p{unit}"


def format_seconds(value_s: float) -> str:
    """``0.00123 -> '1.23 ms'``."""
    return _format_small(value_s, "s")


def format_joules(value_j: float) -> str:
    """``0.0042 -> '4.2 mJ'``."""
    return _format_small(value_j, "J")
