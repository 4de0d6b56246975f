"""Large sweeps (issue 12, "Scale"): streamed chunks, worker processes, a dask cluster, streamed
writers (CSV, JSON Lines, JSON array, Parquet) that replace their target atomically, progress
through a callback, and the CLI's --workers, --scheduler, --progress and size estimate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator.cli.sweep as cli_sweep
from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.sweeps import CHUNK_ROWS, iter_sweep, plan_sweep, sweep, write_sweep, write_sweep_partitioned

ORIN, STM32 = "jetson-agx-orin", "stm32f746"
# two shapes x two devices with different memory levels x 3 batches x 2 precisions x 4 scales
PRODUCT = dict(networks=["alexnet", "resnet18"], devices=[ORIN, "h100-sxm"], batches=[1, 4, 16],
               precisions=["fp16", "int8"], overrides={"dram.bandwidth_scale": [0.25, 0.5, 1, 2]})
SKIPPING = dict(networks="alexnet", devices=[STM32, ORIN], batches=[1, 2], precisions=["fp16", "int8"],
                skip_unsupported=True)


def test_chunks_are_bounded_and_concatenate_to_the_sweep():
    whole = sweep(**PRODUCT)
    chunks = list(iter_sweep(**PRODUCT, chunk_rows=7))
    assert len(whole) == 2 * 2 * 3 * 2 * 4 == sum(map(len, chunks))
    assert all(0 < len(chunk) <= 7 for chunk in chunks)
    assert all(list(chunk.columns) == list(whole.columns) for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole, check_exact=True)


def test_the_order_is_networks_devices_then_the_product_last_fastest():
    table = sweep(**PRODUCT)
    first = table.iloc[:5]
    assert list(first["network"]) == ["alexnet"] * 5 and list(first["device"]) == [ORIN] * 5
    assert list(first["dram.bandwidth_scale"]) == [0.25, 0.5, 1, 2, 0.25]
    assert list(first["precision"]) == ["fp16"] * 4 + ["int8"]
    assert list(table["network"].drop_duplicates()) == ["alexnet", "resnet18"]


def test_skipped_configurations_leave_no_gap_in_chunks():
    whole = sweep(**SKIPPING)
    # the STM32 runs only int8 (2 batches), the Orin both precisions (4)
    assert list(whole["device"]) == [STM32] * 2 + [ORIN] * 4
    chunks = list(iter_sweep(**SKIPPING, chunk_rows=1))
    assert all(len(chunk) == 1 for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole, check_exact=True)


def test_the_product_is_sized_without_being_built():
    # 100 batches x 2 precisions x 10^5 scales = 2·10^7 configurations: sized from the axes alone
    start = time.perf_counter()
    plan = plan_sweep("alexnet", ORIN, batches=range(1, 101), precisions=["fp16", "int8"],
                      overrides={"dram.bandwidth_scale": np.geomspace(0.25, 4, 10**5)})
    assert plan.size == 2 * 10**7
    assert time.perf_counter() - start < 5
    assert plan_sweep(**SKIPPING).size == 6


def test_workers_give_the_in_process_rows_in_the_same_order():
    pd.testing.assert_frame_equal(sweep(**PRODUCT, workers=2), sweep(**PRODUCT), check_exact=True)
    pd.testing.assert_frame_equal(sweep(**SKIPPING, workers=2), sweep(**SKIPPING), check_exact=True)
    streamed = list(iter_sweep(**PRODUCT, workers=2, chunk_rows=5))
    pd.testing.assert_frame_equal(pd.concat(streamed, ignore_index=True), sweep(**PRODUCT), check_exact=True)


def test_bad_workers_and_chunk_sizes_are_errors():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(SimulatorError, match="workers"):
            sweep("alexnet", ORIN, workers=bad)
    with pytest.raises(SimulatorError, match="chunk_rows"):
        list(iter_sweep("alexnet", ORIN, chunk_rows=0))


def test_progress_reports_every_chunk_and_prints_nothing(capsys):
    reports = []
    rows = sum(len(c) for c in iter_sweep(**PRODUCT, chunk_rows=10, progress=reports.append))
    assert capsys.readouterr() == ("", "")
    assert reports[-1].done == reports[-1].total == rows == 96
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert all(r.total == 96 and r.elapsed_s >= 0 for r in reports)


def _read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        # the file holds each float's shortest round-trip text; pandas before 3.0 parses it with a fast
        # parser that can miss the last bit unless asked for the exact one
        return pd.read_csv(path, float_precision="round_trip")
    if fmt == "jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    if fmt == "json":
        return pd.DataFrame(json.loads(path.read_text()))
    return pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "parquet"])
def test_streamed_files_read_back_as_the_table(tmp_path: Path, fmt: str):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    whole = sweep(**SKIPPING)
    path = tmp_path / f"sweep.{fmt}"
    assert write_sweep(iter_sweep(**SKIPPING, chunk_rows=2), path) == len(whole) == 6
    back = _read(path, fmt)
    assert list(back.columns) == list(whole.columns)
    for column in ("network", "device", "precision", "batch", "latency_s", "energy_j", "fits"):
        assert list(back[column]) == list(whole[column]), column
    # the STM32 has no level the Orin has, and vice versa: missing energies read back as missing
    level = next(c for c in whole.columns if c.startswith("energy_") and whole[c].isna().any())
    assert back[level].isna().tolist() == whole[level].isna().tolist()
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_the_streamed_json_array_is_what_json_dumps_writes_for_the_records(tmp_path: Path):
    whole = sweep(**SKIPPING)
    write_sweep(iter_sweep(**SKIPPING, chunk_rows=4), tmp_path / "a.json")
    records = whole.astype(object).where(whole.notna(), None).to_dict(orient="records")
    assert (tmp_path / "a.json").read_text() == json.dumps(records, indent=1) + "\n"
    plan = plan_sweep("alexnet", STM32, precisions=["fp16"], skip_unsupported=True)
    write_sweep(plan.chunks(), tmp_path / "empty.json", plan=plan)
    assert json.loads((tmp_path / "empty.json").read_text()) == []
    write_sweep(plan.chunks(), tmp_path / "empty.csv", plan=plan)
    assert list(pd.read_csv(tmp_path / "empty.csv").columns) == plan.columns


def test_an_interrupted_stream_leaves_the_previous_file_intact(tmp_path: Path):
    path = tmp_path / "sweep.csv"
    path.write_text("previous\n")

    def interrupted():
        chunks = iter_sweep(**PRODUCT, chunk_rows=8)
        yield next(chunks)
        yield next(chunks)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_sweep(interrupted(), path)
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]


def test_a_killed_sweep_leaves_the_previous_file_intact(tmp_path: Path):
    path = tmp_path / "sweep.csv"
    path.write_text("previous\n")
    script = ("from simulator.cli import main; import sys; sys.exit(main(['sweep', 'alexnet', '--device', "
              f"'{ORIN}', '--batch', '1..512', '--set', 'dram.bandwidth_scale=' + ','.join(str(1 + i / 1e5) "
              f"for i in range(20000)), '-o', {str(path)!r}]))")
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the temporary file has rows in it
            temporary = [p for p in tmp_path.rglob("*") if p.is_file() and p != path]
            if temporary and temporary[0].stat().st_size > 10_000:
                break
            assert process.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the sweep wrote no temporary file")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert path.read_text() == "previous\n"


def test_partitioned_output_concatenates_to_the_table(tmp_path: Path):
    pytest.importorskip("pyarrow")
    plan = plan_sweep(**PRODUCT)
    directory = tmp_path / "parts.parquet"
    directory.mkdir()
    (directory / "stale.txt").write_text("from an earlier run")
    assert write_sweep_partitioned(plan, directory, "parquet", chunk_rows=10) == 96
    parts = sorted(directory.iterdir())
    assert all(p.name.startswith("part-") for p in parts) and len(parts) >= 96 // 10
    back = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(back, sweep(**PRODUCT), check_dtype=False, check_exact=True)


def test_the_cli_streams_every_format_and_workers_change_nothing(tmp_path: Path, capsys):
    pytest.importorskip("pyarrow")
    base = ["sweep", "alexnet", "resnet18", "--device", ORIN, "h100-sxm", "--batch", "1..16",
            "--precision", "fp16,int8"]
    assert main([*base, "-o", str(tmp_path / "one.csv")]) == 0
    assert main([*base, "--workers", "2", "-o", str(tmp_path / "two.csv")]) == 0
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    assert main([*base, "-o", str(tmp_path / "t.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "t.parquet")) == 2 * 2 * 5 * 2
    err = capsys.readouterr().err
    assert "wrote 40 configurations" in err and "\r" not in err  # no bar when stderr is not a terminal


def test_the_cli_bar_and_size_estimate(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr(cli_sweep, "LARGE_SWEEP", 10)
    assert main(["sweep", "alexnet", "--device", ORIN, "--batch", "1..64", "--precision", "fp16,int8",
                 "--progress", "-o", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err
    assert "sweep: 14 configurations, about" in err and "as csv" in err
    assert "[" + "#" * 30 + "] 100% 14/14 configurations" in err
    size = (tmp_path / "s.csv").stat().st_size
    estimate = float(err.split("about ")[1].split(" ")[0])  # in kB: 14 rows of a few hundred bytes
    assert 0.5 * size / 1e3 < estimate < 2 * size / 1e3
    assert main(["sweep", "alexnet", "--device", ORIN, "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_a_large_product_streams_in_bounded_memory(tmp_path: Path):
    pytest.importorskip("pyarrow")
    # peak memory of a 4-chunk and a 32-chunk stream (in a fresh process each): the same, whereas
    # the 28 extra chunks' rows (229,376 rows x 30 columns) would take over 50 MB in memory
    script = ("import resource, sys, numpy as np; from simulator.sweeps import iter_sweep, write_sweep; "
              "n = int(sys.argv[1]); "
              "write_sweep(iter_sweep('alexnet', 'jetson-agx-orin', batches=[1, 2, 4, 8], "
              "precisions=['fp16'], overrides={'dram.bandwidth_scale': np.geomspace(0.25, 4, n // 4)}, "
              "chunk_rows=8192), "
              "sys.argv[2]); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    peaks = []
    for n in (4 * 8192, 32 * 8192):
        done = subprocess.run([sys.executable, "-c", script, str(n), str(tmp_path / "s.parquet")],
                              capture_output=True, text=True, check=True)
        peaks.append(int(done.stdout.split()[-1]) * 1024)
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 32 * 8192
    assert peaks[1] - peaks[0] < 20e6, peaks
    assert CHUNK_ROWS <= 65_536


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        yield client


def test_a_dask_cluster_of_two_workers_gives_the_in_process_table(dask_client, tmp_path: Path):
    pytest.importorskip("pyarrow")
    pd.testing.assert_frame_equal(sweep(**PRODUCT, client=dask_client), sweep(**PRODUCT), check_exact=True)
    pd.testing.assert_frame_equal(sweep(**SKIPPING, client=dask_client), sweep(**SKIPPING), check_exact=True)
    plan = plan_sweep(**PRODUCT)
    directory = tmp_path / "parts"
    assert write_sweep_partitioned(plan, directory, "parquet", client=dask_client, chunk_rows=16) == 96
    back = pd.concat([pd.read_parquet(p) for p in sorted(directory.iterdir())], ignore_index=True)
    pd.testing.assert_frame_equal(back, sweep(**PRODUCT), check_dtype=False, check_exact=True)


def test_the_cli_scheduler_writes_partitions(dask_client, tmp_path: Path, capsys):
    address = dask_client.scheduler.address
    assert main(["sweep", "alexnet", "--device", ORIN, "--batch", "1..8", "--scheduler", address,
                 "-o", str(tmp_path / "out.csv")]) == 0
    parts = sorted((tmp_path / "out.csv").iterdir())
    back = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    assert list(back["batch"]) == [1, 2, 4, 8]
    assert "part files in" in capsys.readouterr().err
