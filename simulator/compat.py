"""What differs between the Python versions the package supports (3.10 and newer).

``tomllib`` joined the standard library in Python 3.11; on 3.10 its backport ``tomli`` (the same
code, a declared dependency there) is imported under the same name.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by CI on Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
