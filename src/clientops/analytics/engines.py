"""Where the scoring pipelines run: DuckDB (default), the app's PostgreSQL, or Spark.

Every engine offers the same three fact tables to the Ibis pipelines, with the same columns:

- ``customers``: ``id``, ``team_id``
- ``orders``: ``customer_id``, ``t`` (epoch seconds, UTC), ``amount`` (paid orders only)
- ``touches``: ``customer_id``, ``t``, ``kind`` (``event`` or ``activity``), recent ones only

DuckDB and Spark get the facts as Arrow tables read from the app database: DuckDB's own
``sqlite``/``postgres`` extensions are downloaded at run time, which a server without internet
cannot do. On SQLite the rows come through the driver in large batches into NumPy columns; on
PostgreSQL through ``COPY ... TO STDOUT`` parsed by Arrow's CSV reader (multi-threaded C++).
The PostgreSQL engine runs the pipelines in the database itself and reads nothing up front.
"""

from __future__ import annotations

import io
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Engine

from clientops.analytics import sqlite_reader

ENGINES = ("duckdb", "postgres", "spark")
PARALLEL_FROM = 2_000_000
"""Orders (by id range) from which a SQLite read is split over worker processes."""
READ_WORKERS = 4
DAY = 86_400

ORDER_SCHEMA = pa.schema([("customer_id", pa.int64()), ("t", pa.int64()), ("amount", pa.float64())])
CUSTOMER_SCHEMA = pa.schema([("id", pa.int64()), ("team_id", pa.int64())])
TOUCH_SCHEMA = pa.schema([("customer_id", pa.int64()), ("t", pa.int64()), ("kind", pa.string())])


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here (no PostgreSQL app database, no Spark or Java)."""


@dataclass
class Facts:
    """The fact tables as Ibis expressions on one backend, and how many orders they hold."""

    con: Any
    customers: ibis.Table
    orders: ibis.Table
    touches: ibis.Table
    orders_count: int
    days: ibis.Table | None = None
    """Orders per customer and purchase day, when the engine materialised them."""


# --- reading the app database into Arrow -----------------------------------------------------


def _sql(dialect: str, end: int, since: int) -> dict[str, str]:
    """The three fact queries for ``dialect``: orders and touches before ``end``, touches
    from ``since`` on (epoch seconds)."""
    if dialect == "sqlite":
        # unixepoch() (SQLite 3.38+) parses a timestamp about three times faster than strftime.
        modern = sqlite3.sqlite_version_info >= (3, 38)
        epoch = "unixepoch({})" if modern else "CAST(strftime('%s', {}) AS INTEGER)"
        amount = "CAST(amount AS REAL)"
    else:
        epoch = "CAST(extract(epoch FROM {}) AS BIGINT)"
        amount = "CAST(amount AS DOUBLE PRECISION)"
    o_t, e_t, a_t = (epoch.format(c) for c in ("ordered_at", "occurred_at", "occurred_at"))
    return {
        "customers": "SELECT id, team_id FROM customers",
        "orders": f"SELECT customer_id, {o_t} AS t, {amount} AS amount FROM orders "
        f"WHERE status = 'paid' AND {o_t} < {end}",
        "touches": f"SELECT customer_id, {e_t} AS t, 'event' AS kind FROM events "
        f"WHERE customer_id IS NOT NULL AND {e_t} >= {since} AND {e_t} < {end} "
        f"UNION ALL SELECT customer_id, {a_t} AS t, 'activity' AS kind FROM activities "
        f"WHERE {a_t} >= {since} AND {a_t} < {end}",
    }


def _sqlite_arrow(raw: Any, sql: str, schema: pa.Schema) -> pa.Table:
    """Rows of a SQLite query as Arrow, fetched in batches straight into typed columns."""
    return sqlite_reader.read(raw.cursor(), sql, schema)


def _postgres_arrow(raw: Any, sql: str, schema: pa.Schema) -> pa.Table:
    """Rows of a PostgreSQL query as Arrow: COPY to CSV in memory, parsed by Arrow."""
    buffer = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    options = pacsv.ReadOptions(column_names=schema.names)
    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema}, strings_can_be_null=True
    )
    return pacsv.read_csv(buffer, read_options=options, convert_options=convert)


def read_facts(sa_engine: Engine, *, end: int, since: int) -> dict[str, pa.Table]:
    """The app database's facts as Arrow tables (see the module docstring)."""
    dialect = sa_engine.dialect.name
    queries = _sql(dialect, end, since)
    schemas = {"customers": CUSTOMER_SCHEMA, "orders": ORDER_SCHEMA, "touches": TOUCH_SCHEMA}
    reader = _sqlite_arrow if dialect == "sqlite" else _postgres_arrow
    workers = min(READ_WORKERS, len(os.sched_getaffinity(0)))
    with sa_engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        found = {
            name: reader(raw, queries[name], schemas[name]) for name in ("customers", "touches")
        }
        bounds = _id_bounds(raw) if dialect == "sqlite" and workers > 1 else None
        if bounds is None or bounds[1] - bounds[0] < PARALLEL_FROM:
            found["orders"] = reader(raw, queries["orders"], ORDER_SCHEMA)
            return found
    # Many orders in SQLite: worker processes read slices of the id range side by side.
    sql = queries["orders"] + " AND id >= ? AND id < ?"
    database = str(sa_engine.url.database)
    found["orders"] = sqlite_reader.read_parallel(database, sql, ORDER_SCHEMA, bounds, workers)
    return found


def _id_bounds(raw: Any) -> tuple[int, int] | None:
    low, high = raw.execute("SELECT min(id), max(id) FROM orders").fetchone()
    return None if low is None else (int(low), int(high) + 1)


PREVIOUS_COLUMNS = (
    "tier", "tier_since", "stage", "stage_since", "stage_at_month_start", "rfm_segment", "as_of"
)  # fmt: skip
PREVIOUS_SCHEMA = pa.schema(
    [("customer_id", pa.int64()), *[(name, pa.string()) for name in PREVIOUS_COLUMNS]]
)


def read_previous(sa_engine: Engine) -> pa.Table:
    """The current scores' tier, stage and segment (and since when) as Arrow, dates as text:
    what the next run compares against to write history."""
    columns = ", ".join(f"CAST({name} AS VARCHAR(40))" for name in PREVIOUS_COLUMNS)
    sql = f"SELECT customer_id, {columns} FROM customer_scores"
    reader = _sqlite_arrow if sa_engine.dialect.name == "sqlite" else _postgres_arrow
    with sa_engine.connect() as conn:
        return reader(conn.connection.driver_connection, sql, PREVIOUS_SCHEMA)


# --- the engines ------------------------------------------------------------------------------


def local_duckdb(tables: dict[str, pa.Table], threads: int | None = None) -> Any:
    """An in-memory DuckDB holding ``tables``, as an Ibis backend."""
    import duckdb

    raw = duckdb.connect(config={"threads": threads} if threads else {})
    for name, table in tables.items():
        raw.register(f"{name}_arrow", table)
        raw.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        raw.unregister(f"{name}_arrow")
    return ibis.duckdb.from_connection(raw)


def _facts_on(con: Any, orders_count: int, days: bool = False) -> Facts:
    return Facts(
        con=con,
        customers=con.table("customers"),
        orders=con.table("orders"),
        touches=con.table("touches"),
        orders_count=orders_count,
        days=con.table("days") if days else None,
    )


DAYS_SQL = (
    f"CREATE TABLE days AS SELECT customer_id, CAST(t // {DAY} AS BIGINT) AS day, "
    "sum(amount) AS spend, count(*) AS n FROM orders GROUP BY ALL"
)
"""The purchase days, once: every pipeline of a run starts from them (see pipeline.day_orders)."""


def _postgres_facts(sa_engine: Engine, *, end: int, since: int) -> Facts:
    if sa_engine.dialect.name != "postgresql":
        raise EngineUnavailable("the postgres engine needs the app database on PostgreSQL")
    url = sa_engine.url
    con = ibis.postgres.connect(
        host=url.host or "localhost",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    orders = con.table("orders")
    paid = orders.filter(orders.status == "paid")
    paid = paid.select(
        customer_id=paid.customer_id.cast("int64"),
        t=paid.ordered_at.epoch_seconds().cast("int64"),
        amount=paid.amount.cast("float64"),
    )
    paid = paid.filter(paid.t < end)
    customers = con.table("customers")
    customers = customers.select(
        id=customers.id.cast("int64"), team_id=customers.team_id.cast("int64")
    )
    touches = _pg_touches(con, end=end, since=since)
    count = int(paid.count().to_pyarrow().as_py())
    return Facts(con=con, customers=customers, orders=paid, touches=touches, orders_count=count)


def _pg_touches(con: Any, *, end: int, since: int) -> ibis.Table:
    events, activities = con.table("events"), con.table("activities")
    linked = events.filter(events.customer_id.notnull())
    parts = [
        linked.select(
            customer_id=linked.customer_id.cast("int64"),
            t=linked.occurred_at.epoch_seconds().cast("int64"),
            kind=ibis.literal("event"),
        ),
        activities.select(
            customer_id=activities.customer_id.cast("int64"),
            t=activities.occurred_at.epoch_seconds().cast("int64"),
            kind=ibis.literal("activity"),
        ),
    ]
    touches = parts[0].union(parts[1])
    return touches.filter((touches.t >= since) & (touches.t < end))


def _spark_session() -> Any:
    import shutil

    if shutil.which("java") is None:
        raise EngineUnavailable("the spark engine needs Java")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineUnavailable("the spark engine needs the [spark] extra (pyspark)") from exc
    return (
        SparkSession.builder.master("local[2]")
        .appName("clientops-scoring")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def _spark_facts(tables: dict[str, pa.Table], folder: Path) -> Facts:
    import pyarrow.parquet as pq

    session = _spark_session()
    for name, table in tables.items():
        path = folder / f"{name}.parquet"
        pq.write_table(table, path)
        session.read.parquet(str(path)).createOrReplaceTempView(name)
    return _facts_on(ibis.pyspark.connect(session), tables["orders"].num_rows)


@contextmanager
def facts(engine: str, sa_engine: Engine, *, end: int, since: int) -> Iterator[Facts]:
    """The fact tables on ``engine`` for orders before ``end`` and touches from ``since``."""
    if engine not in ENGINES:
        raise EngineUnavailable(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine == "postgres":
        found = _postgres_facts(sa_engine, end=end, since=since)
        try:
            yield found
        finally:
            found.con.disconnect()
        return
    tables = read_facts(sa_engine, end=end, since=since)
    if engine == "duckdb":
        con = local_duckdb(tables)
        con.con.execute(DAYS_SQL)
        try:
            yield _facts_on(con, tables["orders"].num_rows, days=True)
        finally:
            con.disconnect()
        return
    with tempfile.TemporaryDirectory(prefix="clientops-spark-") as folder:
        yield _spark_facts(tables, Path(folder))
