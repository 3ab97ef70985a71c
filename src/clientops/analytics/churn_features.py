"""Churn features: the input schema the pipeline fills, the feature catalogue, the sentences.

The scoring pipeline aggregates orders, events, service tickets, surveys and value tiers into one
**window summary** per customer and cut-off date (``REQUIRED_COLUMNS``): figures for the current
window ``w0`` = (cut-off − window_days, cut-off] and the previous window ``w1`` = the
``window_days`` before it. Training snapshots also carry the future columns of
``LABEL_COLUMNS``, from which ``churn.label`` derives the outcome.

A source the business does not have yet (no service desk, no surveys, no tiers) is delivered as
NaN in its columns; the model cannot split on a column that is all NaN or constant, so such a
feature gets no contribution and never appears as a driver.

``build`` turns a summary into the feature table: the summary's own columns (the figures the
driver sentences quote) plus one column per model feature (``FEATURES``). A **driver**
(``DRIVERS``) groups the features about one fact — "orders" covers the level and the trend of
orders — so one fact is never told twice; its contribution is the sum of its features' SHAP
values (SHAP values add up). Each driver turns the figures of many customers at once into a
sentence key and parameters; the words are rendered lazily, in the reader's language, by
``render``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from babel.numbers import format_decimal

from clientops.core.i18n import N_, catalog
from clientops.exceptions import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Columns = Mapping[str, FloatArray]


class ChurnDataError(InvalidInput):
    """The data handed to churn training or scoring cannot be used (``errors`` says why)."""


@dataclass(frozen=True)
class SummaryColumn:
    """One column of the per-customer window summary the pipeline delivers."""

    name: str
    dtype: str
    source: str
    nullable: bool
    meaning: str


def _col(name: str, dtype: str, source: str, nullable: bool, meaning: str) -> SummaryColumn:
    return SummaryColumn(name, dtype, source, nullable, meaning)


REQUIRED_COLUMNS: tuple[SummaryColumn, ...] = (
    _col("customer_id", "int64", "customers", False, "the customer's id"),
    _col("window_days", "int64", "pipeline", False, "length of w0 and of w1 in days, e.g. 30"),
    _col(
        "tenure_days", "float64", "customers", False, "days from first order or sign-up to cut-off"
    ),
    _col("days_since_last_order", "float64", "orders", True, "days since last order; NaN: never"),
    _col("orders_w0", "float64", "orders", False, "orders placed in w0 (0 when none)"),
    _col("orders_w1", "float64", "orders", False, "orders placed in w1"),
    _col("spend_w0", "float64", "orders", False, "order amount in w0, in the home currency"),
    _col("spend_w1", "float64", "orders", False, "order amount in w1"),
    _col("days_since_last_event", "float64", "events", True, "days since last activity event"),
    _col("events_w0", "float64", "events", True, "activity events (logins, visits) in w0"),
    _col("events_w1", "float64", "events", True, "activity events in w1"),
    _col("tickets_w0", "float64", "tickets", True, "service tickets opened in w0"),
    _col("tickets_w1", "float64", "tickets", True, "service tickets opened in w1"),
    _col("csat_mean", "float64", "surveys", True, "mean satisfaction 1–5 of answers in w0 and w1"),
    _col("tier_rank_w0", "float64", "tiers", True, "value tier at cut-off: 0 bronze … 3 diamond"),
    _col("tier_rank_w1", "float64", "tiers", True, "value tier at the start of w0"),
)
"""The window summary, one row per customer at one cut-off. NaN where a source is missing."""

LABEL_COLUMNS: tuple[SummaryColumn, ...] = (
    _col(
        "next_order_days", "float64", "orders", True, "days from cut-off to next order; NaN: none"
    ),
    _col("next_event_days", "float64", "events", True, "days from cut-off to next activity event"),
    _col("contract_end_days", "float64", "contracts", True, "days from cut-off to contract end"),
    _col("contract_renewed", "float64", "contracts", True, "1 renewed, 0 not, NaN unknown"),
)
"""Future columns of a training snapshot (observed after the cut-off), read by ``churn.label``."""


class Kind(StrEnum):
    """What a feature measures."""

    RECENCY = "recency"
    FREQUENCY = "frequency"
    FREQUENCY_TREND = "frequency_trend"
    SPEND = "spend"
    SPEND_TREND = "spend_trend"
    ACTIVITY = "activity"
    ACTIVITY_TREND = "activity_trend"
    SERVICE_CONTACTS = "service_contacts"
    SERVICE_TREND = "service_trend"
    SATISFACTION = "satisfaction"
    TIER = "tier"
    TIER_CHANGE = "tier_change"
    TENURE = "tenure"


def _pct_change(now: FloatArray, before: FloatArray) -> FloatArray:
    """Change of ``now`` against ``before`` in percent; NaN where there is no baseline."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * (now - before) / before
    return np.where(before > 0, change, np.nan)


@dataclass(frozen=True)
class Feature:
    """One model input: a name that never changes, its kind, a label, how it is computed."""

    name: str
    kind: Kind
    label: str
    compute: Callable[[Columns], FloatArray]


FEATURES: tuple[Feature, ...] = (
    Feature(
        "days_since_order",
        Kind.RECENCY,
        N_("Days since the last purchase"),
        lambda c: c["days_since_last_order"],
    ),
    Feature(
        "days_since_activity",
        Kind.RECENCY,
        N_("Days since the last activity"),
        lambda c: c["days_since_last_event"],
    ),
    Feature(
        "orders_recent",
        Kind.FREQUENCY,
        N_("Orders in the current window"),
        lambda c: c["orders_w0"],
    ),
    Feature(
        "orders_change",
        Kind.FREQUENCY_TREND,
        N_("Change in orders against the previous window (%)"),
        lambda c: _pct_change(c["orders_w0"], c["orders_w1"]),
    ),
    Feature("spend_recent", Kind.SPEND, N_("Spend in the current window"), lambda c: c["spend_w0"]),
    Feature(
        "spend_change",
        Kind.SPEND_TREND,
        N_("Change in spend against the previous window (%)"),
        lambda c: _pct_change(c["spend_w0"], c["spend_w1"]),
    ),
    Feature(
        "activity_recent",
        Kind.ACTIVITY,
        N_("Activity events in the current window"),
        lambda c: c["events_w0"],
    ),
    Feature(
        "activity_change",
        Kind.ACTIVITY_TREND,
        N_("Change in activity against the previous window (%)"),
        lambda c: _pct_change(c["events_w0"], c["events_w1"]),
    ),
    Feature(
        "tickets_recent",
        Kind.SERVICE_CONTACTS,
        N_("Service tickets in the current window"),
        lambda c: c["tickets_w0"],
    ),
    Feature(
        "tickets_change",
        Kind.SERVICE_TREND,
        N_("Change in service tickets against the previous window"),
        lambda c: c["tickets_w0"] - c["tickets_w1"],
    ),
    Feature("satisfaction", Kind.SATISFACTION, N_("Satisfaction (1–5)"), lambda c: c["csat_mean"]),
    Feature("tier_rank", Kind.TIER, N_("Value tier"), lambda c: c["tier_rank_w0"]),
    Feature(
        "tier_change",
        Kind.TIER_CHANGE,
        N_("Change of value tier"),
        lambda c: c["tier_rank_w0"] - c["tier_rank_w1"],
    ),
    Feature("tenure", Kind.TENURE, N_("Days as a customer"), lambda c: c["tenure_days"]),
)
"""The model's inputs, in the order the model sees them."""

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)

TIER_NAMES: tuple[str, ...] = (N_("bronze"), N_("silver"), N_("gold"), N_("diamond"))
"""Tier rank 0…3 in words."""

PARAMS: dict[str, str] = {
    "days": "int",
    "pct": "int",
    "count": "int",
    "previous": "int",
    "score": "float",
    "amount": "money",
    "previous_amount": "money",
    "tier_from": "tier",
    "tier_to": "tier",
}
"""Every parameter a sentence may use, and how it is shown."""

PARAMS_TYPE = pa.struct(
    [
        (name, pa.int64() if kind in ("int", "tier") else pa.float64())
        for name, kind in PARAMS.items()
    ]
)

Phrase = tuple[IntArray, dict[str, FloatArray]]
"""Per customer: the index of its sentence among the driver's texts (−1: nothing to say), and
the sentence parameters (NaN where unused)."""


@dataclass(frozen=True)
class Driver:
    """One fact a manager can read: the features it sums up and how it is put in words."""

    name: str
    features: tuple[str, ...]
    texts: tuple[str, ...]
    phrase: Callable[[Columns], Phrase]


def _choose(
    cases: list[tuple[npt.NDArray[np.bool_], int]], default: int, valid: npt.NDArray[np.bool_]
) -> IntArray:
    """Per customer the text of the first true case (else ``default``); −1 where not valid."""
    picked = np.full(len(valid), default)
    for condition, index in reversed(cases):  # the first true case wins
        picked[condition] = index
    return np.where(valid, picked, -1).astype(np.int64)


def _trend(now: FloatArray, before: FloatArray, days: FloatArray, money: bool = False) -> Phrase:
    """Down/up by a percentage when there is a baseline, else the two figures side by side."""
    valid = ~(np.isnan(now) | np.isnan(before))
    pct = np.rint(np.abs(_pct_change(now, before)))
    told = (before > 0) & (pct >= 1)
    key = _choose([(told & (now < before), 0), (told & (now > before), 1), (now == 1, 2)], 3, valid)
    figures = key >= 2
    params = {"days": days, "pct": np.where(told, pct, np.nan)}
    if money:
        params |= {"amount": np.where(figures, now, np.nan)}
        params |= {"previous_amount": np.where(figures, before, np.nan)}
    else:
        params |= {"count": np.where(figures, now, np.nan)}
        params |= {"previous": np.where(figures, before, np.nan)}
    return key, params


def _since(days_since: FloatArray) -> Phrase:
    """Days since it last happened, or "not yet" (NaN) when it never did."""
    never = np.isnan(days_since)
    key = _choose([(never, 2), (days_since == 1, 1)], 0, np.ones(len(never), dtype=bool))
    return key, {"days": days_since}


def _tickets(c: Columns) -> Phrase:
    now, before = c["tickets_w0"], c["tickets_w1"]
    key = _choose([(now == 1, 1)], 0, ~(np.isnan(now) | np.isnan(before)))
    return key, {"count": now, "previous": before, "days": c["window_days"]}


def _satisfaction(c: Columns) -> Phrase:
    score = c["csat_mean"]
    return _choose([], 0, ~np.isnan(score)), {"score": score}


def _tier(c: Columns) -> Phrase:
    now, before = c["tier_rank_w0"], c["tier_rank_w1"]
    valid = ~np.isnan(now) & ~np.isnan(before)
    key = _choose([(now < before, 0), (now > before, 1)], 2, valid)
    return key, {"tier_from": np.where(key == 2, np.nan, before), "tier_to": now}


def _tenure(c: Columns) -> Phrase:
    days = c["tenure_days"]
    return _choose([(days == 1, 1)], 0, ~np.isnan(days)), {"days": days}


DRIVERS: tuple[Driver, ...] = (
    Driver(
        "recency",
        ("days_since_order",),
        (N_("no purchase for %(days)s days"), N_("no purchase for 1 day"), N_("no purchase yet")),
        lambda c: _since(c["days_since_last_order"]),
    ),
    Driver(
        "inactivity",
        ("days_since_activity",),
        (
            N_("no activity for %(days)s days"),
            N_("no activity for 1 day"),
            N_("no activity recorded yet"),
        ),
        lambda c: _since(c["days_since_last_event"]),
    ),
    Driver(
        "orders",
        ("orders_recent", "orders_change"),
        (
            N_("orders down %(pct)s%% vs previous %(days)s days"),
            N_("orders up %(pct)s%% vs previous %(days)s days"),
            N_("1 order in the last %(days)s days (previous: %(previous)s)"),
            N_("%(count)s orders in the last %(days)s days (previous: %(previous)s)"),
        ),
        lambda c: _trend(c["orders_w0"], c["orders_w1"], c["window_days"]),
    ),
    Driver(
        "spend",
        ("spend_recent", "spend_change"),
        (
            N_("spend down %(pct)s%% vs previous %(days)s days"),
            N_("spend up %(pct)s%% vs previous %(days)s days"),
            N_("spend %(amount)s in the last %(days)s days (previous: %(previous_amount)s)"),
            N_("spend %(amount)s in the last %(days)s days (previous: %(previous_amount)s)"),
        ),
        lambda c: _trend(c["spend_w0"], c["spend_w1"], c["window_days"], money=True),
    ),
    Driver(
        "activity",
        ("activity_recent", "activity_change"),
        (
            N_("activity down %(pct)s%% vs previous %(days)s days"),
            N_("activity up %(pct)s%% vs previous %(days)s days"),
            N_("1 activity event in the last %(days)s days (previous: %(previous)s)"),
            N_("%(count)s activity events in the last %(days)s days (previous: %(previous)s)"),
        ),
        lambda c: _trend(c["events_w0"], c["events_w1"], c["window_days"]),
    ),
    Driver(
        "tickets",
        ("tickets_recent", "tickets_change"),
        (
            N_("%(count)s service tickets in the last %(days)s days (previous: %(previous)s)"),
            N_("1 service ticket in the last %(days)s days (previous: %(previous)s)"),
        ),
        _tickets,
    ),
    Driver("satisfaction", ("satisfaction",), (N_("satisfaction %(score)s of 5"),), _satisfaction),
    Driver(
        "tier",
        ("tier_rank", "tier_change"),
        (
            N_("dropped from %(tier_from)s to %(tier_to)s"),
            N_("moved up from %(tier_from)s to %(tier_to)s"),
            N_("value tier %(tier_to)s"),
        ),
        _tier,
    ),
    Driver(
        "tenure",
        ("tenure",),
        (N_("customer for %(days)s days"), N_("customer for 1 day")),
        _tenure,
    ),
)
"""The facts drivers are told as; every feature belongs to exactly one."""

TEXT_KEYS: tuple[str, ...] = tuple(dict.fromkeys(t for d in DRIVERS for t in d.texts))
"""Every sentence key, in a fixed order (drivers store an index into it)."""


def check_columns(frame: pd.DataFrame, columns: tuple[SummaryColumn, ...] | list[str]) -> None:
    """Raise ``ChurnDataError`` naming every expected column ``frame`` lacks or holds as text."""
    names = [c if isinstance(c, str) else c.name for c in columns]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ChurnDataError({"columns": "missing:" + ",".join(missing)})
    wrong = [n for n in names if not pd.api.types.is_numeric_dtype(frame[n].dtype)]
    if wrong:
        raise ChurnDataError({"columns": "not_numeric:" + ",".join(wrong)})


def _as_frame(summary: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return summary.to_pandas() if isinstance(summary, pa.Table) else summary


def columns(frame: pd.DataFrame, names: tuple[str, ...] | list[str]) -> dict[str, FloatArray]:
    """The named columns as float64 arrays (nullable integers become NaN where null)."""
    return {n: frame[n].to_numpy(dtype=np.float64, na_value=np.nan) for n in names}


def build(summary: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """The feature table: the summary's columns plus one float column per feature."""
    frame = _as_frame(summary)
    check_columns(frame, REQUIRED_COLUMNS)
    if frame["customer_id"].isna().any():
        raise ChurnDataError({"customer_id": "missing_values"})
    raw = columns(frame, [c.name for c in REQUIRED_COLUMNS[1:]])
    out = {"customer_id": frame["customer_id"].to_numpy(dtype=np.int64)}
    out |= raw
    out |= {f.name: f.compute(raw) for f in FEATURES}
    return pd.DataFrame(out)


def _text(msgid: str, locale: str) -> str:
    return catalog(locale).get(msgid) or msgid


def _shown(name: str, value: Any, locale: str) -> str:
    """One parameter as the reader sees it."""
    kind = PARAMS.get(name, "int")
    if kind == "tier":
        rank = int(value)
        return _text(TIER_NAMES[rank], locale) if 0 <= rank < len(TIER_NAMES) else str(rank)
    if kind == "money":
        return str(format_decimal(float(value), format="#,##0.00", locale=locale))
    if kind == "float":
        return str(format_decimal(float(value), format="0.0", locale=locale))
    return str(format_decimal(round(float(value)), format="#,##0", locale=locale))


def render(text_key: str, params: Mapping[str, Any], locale: str) -> str:
    """The sentence ``text_key`` in ``locale`` with the customer's figures filled in."""
    shown = {k: _shown(k, v, locale) for k, v in params.items() if v is not None and v == v}
    return _text(text_key, locale) % shown
