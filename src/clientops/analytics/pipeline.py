"""The scoring pipelines as Ibis expressions: written once, run on DuckDB, PostgreSQL or Spark.

Input: the fact tables of :mod:`clientops.analytics.engines` (``customers``, ``orders``,
``touches``, times in epoch seconds). Output: one row per customer with the order summary,
the windows the lifecycle and churn rules compare, the RFM scores, the RFM segment, the
tier the rules give and the lifecycle stage; and the cohort figures. Days are UTC days
(``t // 86400``); "as of" a date means everything before the following midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis  # type: ignore[import-untyped]
from ibis import _

from clientops.analytics.engines import DAY, Facts
from clientops.analytics.rules import (
    RfmRules,
    Rules,
    SegmentRules,
    StageRules,
    TierRules,
)

SHORT_WINDOW = 30
"""Days of the short windows (this 30 days against the 30 before) the churn features use."""
EPSILON = 1e-9


@dataclass(frozen=True)
class Clock:
    """The day scored as of, and the windows counted back from it."""

    as_of: date

    @property
    def end(self) -> int:
        """Epoch seconds of the midnight after ``as_of`` (exclusive end of the facts)."""
        midnight = datetime.combine(self.as_of + timedelta(days=1), datetime.min.time(), UTC)
        return int(midnight.timestamp())

    @property
    def end_day(self) -> int:
        """The UTC day number after ``as_of``."""
        return self.end // DAY

    def since(self, stages: StageRules) -> int:
        """Epoch seconds from which touches are needed (the longest window pair back)."""
        days = max(2 * stages.window_days, 2 * SHORT_WINDOW, 365)
        return self.end - days * DAY


def _window(col: ibis.Value, day: ibis.Value, start: int, stop: int) -> ibis.Value:
    """Sum of ``col`` over days in [start, stop)."""
    return col.sum(where=(day >= start) & (day < stop))


def day_orders(orders: ibis.Table) -> ibis.Table:
    """Orders collapsed to one row per customer and purchase day (BTYD models count days)."""
    day = (orders.t // DAY).cast("int64")
    daily = orders.mutate(day=day)
    return daily.group_by(["customer_id", "day"]).aggregate(
        spend=daily.amount.sum(), n=daily.count()
    )


def days_of(facts: Facts) -> ibis.Table:
    """The purchase days of the facts (materialised once by the DuckDB engine)."""
    return facts.days if facts.days is not None else day_orders(facts.orders)


def order_summary(days: ibis.Table, clock: Clock, rules: Rules) -> ibis.Table:
    """Per buying customer: counts, revenue, first and last purchase day, repeat spend, and
    spend and orders in the windows the rules compare (``days``: from :func:`day_orders`)."""
    d = days.filter(days.day < clock.end_day)
    e, w = clock.end_day, rules.stages.window_days
    tw = rules.tiers.value_window_days
    first = d.group_by("customer_id").aggregate(first_day=d.day.min())
    d = d.join(first, "customer_id")
    return d.group_by("customer_id").aggregate(
        orders=d.n.sum(),
        revenue=d.spend.sum(),
        purchase_days=d.count(),
        first_day=d.first_day.min(),
        last_day=d.day.max(),
        repeat_spend=d.spend.sum(where=d.day > d.first_day),
        revenue_12m=_window(d.spend, d.day, e - 365, e),
        tier_value=_window(d.spend, d.day, e - tw, e) if tw else d.spend.sum(),
        spend_w=_window(d.spend, d.day, e - w, e),
        spend_pw=_window(d.spend, d.day, e - 2 * w, e - w),
        orders_w=_window(d.n, d.day, e - w, e),
        orders_pw=_window(d.n, d.day, e - 2 * w, e - w),
        spend_30=_window(d.spend, d.day, e - SHORT_WINDOW, e),
        spend_p30=_window(d.spend, d.day, e - 2 * SHORT_WINDOW, e - SHORT_WINDOW),
        orders_30=_window(d.n, d.day, e - SHORT_WINDOW, e),
        orders_p30=_window(d.n, d.day, e - 2 * SHORT_WINDOW, e - SHORT_WINDOW),
    )


def touch_summary(touches: ibis.Table, clock: Clock, rules: Rules) -> ibis.Table:
    """Per customer: behaviour events and logged activities in the windows, last contact day."""
    t = touches.mutate(day=(touches.t // DAY).cast("int64"), one=ibis.literal(1))
    e, w, s = clock.end_day, rules.stages.window_days, SHORT_WINDOW
    is_event, is_activity = t.kind == "event", t.kind == "activity"
    return t.group_by("customer_id").aggregate(
        last_touch_day=t.day.max(),
        last_event_day=t.day.max(where=is_event),
        touches_w=_window(t.one, t.day, e - w, e),
        touches_pw=_window(t.one, t.day, e - 2 * w, e - w),
        events_30=t.one.sum(where=is_event & (t.day >= e - s)),
        events_p30=t.one.sum(where=is_event & (t.day >= e - 2 * s) & (t.day < e - s)),
        activities_30=t.one.sum(where=is_activity & (t.day >= e - s)),
        activities_p30=t.one.sum(where=is_activity & (t.day >= e - 2 * s) & (t.day < e - s)),
    )


ZERO_FILLED = (
    "orders", "revenue", "purchase_days", "repeat_spend", "revenue_12m", "tier_value",
    "spend_w", "spend_pw", "orders_w", "orders_pw", "spend_30", "spend_p30", "orders_30",
    "orders_p30", "touches_w", "touches_pw", "events_30", "events_p30", "activities_30",
    "activities_p30",
)  # fmt: skip


def _others(table: ibis.Table) -> list[ibis.Value]:
    return [table[name] for name in table.columns if name != "customer_id"]


def customer_summary(facts: Facts, clock: Clock, rules: Rules) -> ibis.Table:
    """Every customer (buyers or not) with the order and touch summaries, gaps filled."""
    c = facts.customers.select(customer_id=facts.customers.id, team_id=facts.customers.team_id)
    # The facts may reach past the clock (training looks back from several cut-offs).
    o = order_summary(days_of(facts), clock, rules)
    t = touch_summary(facts.touches.filter(facts.touches.t < clock.end), clock, rules)
    joined = (
        c.left_join(o, "customer_id")
        .left_join(t, "customer_id")
        .select(c, *_others(o), *_others(t))
    )
    filled = {name: joined[name].fill_null(0) for name in ZERO_FILLED}
    last = clock.end_day - 1
    return joined.mutate(
        **filled,
        recency_days=(last - joined.last_day).cast("int64"),
        tenure_days=(last - joined.first_day).cast("int64"),
        touch_days=(last - joined.last_touch_day).cast("int64"),
        event_days=(last - joined.last_event_day).cast("int64"),
    )


# --- RFM -------------------------------------------------------------------------------------


def _cut(value: ibis.Value, cuts: list[float], *, lower_is_better: bool) -> ibis.Value:
    """Score 1-5 from four increasing cut points."""
    if lower_is_better:  # recency: at most cuts[0] days → 5 ... beyond cuts[3] → 1
        branches = [(value <= cut, 5 - i) for i, cut in enumerate(cuts)]
        return ibis.cases(*branches, else_=1)
    branches = [(value >= cut, 5 - i) for i, cut in enumerate(reversed(cuts))]
    return ibis.cases(*branches, else_=1)


def rfm_scores(summary: ibis.Table, rules: RfmRules) -> ibis.Table:
    """R, F and M scores 1-5 for buyers (null for customers who never bought)."""
    buyers = summary.filter(summary.orders > 0)
    others = summary.filter(summary.orders == 0)
    if rules.mode == "quintile":
        # Ties are broken by customer id, so equal values may score differently but the same
        # data always scores the same (plain quintile edges collapse when most bought once).
        scored = buyers.mutate(
            r_score=_ntile([buyers.recency_days.desc(), buyers.customer_id]),
            f_score=_ntile([buyers.orders, buyers.customer_id]),
            m_score=_ntile([buyers.revenue, buyers.customer_id]),
        )
    else:
        scored = buyers.mutate(
            r_score=_cut(buyers.recency_days, rules.recency_days, lower_is_better=True),
            f_score=_cut(buyers.orders, rules.frequency, lower_is_better=False),
            m_score=_cut(buyers.revenue, rules.monetary, lower_is_better=False),
        )
    scored = scored.mutate(
        r_score=scored.r_score.cast("int16"),
        f_score=scored.f_score.cast("int16"),
        m_score=scored.m_score.cast("int16"),
    )
    none = ibis.null("int16")
    return scored.union(others.mutate(r_score=none, f_score=none, m_score=none))


def _ntile(order_by: list[Any]) -> ibis.Value:
    return ibis.ntile(5).over(order_by=order_by) + 1


def segment_of(t: ibis.Table, rules: SegmentRules) -> ibis.Value:
    """The name of the first segment rule the R, F and M scores match (null: no scores)."""
    branches = [
        (
            t.r_score.between(rule.r_min, rule.r_max)
            & t.f_score.between(rule.f_min, rule.f_max)
            & t.m_score.between(rule.m_min, rule.m_max),
            rule.name,
        )
        for rule in rules.rules
    ]
    return ibis.cases((t.r_score.isnull(), ibis.null("string")), *branches, else_=rules.otherwise)


# --- tiers and stages ------------------------------------------------------------------------


def tier_basis(t: ibis.Table, rules: TierRules) -> ibis.Value:
    """What tiers rank customers by: revenue in the window, or the weighted RFM scores."""
    if rules.basis == "value":
        return t.tier_value.cast("float64")
    w = rules.weights
    return (w["r"] * t.r_score + w["f"] * t.f_score + w["m"] * t.m_score).cast("float64")


def with_tiers(t: ibis.Table, rules: TierRules) -> ibis.Table:
    """Add ``tier_rank`` (0 = best buyer) and the ``tier`` the shares give (null: no orders)."""
    ranked = t.mutate(basis=tier_basis(t, rules))
    buyers = ranked.filter(ranked.orders > 0)
    buyers = buyers.mutate(
        tier_rank=ibis.row_number().over(order_by=[buyers.basis.desc(), buyers.customer_id]),
        ranked=buyers.count().over(),
    )
    branches = [
        (buyers.tier_rank < buyers.ranked * share - EPSILON, tier)
        for tier, share in rules.cumulative()[:-1]
    ]
    buyers = buyers.mutate(tier=ibis.cases(*branches, else_="bronze"))
    others = ranked.filter(ranked.orders == 0).mutate(
        tier_rank=ibis.null("int64"), ranked=ibis.null("int64"), tier=ibis.null("string")
    )
    return buyers.union(others).drop("basis", "ranked")


def _down(now: ibis.Value, before: ibis.Value, share: float) -> ibis.Value:
    return (before > 0) & (now <= before * (1 - share))


def stage_of(t: ibis.Table, rules: StageRules) -> ibis.Value:
    """The lifecycle stage the rules give (see :class:`StageRules` for the order)."""
    spend_down = _down(t.spend_w, t.spend_pw, rules.decline_share)
    activity_now = t.orders_w + t.touches_w
    activity_down = _down(activity_now, t.orders_pw + t.touches_pw, rules.decline_share)
    declining = {
        "spend": spend_down,
        "activity": activity_down,
        "either": spend_down | activity_down,
    }[rules.decline_on]
    return ibis.cases(
        (t.orders == 0, "potential"),
        (t.recency_days > rules.churned_days, "churned"),
        (t.tenure_days < rules.new_days, "new"),
        (declining, "declining"),
        ((t.tenure_days >= rules.mature_days) & (t.orders >= rules.mature_orders), "mature"),
        else_="growing",
    )


def scores(facts: Facts, clock: Clock, rules: Rules) -> ibis.Table:
    """Every customer's summary, RFM scores, segment, rule tier and stage."""
    summary = customer_summary(facts, clock, rules)
    scored = rfm_scores(summary, rules.rfm)
    scored = scored.mutate(rfm_segment=segment_of(scored, rules.segments))
    scored = with_tiers(scored, rules.tiers)
    scored = scored.mutate(stage=stage_of(scored, rules.stages))
    return scored.order_by("customer_id")


def month_index(day: ibis.Value) -> ibis.Value:
    """year * 12 + month - 1 of a UTC day number, in integer arithmetic (Hinnant's civil
    calendar), so that every engine computes it alike without timestamp functions."""
    z = day + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = ibis.ifelse(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + ibis.ifelse(month <= 2, 1, 0)
    return (year * 12 + month - 1).cast("int64")


def cohorts(facts: Facts, clock: Clock) -> ibis.Table:
    """Per team and first-purchase month: buyers and revenue in each month since."""
    d = days_of(facts)
    d = d.filter(d.day < clock.end_day)
    months = d.mutate(month=month_index(d.day), amount=d.spend)
    first = months.group_by("customer_id").aggregate(cohort=months.month.min())
    joined = months.join(first, "customer_id").join(
        facts.customers, months.customer_id == facts.customers.id
    )
    joined = joined.mutate(month_offset=joined.month - joined.cohort)
    return (
        joined.group_by(["team_id", "cohort", "month_offset"])
        .aggregate(customers=joined.customer_id.nunique(), revenue=joined.amount.sum())
        .order_by(["cohort", "month_offset", "team_id"])
    )


def calibration(days: ibis.Table, clock: Clock, holdout_days: int) -> ibis.Table:
    """Per customer who bought before the calibration end (``holdout_days`` before the end):
    purchase days, first and last purchase day before it, and purchase days after it."""
    d = days.filter(days.day < clock.end_day)
    cut = clock.end_day - holdout_days
    return (
        d.group_by("customer_id")
        .aggregate(
            purchase_days=d.count(where=d.day < cut),
            first_day=d.day.min(where=d.day < cut),
            last_day=d.day.max(where=d.day < cut),
            holdout_days=d.count(where=d.day >= cut),
        )
        .filter(_.purchase_days > 0)
    )


def next_orders(orders: ibis.Table, clock: Clock) -> ibis.Table:
    """Per customer who bought after the clock's day: days from it to the next purchase (what
    churn labels are made of)."""
    after = orders.filter(orders.t >= clock.end)
    day = (after.t // DAY).cast("int64")
    return after.group_by("customer_id").aggregate(
        next_order_days=(day.min() - (clock.end_day - 1)).cast("float64")
    )


def month_of(index: int) -> date:
    """The first day of month number ``index`` (year * 12 + month - 1)."""
    return date(index // 12, index % 12 + 1, 1)
