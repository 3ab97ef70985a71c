"""Identity resolution tables: candidate pairs, reversible merges and resolve runs.

None of these tables has a foreign key to ``customers``: they record history about customers
that a merge deletes (and an unmerge brings back with the same id), and a merge moves every
row that does reference ``customers.id`` to the survivor, which history must not follow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clientops.audit.models import Audited
from clientops.db import Base, TimestampMixin, utcnow

PAIR_STATUSES = ("pending", "merged", "rejected")
PAIR_RULES = ("same_phone", "same_email", "same_id_number", "model", "manual")


class CandidatePair(Audited, TimestampMixin, Base):
    """Two customers that may be the same person, with the engine's evidence and a decision.

    ``left_id < right_id`` always, so a pair is found once whichever way round the engine
    reports it. ``rejected`` means "not the same person": the pair is not proposed again
    unless one of the two records changes after ``decided_at``.
    """

    __tablename__ = "identity_pairs"
    __table_args__ = (
        UniqueConstraint("left_id", "right_id"),
        Index("ix_identity_pairs_status_probability", "status", "probability", "id"),
        Index("ix_identity_pairs_right_id", "right_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    left_id: Mapped[int] = mapped_column(Integer)
    right_id: Mapped[int] = mapped_column(Integer)
    probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    rule: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))


class Merge(Base):
    """One customer merged into another, with everything needed to undo it exactly.

    ``merged_row`` and ``survivor_row`` are complete rows of the ``customers`` table (the
    survivor's as it was before the merge, ``survivor_after`` as the merge left it);
    ``merged_children`` holds the merged customer's tags, external ids and custom field
    values; ``moved`` lists every row re-pointed to the survivor (table, primary key after
    the move, column); ``dropped`` holds complete rows deleted because the survivor already
    had their equivalent (a tag both had, a custom field both filled); ``pairs`` holds the
    other candidate pairs of the merged customer, set aside until an unmerge.
    """

    __tablename__ = "identity_merges"
    __table_args__ = (
        Index("ix_identity_merges_survivor", "survivor_id", "id"),
        Index("ix_identity_merges_merged", "merged_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(Integer)
    merged_id: Mapped[int] = mapped_column(Integer)
    pair_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_pairs.id", ondelete="SET NULL")
    )
    merged_name: Mapped[str] = mapped_column(String(200))
    merged_row: Mapped[dict[str, Any]] = mapped_column(JSON)
    merged_children: Mapped[dict[str, Any]] = mapped_column(JSON)
    survivor_row: Mapped[dict[str, Any]] = mapped_column(JSON)
    survivor_children: Mapped[dict[str, Any]] = mapped_column(JSON)
    survivor_after: Mapped[dict[str, Any]] = mapped_column(JSON)
    moved: Mapped[list[Any]] = mapped_column(JSON)
    dropped: Mapped[list[Any]] = mapped_column(JSON)
    pairs: Mapped[list[Any]] = mapped_column(JSON)
    choices: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column()
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ResolveRun(Base):
    """The outcome of one resolve job: how many records were compared and what was done."""

    __tablename__ = "identity_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime | None] = mapped_column()
    records: Mapped[int] = mapped_column(Integer, default=0)
    focus: Mapped[int] = mapped_column(Integer, default=0)
    pairs_found: Mapped[int] = mapped_column(Integer, default=0)
    auto_merged: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
