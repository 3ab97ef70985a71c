"""The editable rules of customer scoring, their checks and their defaults.

Each kind (rfm, segments, tiers, stages, health) is one Pydantic model; a saved version is
stored as its JSON in ``analytics_rule_sets`` and read back through :func:`parse`. Without a
saved version the defaults below apply, so a fresh install scores at once.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clientops.core.i18n import N_

SCORE = Field(ge=1, le=5)


def _ascending(values: list[float], name: str) -> None:
    if len(values) != 4 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"{name}: four cut points in increasing order")


class _Strict(BaseModel):
    """A rule body: a misspelt key is refused, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class RfmRules(_Strict):
    """How recency, frequency and monetary value become scores 1-5.

    ``quintile``: each score is the customer's fifth of the ranking (ties broken by customer
    id, so the same data always scores the same). ``thresholds``: fixed business cut points,
    four per dimension; e.g. frequency [2, 3, 5, 10] gives 1 order → 1, 2 → 2, 3-4 → 3,
    5-9 → 4, 10 or more → 5. Recency cut points are days since the last order (fewer is
    better): [30, 90, 180, 365] gives ≤30 days → 5 ... over 365 days → 1.
    """

    mode: Literal["quintile", "thresholds"] = "quintile"
    recency_days: list[float] = [30, 90, 180, 365]
    frequency: list[float] = [2, 3, 5, 10]
    monetary: list[float] = [100, 500, 2000, 10000]

    @model_validator(mode="after")
    def _cuts(self) -> RfmRules:
        _ascending(self.recency_days, "recency_days")
        _ascending(self.frequency, "frequency")
        _ascending(self.monetary, "monetary")
        return self


class SegmentRule(_Strict):
    """A named segment: customers whose R, F and M scores fall in the ranges (inclusive)."""

    name: str = Field(min_length=1, max_length=40)
    r_min: int = SCORE
    r_max: int = SCORE
    f_min: int = SCORE
    f_max: int = SCORE
    m_min: int = Field(default=1, ge=1, le=5)
    m_max: int = Field(default=5, ge=1, le=5)

    @model_validator(mode="after")
    def _ranges(self) -> SegmentRule:
        if self.r_min > self.r_max or self.f_min > self.f_max or self.m_min > self.m_max:
            raise ValueError("each range needs min ≤ max")
        return self


class SegmentRules(_Strict):
    """Ordered segment rules: a customer gets the first one that matches, else ``otherwise``."""

    rules: list[SegmentRule] = Field(min_length=1, max_length=40)
    otherwise: str = Field(default="Lost", min_length=1, max_length=40)


def _seg(name: str, r: tuple[int, int], f: tuple[int, int]) -> SegmentRule:
    return SegmentRule(name=name, r_min=r[0], r_max=r[1], f_min=f[0], f_max=f[1])


DEFAULT_SEGMENTS = SegmentRules(
    rules=[
        _seg(N_("Champions"), (4, 5), (4, 5)),
        _seg(N_("Potential Loyalist"), (4, 5), (2, 3)),
        _seg(N_("New"), (5, 5), (1, 1)),
        _seg(N_("Promising"), (4, 4), (1, 1)),
        _seg(N_("Loyal"), (3, 3), (3, 5)),
        _seg(N_("Need Attention"), (3, 3), (2, 2)),
        _seg(N_("About to Sleep"), (2, 3), (1, 2)),
        _seg(N_("Can't Lose Them"), (1, 2), (5, 5)),
        _seg(N_("At Risk"), (1, 2), (3, 4)),
        _seg(N_("Hibernating"), (1, 1), (2, 2)),
    ],
    otherwise=N_("Lost"),
)
"""Every cell of the 5×5 R×F grid lands in one of the eleven classic segments."""


class TierShare(_Strict):
    """A tier and the share of ranked customers it takes, after the tiers above it."""

    tier: Literal["diamond", "gold", "silver", "bronze"]
    share: float = Field(gt=0, le=1)


class TierRules(_Strict):
    """Value tiers: customers who ever bought, ranked by ``basis``, cut into shares.

    ``value`` ranks by revenue over the last ``value_window_days`` (0: all time); ``composite``
    by a weighted sum of the R, F and M scores. ``period`` is how often tiers are re-evaluated
    (the seed's advice: quarterly); between evaluations a customer keeps the tier.
    """

    basis: Literal["value", "composite"] = "value"
    value_window_days: int = Field(default=365, ge=0, le=3650)
    weights: dict[str, float] = {"r": 0.2, "f": 0.3, "m": 0.5}
    shares: list[TierShare] = [
        TierShare(tier="diamond", share=0.08),
        TierShare(tier="gold", share=0.17),
        TierShare(tier="silver", share=0.25),
        TierShare(tier="bronze", share=0.50),
    ]
    period: Literal["day", "month", "quarter", "year"] = "quarter"

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"r", "f", "m"} or any(w < 0 for w in value.values()):
            raise ValueError("weights: r, f and m, none negative")
        if sum(value.values()) <= 0:
            raise ValueError("weights: at least one above zero")
        return value

    @model_validator(mode="after")
    def _shares(self) -> TierRules:
        tiers = [s.tier for s in self.shares]
        if tiers != ["diamond", "gold", "silver", "bronze"]:
            raise ValueError("shares: diamond, gold, silver, bronze in that order")
        if abs(sum(s.share for s in self.shares) - 1.0) > 1e-6:
            raise ValueError("shares must add up to 1")
        return self

    def cumulative(self) -> list[tuple[str, float]]:
        """(tier, share of customers ranked at or above the tier's last member)."""
        total, out = 0.0, list[tuple[str, float]]()
        for item in self.shares:
            total += item.share
            out.append((item.tier, total))
        return out


class StageRules(_Strict):
    """Lifecycle stages, decided in this order: potential (never bought), churned (no purchase
    for ``churned_days``), new (first purchase within ``new_days``), declining (spend or
    activity in the last ``window_days`` down by at least ``decline_share`` against the
    window before), mature (a customer for ``mature_days`` with ``mature_orders`` orders),
    otherwise growing."""

    new_days: int = Field(default=30, ge=1, le=3650)
    churned_days: int = Field(default=180, ge=1, le=3650)
    window_days: int = Field(default=90, ge=7, le=730)
    decline_share: float = Field(default=0.5, gt=0, lt=1)
    decline_on: Literal["spend", "activity", "either"] = "either"
    mature_days: int = Field(default=365, ge=1, le=3650)
    mature_orders: int = Field(default=4, ge=1, le=1000)


class HealthRules(_Strict):
    """Health 0-100: the weighted mean of activity, value, satisfaction and service
    experience; a part without data for a customer is left out and the others' weights
    are scaled up. Activity halves every ``activity_half_life_days`` without contact."""

    weights: dict[str, float] = {
        "activity": 0.35,
        "value": 0.35,
        "satisfaction": 0.15,
        "service": 0.15,
    }
    activity_half_life_days: int = Field(default=30, ge=1, le=3650)

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(HEALTH_PARTS) or any(w < 0 for w in value.values()):
            raise ValueError("weights: activity, value, satisfaction, service, none negative")
        if sum(value.values()) <= 0:
            raise ValueError("weights: at least one above zero")
        return value


HEALTH_PARTS = ("activity", "value", "satisfaction", "service")
MODELS: dict[str, type[BaseModel]] = {
    "rfm": RfmRules,
    "segments": SegmentRules,
    "tiers": TierRules,
    "stages": StageRules,
    "health": HealthRules,
}
DEFAULTS: dict[str, BaseModel] = {
    "rfm": RfmRules(),
    "segments": DEFAULT_SEGMENTS,
    "tiers": TierRules(),
    "stages": StageRules(),
    "health": HealthRules(),
}


class Rules(BaseModel):
    """The rules one scoring run applies, with the version of each (0: the defaults)."""

    rfm: RfmRules = RfmRules()
    segments: SegmentRules = DEFAULT_SEGMENTS
    tiers: TierRules = TierRules()
    stages: StageRules = StageRules()
    health: HealthRules = HealthRules()
    versions: dict[str, int] = {}


def parse(kind: str, body: dict[str, Any]) -> BaseModel:
    """A rule body checked against its kind's model (raises ``ValidationError``)."""
    return MODELS[kind].model_validate(body)
