"""How far to trust an expected figure: its device class's out-of-sample error.

The cross-validation (:mod:`simulator.calibration.crossval`, ``roofline accuracy --cv``) predicts each
published row with figures fitted without that row's device (leave-one-device-out): the case of a
device the user does not own. Its per-class summary is written, with the class of every shipped
device, to ``hardware_profiles/measurements/out_of_sample.json`` by ``python tools/update_readme_accuracy.py``
(tests check that file against the README's out-of-sample table). A prediction prints its class's
figure beside the expected value. A user's profile written with ``extends``
(:mod:`simulator.hardware.extends`) has no rows of its own: it gets the figure of its family, the
class of the shipped device its ``extends`` chain starts from, and says that it is the family's
(:attr:`ErrorBand.borrowed_from`). A device in no cross-validated family (a profile written from a
data sheet, a user's profile that extends none) says that it has none, rather than borrowing one.

A device running a runtime version no file lists (``nucleo-l4r5zi@x-cube-ai-10.0``: the newest file
at or below it lends its factors, :func:`simulator.hardware.runtime.with_borrowed`) quotes its class's
TIME-SPLIT figure instead (:data:`NEW_RUNTIME_PROTOCOL`, the ``time_split_classes`` of the file) and
says which file it borrowed (:attr:`ErrorBand.runtime_note`): the time split is the fit's prediction of
results published later, with runtime versions the fit had no rows of (X-CUBE-AI 9.0 on the boards),
which is the case of a runtime newer than every file; the leave-one-device-out figure measures a new
device on runtimes the fit knows, and would understate the error.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path

#: the generated file, in the profiles' package data
BANDS_FILE = ("measurements", "out_of_sample.json")
#: the protocol quoted beside a prediction: a device held out of the fit, as a user's device is
PROTOCOL = "leave-one-device-out"
#: the protocol quoted for a runtime version no file lists (the fit has no row of it)
NEW_RUNTIME_PROTOCOL = "time-split"
#: the class of LLM rows (their serving figures are cross-validated apart from the kernels')
LLM_CLASS = "LLM"


@dataclass(frozen=True)
class ErrorBand:
    """``n`` held-out rows of ``device_class`` under ``protocol``: the median and the 90th percentile
    of |predicted / measured − 1| (fractions), and the share of rows within ±20%.

    ``borrowed_from``: None when the figure is the device's own class's; else the shipped device
    whose class it is, which the device's profile extends (the device itself has no rows).
    ``runtime_note``: None, or for a runtime version no file lists the sentence naming the file it
    borrowed (the figure is then the class's time-split one)."""

    device_class: str
    protocol: str
    n: int
    within_20_share: float
    median_abs_error: float
    p90_abs_error: float
    borrowed_from: str | None = None
    runtime_note: str | None = None

    def describe(self) -> str:
        """``typically within ±22% (median |error|; 90% of rows within ±39%) on 34 edge GPU
        measurements this model was not fitted to (leave-one-device-out)``, then, for a borrowed
        figure, ``; its family's figure (its profile extends h100-sxm): this device has no rows of
        its own``."""
        family = ("" if self.borrowed_from is None else
                  f"; its family's figure (its profile extends {self.borrowed_from}): this device has no "
                  "rows of its own")
        return (f"typically within ±{self.median_abs_error:.0%} (median |error|; 90% of rows within "
                f"±{self.p90_abs_error:.0%}) on {self.n} {self.device_class} measurements this model was "
                f"not fitted to ({self.protocol}){family}"
                + ("" if self.runtime_note is None else f"; {self.runtime_note}"))

    def to_dict(self) -> dict:
        """The fields as a dict; ``borrowed_from`` only where the figure is borrowed (a class's own
        figures, as ``out_of_sample.json`` stores them, have none)."""
        record = asdict(self)
        for key in ("borrowed_from", "runtime_note"):
            if record[key] is None:
                del record[key]
        return record


@functools.cache
def _bands() -> dict:
    # the package's folder from its spec: importlib.resources costs a start-up several milliseconds
    spec = importlib.util.find_spec("simulator.hardware_profiles")
    path = Path(next(iter(spec.submodule_search_locations or ())), *BANDS_FILE) if spec else Path(*BANDS_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"classes": {}, "devices": {}}


def device_class(device: str) -> str | None:
    """The cross-validated class of a shipped device (``DEVICE@RUNTIME`` reads DEVICE), or None."""
    return _bands()["devices"].get(device.partition("@")[0])


#: profile name -> the shipped device its ``extends`` chain starts from, for the profiles read from
#: files in this process (:func:`note_family`); results name a device, not its file
_FAMILIES: dict[str, str] = {}


def note_family(device: str, extends: str | None) -> None:
    """Records that the profile named ``device`` (just read from a file) extends the shipped device
    ``extends`` (None: it extends none), so that its results borrow that device's class's figure. The
    loader calls it for every profile file; the last profile read under a name wins."""
    if extends is None:
        _FAMILIES.pop(device, None)
    else:
        _FAMILIES[device] = extends


#: the sentence naming the runtime file a ``DEVICE@VERSION`` read in this process borrowed, by device
#: name (:func:`note_borrowed`)
_BORROWED: dict[str, str] = {}


def note_borrowed(device: str, note: str) -> None:
    """Records that the device named ``device`` (``DEVICE@VERSION``, just resolved) runs a runtime version
    no file lists, read with the file ``note`` names (:func:`simulator.hardware.runtime.with_borrowed`),
    so that its results quote the time-split band. The loader calls it for every such device."""
    _BORROWED[device] = note


def error_band(device: str, llm: bool = False) -> ErrorBand | None:
    """The out-of-sample error of the expected model on ``device``'s class (the LLM class for an LLM
    figure on a device of a cross-validated class), or None when there is none.

    A device of no class whose profile extends a shipped device of one (:func:`note_family`) gets that
    class's figure, marked ``borrowed_from`` the shipped device. A runtime version no file lists
    (``DEVICE@x-cube-ai-10.0``) gets the class's time-split figure with the sentence naming the file it
    borrowed, or None where the file holds no time-split figure for the class."""
    name = device.partition("@")[0]
    borrowed = None if device_class(name) is not None else _FAMILIES.get(name)
    cls = device_class(borrowed if borrowed is not None else name)
    if cls is None:
        return None
    note = _BORROWED.get(device)
    key = "classes" if note is None else "time_split_classes"
    figures = _bands().get(key, {}).get(LLM_CLASS if llm else cls)
    return None if figures is None else ErrorBand(**figures, borrowed_from=borrowed, runtime_note=note)


NO_BAND = ("no out-of-sample figure for this device's class (it is in no cross-validated family): "
           "treat the expected value as unvalidated")
