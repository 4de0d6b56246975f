"""``python -m simulator`` is the ``roofline`` command."""

import sys

from simulator.cli import main

sys.exit(main())
