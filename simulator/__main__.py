"""``python -m simulator`` is the ``roofline`` command."""

from simulator.cli import run

run()
