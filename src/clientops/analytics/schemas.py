"""Shapes of the analytics API: scores, groups, tiers, runs, models, cohorts, rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScoreRead(BaseModel):
    """A customer's scores as of the latest run (read from the score table)."""

    model_config = ConfigDict(from_attributes=True)

    customer_id: int
    as_of: date
    orders: int
    revenue: float
    revenue_12m: float
    first_order_on: date | None
    last_order_on: date | None
    recency_days: int | None
    r_score: int | None = Field(description="Recency score 1-5 (null: never bought).")
    f_score: int | None
    m_score: int | None
    rfm_segment: str | None
    tier: str | None = Field(description="diamond, gold, silver or bronze (null: never bought).")
    tier_since: date | None
    stage: str = Field(description="potential, new, growing, mature, declining or churned.")
    stage_since: date | None
    clv: float | None = Field(description="Discounted expected spend over the CLV horizon.")
    p_alive: float | None
    expected_purchases: float | None
    churn_risk: float | None = Field(description="Probability of churn within the horizon.")
    churn_drivers: list[Any] | None
    health: float | None = Field(description="0-100.")
    health_parts: dict[str, Any] | None
    value_at_risk: float | None = Field(description="Churn risk (or 1 - P(alive)) × CLV.")


class HistoryRead(BaseModel):
    """One history row: what changed at a run, or the month's snapshot (``changed`` empty)."""

    model_config = ConfigDict(from_attributes=True)

    as_of: date
    run_id: int
    changed: str
    tier: str | None
    previous_tier: str | None
    stage: str | None
    previous_stage: str | None
    rfm_segment: str | None
    previous_segment: str | None
    revenue_12m: float | None
    clv: float | None
    p_alive: float | None
    churn_risk: float | None
    health: float | None


class CustomerScoresRead(BaseModel):
    """A visible customer's scores (null before the first run) and history."""

    customer_id: int
    scores: ScoreRead | None
    history: list[HistoryRead]


class ScoredCustomer(ScoreRead):
    """A scored customer in a list: the scores and the customer's name."""

    name: str


class ScorePage(BaseModel):
    """A page of scored customers and the cursor of the next page."""

    items: list[ScoredCustomer]
    next_cursor: str | None


class GroupRead(BaseModel):
    """Customers and their 12-month revenue in one segment or stage."""

    key: str
    customers: int
    revenue_12m: float


class TierRead(BaseModel):
    """A tier's share of the tiered customers against its share of their revenue."""

    tier: str
    customers: int
    customer_share: float
    revenue: float
    revenue_share: float


class RunRead(BaseModel):
    """A scoring run."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    job_id: int | None
    engine: str
    as_of: date
    status: str
    started_at: datetime
    finished_at: datetime | None
    customers: int
    orders: int
    history_rows: int
    tiers_evaluated: bool
    seconds: float
    peak_memory_mb: float
    figures: dict[str, Any]


class RunCreate(BaseModel):
    """Start a scoring run."""

    model_config = ConfigDict(extra="forbid")

    engine: str | None = Field(default=None, pattern="^(duckdb|postgres|spark)$")
    as_of: date | None = None
    train_churn: bool = False


class RunStarted(BaseModel):
    """The queued scoring job."""

    job_id: int


class ModelRead(BaseModel):
    """A churn model version and its report."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    active: bool
    trained_at: datetime
    as_of: date
    horizon_days: int
    definition: str
    rows: int
    seconds: float
    report: dict[str, Any]


class CohortRead(BaseModel):
    """A first-purchase month: its buyers and, per month since, the share still buying and
    the revenue against the first month's."""

    month: date
    customers: int
    retention: list[float | None]
    revenue: list[float | None]


class RulesRead(BaseModel):
    """The active rules of one kind (version 0: the defaults)."""

    kind: str
    version: int
    body: dict[str, Any]
    note: str | None = None


class RulesUpdate(BaseModel):
    """A new version of one kind of rules."""

    model_config = ConfigDict(extra="forbid")

    body: dict[str, Any]
    note: str | None = Field(default=None, max_length=200)
