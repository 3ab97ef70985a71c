"""Data quality snapshots: the figures of one visibility scope on one day, kept for trends."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clientops.db import Base, utcnow


class QualitySnapshot(Base):
    """The quality figures of the customers one scope covers ("all", or some teams and a user's
    own), computed once for a day: the page reads them instead of scanning every customer, and
    the rows of a scope over the days are its trend. Recomputing on the same day replaces it.
    """

    __tablename__ = "quality_snapshots"
    __table_args__ = (UniqueConstraint("scope", "taken_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(255))
    taken_on: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    fresh_days: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
