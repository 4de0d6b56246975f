"""Sweep workers hand their chunks back through shared blocks (simulator.sweep_workers._Slots): the
rows are those of the in-process sweep to the bit, the blocks are unmapped after a normal run, an
exception raised in a worker and a consumer that stops early, nothing is created in /dev/shm, and a
sweep whose blocks cannot be mapped goes through the pipe with the same rows. Override values are
read as an array (overrides._to_si_many) with the same floats as one at a time (overrides._to_si)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import platform
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator.sweep_workers as sweep_workers
import simulator.sweeps as sweeps
from simulator.engine.overrides import _to_si, _to_si_many, parse_overrides
from simulator.sweeps import SweepPlan, iter_sweep, sweep

#: the shared blocks are for forked workers; /proc/self/maps is Linux's
forked_on_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux") or multiprocessing.get_start_method() != "fork",
    reason="the shared blocks are for forked workers; /proc/self/maps is Linux's")

ORIN, H100 = "jetson-agx-orin", "h100-sxm"
#: overrides as strings with units in the key (GB/s: 1e9 bytes/s), and a scale as numbers
STRINGS = dict(networks="alexnet", devices=(ORIN, H100), batches=(1, 8, 64), precisions=("fp16", "int8"),
               overrides={"dram.bandwidth_gb_per_s": ["51.2", " 204.8 ", "1e2"], "peak_scale": [0.5, 1, 2]})
SCALES = dict(networks=("alexnet", "resnet18"), devices=ORIN, batches=(1, 4, 32), precisions=("fp32", "fp16"),
              overrides={"dram.bandwidth_scale": np.geomspace(0.25, 4, 7)})


def _shared_mappings() -> list[str]:
    """This process's anonymous shared mappings (``mmap(-1, ...)`` shows as ``/dev/zero (deleted)``)."""
    return [line for line in Path("/proc/self/maps").read_text().splitlines() if "/dev/zero" in line]


def _dev_shm() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


@pytest.fixture
def slots_seen(monkeypatch) -> list:
    """The _Slots each sweep maps, and how many parts came back through them (in the parent)."""
    seen: list = []
    create, unpack = sweep_workers._Slots.create.__func__, sweep_workers._Slots.unpack

    def counted_create(cls, count, size):
        slots = create(cls, count, size)
        seen.append({"slots": slots, "blocks": list(slots.blocks) if slots else [], "shared": 0})
        return slots

    def counted_unpack(self, slot, sent, copy=True):
        seen[-1]["shared"] += "__slot__" in sent
        return unpack(self, slot, sent, copy)

    monkeypatch.setattr(sweep_workers._Slots, "create", classmethod(counted_create))
    monkeypatch.setattr(sweep_workers._Slots, "unpack", counted_unpack)
    return seen


@forked_on_linux
@pytest.mark.parametrize("product", [STRINGS, SCALES], ids=["strings-with-units", "scales"])
def test_shared_blocks_give_the_in_process_rows_to_the_bit(product, slots_seen, monkeypatch):
    here = sweep(**product)
    monkeypatch.setattr(sweeps, "CHUNK_ROWS", 5)  # sweep() keeps every chunk's columns until the end
    # 3 x 2 x 9 = 54 rows a device (STRINGS), chunks of 5 rows: more chunks than blocks (4), so a block
    # is written again while earlier tables are kept: a table that viewed its block would change
    streamed = list(iter_sweep(**product, workers=2, chunk_rows=5))
    assert len(streamed) > 2 * 2 * 2
    pd.testing.assert_frame_equal(pd.concat(streamed, ignore_index=True), here, check_exact=True)
    pd.testing.assert_frame_equal(sweep(**product, workers=2), here, check_exact=True)
    assert len(slots_seen) == 2 and all(seen["shared"] > 0 for seen in slots_seen)


def test_string_overrides_with_units_are_their_si_values():
    table = sweep(**STRINGS)
    # "51.2" GB/s is 51.2e9 bytes/s exactly as written (not 51.2 * 1e9 in binary, which may differ)
    assert sorted(set(table["dram.bandwidth_bytes_per_s"])) == [float(Decimal("51.2e9")), 1e11,
                                                                float(Decimal("204.8e9"))]


@forked_on_linux
def test_blocks_are_unmapped_after_a_run_an_error_in_a_worker_and_an_early_stop(monkeypatch, slots_seen):
    gc.collect()
    mappings, shm = _shared_mappings(), _dev_shm()
    sweep(**SCALES, workers=2)
    compute_part = SweepPlan.compute_part

    def failing(self, unit, cache=None):  # forked workers inherit the patch
        if unit.number == 3:
            raise ValueError("a worker's chunk failed")
        return compute_part(self, unit, cache)

    monkeypatch.setattr(SweepPlan, "compute_part", failing)
    with pytest.raises(ValueError, match="a worker's chunk failed"):
        list(iter_sweep(**SCALES, workers=2, chunk_rows=4))
    monkeypatch.setattr(SweepPlan, "compute_part", compute_part)
    chunks = iter_sweep(**SCALES, workers=2, chunk_rows=4)
    next(chunks)
    chunks.close()  # a consumer that stops early (Ctrl-C in a loop over the chunks closes it too)
    gc.collect()
    assert len(slots_seen) == 3
    for seen in slots_seen:
        assert seen["blocks"] and all(block.closed for block in seen["blocks"])
    assert _shared_mappings() == mappings
    assert _dev_shm() == shm


@forked_on_linux
def test_without_blocks_the_pipe_gives_the_same_rows(monkeypatch):
    monkeypatch.setattr(sweep_workers._Slots, "create", classmethod(lambda cls, count, size: None))
    pd.testing.assert_frame_equal(sweep(**STRINGS, workers=2), sweep(**STRINGS), check_exact=True)


@forked_on_linux
def test_a_chunk_that_does_not_fit_its_block_goes_through_the_pipe(slots_seen):
    # counts past 2**63 - 1 are Python ints (object columns): not written into a block
    product = dict(networks="alexnet", devices=ORIN, batches=(2**62, 2**62 + 1), precisions=("fp16",))
    table = sweep(**product, workers=2)
    pd.testing.assert_frame_equal(table, sweep(**product), check_exact=True)
    assert table["macs"].dtype == object and slots_seen[-1]["shared"] == 0


def test_a_column_of_values_reads_as_each_value_alone():
    values = [*np.geomspace(0.25, 3.5, 101), 0.1, 204.8, 1e-300, 5e-324, 1.7976931348623157e308,
              float("inf"), float("nan"), -1.0, 0.0, -0.0, "2.5", " 3 ", "1e3", "204.8", "x", "", "nan",
              True, False, 3, 10**30, Decimal("0.1"), np.float32(0.1), np.int64(7), np.float16(0.5), None,
              "2.5", b"1", [1]]
    for factor in (1, 10**9, 2**30, 1024):
        alone = [_to_si(value, factor) for value in values]
        column = _to_si_many(values, factor)
        assert [None if v is None else np.float64(v).tobytes() for v in column] == \
               [None if v is None else np.float64(v).tobytes() for v in alone]
    # by hand: 0.1 (the float) is 0.1; 204.8 GB/s is the decimal 204.8e9; np.float32(0.1) is read as
    # written ("0.1"), not as its binary value 0.100000001490116...
    assert _to_si_many([0.1, "204.8", np.float32(0.1)], 1) == [0.1, 204.8, 0.1]
    assert _to_si_many(["204.8"], 10**9) == [204_800_000_000.0]


def test_an_array_of_overrides_parses_to_its_own_floats():
    scales = np.geomspace(0.25, 3.5, 1000)
    (parsed,) = parse_overrides({"dram.bandwidth_scale": scales})
    assert np.array(parsed.values).tobytes() == scales.tobytes()
    (parsed,) = parse_overrides({"dram.bandwidth_gb_per_s": np.array([51.2, 102.4])})
    assert parsed.values == (51_200_000_000.0, 102_400_000_000.0)


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt")
def test_a_worker_keeps_its_freed_memory_for_the_next_chunk():
    # in a process of its own (mallopt changes the process's malloc): glibc takes both settings (it
    # refuses an mmap threshold above 32 MiB on 64-bit), and a chunk's arrays (four of 16 MiB, freed
    # at its end) are allocated again for the next chunk without faulting their 16,384 pages in again
    # (glibc's own adaptive thresholds keep at most 32 MiB: about 2,000 faults, measured)
    code = """
import resource, numpy as np
from simulator.sweep_workers import _keep_freed_memory
assert _keep_freed_memory()
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def chunk():
    arrays = [np.ones((16 << 20) // 8) for _ in range(4)]
    del arrays
chunk()
before = faults()
chunk()
print(faults() - before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(done.stdout) < 4 * (16 << 20) // 4096 // 100
