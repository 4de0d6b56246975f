"""Rows of ``hardware_profiles/measurements/`` from a fetched MLPerf results repository, by fixed rules.

Usage::

    python tools/collect_mlperf_rows.py GITDIR REPOSITORY [--commit C] [--append]

``GITDIR`` is a git directory of an MLCommons results repository (no work tree needed: every file is
read with ``git show COMMIT:PATH``), or a folder of files copied from one at ``--commit`` and laid
out as in it (a round too large to fetch whole: the rows are those its copied files give),
``REPOSITORY`` its name (``mlcommons/inference_results_v4.1``,
``mlcommons/tiny_results_v1.1``, ...). The rows go to stdout as CSV, or with ``--append`` to the end of
``gpu.csv`` (MLPerf Inference) or ``mcu.csv`` (MLPerf Tiny); a row whose id, or whose source file and
metric, is already in the table is left out, so a rerun appends nothing. Every row is a ``check`` row.

MLPerf Inference (``closed/<submitter>/results/<system>/<benchmark>/<scenario>/performance/run_1/
mlperf_log_summary.txt``, result ``VALID`` only):

* benchmarks ``resnet50`` -> ``resnet50``; ``bert-99`` -> ``bert_large`` (``seq_len=384``: the padded
  length; ``simulator.accuracy.row_sequence_lengths`` runs such a row with the SQuAD v1.1 length
  distribution, padding removed on TensorRT); ``retinanet`` -> ``retinanet`` (800x800);
* the device from ``closed/<submitter>/systems/<system>.json`` ``accelerator_model_name``
  (:func:`device_of`); systems of an accelerator without a profile here are skipped, and so are
  Triton, MIG, datacenter MaxQ (power-capped) systems and frameworks other than TensorRT;
* SingleStream: ``latency_s`` = LoadGen's early-stopping 90th-percentile estimate, batch 1;
  MultiStream: the early-stopping 99th-percentile estimate of an 8-sample query, batch 8;
  Offline: ``throughput_per_s`` = samples/s divided by ``accelerators_per_node`` (per accelerator,
  as the existing rows), engine batch = ``gpu_batch_size`` of NVIDIA's own configuration of the
  same round for that accelerator (``closed/NVIDIA/configs/<benchmark>/Offline/__init__.py``; the
  submitter's own configuration is not read); Jetson Offline rows of ResNet-50 and RetinaNet are
  skipped (the GPU and both DLAs ran them); Server is not collected (LoadGen's latency bound makes
  it a throughput at a tail-latency target, which the model does not describe);
* precision: ``weight_data_types`` of ``closed/<submitter>/measurements/<system>/<benchmark>/
  <scenario>/*.json``; int8 (NVIDIA TensorRT's convention) where that file is missing.

MLPerf Tiny (``closed/<submitter>/results/<system>/<benchmark>/performance/results.txt``):
``latency_s`` = 1 / LoadGen's median throughput, batch 1, on the STM32 boards with a profile here
(``SoC Name`` of the system's JSON); ``ad``, ``ic``, ``kws``, ``vww`` -> ``fc_autoencoder_ad``,
``resnet8_cifar10``, ``ds_cnn_kws``, ``mobilenet_v1_025_vww``; int8, or fp32 for a system whose name
says ``float``. Energy results are not collected here.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

FIELDS = ["id", "network", "params", "device", "precision", "batch", "scenario", "runtime",
          "runtime_version", "power_mode", "metric", "value", "unit", "role", "source", "notes"]
MEASUREMENTS = Path(__file__).resolve().parents[1] / "hardware_profiles" / "measurements"

BENCHMARKS = {"resnet50": ("resnet50", ""), "bert-99": ("bert_large", "seq_len=384"),
              "retinanet": ("retinanet", "")}
#: NVIDIA's configuration key (``KnownSystem`` name) of one accelerator of each device
NVIDIA_SYSTEM = {"a100-sxm-80gb": "A100_SXM_80GBx1", "a100-sxm-40gb": "A100_SXM4_40GBx1",
                 "h100-sxm": "H100_SXM_80GBx1", "h200-sxm": "H200_SXM_141GBx1", "l4": "L4x1",
                 "l40s": "L40Sx1", "gh200": "GH200_96GB_ARMx1", "h100-nvl": "H100_NVL_94GBx1",
                 "h100-pcie": "H100_PCIe_80GBx1", "jetson-agx-orin": "Orin",
                 "jetson-orin-nx-16gb": "Orin_NX", "b200": "B200_SXM_180GBx1"}
TINY_BENCHMARKS = {"ad": "fc_autoencoder_ad", "ic": "resnet8_cifar10", "kws": "ds_cnn_kws",
                   "vww": "mobilenet_v1_025_vww"}
TINY_SOCS = (("f746", "stm32f746"), ("h7a3", "nucleo-h7a3zi-q"), ("l4r5", "nucleo-l4r5zi"),
             ("u575", "nucleo-u575zi-q"), ("h743", "stm32h743"))


def is_tree(gitdir: str) -> bool:
    """Whether ``gitdir`` is a folder of copied files (laid out as in the repository) rather than a
    git directory: for a round too large to fetch whole, a copy of the files its rows need, read
    from the repository at the commit given with ``--commit``."""
    return not (Path(gitdir) / "HEAD").is_file()


def git_show(gitdir: str, commit: str, path: str) -> str | None:
    """The text of ``path`` at ``commit`` (None when it is not there)."""
    if is_tree(gitdir):
        copied = Path(gitdir) / path
        return copied.read_text(encoding="utf-8", errors="replace") if copied.is_file() else None
    done = subprocess.run(["git", "--git-dir", gitdir, "show", f"{commit}:{path}"],
                          capture_output=True, text=True, errors="replace")
    return done.stdout if done.returncode == 0 else None


def git_files(gitdir: str, commit: str) -> list[str]:
    if is_tree(gitdir):
        root = Path(gitdir)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    done = subprocess.run(["git", "--git-dir", gitdir, "ls-tree", "-r", "--name-only", commit],
                          capture_output=True, text=True, check=True)
    return sorted(done.stdout.splitlines())


def known_devices() -> set[str]:
    """The device profiles of this checkout (file stems of ``hardware_profiles/*.toml``)."""
    return {p.stem for p in MEASUREMENTS.parent.glob("*.toml")}


def device_of(accelerator: str, system: str, devices: set[str]) -> str | None:
    """The profile of an MLPerf system's accelerator, or None (no profile, or a variant skipped)."""
    name = accelerator.lower().replace("-", " ").replace("_", " ")
    if "triton" in system.lower() or "mig" in name or re.search(r"\bmig\b|\d+c\b", name):
        return None  # Triton serving, MIG slices and virtual GPUs (vGPU profiles such as "80C")
    maxq = "maxq" in system.lower()
    if "orin" in name:
        if "nx" in name.split():
            device = "jetson-orin-nx-16gb"
        elif "nano" in name:
            device = "jetson-orin-nano-8gb"
        else:
            device = "jetson-agx-orin-maxq" if maxq else "jetson-agx-orin"
        return device if device in devices else None
    if maxq:
        return None
    if "gh200" in name:
        device = "gh200"
    elif "b200" in name:
        device = "b200"
    elif "h200" in name:
        device = None if "nvl" in name else "h200-sxm"
    elif "h100" in name:
        # an H100 PCIe profile may be named h100-pcie or h100-pcie-80gb: the first such name
        pcie = next((d for d in sorted(devices) if d.startswith("h100-pcie")), None)
        device = "h100-nvl" if "nvl" in name else pcie if "pcie" in name else "h100-sxm"
    elif "a100" in name:
        device = None if "pcie" in name else "a100-sxm-40gb" if "40gb" in name else "a100-sxm-80gb"
    elif re.search(r"\bl40s\b", name):
        device = "l40s"
    elif re.search(r"\bl4\b", name):
        device = "l4"
    else:
        device = None
    return device if device in devices else None


def parse_summary(text: str) -> dict[str, str]:
    """``key -> value`` of a ``mlperf_log_summary.txt`` (``Early stopping 90th percentile estimate``
    among them)."""
    out = {}
    for line in text.splitlines():
        line = line.strip().lstrip("* ")
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def config_batches(source: str, benchmark: str) -> dict[str, int]:
    """``KnownSystem name -> gpu_batch_size`` of an NVIDIA configuration file (a class inherits its
    base's batch); only classes without Triton, MaxQ, HighAccuracy or MIG in their name."""
    key = benchmark.split("-")[0]
    classes: dict[str, tuple[str | None, str | None, int | None]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        base = node.bases[0].id if node.bases and isinstance(node.bases[0], ast.Name) else None
        system = batch = None
        for item in node.body:
            if not (isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name)):
                continue
            name = item.targets[0].id
            if name == "system" and isinstance(item.value, ast.Attribute):
                system = item.value.attr
            elif name == "gpu_batch_size":
                value = item.value
                if isinstance(value, ast.Dict):
                    for k, v in zip(value.keys, value.values, strict=True):
                        if isinstance(k, ast.Constant) and k.value == key and isinstance(v, ast.Constant):
                            batch = int(v.value)
                elif isinstance(value, ast.Constant):
                    batch = int(value.value)
        classes[node.name] = (base, system, batch)

    def resolved(name: str, field: int):
        seen = 0
        while name in classes and seen < 20:
            value = classes[name][field]
            if value is not None:
                return value
            name, seen = classes[name][0], seen + 1
        return None

    out = {}
    for name in classes:
        if re.search(r"Triton|MaxQ|HighAccuracy|MIG|Hetero", name):
            continue
        system, batch = resolved(name, 1), resolved(name, 2)
        if system and batch and system not in out:
            out[system] = batch
    return out


def _precision(gitdir: str, commit: str, submitter: str, system: str, benchmark: str, scenario: str
               ) -> tuple[str, str]:
    path = f"closed/{submitter}/measurements/{system}/{benchmark}/{scenario}/{system}_{scenario}.json"
    text = git_show(gitdir, commit, path)
    if text is None:
        absent = "not in the copied files" if is_tree(gitdir) else "no measurements JSON"
        return "int8", f"precision: {absent}, int8 (NVIDIA TensorRT's convention)"
    try:
        weights = str(json.loads(text).get("weight_data_types", "")).lower()
    except json.JSONDecodeError:
        weights = ""
    for precision in ("fp8", "int8", "fp16"):
        if precision in weights:
            return precision, f"precision: weight_data_types '{weights}' ({path})"
    return "int8", f"precision: weight_data_types '{weights}' unreadable, int8 assumed"


def inference_rows(gitdir: str, repository: str, commit: str) -> list[dict[str, str]]:
    """The rows of an MLPerf Inference results repository, by the module's rules."""
    round_ = re.search(r"v\d+\.\d+", repository).group(0)
    devices = known_devices()
    files = git_files(gitdir, commit)
    pattern = re.compile(r"closed/([^/]+)/results/([^/]+)/([^/]+)/(SingleStream|MultiStream|Offline)/"
                         r"performance/run_1/mlperf_log_summary\.txt$")
    batches: dict[str, dict[str, int]] = {}
    rows = []
    for path in files:
        found = pattern.match(path)
        if not found or found.group(3) not in BENCHMARKS:
            continue
        submitter, system, benchmark, scenario = found.groups()
        described = git_show(gitdir, commit, f"closed/{submitter}/systems/{system}.json")
        if described is None:
            continue
        info = loose_json(described)
        framework = str(info.get("framework", ""))
        device = device_of(str(info.get("accelerator_model_name", "")), system, devices)
        if device is None or "tensorrt" not in framework.lower():
            continue
        jetson = device.startswith("jetson")
        if jetson and scenario == "Offline" and benchmark != "bert-99":
            continue
        summary = parse_summary(git_show(gitdir, commit, path) or "")
        if summary.get("Result is") != "VALID":
            continue
        network, params = BENCHMARKS[benchmark]
        count = int(info.get("accelerators_per_node") or 1)
        precision, precision_note = _precision(gitdir, commit, submitter, system, benchmark, scenario)
        notes = [f"MLPerf Inference {round_} closed/{submitter} {system} ({info.get('system_name', '')}), "
                 f"result VALID; {count} x {info.get('accelerator_model_name')}"]
        if scenario == "Offline":
            if benchmark not in batches:
                config = f"closed/NVIDIA/configs/{benchmark.split('-')[0]}/Offline/__init__.py"
                text = git_show(gitdir, commit, config)
                batches[benchmark] = config_batches(text, benchmark) if text else {}
            key = NVIDIA_SYSTEM.get("h100-pcie" if device.startswith("h100-pcie") else device, "")
            batch = batches[benchmark].get(key)
            if batch is None:
                continue
            total = float(summary["Samples per second"])
            value = total / count
            metric, unit = "throughput_per_s", "1/s"
            notes.append(f"Offline: samples/s per accelerator (system total {total:g} / {count})"
                         if count > 1 else "Offline: samples/s")
            notes.append(f"engine batch {batch}: gpu_batch_size of NVIDIA's {round_} config "
                         f"{key} (closed/NVIDIA/configs/{benchmark.split('-')[0]}/Offline/"
                         f"__init__.py), the submitter's own config not read")
        else:
            percentile = "90th" if scenario == "SingleStream" else "99th"
            estimate = summary.get(f"Early stopping {percentile} percentile estimate")
            if estimate is None:
                continue
            value = int(estimate) * 1e-9
            batch = 1 if scenario == "SingleStream" else 8
            metric, unit = "latency_s", "s"
            where = ("on one accelerator" if count == 1 or batch == 1 else
                     f"on a system of {count} (the harness may spread a query's samples over them)")
            notes.append(f"{scenario}: early-stopping {percentile}-percentile latency of {batch}-sample "
                         f"queries {where}")
        notes.append(precision_note)
        notes.append("host preprocessing and copies excluded; TensorRT engine")
        power = ("MaxQ" if "maxq" in device else "MAXN") if jetson else "default"
        slug = re.sub(r"[^a-z0-9]+", "_", f"{submitter}-{system}".lower()).strip("_")
        rows.append({
            "id": f"mlperf-{round_}-{device}-x{count}-{network}-{scenario.lower()}-{slug}",
            "network": network, "params": params, "device": device, "precision": precision,
            "batch": str(batch), "scenario": scenario, "runtime": "TensorRT", "runtime_version": framework,
            "power_mode": power, "metric": metric, "value": f"{value:.9g}", "unit": unit, "role": "check",
            "source": f"{repository}@{commit}:{path}", "notes": "; ".join(notes) + ".",
        })
    return rows


def loose_json(text: str) -> dict[str, object]:
    """A system description: JSON, or where a submitter's file is not valid JSON (a missing comma),
    its ``"key": "value"`` pairs."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return dict(re.findall(r'"([^"]+)"\s*:\s*"([^"]*)"', text))


def _framework(text: str) -> tuple[str, str]:
    found = re.match(r"^(.*?)[\s,]+(?:version\s+)?v?(\d[\w.\-]*)\s*$", text.strip())
    return (found.group(1).strip(), found.group(2)) if found else (text.strip(), "")


def tiny_rows(gitdir: str, repository: str, commit: str) -> list[dict[str, str]]:
    """The latency rows of an MLPerf Tiny results repository on the STM32 boards with a profile."""
    round_ = re.search(r"v\d+\.\d+", repository).group(0)
    devices = known_devices()
    pattern = re.compile(r"closed/([^/]+)/results/(.+?)/(ad|ic|kws|vww)/performance/results\.txt$")
    rows = []
    for path in git_files(gitdir, commit):
        found = pattern.match(path)
        if not found:
            continue
        submitter, system, benchmark = found.groups()
        described = git_show(gitdir, commit, f"closed/{submitter}/systems/{system}.json")
        if described is None and "/" in system:  # results/<runtime>/<board>/ (OctoML, v1.0)
            runtime_dir, board = system.split("/", 1)
            name = f"system_description_{board.replace('-', '_')}_{runtime_dir}.json"
            described = git_show(gitdir, commit, f"closed/{submitter}/systems/{name}")
        if described is None:
            continue
        info = {k.strip(): v for k, v in loose_json(described).items()}
        soc = str(info.get("SoC Name", "")).lower()
        device = next((d for key, d in TINY_SOCS if key in soc), None)
        if device not in devices:
            continue
        text = git_show(gitdir, commit, path) or ""
        median = re.search(r"Median throughput is\s+([\d.]+)\s+inf\./sec\.", text)
        if median is None:
            continue
        precision = "fp32" if "float" in system.lower() else "int8"
        runtime, version = _framework(str(info.get("Inference Framework", "")))
        clock = str(info.get("Processor(s) Frequencies", "")).strip() or "clock not stated"
        network = TINY_BENCHMARKS[benchmark]
        slug = re.sub(r"[^a-z0-9]+", "_", f"{submitter}-{system}".lower()).strip("_")
        rows.append({
            "id": f"mlperf-tiny-{round_}-{device}-{network}-{slug}-latency", "network": network,
            "params": "", "device": device, "precision": precision, "batch": "1",
            "scenario": "SingleStream", "runtime": runtime, "runtime_version": version,
            "power_mode": f"not stated, {clock}", "metric": "latency_s",
            "value": f"{1.0 / float(median.group(1)):.6g}", "unit": "s", "role": "check",
            "source": f"{repository}@{commit}:{path}",
            "notes": (f"MLPerf Tiny {round_} closed, submitter {submitter}, system {system}; "
                      f"latency = 1/median throughput; SoC {info.get('SoC Name', '')}; "
                      f"board {info.get('Board Name', '')}; "
                      f"raw: Median throughput is {median.group(1)} inf./sec. (performance mode)"),
        })
    return rows


def source_key(source: str) -> tuple[str, str] | None:
    """(repository, path) of a row's first source, in either form the tables use:
    ``owner/repo@COMMIT:path`` or ``owner/repo path @ COMMIT``."""
    first = source.split(" ; ")[0].strip()
    found = re.match(r"^([\w.\-]+/[\w.\-]+)@[0-9a-f]{7,40}:(\S+)$", first)
    if found:
        return found.group(1), found.group(2)
    found = re.match(r"^([\w.\-]+/[\w.\-]+)\s+(\S+)\s+@\s*[0-9a-f]{7,40}$", first)
    return (found.group(1), found.group(2)) if found else None


def new_rows(rows: list[dict[str, str]], table: Path) -> list[dict[str, str]]:
    """``rows`` less those whose id, or whose source file and metric, the table already has."""
    with open(table, newline="", encoding="utf-8") as handle:
        existing = list(csv.DictReader(handle))
    ids = {r["id"] for r in existing}
    seen = {(source_key(r["source"]), r["metric"]) for r in existing}
    out = []
    for row in rows:
        key = (source_key(row["source"]), row["metric"])
        if row["id"] in ids or key in seen:
            continue
        ids.add(row["id"])
        seen.add(key)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gitdir")
    parser.add_argument("repository", help="owner/name, e.g. mlcommons/inference_results_v4.1")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--append", action="store_true", help="append the new rows to the table")
    args = parser.parse_args(argv)
    if is_tree(args.gitdir):
        if not re.fullmatch(r"[0-9a-f]{40}", args.commit):
            parser.error("a folder of copied files needs --commit: the 40-digit commit they were read at")
        commit = args.commit
    else:
        commit = subprocess.run(["git", "--git-dir", args.gitdir, "rev-parse", args.commit],
                                capture_output=True, text=True, check=True).stdout.strip()
    tiny = "tiny_results" in args.repository
    rows = (tiny_rows if tiny else inference_rows)(args.gitdir, args.repository, commit)
    table = MEASUREMENTS / ("mcu.csv" if tiny else "gpu.csv")
    rows = new_rows(rows, table)
    if args.append:
        with open(table, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, FIELDS, lineterminator="\n").writerows(rows)
        print(f"{len(rows)} rows appended to {table.name}", file=sys.stderr)
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
