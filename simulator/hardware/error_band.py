"""How far to trust an expected figure: its device class's out-of-sample error.

The cross-validation (:mod:`simulator.calibration.crossval`, ``roofline accuracy --cv``) predicts each
published row with figures fitted without that row's device (leave-one-device-out): the case of a
device the user does not own. Its per-class summary is written, with the class of every shipped
device, to ``hardware_profiles/measurements/out_of_sample.json`` by ``python tools/update_readme_accuracy.py``
(tests check that file against the README's out-of-sample table). A prediction prints its class's
figure beside the expected value; a device in no cross-validated class (a profile written from a
data sheet, a user's own profile) says that it has none, rather than borrowing one.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from dataclasses import asdict, dataclass

#: the generated file, in the profiles' package data
BANDS_FILE = ("measurements", "out_of_sample.json")
#: the protocol quoted beside a prediction: a device held out of the fit, as a user's device is
PROTOCOL = "leave-one-device-out"
#: the class of LLM rows (their serving figures are cross-validated apart from the kernels')
LLM_CLASS = "LLM"


@dataclass(frozen=True)
class ErrorBand:
    """``n`` held-out rows of ``device_class`` under ``protocol``: the median and the 90th percentile
    of |predicted / measured − 1| (fractions), and the share of rows within ±20%."""

    device_class: str
    protocol: str
    n: int
    within_20_share: float
    median_abs_error: float
    p90_abs_error: float

    def describe(self) -> str:
        """``typically within ±22% (median |error|; 90% of rows within ±39%) on 34 edge GPU
        measurements this model was not fitted to (leave-one-device-out)``."""
        return (f"typically within ±{self.median_abs_error:.0%} (median |error|; 90% of rows within "
                f"±{self.p90_abs_error:.0%}) on {self.n} {self.device_class} measurements this model was "
                f"not fitted to ({self.protocol})")

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def _bands() -> dict:
    path = importlib.resources.files("simulator.hardware_profiles")
    for part in BANDS_FILE:  # one part per joinpath: Traversable takes several only from Python 3.11
        path = path.joinpath(part)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"classes": {}, "devices": {}}


def device_class(device: str) -> str | None:
    """The cross-validated class of a shipped device (``DEVICE@RUNTIME`` reads DEVICE), or None."""
    return _bands()["devices"].get(device.partition("@")[0])


def error_band(device: str, llm: bool = False) -> ErrorBand | None:
    """The out-of-sample error of the expected model on ``device``'s class (the LLM class for an LLM
    figure on a device of a cross-validated class), or None when there is none."""
    cls = device_class(device)
    if cls is None:
        return None
    figures = _bands()["classes"].get(LLM_CLASS if llm else cls)
    return None if figures is None else ErrorBand(**figures)


NO_BAND = ("no out-of-sample figure for this device's class (it is in no cross-validated family): "
           "treat the expected value as unvalidated")
