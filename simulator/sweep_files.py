"""Writing a sweep's table: CSV, JSON Lines, a JSON array or Parquet (the ``parquet`` extra,
pyarrow), chunk by chunk into a temporary file renamed over the target at the end
(:func:`simulator.io.atomic_path`), for :mod:`simulator.sweeps`.

Counts are exact integers in every format: a count column (:data:`COUNT_COLUMNS`) is int64 while
every value fits, else Python ints (dtype object, :attr:`simulator.sweeps.SweepPlan.wide_counts`),
which CSV and JSON print digit for digit and Parquet stores as ``decimal128(38, 0)`` (read back as
``decimal.Decimal``); a count of more than 38 digits is refused for Parquet.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pandas as pd

from simulator.errors import SimulatorError
from simulator.io import atomic_path, dumps_json, temporary_folder, terminate_as_exit

#: Output formats of :func:`write_sweep`, by file suffix.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".parquet": "parquet"}
#: Count columns: exact integers (int64, or Python ints where a value passes 2**63 - 1).
COUNT_COLUMNS = ("params", "macs", "flops", "model_size_bytes", "peak_activation_bytes")
#: Decimal digits of a count column in Parquet when int64 cannot hold it (decimal128's most).
PARQUET_DIGITS = 38


class _Columns(Protocol):
    """What the writers need of a sweep plan: its table with no rows (the columns of an empty sweep)."""

    def empty(self) -> pd.DataFrame: ...


def sweep_format(path: str | Path) -> str:
    """``csv``, ``jsonl``, ``json`` or ``parquet``, from the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SimulatorError(f"cannot tell the format of {str(path)!r}: use a file name ending in "
                             f"{', '.join(FORMATS)}")
    return FORMATS[suffix]


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: Python scalars, and null for a missing value (NaN, NA)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def _arrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise SimulatorError("writing Parquet needs pyarrow: "
                             "pip install 'roofline-simulator[parquet]'") from None
    return pyarrow


def _parquet_schema(chunk: pd.DataFrame, pa):
    """The Parquet schema of a sweep's chunks: pandas' own, but a count column of Python ints (a
    sweep whose counts pass int64, :attr:`SweepPlan.wide_counts`) is ``decimal128(38, 0)``: exact,
    read back as ``decimal.Decimal``."""
    wide = [c for c in COUNT_COLUMNS if c in chunk and chunk[c].dtype == object]
    schema = pa.Schema.from_pandas(chunk.assign(**{c: 0 for c in wide}), preserve_index=False)
    for column in wide:
        field = pa.field(column, pa.decimal128(PARQUET_DIGITS, 0))
        schema = schema.set(schema.get_field_index(column), field)
    return schema


def _check_parquet_digits(chunk: pd.DataFrame) -> None:
    """Refuses a count beyond decimal128's 38 digits (Parquet has no wider exact integer)."""
    for column in COUNT_COLUMNS:
        if column in chunk and chunk[column].dtype == object and len(chunk):
            largest = max(chunk[column])
            if largest >= 10**PARQUET_DIGITS:
                raise SimulatorError(f"{column} reaches {largest:,}, more than the {PARQUET_DIGITS} digits a "
                                     "Parquet decimal128 column holds; write .csv, .json or .jsonl instead")


def _write_chunks(chunks: Iterable[pd.DataFrame], stream, fmt: str, plan: _Columns | None = None) -> int:
    """Writes ``chunks`` to the binary ``stream`` in ``fmt``; returns the number of rows."""
    rows = 0
    if fmt == "parquet":
        pa = _arrow()
        writer = schema = None
        try:
            for chunk in chunks:
                if writer is None:
                    schema = _parquet_schema(chunk, pa)
                    writer = pa.parquet.ParquetWriter(stream, schema)
                _check_parquet_digits(chunk)
                writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
                rows += len(chunk)
            if writer is None:  # no rows: the columns alone
                empty = plan.empty() if plan is not None else pd.DataFrame()
                writer = pa.parquet.ParquetWriter(stream, pa.Schema.from_pandas(empty, preserve_index=False))
        finally:
            if writer is not None:
                writer.close()
        return rows
    first = True
    for chunk in chunks:
        if fmt == "csv":
            stream.write(chunk.to_csv(index=False, header=first).encode("utf-8"))
        elif fmt == "jsonl":
            stream.write("".join(dumps_json(row) + "\n" for row in _records(chunk)).encode("utf-8"))
        else:  # a JSON array, one indented record after another (as json.dumps(records, indent=1))
            text = ",\n".join(" " + dumps_json(row, indent=1).replace("\n", "\n ") for row in _records(chunk))
            stream.write((("[\n" if first else ",\n") + text).encode("utf-8"))
        first, rows = False, rows + len(chunk)
    if first:  # no rows
        if fmt == "csv" and plan is not None:
            stream.write(plan.empty().to_csv(index=False).encode("utf-8"))
        elif fmt == "json":
            stream.write(b"[]\n")
    elif fmt == "json":
        stream.write(b"\n]\n")
    return rows


@contextmanager
def _replacing_directory(path: Path):
    """A temporary directory beside ``path``, renamed over it only if the block completes: an
    interrupted or failed write leaves the previous ``path`` as it was (files go through
    :func:`simulator.io.atomic_path`), and no temporary directory, SIGTERM included."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SimulatorError(f"cannot write partitions to {str(path)!r}: it is a file, not a directory")
    temporary = temporary_folder(path)
    try:
        with terminate_as_exit():
            yield temporary
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.{uuid.uuid4().hex}.old"
            os.replace(path, old)
        os.replace(temporary, path)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def write_sweep(chunks: Iterable[pd.DataFrame] | pd.DataFrame, path: str | Path,
                plan: _Columns | None = None, fmt: str | None = None) -> int:
    """Writes a sweep (a DataFrame, or the chunks of :func:`iter_sweep` as they come) to ``path``
    as CSV, JSON Lines, a JSON array or Parquet (by ``fmt`` or the suffix); chunk by chunk into a
    temporary file renamed over ``path`` at the end (atomic). Returns the number of rows."""
    fmt = fmt or sweep_format(path)
    if isinstance(chunks, pd.DataFrame):
        chunks = [chunks]
    if fmt == "parquet":
        _arrow()
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        return _write_chunks(chunks, stream, fmt, plan)
