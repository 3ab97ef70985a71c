"""Bulk-load mode: a large customer import writes with fewer indexes and rebuilds them at the end.

Every index on ``customers`` costs a B-tree insert per written row; building an index once from
the finished table is much cheaper than growing it row by row. An import that adds many rows
relative to the table (``wanted``) therefore drops the secondary, non-unique indexes it does not
read (``droppable``) before its first batch is written and creates them again after the last.

Kept: the primary key, anything unique, and the search indexes on ``name_key``, ``phone_key``
and ``email_key``: writing a batch matches its rows to existing customers by phone, e-mail and
company name, and without those indexes every batch would scan the whole table.

The definitions come from the models' metadata, so a rebuilt index is exactly what the
migrations made (``alembic check`` sees no difference), and ``restore`` creates only what is
missing (``IF NOT EXISTS``): it may run at any time, any number of times. The import workflow
runs it when it finishes, when it fails or is cancelled, and when any import starts (a killed
bulk import that is never resumed leaves the table to the next one).
"""

from __future__ import annotations

from sqlalchemy import Index, func, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

from clientops.config import current
from clientops.customers.models import Customer

TABLE = "customers"
READ_BY_WRITES = frozenset(
    {"ix_customers_search_name", "ix_customers_search_phone", "ix_customers_search_email"}
)
"""Indexes the write path looks customers up by: never dropped."""
BUILD_MEMORY = "512MB"
"""PostgreSQL's ``maintenance_work_mem`` while rebuilding: each index sorted in memory."""


def secondary() -> list[Index]:
    """The non-unique indexes the models define on ``customers``, by name."""
    table = Customer.metadata.tables[TABLE]
    return sorted((ix for ix in table.indexes if not ix.unique), key=lambda ix: str(ix.name))


def droppable() -> list[Index]:
    """The indexes a bulk load drops: secondary, non-unique and not read while writing."""
    return [ix for ix in secondary() if ix.name not in READ_BY_WRITES]


def wanted(*, db: Session, rows: int) -> bool:
    """Whether an import of ``rows`` rows is large enough, alone and against the table, to
    write without the droppable indexes."""
    settings = current()
    if rows < max(settings.import_stream_min_rows, 1):
        return False
    existing = db.scalar(select(func.count(Customer.id))) or 0
    return rows >= settings.import_bulk_index_ratio * existing


def present(*, db: Session) -> set[str]:
    """Names of the indexes ``customers`` has now."""
    return {str(ix["name"]) for ix in inspect(db.connection()).get_indexes(TABLE)}


def missing(*, db: Session) -> list[str]:
    """Secondary indexes of the models that the table lacks (empty when all are there)."""
    there = present(db=db)
    return [str(ix.name) for ix in secondary() if ix.name not in there]


def drop(*, db: Session) -> list[str]:
    """Drop the droppable indexes (in the caller's transaction); the names dropped."""
    there = present(db=db)
    names = [str(ix.name) for ix in droppable() if ix.name in there]
    preparer = db.get_bind().dialect.identifier_preparer
    for name in names:
        db.execute(text(f"DROP INDEX IF EXISTS {preparer.quote(name)}"))
    return names


def restore(*, db: Session) -> list[str]:
    """Create every secondary index the table lacks (in the caller's transaction); the names
    created."""
    lacking = set(missing(db=db))
    if not lacking:
        return []
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":  # sort each index in memory rather than in temporary files
        db.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
    for ix in secondary():
        if ix.name in lacking:
            db.execute(CreateIndex(ix, if_not_exists=True))
    if dialect == "sqlite":
        _analyse_again(db)
    return sorted(lacking)


def _analyse_again(db: Session) -> None:
    # Dropping an index deletes its SQLite statistics; search plans need true ones (decision
    # 0004), so a table that had them is analysed again. One never analysed stays as it was.
    known = db.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    stats = text("SELECT 1 FROM sqlite_stat1 WHERE tbl = :t")
    if known and db.execute(stats, {"t": TABLE}).first():
        db.execute(text(f"ANALYZE {TABLE}"))
