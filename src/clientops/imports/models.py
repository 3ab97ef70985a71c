"""Imports: one row per uploaded file, its staged batches, saved column mappings, order lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clientops.audit.models import Audited
from clientops.db import Base, TimestampMixin

IMPORT_KINDS = ("customers", "orders", "activities")
IMPORT_MODES = ("all-or-nothing", "valid-rows")
IMPORT_STATUSES = (
    "uploaded",  # file stored and readable; waiting for its mapping
    "validating",  # dry run running
    "validated",  # dry run done: report and counts ready, nothing written
    "importing",  # commit running
    "succeeded",  # committed (valid-rows: the failed rows are in the report)
    "rejected",  # all-or-nothing and some row failed: nothing written
    "failed",  # the job crashed; see the error
)


class Import(TimestampMixin, Base):
    """An uploaded file and what became of it: mapping, options, counts, its job and report."""

    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_created_by_created", "created_by", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(60), default="import")
    mode: Mapped[str] = mapped_column(String(16), default="valid-rows")
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    encoding: Mapped[str | None] = mapped_column(String(32))
    encoding_confident: Mapped[bool] = mapped_column(Boolean, default=True)
    delimiter: Mapped[str | None] = mapped_column(String(4))
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    mapping: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    staged_key: Mapped[str | None] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    accounts_created: Mapped[int] = mapped_column(Integer, default=0)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


class ImportBatch(Base):
    """A slice of an import's validated rows, staged before any is written.

    ``payload`` holds the rows to write (their values), ``cells`` their original cells (read
    only when one fails against the database) and ``report`` the rows that failed validation,
    each a zlib-compressed JSON list (``rows`` and ``invalid`` count them); a resumed workflow
    reads the very same batches. ``failures`` holds
    the rows that failed against the database (an unknown customer...) when the batch was last
    written or simulated, ``applied`` says it was written and ``counts`` what it did.
    """

    __tablename__ = "import_batches"
    __table_args__ = (UniqueConstraint("import_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    cells: Mapped[bytes] = mapped_column(LargeBinary)
    report: Mapped[bytes] = mapped_column(LargeBinary)
    failures: Mapped[bytes | None] = mapped_column(LargeBinary)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class ImportMapping(Audited, TimestampMixin, Base):
    """A saved, reusable column mapping (file header → field) with default options."""

    __tablename__ = "import_mappings"
    __table_args__ = (UniqueConstraint("kind", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    columns: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OrderLine(Base):
    """A line of an imported order: product, quantity, unit price, amount."""

    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str | None] = mapped_column(String(60))
    name: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
