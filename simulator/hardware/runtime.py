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
"""

from __future__ import annotations

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
