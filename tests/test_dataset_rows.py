"""Every row of ``hardware_profiles/measurements/*.csv`` is well formed: a source that names a
repository, a commit and a path; a device with a profile; a network the catalog builds; a precision
the device (or the LLM model) has; an id used once; a role ``fit`` or ``check``. And the rules of
``tools/collect_mlperf_rows.py`` checked on hand-written inputs, and its per-accelerator Offline rows
against the system totals their notes quote."""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

import pytest

from simulator.catalog import available_networks
from simulator.hardware.loader import available_devices, resolve_device
from simulator.llm.config import available_llms
from simulator.llm.precision import ACTIVATION_BITS, KV_BITS, WEIGHT_BITS

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("gpu", "mcu", "llm")
HEX = r"[0-9a-f]{7,40}"
REPO = r"[\w.\-]+/[\w.\-]+"
#: the forms a source takes (each gives repository, commit, path); the first is the one new rows use
SOURCE_FORMS = (
    re.compile(rf"^(?P<repo>{REPO})@(?P<commit>{HEX}):(?P<path>\S+)(?: \(.*\))?$"),  # owner/repo@C:path
    re.compile(rf"^(?P<repo>{REPO})/(?P<path>\S+)@(?P<commit>{HEX})$"),  # owner/repo/path@C
    re.compile(rf"^(?P<repo>{REPO}) (?P<path>\S+)(?: .*)? @ ?(?P<commit>{HEX})$"),  # owner/repo path @ C
    re.compile(rf"^(?P<repo>{REPO}), (?P<path>\S+), (?P<commit>{HEX})$"),  # owner/repo, path, C
)
#: rows whose source is not a repository (a lecture's slide); no other row may join them
NOT_A_REPOSITORY = {"lecture-segformer_b5-jetson-agx-orin"}


def rows() -> list[dict[str, str]]:
    out = []
    for table in TABLES:
        path = ROOT / "hardware_profiles" / "measurements" / f"{table}.csv"
        with open(path, newline="", encoding="utf-8") as f:
            out += [{**row, "table": table} for row in csv.DictReader(f)]
    return out


ROWS = rows()


def sources(text: str) -> list[re.Match]:
    """Each ``" ; "``-separated source of a row, matched by one of :data:`SOURCE_FORMS` (None: none)."""
    return [next((m for m in (f.match(part.strip()) for f in SOURCE_FORMS) if m), None)
            for part in text.split(" ; ")]


def test_the_tables_are_not_empty():
    assert {row["table"] for row in ROWS} == set(TABLES)


def test_every_source_names_repository_commit_and_path():
    bad = [(row["id"], row["source"]) for row in ROWS
           if row["id"] not in NOT_A_REPOSITORY and not all(sources(row["source"]))]
    assert bad == []


def test_the_non_repository_sources_are_only_the_known_ones():
    ids = {row["id"] for row in ROWS}
    assert ids >= NOT_A_REPOSITORY
    assert all(not all(sources(row["source"])) for row in ROWS if row["id"] in NOT_A_REPOSITORY)


def test_source_forms_read_each_part():
    parsed = sources("mlcommons/x_v1@" + "a" * 40 + ":closed/A/b.txt ; o/r@abcdef1:README.md")
    assert [(m["repo"], m["commit"], m["path"]) for m in parsed] == [
        ("mlcommons/x_v1", "a" * 40, "closed/A/b.txt"), ("o/r", "abcdef1", "README.md")]
    assert sources("o/r closed/p.txt @ abcdef12")[0]["path"] == "closed/p.txt"
    assert sources("just words") == [None]
    assert sources("o/r@nothex:p") == [None]


def test_ids_are_unique_across_tables():
    seen: dict[str, int] = {}
    for row in ROWS:
        seen[row["id"]] = seen.get(row["id"], 0) + 1
    assert [name for name, count in seen.items() if count > 1] == []


def test_roles_are_fit_or_check():
    assert {row["role"] for row in ROWS} <= {"fit", "check"}


def test_devices_have_profiles():
    devices = set(available_devices())
    assert sorted({row["device"] for row in ROWS} - devices) == []


def test_networks_are_known():
    cnn, llm = set(available_networks()), set(available_llms())
    unknown = {row["network"] for row in ROWS
               if row["network"] not in (llm if row["table"] == "llm" else cnn)}
    assert sorted(unknown) == []


def test_precisions_are_the_devices_or_the_llm_models():
    bad = []
    for row in ROWS:
        if row["table"] == "llm":
            ok = (row["weight_precision"] in WEIGHT_BITS and row["activation_precision"] in ACTIVATION_BITS
                  and row["kv_precision"] in KV_BITS)
        else:
            ok = row["precision"] in resolve_device(row["device"]).precisions
        if not ok:
            bad.append(row["id"])
    assert bad == []


def test_per_accelerator_offline_rows_equal_the_system_total_over_the_count():
    """A multi-accelerator Offline row is the system's samples/s divided by its accelerator count,
    both quoted in its notes ("system total T / N")."""
    checked = 0
    for row in ROWS:
        found = re.search(r"system total ([\d.e+]+) / (\d+)", row.get("notes", ""))
        if row.get("scenario") == "Offline" and found:
            assert float(row["value"]) == pytest.approx(float(found[1]) / int(found[2]), rel=1e-8), row["id"]
            assert f"-x{found[2]}-" in row["id"]
            checked += 1
    assert checked >= 50


# --- the collector's rules, on hand-written inputs -------------------------------------------------

def collector():
    path = ROOT / "tools" / "collect_mlperf_rows.py"
    spec = importlib.util.spec_from_file_location("collect_mlperf_rows", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_parse_reads_the_early_stopping_estimate():
    text = ("Scenario : SingleStream\n90th percentile latency (ns) : 633478\nResult is : VALID\n"
            "Early Stopping Result:\n * Processed at least 64 queries (944092).\n"
            " * Early stopping 90th percentile estimate: 633479\n")
    summary = collector().parse_summary(text)
    assert summary["Result is"] == "VALID"
    assert summary["Early stopping 90th percentile estimate"] == "633479"


def test_config_batches_follow_inheritance_and_skip_variants():
    source = (
        "class Base:\n    pass\n"
        "class H100_SXM_80GBx1(Base):\n    system = KnownSystem.H100_SXM_80GBx1\n"
        "    gpu_batch_size = {'resnet50': 2048}\n"
        "class H100_SXM_80GBx8(H100_SXM_80GBx1):\n    system = KnownSystem.H100_SXM_80GBx8\n"
        "class H100_SXM_80GBx8_MaxQ(H100_SXM_80GBx8):\n    gpu_batch_size = {'resnet50': 99}\n"
        "class L4x1(Base):\n    system = KnownSystem.L4x1\n    gpu_batch_size = 32\n")
    batches = collector().config_batches(source, "resnet50")
    # x8 inherits x1's 2048; the MaxQ class's 99 is not read; a plain integer batch is read too
    assert batches == {"H100_SXM_80GBx1": 2048, "H100_SXM_80GBx8": 2048, "L4x1": 32}


@pytest.mark.parametrize(("accelerator", "system", "expected"), [
    ("NVIDIA H100-SXM-80GB", "DGX-H100_H100-SXM-80GBx8_TRT", "h100-sxm"),
    ("NVIDIA H100-SXM-80GB", "DGX-H100_H100-SXM-80GBx8_TRT_Triton", None),   # Triton serving
    ("NVIDIA H100-SXM-80GB", "H100-SXM-80GBx8_TRT_MaxQ", None),              # power-capped
    ("NVIDIA A100-SXM-80C", "vXE8545_A100_SXM_80GBx4_TRT", None),            # vGPU profile
    ("NVIDIA A100-SXM-80GB (1x1g.10gb MIG)", "DGX-A100_MIG_TRT", None),      # MIG slice
    ("NVIDIA A100-SXM-80GB CTS", "XE8545_A100_SXM4_80GBx4_TRT", "a100-sxm-80gb"),
    ("NVIDIA L4", "L4x1_TRT", "l4"),
    ("NVIDIA L40S", "Lenovo_2xL40S_TRT", "l40s"),
    ("NVIDIA L40", "L40x8_TRT", None),                                       # no L40 profile
    ("NVIDIA Jetson AGX Orin 64G", "Orin_TRT_MaxQ", "jetson-agx-orin-maxq"),
    ("NVIDIA Jetson Orin NX 16G", "Orin_NX_TRT", "jetson-orin-nx-16gb"),
    ("NVIDIA B200-SXM-180GB", "B200-SXM-180GBx8_TRT", "b200"),
    ("NVIDIA GB200", "GB200-NVL72_GB200-186GB_aarch64x72_TRT", None),        # not the HGX B200
    ("NVIDIA GH200-GraceHopper-Superchip-96GB", "GH200-96GB_aarch64x1_TRT", "gh200"),
    ("NVIDIA GH200 144GB HBM3e", "GH200-144GB_aarch64x1_TRT", None),         # not the 96 GB profile
    ("NVIDIA H200-NVL-141GB", "XE7745_H200_NVL_141GBx8_TRT", None),          # no H200 NVL profile
])
def test_device_of_maps_accelerators_to_profiles(accelerator, system, expected):
    devices = {"h100-sxm", "a100-sxm-80gb", "l4", "l40s", "jetson-agx-orin", "jetson-agx-orin-maxq",
               "jetson-orin-nx-16gb", "b200", "gh200", "h200-sxm"}
    assert collector().device_of(accelerator, system, devices) == expected


def test_source_key_reads_both_table_forms():
    module = collector()
    assert module.source_key("o/r@abcdef1:closed/a.txt") == ("o/r", "closed/a.txt")
    assert module.source_key("o/r closed/a.txt @ abcdef1") == ("o/r", "closed/a.txt")


def test_data_sheet_gpus_are_summarised_as_datacenter_gpus():
    # simulator.accuracy's summary once put every device it did not know by prefix under "CPU":
    # the MLPerf rows of the L4, L40S and GH200 came out as 86 CPU rows
    from simulator.accuracy import device_class

    for device in ("l4", "l40s", "gh200", "b200", "h100-nvl", "a100-sxm-80gb"):
        assert device_class(device) == "datacenter GPU", device
    assert device_class("jetson-orin-nx-16gb") == "Jetson Orin"
    assert device_class("stm32f746") == "microcontroller"


def test_summary_parse_reads_loadgen_5s_early_stopping_key():
    # LoadGen 5.x prints "90.0th" (gbeezybez/inference_results_v6.0 closed/Lenovo/results/SE455I_V3_TRT/
    # resnet50/SingleStream: "Early stopping 90.0th percentile estimate: 400845")
    module = collector()
    summary = module.parse_summary(" * Early stopping 90.0th percentile estimate: 400845\n"
                                   " * Early stopping 99.0th percentile estimate: 409800\n")
    assert module.early_stopping_estimate(summary, "90th") == "400845"
    assert module.early_stopping_estimate(summary, "99th") == "409800"
    old = module.parse_summary(" * Early stopping 90th percentile estimate: 633479\n")
    assert module.early_stopping_estimate(old, "90th") == "633479"


# a per-system configuration of the layout of v5.0 on (two workloads: the MaxQ one must not be read)
PER_SYSTEM_CONFIG = """EXPORTS = {
    C.WorkloadSetting(C.HarnessType.Custom, C.AccuracyTarget(0.99), C.PowerSetting.MaxP): {
        model_fields.gpu_batch_size: {
            'llama3.1-405b': 512,
        },
        model_fields.precision: 'fp8',
        llm_fields.tensor_parallelism: 4,
        llm_fields.pipeline_parallelism: 2,
        llm_fields.trtllm_checkpoint_flags: {
            'kv_cache_dtype': 'fp8',
        },
    },
    C.WorkloadSetting(C.HarnessType.Custom, C.AccuracyTarget(0.99), C.PowerSetting.MaxQ): {
        model_fields.gpu_batch_size: {
            'llama3.1-405b': 16,
        },
        model_fields.precision: 'fp4',
        llm_fields.tensor_parallelism: 8,
    },
}"""


def test_per_system_config_reads_the_maxp_workload():
    module = collector()
    fields = module.config_fields(module.config_block(PER_SYSTEM_CONFIG, False))
    assert fields == {"batch": "512", "tp": "4", "pp": "2", "precision": "fp8", "kv": "fp8"}
    # a 99.9% run reads the 0.999 workload where the file has one, else the first MaxP workload
    assert module.config_fields(module.config_block(PER_SYSTEM_CONFIG, True))["batch"] == "512"


def test_config_dirs_match_the_result_folder():
    files = ["closed/Dell/configs/XE9680_H200_SXM_141GBx8/Offline/llama2-70b.py",
             "closed/Dell/configs/XE9680L_H200_SXM_141GBx8/Offline/llama2-70b.py",
             "closed/Dell/configs/llama2-70b/Offline/__init__.py"]
    module = collector()
    # the result folder is the configuration folder plus "_TRT"; XE9680L is another system
    assert module.config_dirs(files, "Dell", "XE9680_H200_SXM_141GBx8_TRT") == ["XE9680_H200_SXM_141GBx8"]


def test_mirrored_mlperf_bert_rows_run_the_squad_lengths():
    # a BERT row read from a mirror of MLCommons' results repository ran SQuAD v1.1 with TensorRT's
    # padding removed, as one read from mlcommons/ does (the rule once matched mlcommons/ only, and ran
    # such a row padded to 384 tokens)
    from simulator.accuracy import row_sequence_lengths

    (row,) = [r for r in ROWS if r["id"] == "mlperf-v6.0-l4-x2-bert_large-singlestream-lenovo_se455i_v3_trt"]
    assert row["source"].startswith("gbeezybez/inference_results_v6.0@")
    assert row_sequence_lengths(row) == {"seq_lengths": "squad-v1.1", "padding": "none"}


def test_rounds_after_v41_are_dated_for_the_time_split():
    # publication months: v5.0 2025-04 (published 2025-04-02), v5.1 2025-09 (MLCommons' results commit
    # of 2025-09-04), v6.0 2026-03 ("Publishing Results", 2026-03-26); an undated row would drop out
    # of the time split
    from simulator.calibration.folds import before_split, published

    dated = {r["source"].split("@")[0]: published(r) for r in ROWS
             if re.search(r"inference_results_v(5|6)\.", r["source"])}
    assert dated == {"ntuhpc/mlperf_inference_results_v5.0": "2025-04",
                     "ntuhpc/inference_results_v5.1": "2025-09",
                     "gbeezybez/inference_results_v6.0": "2026-03"}
    assert before_split({"source": "ntuhpc/inference_results_v5.1@abcdef1:closed/x"}) is False


def test_v50_rows_against_their_summaries_by_hand():
    # ntuhpc/mlperf_inference_results_v5.0 closed/HPE/results/HPE_Cray_XD670_H200_SXM_141GBx8_TRT/resnet50/
    # Offline: "Samples per second: 769420" on 8 GPUs; NVIDIA's v5.0 resnet50 Offline config class
    # H200_SXM_141GBx1: gpu_batch_size {'resnet50': 2048}
    by_id = {r["id"]: r for r in ROWS}
    row = by_id["mlperf-v5.0-h200-sxm-x8-resnet50-offline-hpe_hpe_cray_xd670_h200_sxm_141gbx8_trt"]
    assert float(row["value"]) == pytest.approx(769420 / 8) and row["batch"] == "2048"
    # ... HPE_ProLiant_DL145_L4_24GBx3_TRT/resnet50/SingleStream: "Early stopping 90.0th percentile
    # estimate: 414091" ns; MultiStream: "Early stopping 99.0th percentile estimate: 769975" ns
    row = by_id["mlperf-v5.0-l4-x3-resnet50-singlestream-hpe_hpe_proliant_dl145_l4_24gbx3_trt"]
    assert float(row["value"]) == pytest.approx(414091e-9) and row["batch"] == "1"
    row = by_id["mlperf-v5.0-l4-x3-resnet50-multistream-hpe_hpe_proliant_dl145_l4_24gbx3_trt"]
    assert float(row["value"]) == pytest.approx(769975e-9) and row["batch"] == "8"
