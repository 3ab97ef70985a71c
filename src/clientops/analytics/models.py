"""Customer value analytics: current scores, their history, scoring runs, editable rule sets,
churn model versions, cohort and stage-flow figures. The scoring job writes them; pages and
the API only read them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clientops.audit.models import Audited
from clientops.db import Base, utcnow

TIERS = ("diamond", "gold", "silver", "bronze")
STAGES = ("potential", "new", "growing", "mature", "declining", "churned")
RULE_KINDS = ("rfm", "segments", "tiers", "stages", "health")


class CustomerScore(Base):
    """A customer's scores as of the latest scoring run: one row per customer, replaced by each
    run. ``stage_at_month_start`` is the stage the customer had when the month began, so the
    month's stage flows are a plain group-by on this table."""

    __tablename__ = "customer_scores"
    # No secondary index on purpose: every run rewrites every row, and each index would cost
    # the nightly write more than the scans it saves the pages (measured: 5 indexes made the
    # upsert of a batch four times slower). Lists and figures scan, or join from customers.
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[float] = mapped_column(Float, default=0.0)
    revenue_12m: Mapped[float] = mapped_column(Float, default=0.0)
    first_order_on: Mapped[date | None] = mapped_column(Date)
    last_order_on: Mapped[date | None] = mapped_column(Date)
    recency_days: Mapped[int | None] = mapped_column(Integer)
    r_score: Mapped[int | None] = mapped_column(SmallInteger)
    f_score: Mapped[int | None] = mapped_column(SmallInteger)
    m_score: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_segment: Mapped[str | None] = mapped_column(String(40))
    tier: Mapped[str | None] = mapped_column(String(16))
    tier_since: Mapped[date | None] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(16))
    stage_since: Mapped[date | None] = mapped_column(Date)
    stage_at_month_start: Mapped[str | None] = mapped_column(String(16))
    clv: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)
    churn_risk: Mapped[float | None] = mapped_column(Float)
    churn_drivers: Mapped[list[Any] | None] = mapped_column(JSON)
    health: Mapped[float | None] = mapped_column(Float)
    health_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    value_at_risk: Mapped[float | None] = mapped_column(Float)


class ScoreHistory(Base):
    """A customer's scores at one run, kept when the tier, stage or RFM segment changed
    (``changed`` names which) or as the month's snapshot of the numbers (``changed`` empty)."""

    __tablename__ = "customer_score_history"
    __table_args__ = (Index("ix_customer_score_history_customer_as_of", "customer_id", "as_of"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    changed: Mapped[str] = mapped_column(String(40), default="")
    tier: Mapped[str | None] = mapped_column(String(16))
    previous_tier: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(16))
    previous_stage: Mapped[str | None] = mapped_column(String(16))
    rfm_segment: Mapped[str | None] = mapped_column(String(40))
    previous_segment: Mapped[str | None] = mapped_column(String(40))
    revenue_12m: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float | None] = mapped_column(Float)
    churn_risk: Mapped[float | None] = mapped_column(Float)
    health: Mapped[float | None] = mapped_column(Float)


class ScoreRun(Base):
    """One scoring run: its engine, the day it scored as of, what it counted and how long
    and how much memory it took; ``figures`` holds the CLV fit and per-phase timings."""

    __tablename__ = "analytics_runs"
    __table_args__ = (Index("ix_analytics_runs_as_of", "as_of"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    engine: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    customers: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    history_rows: Mapped[int] = mapped_column(Integer, default=0)
    tiers_evaluated: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    peak_memory_mb: Mapped[float] = mapped_column(Float, default=0.0)
    model_id: Mapped[int | None] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RuleSet(Audited, Base):
    """One version of an editable rule set (``kind``: rfm, segments, tiers, stages, health).
    Saving makes a new version and makes it the active one; old versions stay for the record."""

    __tablename__ = "analytics_rule_sets"
    __table_args__ = (UniqueConstraint("kind", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChurnModelVersion(Audited, Base):
    """A trained churn model: its text form (to load it again), its report (ROC-AUC, PR-AUC,
    calibration, lift by decile) and whether it is the one scoring uses."""

    __tablename__ = "churn_models"
    audit_exclude = frozenset({"model_text"})
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    as_of: Mapped[date] = mapped_column(Date)
    horizon_days: Mapped[int] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(String(40))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    model_text: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CohortFigure(Base):
    """Customers of a first-purchase month (and team) who bought ``month_offset`` months later,
    and what they spent then; rebuilt by each run."""

    __tablename__ = "analytics_cohorts"
    __table_args__ = (
        Index("ix_analytics_cohorts_cohort", "cohort_month", "month_offset", "team_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(Integer)
    cohort_month: Mapped[date] = mapped_column(Date)
    month_offset: Mapped[int] = mapped_column(Integer)
    customers: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float] = mapped_column(Float)


class StageFlow(Base):
    """How many customers (of a team) went from one lifecycle stage at the start of a month to
    another (or stayed) by its latest run."""

    __tablename__ = "analytics_stage_flows"
    __table_args__ = (Index("ix_analytics_stage_flows_month", "month", "team_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    team_id: Mapped[int | None] = mapped_column(Integer)
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    customers: Mapped[int] = mapped_column(Integer)
