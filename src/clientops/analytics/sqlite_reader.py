"""Reading a large SQLite query into Arrow on several processes at once.

Python's sqlite3 driver turns every value into a Python object while holding the GIL, so one
process reads about a million rows per two or three seconds whatever the cores. Splitting the
id range over worker processes (each with its own read-only connection; WAL lets readers run
side by side) divides that time. This module imports only the standard library, NumPy and
Arrow, so a worker starts fast.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

FETCH_BATCH = 500_000


def column(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """One fetched column as Arrow: NumPy for numbers without nulls, Arrow's own otherwise."""
    if kind == pa.string() or None in values:
        return pa.array(values, type=kind)
    dtype = np.float64 if kind == pa.float64() else np.int64
    return pa.array(np.fromiter(values, dtype=dtype, count=len(values)), type=kind)


def read(cursor: Any, sql: str, schema: pa.Schema, params: Sequence[Any] = ()) -> pa.Table:
    """The rows of ``sql`` as Arrow, fetched in batches straight into typed columns."""
    cursor.execute(sql, params)
    parts: list[pa.RecordBatch] = []
    while rows := cursor.fetchmany(FETCH_BATCH):
        columns = list(zip(*rows, strict=True))
        arrays = [column(values, field.type) for values, field in zip(columns, schema, strict=True)]
        parts.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    cursor.close()
    return pa.Table.from_batches(parts, schema=schema)


def _worker(job: tuple[str, str, bytes, int, int, str]) -> str:
    database, sql, schema_bytes, low, high, out = job
    schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        table = read(con.cursor(), sql, schema, (low, high))
    finally:
        con.close()
    feather.write_feather(table, out, compression="uncompressed")
    return out


def read_parallel(
    database: str, sql: str, schema: pa.Schema, bounds: tuple[int, int], workers: int
) -> pa.Table:
    """``sql`` (with ``?`` placeholders for an id range ``[low, high)``) read by ``workers``
    processes over equal slices of ``bounds``; the parts in id order."""
    low, high = bounds
    step = max(1, -(-(high - low) // workers))
    schema_bytes = schema.serialize().to_pybytes()
    with tempfile.TemporaryDirectory(prefix="clientops-read-") as folder:
        jobs = [
            (database, sql, schema_bytes, start, min(start + step, high), f"{folder}/{n}.arrow")
            for n, start in enumerate(range(low, high, step))
        ]
        context = multiprocessing.get_context("spawn")
        with context.Pool(len(jobs)) as pool:
            paths = pool.map(_worker, jobs)
        tables = [feather.read_table(Path(p), memory_map=False) for p in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()
