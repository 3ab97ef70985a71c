"""Output shapes of the data quality API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class FieldQuality(BaseModel):
    """The quality of one customer field; shares are 0-1, null when there is nothing to measure."""

    field: str = Field(description="Field key: name, phone, …, or cf.<key> for a custom field.")
    label: str
    filled: int = Field(description="Customers with a value.")
    valid: int = Field(description="Values that pass the same checks as a write.")
    unique: int | None = Field(description="Values no other customer has (identifying fields).")
    fresh: int = Field(description="Values of customers updated within the freshness window.")
    completeness: float | None = Field(description="filled / customers")
    validity: float | None = Field(description="valid / filled")
    uniqueness: float | None = Field(description="unique / filled")
    freshness: float | None = Field(description="fresh / filled")
    median_age_days: float | None = Field(
        description="Median days since the value's customer was last updated."
    )


class QualityRead(BaseModel):
    """The data quality figures over the customers the caller may see."""

    computed_at: datetime | None = Field(description="Null before the first computation.")
    live: bool = Field(
        description="Computed for this request (small scopes) or read from the day's snapshot."
    )
    customers: int
    fresh_days: int
    score: float = Field(
        description="0-100: mean of the four dimension averages, times the "
        "share of customers that are not duplicates."
    )
    completeness: float | None
    validity: float | None
    uniqueness: float | None
    freshness: float | None
    duplicates: int = Field(
        description="Customers sharing a phone, email or identity number with another customer."
    )
    duplicate_share: float | None
    awaiting_review: int | None = Field(
        description="Customers in pairs awaiting review "
        "(identity resolution; shown to roles that see all)."
    )
    record_median_age_days: float | None
    fields: list[FieldQuality]


class TrendPoint(BaseModel):
    """One day of the trend: the score, the dimensions (of a field, or averaged), duplicates."""

    day: date
    score: float
    completeness: float | None
    validity: float | None
    uniqueness: float | None
    freshness: float | None
    duplicates: float | None


class RecomputeRead(BaseModel):
    """What a recompute did: computed at once (small scopes) or queued as a job."""

    computed: bool
    job_id: int | None
    quality: QualityRead | None
