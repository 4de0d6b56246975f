"""Sweep counts stay exact integers past int64 (issue 23, "Sweep columns overflow int64").

A count column (``params, macs, flops, model_size_bytes, peak_activation_bytes``) is int64 while
every value fits, else it holds Python ints (dtype object); written out, CSV, JSON and JSON Lines
print every digit and Parquet stores ``decimal128(38, 0)``. A batch above 2**63 - 1 is refused in
one line naming the limit. The expected figures are the per-sample counts times the batch, in
Python integers:

* ResNet-18 at 224x224: 1,814,073,344 MACs and 11,689,512 parameters (torchvision's published
  1.81 GMACs and 11.7 M); its peak activations are conv1's output (64x112x112) alive with the
  max-pool's (64x56x56), 1,003,520 elements, 2 bytes each at fp16;
* SAM ViT-H: 12,501,296,780,878,544,896 MACs at batch 4,194,304 (``roofline simulate``, quoted in
  the issue), i.e. 2,980,541,415,424 per sample.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.sweeps import MAX_BATCH, _check_parquet_digits, plan_sweep, sweep, write_sweep

INT64_MAX = 2**63 - 1
RESNET18_MACS = 1_814_073_344
RESNET18_PARAMS = 11_689_512
RESNET18_PEAK_ELEMENTS = 64 * 112 * 112 + 64 * 56 * 56
FP16_BYTES = 2
SAM_MACS_AT_4194304 = 12_501_296_780_878_544_896
SAM_MACS = 2_980_541_415_424
assert SAM_MACS * 4_194_304 == SAM_MACS_AT_4194304
COUNTS = ("params", "macs", "flops", "model_size_bytes", "peak_activation_bytes", "batch", "micro_batch")


def read_rows(path: Path) -> list[dict[str, int]]:
    """The count columns of a sweep file, as Python ints, whatever its format."""
    if path.suffix == ".csv":
        with path.open(newline="") as stream:
            rows = list(csv.DictReader(stream))
    elif path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    elif path.suffix == ".json":
        rows = json.loads(path.read_text())
    else:
        rows = pd.read_parquet(path).to_dict(orient="records")
    return [{key: int(row[key]) for key in COUNTS} for row in rows]


def _formats() -> list[str]:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return [".csv", ".json", ".jsonl"]
    return [".csv", ".json", ".jsonl", ".parquet"]


def test_sam_vit_h_macs_past_int64_are_exact_in_every_format(tmp_path: Path):
    # the command wrote negative MACs and FLOPs to x.jsonl
    batches = [1, 2_097_152, 4_194_304]
    assert main(["sweep", "sam_vit_h", "--device", "h100-sxm", "--batch", ",".join(map(str, batches)),
                 "-o", str(tmp_path / "x.jsonl")]) == 0
    plan = plan_sweep("sam_vit_h", "h100-sxm", batches=batches)
    assert plan.wide_counts  # 2 x 2,980,541,415,424 x 4,194,304 flops > 2**63 - 1
    for suffix in _formats():
        path = tmp_path / f"x{suffix}"
        if suffix != ".jsonl":
            write_sweep(plan.chunks(), path, plan=plan)
        rows = read_rows(path)
        assert [r["batch"] for r in rows] == batches
        assert [r["macs"] for r in rows] == [SAM_MACS * b for b in batches], suffix
        assert rows[-1]["macs"] == SAM_MACS_AT_4194304 > INT64_MAX
        per_sample = rows[0]
        for row in rows:
            for key in ("flops", "peak_activation_bytes"):  # linear in the batch, every digit
                assert row[key] == per_sample[key] * row["batch"] > 0, (suffix, key)
            assert row["params"] == per_sample["params"]
            assert row["model_size_bytes"] == per_sample["model_size_bytes"] == 2 * per_sample["params"]


def test_the_largest_batch_gives_exact_counts_in_every_format(tmp_path: Path):
    # batch 2**63 - 1 wrote a negative peak_activation_bytes (and MACs and FLOPs)
    plan = plan_sweep("resnet18", "h100-sxm", batches=[1, MAX_BATCH], precisions=["fp16"])
    assert MAX_BATCH == INT64_MAX
    for suffix in _formats():
        path = tmp_path / f"y{suffix}"
        write_sweep(plan.chunks(), path, plan=plan)
        one, largest = read_rows(path)
        assert one["macs"] == RESNET18_MACS and largest["macs"] == RESNET18_MACS * INT64_MAX, suffix
        assert one["params"] == largest["params"] == RESNET18_PARAMS
        assert largest["model_size_bytes"] == RESNET18_PARAMS * FP16_BYTES
        assert one["peak_activation_bytes"] == RESNET18_PEAK_ELEMENTS * FP16_BYTES
        assert largest["peak_activation_bytes"] == INT64_MAX * RESNET18_PEAK_ELEMENTS * FP16_BYTES
        assert largest["flops"] == one["flops"] * INT64_MAX
        assert largest["batch"] == largest["micro_batch"] == INT64_MAX  # it runs whole; int64 holds it


def test_counts_that_fit_stay_int64_columns():
    table = sweep("resnet18", "h100-sxm", batches=[1, 2**20])
    for column in ("params", "macs", "flops", "model_size_bytes", "peak_activation_bytes", "micro_batch"):
        assert table[column].dtype == "int64", column
    assert list(table["macs"]) == [RESNET18_MACS, RESNET18_MACS * 2**20]


def test_parquet_stores_wide_counts_as_decimals_and_refuses_more_than_38_digits(tmp_path: Path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    plan = plan_sweep("resnet18", "h100-sxm", batches=[MAX_BATCH])
    write_sweep(plan.chunks(), tmp_path / "z.parquet", plan=plan)
    schema = pq.read_schema(tmp_path / "z.parquet")
    assert schema.field("macs").type == pa.decimal128(38, 0)
    assert schema.field("batch").type == pa.int64()
    frame = pd.DataFrame({"macs": pd.array([10**38], dtype=object)})  # 39 digits
    with pytest.raises(SimulatorError, match="38 digits"):
        _check_parquet_digits(frame)
    _check_parquet_digits(pd.DataFrame({"macs": pd.array([10**38 - 1], dtype=object)}))


def test_a_batch_past_int64_is_refused_naming_the_limit():
    with pytest.raises(SimulatorError, match=r"at most 2\*\*63 - 1 = 9,223,372,036,854,775,807"):
        plan_sweep("resnet18", "h100-sxm", batches=[2**63])


@pytest.mark.parametrize("batch", ["9223372036854775808", "1..1000000000000000000000"])
def test_the_cli_refuses_a_batch_past_int64_in_one_line(capsys, batch: str):
    # both were tracebacks (OverflowError: Python int too large to convert to C long)
    assert main(["sweep", "resnet18", "--device", "h100-sxm", "--batch", batch]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "at most 2**63 - 1 = 9,223,372,036,854,775,807" in err
    assert ("got 9223372036854775808" if "." not in batch else "got 1000000000000000000000") in err
