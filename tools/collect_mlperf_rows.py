"""Rows of ``hardware_profiles/measurements/`` from a fetched MLPerf results repository, by fixed rules.

Usage::

    python tools/collect_mlperf_rows.py GITDIR REPOSITORY [--commit C] [--llm] [--append]

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
  <scenario>/*.json``; int8 (NVIDIA TensorRT's convention) where that file is missing;
* from v5.0 on, rounds ship per-system configurations (``closed/<submitter>/configs/<system>/
  <scenario>/<benchmark>.py``, one ``WorkloadSetting`` per accuracy target and power setting) and
  NVIDIA's cover only its own systems: where NVIDIA's configuration of the round has no class for the
  accelerator, the Offline engine batch is the MaxP workload's ``gpu_batch_size`` of the submitter's
  own configuration of that system (:func:`system_config`), and a run with neither is skipped;
  scenario folders in lower case (``singlestream``) and LoadGen 5.x's ``90.0th`` early-stopping key
  are read as the others; GPUs are ``accelerators_per_node`` x ``number_of_nodes``;
* the results left out are counted by reason and printed (stderr).

With ``--llm``, the LLM benchmarks' rows go to ``llm.csv`` instead (:func:`llm_rows`: Llama-2-70B,
Llama-3.1-8B/405B, Mixtral-8x7B; Offline, Server, Interactive; per-system configuration layout only).

MLPerf Tiny (``closed/<submitter>/results/<system>/<benchmark>/performance/results.txt``):
``latency_s`` = 1 / LoadGen's median throughput, batch 1, on the STM32 boards with a profile here
(``SoC Name`` of the system's JSON); ``ad``, ``ic``, ``kws``, ``vww`` -> ``fc_autoencoder_ad``,
``resnet8_cifar10``, ``ds_cnn_kws``, ``mobilenet_v1_025_vww``; int8, or fp32 for a system whose name
says ``float``. Energy results are not collected here.
"""

from __future__ import annotations

import argparse
import ast
import collections
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
    if re.search(r"\bgb[23]00\b", name):
        device = None  # Grace Blackwell superchips: no profile (the B200 profile is the HGX part)
    elif "gh200" in name:
        device = None if "144" in name else "gh200"  # the profile is the 96 GB HBM3 part, not 144 GB HBM3e
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


def early_stopping_estimate(summary: dict[str, str], percentile: str) -> str | None:
    """LoadGen's early-stopping estimate of the ``percentile`` (``"90th"``, ``"99th"``) latency [ns],
    as printed: ``Early stopping 90th percentile estimate`` (LoadGen 3.x-4.x) or ``... 90.0th ...``
    (LoadGen 5.x on)."""
    return (summary.get(f"Early stopping {percentile} percentile estimate")
            or summary.get(f"Early stopping {percentile[:-2]}.0th percentile estimate"))


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


#: result folder -> (LLM config name, simulator network); the 99.9% target runs the same network
LLM_BENCHMARKS = {"llama2-70b-99": "llama_2_70b", "llama2-70b-99.9": "llama_2_70b",
                  "llama3.1-8b": "llama_3_1_8b", "llama3_1-8b": "llama_3_1_8b",
                  "llama3.1-405b": "llama_3_1_405b", "llama3_1-405b": "llama_3_1_405b",
                  "mixtral-8x7b": "mixtral_8x7b"}
#: the file stem of a benchmark's configuration in the per-system layout (v5.0 on)
CONFIG_STEMS = {"llama_2_70b": "llama2-70b", "llama_3_1_8b": "llama3_1-8b", "llama_3_1_405b": "llama3_1-405b",
                "mixtral_8x7b": "mixtral-8x7b", "resnet50": "resnet50", "retinanet": "retinanet",
                "bert_large": "bert"}
#: the prompt length of each LLM benchmark's data set, and the words of the notes that give its source
LLM_INPUT = {
    "llama_2_70b": (222, "input_len 222 = the mean prompt of the 24,576 OpenOrca samples MLPerf's "
                         "Llama-2-70B benchmark runs (222.33 tokens; simulator/model/sequence_lengths/"
                         "openorca-llama2-70b.csv: MLCommons' "
                         "open_orca_gpt4_tokenized_llama.sampled_24576.pkl "
                         "tok_input_length, per sample)"),
    "llama_3_1_8b": (871, "input_len 871 = the mean prompt of the 13,368 CNN-DailyMail samples MLPerf's "
                          "Llama-3.1-8B benchmark runs (870.73 tokens; simulator/model/sequence_lengths/"
                          "cnn-dailymail-llama3.1-8b.csv: len(tok_input) of MLCommons' cnn_eval.json, "
                          "per sample)"),
    "mixtral_8x7b": (600, "input_len 600 ASSUMED: the data set's mean prompt length is not stated in the "
                          "reference README nor the submission"),
    "llama_3_1_405b": (2000, "input_len 2000 ASSUMED: the data set's mean prompt length is not stated in the "
                             "submission (its long-document samples run to tens of thousands of tokens; a "
                             "guess on the short side, so that a guess does not tighten the bound)"),
}
SCENARIOS = {"singlestream": "SingleStream", "multistream": "MultiStream", "offline": "Offline",
             "server": "Server", "interactive": "Interactive"}


def config_dirs(files: list[str], submitter: str, system: str) -> list[str]:
    """The per-system configuration folders (``closed/<submitter>/configs/<dir>/``, the layout of v5.0
    on) a result folder ``system`` may be run from, best first: the same name, the name less its
    ``_TRT``-style suffix, then any folder whose name, compared without case and punctuation, starts
    that of the system."""
    prefix = f"closed/{submitter}/configs/"
    dirs = sorted({f[len(prefix):].split("/")[0] for f in files if f.startswith(prefix) and
                   f.count("/") >= 5})
    squash = lambda name: re.sub(r"[^a-z0-9]", "", name.lower())  # noqa: E731
    bare = re.sub(r"(_TRT|_Triton)+$", "", system, flags=re.I)
    out = [d for d in (system, bare) if d in dirs]
    out += [d for d in dirs if d not in out and squash(system).startswith(squash(d))]
    return out


def config_block(text: str, accuracy_999: bool) -> str:
    """The MaxP workload of a per-system configuration file at the benchmark's accuracy target (the
    file's text where it names no workloads)."""
    blocks = re.split(r"(?=\bWorkloadSetting\()", text)
    heads = [b for b in blocks[1:] if "MaxQ" not in b.split("\n")[0]]
    target = "0.999" if accuracy_999 else "0.99)"
    for block in heads:
        if target in block.split("\n")[0]:
            return blocks[0] + block
    return blocks[0] + heads[0] if heads else text


def config_fields(text: str) -> dict[str, str]:
    """``gpu_batch_size``, ``tensor_parallelism``, ``pipeline_parallelism``, ``precision`` and
    ``kv_cache_dtype`` of one configuration block (either layout: ``field: value`` entries or
    ``field = value`` class attributes), where it gives them."""
    out = {}
    found = re.search(r"gpu_batch_size\s*[:=]\s*(?:\{[^}]*?:\s*)?(\d+)", text)
    if found:
        out["batch"] = found.group(1)
    for key, name in (("tp", "tensor_parallelism"), ("pp", "pipeline_parallelism")):
        found = re.search(rf"\b{name}\s*[:=]\s*(\d+)", text)
        if found:
            out[key] = found.group(1)
    found = re.search(r"\bprecision\s*[:=]\s*['\"](\w+)['\"]", text)
    if found:
        out["precision"] = found.group(1).lower()
    found = re.search(r"['\"]kv_cache_dtype['\"]\s*:\s*['\"](\w+)['\"]", text)
    if found:
        out["kv"] = found.group(1).lower()
    return out


def system_config(gitdir: str, commit: str, files: list[str], submitter: str, system: str, scenario: str,
                  stem: str, accuracy_999: bool) -> tuple[str, dict[str, str]] | None:
    """(path, fields) of the submitter's per-system configuration of a run, or None."""
    for folder in config_dirs(files, submitter, system):
        path = f"closed/{submitter}/configs/{folder}/{scenario}/{stem}.py"
        text = git_show(gitdir, commit, path)
        if text is not None:
            return path, config_fields(config_block(text, accuracy_999))
    return None


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


SUMMARY = re.compile(r"closed/([^/]+)/results/([^/]+)/([^/]+)/([A-Za-z]+)/performance/run_1/"
                     r"mlperf_log_summary\.txt$")


def _system(gitdir: str, commit: str, submitter: str, system: str, devices: set[str],
            skipped: collections.Counter) -> tuple[dict[str, object], str, str] | None:
    """(system description, device, framework) of a TensorRT system with a profile here, else None
    (the reason counted in ``skipped``)."""
    described = git_show(gitdir, commit, f"closed/{submitter}/systems/{system}.json")
    if described is None:
        skipped["no system description"] += 1
        return None
    info = loose_json(described)
    framework = str(info.get("framework", ""))
    device = device_of(str(info.get("accelerator_model_name", "")), system, devices)
    if device is None:
        skipped["accelerator without a profile here (or Triton/MIG/MaxQ)"] += 1
        return None
    if "tensorrt" not in framework.lower():
        skipped["framework other than TensorRT"] += 1
        return None
    return info, device, framework


def inference_rows(gitdir: str, repository: str, commit: str,
                   skipped: collections.Counter | None = None) -> list[dict[str, str]]:
    """The rows of an MLPerf Inference results repository, by the module's rules; the results left
    out are counted by reason in ``skipped``."""
    skipped = collections.Counter() if skipped is None else skipped
    round_ = re.search(r"v\d+\.\d+", repository).group(0)
    devices = known_devices()
    files = git_files(gitdir, commit)
    batches: dict[str, dict[str, int]] = {}
    rows = []
    for path in files:
        found = SUMMARY.match(path)
        if not found:
            continue
        submitter, system, benchmark, scenario = found.groups()
        benchmark = {"resnet": "resnet50"}.get(benchmark, benchmark)
        scenario = SCENARIOS.get(scenario.lower(), scenario)
        if benchmark not in BENCHMARKS:
            if re.match(r"3d-unet|bert-99\.9|stable-diffusion", benchmark):
                skipped[f"{benchmark.split('-99')[0]}: workload not collected here"] += 1
            continue
        if scenario not in ("SingleStream", "MultiStream", "Offline"):
            skipped[f"CNN/BERT {scenario} scenario (not collected)"] += 1
            continue
        described = _system(gitdir, commit, submitter, system, devices, skipped)
        if described is None:
            continue
        info, device, framework = described
        jetson = device.startswith("jetson")
        if jetson and scenario == "Offline" and benchmark != "bert-99":
            skipped["Jetson Offline of ResNet-50/RetinaNet (GPU and DLAs)"] += 1
            continue
        summary = parse_summary(git_show(gitdir, commit, path) or "")
        if summary.get("Result is") != "VALID":
            skipped["result not VALID"] += 1
            continue
        network, params = BENCHMARKS[benchmark]
        count = int(info.get("accelerators_per_node") or 1) * int(info.get("number_of_nodes") or 1)
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
            own = None
            if batch is None:  # v5.0 on: per-system configuration files, the submitter's own
                own = system_config(gitdir, commit, files, submitter, system, "Offline",
                                    CONFIG_STEMS[network], False)
                batch = int(own[1]["batch"]) if own and "batch" in own[1] else None
            if batch is None:
                skipped["Offline without an engine batch (no configuration read)"] += 1
                continue
            total = float(summary["Samples per second"])
            value = total / count
            metric, unit = "throughput_per_s", "1/s"
            notes.append(f"Offline: samples/s per accelerator (system total {total:g} / {count})"
                         if count > 1 else "Offline: samples/s")
            if own:
                notes.append(f"engine batch {batch}: gpu_batch_size of the MaxP workload in the "
                             f"submitter's {own[0]} (this round ships per-system configurations)")
            else:
                notes.append(f"engine batch {batch}: gpu_batch_size of NVIDIA's {round_} config "
                             f"{key} (closed/NVIDIA/configs/{benchmark.split('-')[0]}/Offline/"
                             f"__init__.py), the submitter's own config not read")
        else:
            percentile = "90th" if scenario == "SingleStream" else "99th"
            estimate = early_stopping_estimate(summary, percentile)
            if estimate is None:
                skipped["no early-stopping latency estimate"] += 1
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


LLM_FIELDS = ["id", "network", "device", "num_devices", "tp", "pp", "weight_precision",
              "activation_precision", "kv_precision", "batch", "input_len", "output_len", "runtime",
              "runtime_version", "metric", "value", "unit", "role", "source", "notes"]


def _summary_text(summary: dict[str, str], key: str) -> str:
    """A figure of a LoadGen summary as it is printed there."""
    return summary[key].split()[0]


def _summary_number(summary: dict[str, str], key: str) -> float | None:
    return float(_summary_text(summary, key)) if key in summary else None


def llm_rows(gitdir: str, repository: str, commit: str,
             skipped: collections.Counter | None = None) -> list[dict[str, str]]:
    """The LLM rows (``llm.csv``) of an MLPerf Inference results repository of the per-system
    configuration layout (v5.0 on): Llama-2-70B, Llama-3.1-8B/405B, Mixtral-8x7B; Offline, Server
    and Interactive (a Server run at tighter TTFT/TPOT bounds), TensorRT systems with a profile here.

    * value: LoadGen's ``Tokens per second`` (Offline) or ``Completed tokens per second`` (Server,
      Interactive) of the system, divided by its number of TP x PP groups (GPUs / (tp x pp));
    * batch, tp, pp, precision: ``gpu_batch_size``, ``tensor_parallelism``, ``pipeline_parallelism``,
      ``precision`` and ``kv_cache_dtype`` of the MaxP workload at the run's accuracy target in the
      submitter's ``closed/<submitter>/configs/<system>/<scenario>/<benchmark>.py``; a run whose
      configuration is not in the repository, or whose weights are a precision the simulator lacks
      (fp4), is skipped;
    * output_len: tokens / samples of the run; input_len: the data set's mean prompt (:data:`LLM_INPUT`,
      marked ASSUMED where no shipped file gives it);
    * a Server or Interactive result is a throughput under p99 latency bounds: its runtime names the
      Server scenario, so :func:`simulator.accuracy.llm_server_row` compares it with the bound only.
    """
    skipped = collections.Counter() if skipped is None else skipped
    round_ = re.search(r"v\d+\.\d+", repository).group(0)
    devices = known_devices()
    files = git_files(gitdir, commit)
    rows = []
    for path in files:
        found = SUMMARY.match(path)
        if not found:
            continue
        submitter, system, benchmark, scenario_dir = found.groups()
        if benchmark not in LLM_BENCHMARKS:
            if re.match(r"llama|mixtral|deepseek|gpt", benchmark):
                skipped[f"LLM benchmark {benchmark}: no network config here"] += 1
            continue
        network = LLM_BENCHMARKS[benchmark]
        scenario = SCENARIOS.get(scenario_dir.lower(), scenario_dir)
        if scenario not in ("Offline", "Server", "Interactive"):
            skipped[f"LLM {scenario} scenario (edge, not collected)"] += 1
            continue
        described = _system(gitdir, commit, submitter, system, devices, skipped)
        if described is None:
            continue
        info, device, framework = described
        if benchmark.endswith("-99.9") and path.replace(f"/{benchmark}/", f"/{benchmark[:-2]}/") in files:
            skipped["99.9% copy of a run whose 99% result is collected (same fp8 engine)"] += 1
            continue
        text = git_show(gitdir, commit, path) or ""
        summary = parse_summary(text)
        if summary.get("Result is") != "VALID":
            skipped["result not VALID"] += 1
            continue
        offline = scenario == "Offline"
        metric_name = "Tokens per second" if offline else "Completed tokens per second"
        total = _summary_number(summary, metric_name)
        samples = _summary_number(summary, "Samples per second" if offline else
                                  "Completed samples per second")
        if not total or not samples:
            skipped["LLM summary without a token rate"] += 1
            continue
        config = system_config(gitdir, commit, files, submitter, system, scenario, CONFIG_STEMS[network],
                               benchmark.endswith("99.9"))
        if config is None or not {"batch", "tp", "precision"} <= set(config[1]):
            skipped["LLM run without its configuration in the repository (batch/TP unknown)"] += 1
            continue
        config_path, fields = config
        precision = fields["precision"]
        if precision not in ("fp8", "fp16", "bf16", "int8"):
            skipped[f"LLM weights in {precision} (no such precision in the simulator)"] += 1
            continue
        activation = "fp8" if precision == "fp8" else precision
        kv = fields.get("kv", activation)
        tp, pp = int(fields["tp"]), int(fields.get("pp", "1"))
        gpus = int(info.get("accelerators_per_node") or 1) * int(info.get("number_of_nodes") or 1)
        group = tp * pp
        if gpus % group:
            skipped["GPU count not a multiple of TP x PP"] += 1
            continue
        replicas = gpus // group
        value = total / replicas
        input_len, input_note = LLM_INPUT[network]
        accelerator = str(info.get("accelerator_model_name", ""))
        notes = [
            f"MLPerf Inference {round_} closed/{submitter} {system} ({accelerator} x{gpus}), {benchmark} "
            f"{scenario}, result VALID; system '{info.get('system_name', '')}'",
            f"metric: LoadGen '{metric_name}' ({scenario})",
            f"system total {_summary_text(summary, metric_name)} tok/s = "
            f"{_summary_text(summary, 'Samples per second' if offline else 'Completed samples per second')} "
            f"samples/s",
            f"value = total / {replicas} replicas of TP{tp}xPP{pp} ({gpus} GPUs)",
            f"batch = gpu_batch_size, tp = tensor_parallelism, pp = pipeline_parallelism of the MaxP "
            f"workload in {config_path}",
            f"precision {precision} (precision '{precision}'; KV cache '{kv}')",
            f"output_len = tokens/samples of this run ({total / samples:.1f})",
            input_note,
            "in-flight batching with LoadGen's whole query set (not a static batch)",
        ]
        if not offline:
            ttft = re.search(r"ttft_latency \(ns\)\s*:\s*(\d+)", text)
            tpot = re.search(r"tpot_latency \(ns\)\s*:\s*(\d+)", text)
            bounds = (f"p99 TTFT <= {int(ttft.group(1)) * 1e-9:g} s and p99 TPOT <= "
                      f"{int(tpot.group(1)) * 1e-6:g} ms" if ttft and tpot else "p99 latency")
            kind = "Server" if scenario == "Server" else "Interactive (a Server run at tighter bounds)"
            notes.append(f"{kind}: LoadGen bounds {bounds} (Test Parameters of the summary); a "
                         f"throughput under latency bounds: compare with the bound only")
        runtime = ("TensorRT-LLM (MLPerf harness, Offline)" if offline else
                   "TensorRT-LLM (MLPerf harness, Server)" if scenario == "Server" else
                   "TensorRT-LLM (MLPerf harness, Server: Interactive)")
        slug = re.sub(r"[^a-z0-9]+", "_", f"{submitter}-{system}".lower()).strip("_")
        rows.append({
            "id": f"mlperf-{round_}-{slug}-{benchmark}-{scenario.lower()}", "network": network,
            "device": device, "num_devices": str(group), "tp": str(tp), "pp": str(pp),
            "weight_precision": precision, "activation_precision": activation, "kv_precision": kv,
            "batch": fields["batch"], "input_len": str(input_len), "output_len": str(round(total / samples)),
            "runtime": runtime, "runtime_version": framework, "metric": "output_tokens_per_s",
            "value": f"{value:.7g}", "unit": "tokens/s", "role": "check",
            "source": f"{repository}@{commit}:{path}", "notes": "; ".join(notes),
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
    parser.add_argument("--llm", action="store_true",
                        help="the LLM benchmarks' rows (llm.csv) instead of the CNN/BERT ones (gpu.csv)")
    args = parser.parse_args(argv)
    if is_tree(args.gitdir):
        if not re.fullmatch(r"[0-9a-f]{40}", args.commit):
            parser.error("a folder of copied files needs --commit: the 40-digit commit they were read at")
        commit = args.commit
    else:
        commit = subprocess.run(["git", "--git-dir", args.gitdir, "rev-parse", args.commit],
                                capture_output=True, text=True, check=True).stdout.strip()
    tiny = "tiny_results" in args.repository
    skipped: collections.Counter = collections.Counter()
    if tiny:
        rows, table = tiny_rows(args.gitdir, args.repository, commit), MEASUREMENTS / "mcu.csv"
        fields = FIELDS
    elif args.llm:
        rows, table = llm_rows(args.gitdir, args.repository, commit, skipped), MEASUREMENTS / "llm.csv"
        fields = LLM_FIELDS
    else:
        rows, table = inference_rows(args.gitdir, args.repository, commit, skipped), MEASUREMENTS / "gpu.csv"
        fields = FIELDS
    found = len(rows)
    rows = new_rows(rows, table)
    print(f"{found} eligible rows, {found - len(rows)} already in {table.name}; skipped: "
          + ", ".join(f"{n} {why}" for why, n in skipped.most_common()), file=sys.stderr)
    if args.append:
        with open(table, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fields, lineterminator="\n").writerows(rows)
        print(f"{len(rows)} rows appended to {table.name}", file=sys.stderr)
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
