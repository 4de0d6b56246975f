"""Software runtimes: the same device, other kernels.

A device profile's ``[efficiency]`` describes the kernels of one runtime (``efficiency.runtime``:
X-CUBE-AI 7.3 on the STM32 boards, TensorRT and TinyChat on Jetson Orin). Another runtime on the
same chip reaches other shares of its peak: X-CUBE-AI 9.0's depthwise convolutions run about twice
as fast as 7.3's, HuggingFace transformers' fp16 prefill about three quarters as fast as TinyChat's.
A :class:`Runtime` (one file in ``hardware_profiles/runtimes/``) says so per kernel class, as a factor
on the profile's ``compute_fraction``:

``compute_fraction(class) = profile.compute_fraction(class) × compute_scale[class]``

for the classes it names (a refined class without its own entry, ``pointwise_conv`` or ``matmul``,
follows the class it refines, :func:`simulator.kernels.class_lookup`); bandwidth fractions and
overheads stay the profile's. The ideal roofline is the same for every runtime: a runtime moves the
expected value only.

A runtime's factors are fitted on every dataset row of that runtime, whatever its role (``python
tools/fit_profiles.py``: with its device family's figures where the cross-validation covers the
rows, else by ``tools/fit_runtime.py``'s code), and it names the devices it applies to (``devices``),
a claim that a runtime's speed-up carries over from one chip of the family to the next. A device
with a runtime is written ``DEVICE@RUNTIME`` wherever a device name is accepted
(``nucleo-u575zi-q@x-cube-ai-9.0``); :func:`simulator.hardware.loader.resolve_device` reads it.

**A version with no file** (issue 19): a runtime version no file lists takes the factors of the
NEWEST file of the same runtime at or below it (same ``runtime``, versions compared numerically:
9.0.0 > 8.1.0 > 8.0.0 > 7.3.0), else the bare device (whose profile describes the oldest version,
X-CUBE-AI 7.3 on the STM32 boards). The reason: a newer release of a library keeps its predecessor's
kernels unless it changes them, so the newest older release is the best figure without rows of the
new one; it adds no parameter and fits nothing. It was chosen after the time-split fold (all
X-CUBE-AI 9.0 rows held out) had shown the bare-board fallback missing (docs/out_of_sample.md). A
dataset row of such a version (:func:`newest_at_or_below`, :func:`simulator.accuracy.row_device`)
and a device written ``DEVICE@STEM-VERSION`` for a version no file lists (``nucleo-l4r5zi@x-cube-ai-10.0``,
:func:`borrowed_runtime`) read it so; the prediction says which file it borrowed and quotes the
device class's time-split error band (:mod:`simulator.hardware.error_band`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import Field, field_validator

from simulator.errors import SimulatorError
from simulator.hardware.device import Device, Number, _Frozen
from simulator.kernels import EFFICIENCY_CLASSES

#: The separator of a device name and a runtime name: ``DEVICE@RUNTIME``.
RUNTIME_SEPARATOR = "@"


class Runtime(_Frozen):
    """A runtime's kernels relative to those a device profile's efficiency model describes.

    ``runtime`` and ``versions``: how the measurement dataset names it (its ``runtime`` column starts
    with ``runtime``; ``runtime_version`` is one of ``versions``). ``devices``: the profiles it applies
    to; ``fitted_on``: the one whose rows first gave ``compute_scale`` (the factors are now fitted on
    every row of the runtime, ``python tools/fit_profiles.py``).
    ``compute_scale``: per kernel class, the factor on the profile's ``compute_fraction``.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    runtime: str = Field(min_length=1)
    versions: tuple[str, ...] = ()
    devices: tuple[str, ...] = Field(min_length=1)
    fitted_on: str = Field(min_length=1)
    compute_scale: dict[str, Number] = Field(min_length=1)
    source: str

    @field_validator("compute_scale")
    @classmethod
    def _scales(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [name for name in value if name not in EFFICIENCY_CLASSES]
        if unknown:
            raise ValueError(f"unknown efficiency class {unknown[0]!r}; "
                             f"valid: {', '.join(EFFICIENCY_CLASSES)}")
        bad = [name for name, factor in value.items() if not factor > 0]
        if bad:
            raise ValueError(f"factors must be greater than 0; not so for {', '.join(bad)}")
        return value

    def covers(self, runtime: str, version: str) -> bool:
        """Whether a measurement of ``runtime`` (the dataset's name) at ``version`` ran this runtime."""
        return runtime.startswith(self.runtime) and (not self.versions or version in self.versions)

    @property
    def newest_version(self) -> tuple[int, ...] | None:
        """The highest of ``versions`` as :func:`version_key` reads it; None when the file lists none
        or one is not a numeric version (a commit hash), so no other version falls back to it."""
        keys = [version_key(v) for v in self.versions]
        numeric = [k for k in keys if k is not None]
        return None if not keys or len(numeric) < len(keys) else max(numeric)


#: a runtime file's name: a stem and a numeric version (``x-cube-ai-9.0`` -> ``x-cube-ai``, ``9.0``)
_NAME_VERSION = re.compile(r"^(?P<stem>.+?)-(?P<version>\d+(?:\.\d+)*)$")


def version_key(version: str) -> tuple[int, ...] | None:
    """``"9.0.0"`` -> ``(9,)``, ``"8.1"`` -> ``(8, 1)``: the numeric parts without trailing zeros (so
    9.0 and 9.0.0 are one version and tuples compare as versions do); None when ``version`` is not
    dot-separated integers (a commit hash)."""
    if not re.fullmatch(r"\d+(?:\.\d+)*", version.strip()):
        return None
    parts = [int(p) for p in version.strip().split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _newest(runtime: Runtime) -> tuple[int, ...]:
    """``runtime.newest_version``, () where it has none (the callers keep only files that have one)."""
    return runtime.newest_version or ()


def newest_at_or_below(runtimes: Iterable[Runtime], runtime: str, version: str,
                       device: str | None = None) -> Runtime | None:
    """Of ``runtimes``, the one whose newest version is the highest at or below ``version`` among
    those describing the dataset's ``runtime`` (it starts with their ``runtime``) and, where ``device``
    is given, naming it; None when there is none (or ``version`` is not numeric): the bare device."""
    key = version_key(version)
    if key is None:
        return None
    candidates = [r for r in runtimes if runtime.startswith(r.runtime) and r.newest_version is not None
                  and _newest(r) <= key and (device is None or device in r.devices)]
    return max(candidates, key=_newest, default=None)


def older_runtimes(runtime: Runtime, runtimes: Iterable[Runtime]) -> list[str]:
    """The names of the files of ``runtime``'s runtime whose versions are all older than its oldest,
    newest first: where a fit has no rows of ``runtime``, the files whose factors it takes, in turn."""
    keys = [version_key(v) for v in runtime.versions]
    own = [k for k in keys if k is not None]
    if not own or len(own) < len(keys):
        return []
    oldest = min(own)
    older = [r for r in runtimes if r.runtime == runtime.runtime and r.name != runtime.name
             and r.newest_version is not None and _newest(r) < oldest]
    return [r.name for r in sorted(older, key=_newest, reverse=True)]


def borrowed_runtime(name: str, runtimes: Iterable[Runtime]) -> tuple[Runtime | None, str] | None:
    """For a runtime ``name`` no file has, written ``STEM-VERSION`` (``x-cube-ai-10.0``) with the stem
    of shipped files (``x-cube-ai-9.0``, ``x-cube-ai-8.1``): the newest of them at or below VERSION
    (None: none is, the bare device) and the sentence that says so. None when ``name`` is not of that
    form, no file has its stem (an unknown runtime), or a file lists that very version under another
    spelling (``x-cube-ai-9`` for the file ``x-cube-ai-9.0``: the caller suggests the file's name)."""
    match = _NAME_VERSION.match(name)
    if match is None:
        return None
    stem, version = match["stem"], match["version"]
    family = [r for r in runtimes if (m := _NAME_VERSION.match(r.name)) is not None and m["stem"] == stem
              and r.newest_version is not None]
    if not family:
        return None
    key = version_key(version) or ()  # the pattern above admits only dot-separated integers
    if any(version_key(v) == key for r in family for v in r.versions):
        return None
    below = [r for r in family if _newest(r) <= key]
    chosen = max(below, key=_newest, default=None)
    if chosen is None:
        return None, (f"runtime {name} has no file and none older: using the device's own kernels "
                      f"(its profile's runtime), as {', '.join(sorted(r.name for r in family))} are newer")
    return chosen, f"runtime {name} has no file: using {chosen.name}'s (the newest at or below {version})"


def with_runtime(device: Device, runtime: Runtime) -> Device:
    """``device`` as it runs ``runtime``: each named class's compute fraction scaled by its factor,
    the name ``DEVICE@RUNTIME``. Refused for a device the runtime does not name, for one without an
    efficiency model, and where a scaled fraction would exceed 1."""
    if device.name not in runtime.devices:
        raise SimulatorError(f"runtime {runtime.name!r} is described for {', '.join(runtime.devices)}; "
                             f"not for device {device.name!r}")
    model = device.efficiency
    if model is None:
        raise SimulatorError(f"device {device.name!r} has no efficiency model for runtime {runtime.name!r} "
                             "to scale")
    classes = dict(model.classes)
    for name, factor in runtime.compute_scale.items():
        base = model.for_class(name)
        fraction = base.compute_fraction * factor
        if fraction > 1:
            raise SimulatorError(f"runtime {runtime.name!r} scales the {name} compute fraction of "
                                 f"{device.name!r} ({base.compute_fraction:g}) by {factor:g} to "
                                 f"{fraction:g}; a fraction of peak cannot exceed 1")
        classes[name] = base.model_copy(update={"compute_fraction": fraction})
    llm = model.llm_compute_fraction
    if llm is not None and "gemm" in runtime.compute_scale:
        # an LLM pass's GEMM-like kernels compute at llm_compute_fraction: the gemm factor applies to it
        llm = min(llm * runtime.compute_scale["gemm"], 1.0)
    scaled = model.model_copy(update={
        "classes": classes, "runtime": runtime.runtime, "llm_compute_fraction": llm,
        "source": f"{model.source} Runtime {runtime.name}: {runtime.source}",
    })
    return device.model_copy(update={"name": f"{device.name}{RUNTIME_SEPARATOR}{runtime.name}",
                                     "efficiency": scaled})


def with_borrowed(device: Device, name: str, runtimes: Iterable[Runtime]) -> tuple[Device, str] | None:
    """``device`` as it runs a runtime version no file lists (``name``, :func:`borrowed_runtime`): with
    the newest file at or below it, or as it is where none is, named ``DEVICE@NAME``, its efficiency
    model's ``source`` ending with the sentence that says which file it borrowed; and that sentence.
    None when ``name`` is no version of a shipped runtime (the caller reports the unknown name).
    Refused, as :func:`with_runtime` is, for a device no file of that runtime names."""
    runtimes = list(runtimes)
    found = borrowed_runtime(name, runtimes)
    if found is None:
        return None
    runtime, note = found
    if runtime is not None:
        scaled = with_runtime(device, runtime)
    else:
        stem = name.rpartition("-")[0]  # borrowed_runtime matched ``name`` as STEM-VERSION
        named = sorted({d for r in runtimes if (m := _NAME_VERSION.match(r.name)) and m["stem"] == stem
                        for d in r.devices})
        if device.name not in named:
            raise SimulatorError(f"runtime {name!r} is described for {', '.join(named)}; "
                                 f"not for device {device.name!r}")
        scaled = device
    model = scaled.efficiency
    if model is None:
        raise SimulatorError(f"device {device.name!r} has no efficiency model for runtime {name!r}")
    return scaled.model_copy(update={
        "name": f"{device.name}{RUNTIME_SEPARATOR}{name}",
        "efficiency": model.model_copy(update={"source": f"{model.source} {note}."})}), note

