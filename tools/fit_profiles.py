"""Fit the shipped profiles' ``[efficiency]`` figures and runtime factors on every row of the dataset.

    python tools/fit_profiles.py            # fit, and write the figures into hardware_profiles/
    python tools/fit_profiles.py --check    # exit 1, one line per figure, if the files differ from a fit

Every family of the expected model (:data:`simulator.calibration.cv_model.FAMILIES`, and the LLM
terms of :data:`simulator.calibration.cv_llm.LLM_FAMILIES`) is fitted on ALL its rows in the dataset,
by the code of ``roofline accuracy --cv``'s in-sample protocol (:mod:`simulator.calibration.shipped_fit`);
the ``role`` column is not read. The figures are written, with 12 significant digits, into

* each member profile's ``[efficiency]`` (and into a profile that inherits the family through
  ``extends`` where it states a figure of its own: an Orin module's per-kernel overhead at its clock);
* each shipped runtime's ``compute_scale`` (``hardware_profiles/runtimes/``);
* the LLM families' ``step_overhead_us``, ``gemv_bandwidth_fraction`` (written as ``[efficiency.gemv]
  bandwidth_fraction``) and ``llm_compute_fraction`` (fitted after the kernel figures are written: an
  LLM row is simulated on them).

Only the figures' lines change, and the part of the ``source`` text from :data:`MARKER` on (the
command, the rows and sources behind the fit and behind each figure); comments and every other
section are kept. Writes are atomic (a temporary file, then a rename). Deterministic: the same
dataset gives the same files. ``--check`` compares the figures as the profiles load (relative
tolerance :data:`TOLERANCE`) and the generated source texts.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from simulator.calibration import shipped_fit as sf  # noqa: E402
from simulator.calibration.cv_llm import LLM_FAMILIES, LLM_FIGURES, llm_figure  # noqa: E402
from simulator.calibration.cv_model import Family, family_of  # noqa: E402
from simulator.hardware import loader  # noqa: E402
from simulator.kernels import class_lookup  # noqa: E402

#: where the generated part of a ``source`` text starts
MARKER = "Fitted figures: `python tools/fit_profiles.py`"
#: relative tolerance of ``--check`` on a figure
TOLERANCE = 1e-6
COMMAND = "python tools/fit_profiles.py"

_HEADER = re.compile(r"^\[([^\]]+)\]\s*$")


# ---------------------------------------------------------------- TOML text, edited line by line
def _sections(lines: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(name, first line, end)`` of every table (``""``: the top level), headers outside strings."""
    out, name, start, inside = [], "", 0, False
    for i, line in enumerate(lines):
        if not inside and (found := _HEADER.match(line)):
            out.append((name, start, i))
            name, start = found.group(1).strip(), i + 1
        if line.count('"""') % 2:
            inside = not inside
    out.append((name, start, len(lines)))
    return out


def _key_lines(lines: Sequence[str], start: int, end: int) -> dict[str, int]:
    """``key -> line`` of the ``key = value`` lines in ``lines[start:end]`` outside strings."""
    out, inside = {}, False
    for i in range(start, end):
        line = lines[i]
        if not inside and (found := re.match(r"^([A-Za-z0-9_]+)\s*=", line)):
            out[found.group(1)] = i
        if line.count('"""') % 2:
            inside = not inside
    return out


def _find(lines, section: str):
    return next(((s, e) for name, s, e in _sections(lines) if name == section), None)


def set_figure(lines: list[str], section: str, key: str, text: str, add: bool) -> bool:
    """Set ``key = text`` in ``[section]``; a missing key is added after the table's last key line
    when ``add`` (a missing table after the last ``[efficiency…]`` table). Returns whether it is set."""
    where = _find(lines, section)
    if where is None:
        if not add:
            return False
        last = max(e for name, _, e in _sections(lines) if name.split(".")[0] == section.split(".")[0])
        while last > 0 and not lines[last - 1].strip():
            last -= 1
        lines[last:last] = ["", f"[{section}]", f"{key} = {text}"]
        return True
    keys = _key_lines(lines, *where)
    if key in keys:
        lines[keys[key]] = f"{key} = {text}"
        return True
    if not add:
        return False
    after = max(keys.values(), default=where[0] - 1)
    while lines[after].count('"""') % 2 and after + 1 < where[1]:  # a string's first line: skip to its end
        after += 1
        while '"""' not in lines[after]:
            after += 1
    lines.insert(after + 1, f"{key} = {text}")
    return True


def _source_span(lines: Sequence[str], section: str) -> tuple[int, int] | None:
    """First and last line of ``source = \"\"\"…\"\"\"`` in ``[section]``."""
    where = _find(lines, section)
    if where is None or "source" not in (keys := _key_lines(lines, *where)):
        return None
    first = last = keys["source"]
    if lines[first].count('"""') < 2:
        last += 1
        while '"""' not in lines[last]:
            last += 1
    return first, last


def _wrap(text: str, width: int = 104) -> list[str]:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]


def source_tail(lines: Sequence[str], section: str) -> str | None:
    """The generated part of ``[section]``'s source text as written (None: no marker)."""
    span = _source_span(lines, section)
    if span is None:
        return None
    block = lines[span[0]:span[1] + 1]
    start = next((i for i, line in enumerate(block) if line.startswith(MARKER)), None)
    if start is None:
        return None
    return " ".join(line.rstrip("\\").rstrip('"').strip() for line in block[start:])


def set_source_tail(lines: list[str], section: str, tail: str) -> None:
    """Replace ``[section]``'s source text from :data:`MARKER` on by ``tail`` (appended after the text
    when there is no marker yet)."""
    first, last = _source_span(lines, section)
    block = lines[first:last + 1]
    start = next((i for i, line in enumerate(block) if line.startswith(MARKER)), None)
    if start is None:
        head = block[:]
        head[-1] = head[-1].rstrip()[:-3].rstrip() + " \\"
    else:
        head = block[:start]
    body = _wrap(tail)
    new = [*head, *(f"{line} \\" for line in body[:-1]), f'{body[-1]}"""']
    lines[first:last + 1] = new


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- the figures a profile holds
def _number(value: float) -> str:
    return sf.significant(value)


def profile_figures(family: Family, model) -> dict[tuple[str, str], str]:
    """``(table, key) -> text`` of the fitted figures of one device's ``[efficiency]``."""
    out = {}
    if family.kernel_overhead:
        out["efficiency", "kernel_overhead_us"] = _number(model.kernel_overhead_s * 1e6)
    if family.parallel:
        out["efficiency", "buffer_capacity_fraction"] = _number(model.buffer_capacity_fraction)
        tile = model.tile_outputs["conv"]
        out["efficiency", "tile_outputs"] = f"{{conv = {tile}, gemm = {tile}, attention = {tile}}}"
    if model.tensor_energy_pj is not None:
        out["efficiency", "tensor_energy_pj"] = _number(model.tensor_energy_pj)
    for cls, entry in model.classes.items():
        out[f"efficiency.{cls}", "compute_fraction"] = _number(entry.compute_fraction)
        out[f"efficiency.{cls}", "bandwidth_fraction"] = _number(entry.bandwidth_fraction)
        if family.class_overhead.get(family.slots[cls]):
            out[f"efficiency.{cls}", "overhead_us"] = _number(entry.overhead_s * 1e6)
    return out


def _class_tables(lines: Sequence[str]) -> set[str]:
    return {name.split(".", 1)[1] for name, _, _ in _sections(lines) if name.startswith("efficiency.")}


def write_device(path: Path, family: Family, model, llm: Mapping[str, float] | None) -> None:
    """Write ``model``'s fitted figures (and the LLM terms ``llm``) into the profile at ``path``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    extends = "extends" in _key_lines(lines, *_find(lines, ""))
    figures = profile_figures(family, model)
    # a class table is added only where the engine's lookup among the file's tables would miss
    present = _class_tables(lines)
    for cls in sorted(model.classes, key=lambda c: c != "default"):
        if cls not in present and not extends:
            fallback = class_lookup({c: model.classes[c] for c in present if c in model.classes}, cls)
            if fallback != model.classes[cls]:
                present.add(cls)
    for (table, key), text in figures.items():
        if table != "efficiency" and table.split(".", 1)[1] not in present:
            continue
        set_figure(lines, table, key, text, add=not extends)
    for key, value in (llm or {}).items():
        table, name = LLM_FIGURES[key]
        name, text = (("step_overhead_us", _number(value * 1e6)) if key == "step_overhead_s"
                      else (name, _number(value)))
        set_figure(lines, table, name, text, add=not extends)
    write_atomic(path, "\n".join(lines))


def write_runtime(path: Path, scales: Mapping[str, float]) -> None:
    """Write ``compute_scale`` (in the file's class order) into the runtime file at ``path``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    cells = ", ".join(f"{cls} = {_number(value)}" for cls, value in scales.items())
    set_figure(lines, "", "compute_scale", f"{{{cells}}}", add=False)
    write_atomic(path, "\n".join(lines))


# ---------------------------------------------------------------- the generated source texts
def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _rows_sentence(ids: Sequence[str], rows) -> str:
    return f"{_count(len(ids), 'row')} from {_count(len(sf.sources_of(ids, rows)), 'source')}"


def _figures_sentence(figures: Mapping[str, Sequence[str]], rows) -> str:
    parts = []
    for name, ids in figures.items():
        text = f"{name}: {_rows_sentence(ids, rows)}"
        if len(sf.sources_of(ids, rows)) < 2:
            text += " (FEWER THAN TWO SOURCES: this figure rests on one publication)" if ids else (
                " (NOT DETERMINED: no row moves with it; the fit leaves it where the weak prior and the "
                "rows' faint pull put it)")
        parts.append(text)
    return "; ".join(parts)


def _family_sentence(name: str, fit: sf.DatasetFit, informing) -> str:
    ids = [c.id for c in fit.cases[name]]
    sources = sf.sources_of(ids, fit.rows)
    return (f'the family "{name}" fitted on every one of its {len(ids)} rows in scope of the dataset '
            f"(from {_count(len(sources), 'source')}: {', '.join(sources)}); rows behind each figure (those "
            f"whose prediction moves by 0.1% or more when the figure moves by a tenth of its range): "
            f"{_figures_sentence(informing[name], fit.rows)}")


def device_tail(device: str, fit: sf.DatasetFit, informing) -> str:
    """The generated source text of ``device``'s ``[efficiency]``."""
    family = family_of(device)
    own = sum(c.device == device for c in fit.cases[family.name])
    text = (f"{MARKER} (simulator.calibration.shipped_fit: the fit of `roofline accuracy --cv`'s in-sample "
            "protocol; no row's `role` is read, no row is chosen by hand), by least squares on log time "
            "with each figure clamped to its physical range (simulator.calibration.cv_model): "
            f"{_family_sentence(family.name, fit, informing)}. "
            + (f"{own} of those rows are this device's." if own else
               "No row of this device is among them: its figures are the family's, with its own data sheet."))
    llm = next((f for f in LLM_FAMILIES if device in f.devices and f.name in fit.llm_fits), None)
    if llm is not None:
        text += (" LLM terms step_overhead_us, gemv_bandwidth_fraction and llm_compute_fraction: "
                 f"{_family_sentence(llm.name, fit, informing)}, simulated on the kernel figures above.")
    return text + f" `{COMMAND} --check` recomputes them."


def runtime_tail(runtime: str, fit: sf.DatasetFit, informing) -> str:
    """The generated source text of a runtime file."""
    family = next(name for name, result in fit.fits.items()
                  if any(v.startswith(f"scale:{runtime}:") for v in result.values))
    figures = {k: v for k, v in informing[family].items() if k.startswith(f"scale:{runtime}:")}
    ids = [c.id for c in fit.cases[family]]
    return (f"{MARKER}: the factors are the parameters {', '.join(figures)} of the family \"{family}\", "
            f"fitted on every one of its {len(ids)} rows in scope ({_rows_sentence(ids, fit.rows)}; no row's "
            "`role` is read), by least squares on log time, each factor in 0.01-10 (simulator.calibration"
            f".cv_model). Rows behind each factor: {_figures_sentence(figures, fit.rows)}. "
            f"`{COMMAND} --check` recomputes them.")


def _runtime_tool():
    """tools/fit_runtime.py, loaded as a module (tools/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fit_runtime", Path(__file__).with_name("fit_runtime.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return sys.modules[spec.name]


def other_runtime_fits(fit: sf.DatasetFit) -> dict:
    """``runtime -> RuntimeFit`` of every shipped runtime no family fit gives factors for (the runtime
    files of LLM rows the cross-validation leaves out: HuggingFace transformers on Orin), fitted on every
    row it covers by ``tools/fit_runtime.py``'s code, on the profiles as loaded."""
    tool = _runtime_tool()
    fitted = sf.runtime_scales(fit)
    names = [name for name in sorted(loader.available_runtimes()) if name not in fitted]
    return {name: tool.fit_runtime(name) for name in names}


def other_runtime_tail(result) -> str:
    """The generated source text of a runtime fitted by :func:`other_runtime_fits`."""
    rows = {r["id"]: r for r in result.rows}
    residuals = ", ".join(f"{r['id']} {e:+.0%}" for r, e in zip(result.rows, result.residuals, strict=True))
    few = " (FEWER THAN TWO SOURCES: these factors rest on one publication)" if len(
        sf.sources_of(list(rows), rows)) < 2 else ""
    return (f"{MARKER} (tools/fit_runtime.py's fit): the factors minimize the squared log error of the "
            f"expected prediction on every one of the {_rows_sentence(list(rows), rows)}{few} this runtime "
            "covers on the devices it names, whatever their `role` (the column is not read), relative to the "
            f"profiles' kernel figures as fitted above them; residuals {residuals}. Rows that do not depend "
            "on a factor (memory-bound decode) add a constant. These rows are not cross-validated "
            f"(roofline accuracy --cv leaves LLM rows of a runtime file out). `{COMMAND} --check` recomputes "
            "them.")


# ---------------------------------------------------------------- fit, write, check
def _clear_caches() -> None:
    loader._load_shipped.cache_clear()
    loader._shipped_with_runtime.cache_clear()
    loader.resolve_runtime.cache_clear()


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b)) + 1e-15


def differences(fit: sf.DatasetFit) -> list[str]:
    """One line per shipped figure (as the profiles load) or generated text that differs from ``fit``."""
    out = []
    informing = sf.informing_rows(fit)
    llm = sf.llm_terms(fit)
    for device, model in sf.device_models(fit).items():
        shipped = loader.resolve_device(device).efficiency
        family = family_of(device)

        def compare(what: str, got, want, device: str = device) -> None:
            same = (got == want) if not isinstance(want, float) or got is None else _close(got, want)
            if not same:
                out.append(f"{device}: {what} is {got}, the fit gives {want}")

        compare("kernel_overhead_s", shipped.kernel_overhead_s, model.kernel_overhead_s)
        if family.parallel:
            compare("buffer_capacity_fraction", shipped.buffer_capacity_fraction,
                    model.buffer_capacity_fraction)
            for cls in ("conv", "gemm", "attention"):
                compare(f"tile_outputs.{cls}", shipped.tile_outputs.get(cls), model.tile_outputs[cls])
        compare("tensor_energy_pj", shipped.tensor_energy_pj, model.tensor_energy_pj)
        for cls, entry in model.classes.items():
            for field in ("compute_fraction", "bandwidth_fraction", "overhead_s"):
                compare(f"{cls}.{field}", getattr(shipped.for_class(cls), field), getattr(entry, field))
        for key, value in llm.get(device, {}).items():
            compare(key, llm_figure(shipped, key), value)
        lines = loader.available_devices()[device].read_text(encoding="utf-8").split("\n")
        if (_source_span(lines, "efficiency") is not None
                and source_tail(lines, "efficiency") != device_tail(device, fit, informing)):
            out.append(f"{device}: the [efficiency] source text's fit part differs from the fit's")
    for runtime, scales in sf.runtime_scales(fit).items():
        shipped = loader.resolve_runtime(runtime)
        for cls, value in scales.items():
            if not _close(shipped.compute_scale.get(cls, float("nan")), value):
                out.append(f"runtime {runtime}: compute_scale.{cls} is {shipped.compute_scale.get(cls)}, "
                           f"the fit gives {value}")
        lines = loader.available_runtimes()[runtime].read_text(encoding="utf-8").split("\n")
        if source_tail(lines, "") != runtime_tail(runtime, fit, informing):
            out.append(f"runtime {runtime}: the source text's fit part differs from the fit's")
    for runtime, result in other_runtime_fits(fit).items():
        shipped = loader.resolve_runtime(runtime)
        for cls, value in result.scales.items():
            if not _close(shipped.compute_scale[cls], value):
                out.append(f"runtime {runtime}: compute_scale.{cls} is {shipped.compute_scale[cls]}, "
                           f"the fit gives {value}")
        lines = loader.available_runtimes()[runtime].read_text(encoding="utf-8").split("\n")
        if source_tail(lines, "") != other_runtime_tail(result):
            out.append(f"runtime {runtime}: the source text's fit part differs from the fit's")
    return out


def write(rows=None) -> sf.DatasetFit:
    """Fit and write every profile and runtime file; returns the fit."""
    fit = sf.fit_cnn_families(rows)
    for device, model in sf.device_models(fit).items():
        write_device(loader.available_devices()[device], family_of(device), model, None)
    for runtime, scales in sf.runtime_scales(fit).items():
        ordered = {cls: scales[cls] for cls in loader.resolve_runtime(runtime).compute_scale}
        write_runtime(loader.available_runtimes()[runtime], ordered)
    _clear_caches()
    fit = sf.fit_llm_families(fit, rows)
    llm = sf.llm_terms(fit)
    for device, terms in llm.items():
        write_device(loader.available_devices()[device], family_of(device),
                     sf.device_models(fit)[device], terms)
    _clear_caches()  # the runtime files below are fitted on the profiles' LLM figures just written
    informing = sf.informing_rows(fit)
    for device in sf.device_models(fit):
        path = loader.available_devices()[device]
        lines = path.read_text(encoding="utf-8").split("\n")
        if _source_span(lines, "efficiency") is not None:
            set_source_tail(lines, "efficiency", device_tail(device, fit, informing))
            write_atomic(path, "\n".join(lines))
    for runtime in sf.runtime_scales(fit):
        path = loader.available_runtimes()[runtime]
        lines = path.read_text(encoding="utf-8").split("\n")
        set_source_tail(lines, "", runtime_tail(runtime, fit, informing))
        write_atomic(path, "\n".join(lines))
    for runtime, result in other_runtime_fits(fit).items():
        path = loader.available_runtimes()[runtime]
        write_runtime(path, result.scales)
        lines = path.read_text(encoding="utf-8").split("\n")
        set_source_tail(lines, "", other_runtime_tail(result))
        write_atomic(path, "\n".join(lines))
    _clear_caches()
    return fit


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with one line per figure the shipped files differ in")
    args = parser.parse_args(argv)
    if args.check:
        lines = differences(sf.fit_dataset())
        for line in lines:
            print(line)
        return 1 if lines else 0
    fit = write()
    for name, result in {**fit.fits, **fit.llm_fits}.items():
        print(f"{name}: {len(fit.cases[name])} rows, "
              + ", ".join(f"{k} = {v:.6g}" for k, v in result.values.items())
              + (f", tile {result.tile}, buffer share {result.buffer_fraction:g}"
                 if getattr(result, "tile", None) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
