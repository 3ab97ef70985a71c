"""Set-based writes for imports, one code path per database.

PostgreSQL takes new rows through ``COPY`` (ids drawn from the table's sequence beforehand);
SQLite through one prepared statement run for every row (``executemany``), ids counted on from
the largest one, which is safe because the caller already holds SQLite's single write lock (its
first statement in the transaction was a write). Neither goes through the ORM, so the audit
flush listener does not see these rows: the import records one audit event per batch instead.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

T = TypeVar("T")
CHUNK = 20_000
"""Keys looked up per query (a batch's worth)."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_postgres(conn: Connection) -> bool:
    """True on PostgreSQL."""
    return conn.dialect.name == "postgresql"


def among(dialect: str, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` as one bound value, not one per key: ``= ANY(array)`` on
    PostgreSQL, ``IN (SELECT value FROM json_each(...))`` on SQLite."""
    items = list(values)
    if dialect == "postgresql":
        item_type = Integer if items and isinstance(items[0], int) else String
        array: Any = bindparam("keys", items, unique=True, type_=ARRAY(item_type))
        return column == any_(array)  # type: ignore[no-any-return]
    keys: Any = select(literal_column("value")).select_from(func.json_each(json.dumps(items)))
    return column.in_(keys)  # type: ignore[no-any-return]


def stamp(conn: Connection, moment: datetime) -> Any:
    """A timestamp as a bulk write stores it: SQLAlchemy's UTC text on SQLite."""
    if is_postgres(conn):
        return moment
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def allocate_ids(conn: Connection, table: str, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``."""
    if count == 0:
        return []
    if is_postgres(conn):
        sql = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        found = conn.execute(sql, {"table": table, "n": count}).scalars().all()  # one fetch
        return [int(value) for value in found]
    # The caller's transaction has written already, so it holds the write lock: no other
    # connection can insert between this read and the insert that follows.
    last = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + count))


def moment(conn: Connection, iso: str) -> Any:
    """An ISO timestamp (with its offset) as a bulk write stores it."""
    if is_postgres(conn):
        return iso
    return stamp(conn, datetime.fromisoformat(iso))


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``.

    Values go in as given: text (ISO dates, decimal text), numbers, or times from ``stamp``.
    """
    if is_postgres(conn):
        _copy(conn, table, columns, rows)
        return
    converted = list(rows)
    if converted:
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        conn.exec_driver_sql(sql, converted)


def _copy(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def update_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Set ``columns`` of the rows whose id is the last item of each row tuple."""
    if not rows:
        return
    if is_postgres(conn):
        _update_from_copy(conn, table, columns, rows)
        return
    assignments = ", ".join(f"{column} = ?" for column in columns)
    converted = [tuple(map(_sqlite_value, row)) for row in rows]  # updates are few: typed
    conn.exec_driver_sql(f"UPDATE {table} SET {assignments} WHERE id = ?", converted)


def _update_from_copy(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    # One COPY into a temporary table shaped like the target's columns (one per set of
    # columns, dropped at commit), then one UPDATE ... FROM.
    names = ", ".join(columns)
    scratch = f"_import_{table}_{zlib.crc32(names.encode()):08x}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ON COMMIT DROP "
        f"AS SELECT {names}, id FROM {table} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {scratch}")
    _copy(conn, scratch, [*columns, "id"], rows)
    assignments = ", ".join(f"{column} = u.{column}" for column in columns)
    conn.exec_driver_sql(
        f"UPDATE {table} AS t SET {assignments} FROM {scratch} AS u WHERE t.id = u.id"
    )


def delete_ids(conn: Connection, table: str, column: str, ids: Sequence[int]) -> None:
    """Delete the rows of ``table`` whose ``column`` is one of ``ids``."""
    for part in chunks(list(ids)):
        marks = ", ".join(str(int(value)) for value in part)  # integers only: safe to inline
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE {column} IN ({marks})")


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy would have stored it in SQLite (UTC text times, decimal text)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
