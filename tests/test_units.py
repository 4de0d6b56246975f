"""Display formatting: SI values in, human units out."""

from simulator.units import format_bytes, format_count, format_joules, format_seconds


def test_counts_use_decimal_prefixes():
    assert format_count(61_000_000) == "61M"
    assert format_count(724_406_816) == "724M"
    assert format_count(1_451_110_888) == "1.45G"
    assert format_count(999) == "999"


def test_bytes_are_decimal_as_the_lecture_quotes_model_sizes():
    assert format_bytes(61e6 * 4) == "244 MB"  # the lecture's 61M params at 32 bits
    assert format_bytes(327_680) == "328 kB"
    assert format_bytes(12) == "12 B"


def test_seconds_and_joules_pick_the_prefix():
    assert format_seconds(0.64e-3) == "640 µs"
    assert format_seconds(12.5) == "12.5 s"
    assert format_seconds(0) == "0 s"
    assert format_joules(4.6e-12) == "4.6 pJ"
    assert format_joules(0.0042) == "4.2 mJ"
