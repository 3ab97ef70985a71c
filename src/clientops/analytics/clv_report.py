"""Per-customer CLV summaries from a transaction log, and the calibration/holdout report.

A transaction log (customer, date, amount) becomes one row per customer: ``frequency`` (purchase
days after the first, in the calibration period), ``recency`` and ``T`` (periods from the first
purchase to the last one and to the calibration end), ``monetary`` (mean spend of the repeat
purchase days) and the same customer's purchases after the calibration end (the holdout). The
aggregation runs in DuckDB, so ten million rows take seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from clientops.analytics import clv
from clientops.analytics.clv import ClvError
from clientops.core.i18n import gettext

Period = Literal["day", "week", "month"]
CountBy = Literal["day", "period"]
PERIOD_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
SUMMARY_COLUMNS = (
    "customer", "frequency", "recency", "T", "monetary", "frequency_holdout", "monetary_holdout",
)  # fmt: skip


@dataclass(frozen=True)
class Summary:
    """One row per customer acquired by the calibration end, and what the figures mean."""

    table: pd.DataFrame  # SUMMARY_COLUMNS, sorted by customer
    period: str
    count_by: str
    calibration_end: date
    observation_end: date | None  # None: no holdout period
    holdout_periods: float
    transactions: int  # input rows
    customers_after_calibration: int  # first purchase after the calibration end: left out

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """A numeric column as a float array."""
        return np.asarray(self.table[name].to_numpy(), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Transaction logs → summaries


def _grain(period: str, count_by: str) -> tuple[str, Callable[[date], date], str, float]:
    """SQL bucketing a day ``d``, the same in Python, the date_diff unit and its divisor."""
    if count_by == "day" or period == "day":
        return "d", lambda day: day, "day", PERIOD_DAYS[period]
    if period == "week":  # ISO weeks, Monday first, as DuckDB's date_trunc('week', ...)
        return "date_trunc('week', d)::DATE", lambda day: day - timedelta(day.weekday()), "day", 7.0
    return "date_trunc('month', d)::DATE", lambda day: day.replace(day=1), "month", 1.0


def _check_options(period: str, count_by: str, calibration_end: date, end: date | None) -> None:
    if period not in PERIOD_DAYS:
        raise ClvError(gettext("period must be day, week or month"))
    if count_by not in ("day", "period"):
        raise ClvError(gettext("count-by must be day or period"))
    if end is not None and end <= calibration_end:
        raise ClvError(gettext("the observation end must be after the calibration end"))


# One pass over the day (or period) totals: calibration and holdout figures side by side.
_PER_CUSTOMER_SQL = """
CREATE TEMP TABLE per_customer AS
WITH buckets AS (
    SELECT c, {grain} AS p, sum(a) AS a FROM tx GROUP BY ALL
)
SELECT c,
       count(*) FILTER (WHERE p <= $cal) AS n,
       min(p) FILTER (WHERE p <= $cal) AS first_p,
       max(p) FILTER (WHERE p <= $cal) AS last_p,
       sum(a) FILTER (WHERE p <= $cal) AS total,
       arg_min(a, p) FILTER (WHERE p <= $cal) AS first_a,
       count(*) FILTER (WHERE p > $cal AND p <= $obs) AS n_h,
       sum(a) FILTER (WHERE p > $cal AND p <= $obs) AS total_h
FROM buckets GROUP BY c
"""

_SUMMARY_SQL = """
SELECT c AS customer,
       (n - 1)::DOUBLE AS frequency,
       date_diff('{unit}', first_p, last_p) / {per} AS recency,
       date_diff('{unit}', first_p, $cal) / {per} AS "T",
       CASE WHEN n > 1 THEN (total - first_a) / (n - 1) ELSE 0 END AS monetary,
       n_h::DOUBLE AS frequency_holdout,
       CASE WHEN n_h > 0 THEN total_h / n_h ELSE 0 END AS monetary_holdout
FROM per_customer WHERE n > 0
ORDER BY customer
"""


def _summarise(
    con: duckdb.DuckDBPyConnection,
    *,
    period: str,
    count_by: str,
    calibration_end: date,
    observation_end: date | None,
) -> Summary:
    """Summarise the connection's ``tx`` table (c, d DATE, a DOUBLE)."""
    _check_options(period, count_by, calibration_end, observation_end)
    grain, bucket, unit, per = _grain(period, count_by)
    counts = con.execute("SELECT count(*), max(d) FROM tx").fetchone()
    rows, last_day = (counts[0], counts[1]) if counts else (0, None)
    if observation_end is None and last_day is not None and last_day > calibration_end:
        observation_end = last_day
    cal, obs = bucket(calibration_end), bucket(observation_end or calibration_end)
    con.execute(_PER_CUSTOMER_SQL.format(grain=grain), {"cal": cal, "obs": obs})
    sql = _SUMMARY_SQL.format(unit=unit, per=repr(per))
    table = con.execute(sql, {"cal": cal}).df()
    if table.empty:
        raise ClvError(gettext("no purchases on or before the calibration end"))
    later = con.execute("SELECT count(*) FROM per_customer WHERE n = 0").fetchone()
    table["customer"] = table["customer"].astype(str)
    return Summary(
        table=table,
        period=period,
        count_by=count_by,
        calibration_end=calibration_end,
        observation_end=observation_end,
        holdout_periods=_holdout_periods(cal, obs, unit, per),
        transactions=int(rows),
        customers_after_calibration=int(later[0]) if later else 0,
    )


def _holdout_periods(cal: date, obs: date, unit: str, per: float) -> float:
    if unit == "month":
        return float((obs.year - cal.year) * 12 + obs.month - cal.month)
    return (obs - cal).days / per


def summarise_transactions(
    transactions: pd.DataFrame,
    *,
    customer: str,
    date: str,
    amount: str,
    calibration_end: date,
    period: Period = "week",
    observation_end: date | None = None,
    count_by: CountBy = "day",
) -> Summary:
    """Per-customer frequency, recency, T, monetary and holdout figures from a transaction table.

    Purchases on the same day (``count_by="day"``, the default: what the published CDNOW
    figures use) or in the same period (``count_by="period"``) count as one purchase, their
    amounts summed. ``observation_end`` defaults to the last date in the table.
    """
    missing = [c for c in (customer, date, amount) if c not in transactions.columns]
    if missing:
        raise ClvError(_missing_message(missing, [str(c) for c in transactions.columns]))
    columns = {
        "c": transactions[customer],
        "d": pd.to_datetime(transactions[date], errors="coerce"),
        "a": pd.to_numeric(transactions[amount], errors="coerce"),
    }
    _check_columns(columns)
    # Arrow columns side by side: no pandas block consolidation, and DuckDB scans them in place.
    table = pa.table({name: _arrow(column) for name, column in columns.items()})
    con = duckdb.connect()
    try:
        con.register("tx_frame", table)
        con.execute("CREATE TEMP VIEW tx AS SELECT c, CAST(d AS DATE) AS d, a FROM tx_frame")
        return _summarise(
            con,
            period=period,
            count_by=count_by,
            calibration_end=calibration_end,
            observation_end=observation_end,
        )
    finally:
        con.close()


def _arrow(column: pd.Series) -> pa.Array:
    """The column as Arrow; ids of mixed types (numbers and text) become text."""
    try:
        return pa.array(column)
    except pa.ArrowException:
        return pa.array(column.astype(str))


def _check_columns(columns: dict[str, pd.Series]) -> None:
    """The first bad row of an in-memory table, named by its position (row 1 = first row)."""
    checks = (
        (columns["c"].isna().to_numpy(), gettext("empty customer on row %(row)s")),
        (columns["d"].isna().to_numpy(), gettext("date missing or not a date on row %(row)s")),
        (columns["a"].isna().to_numpy(), gettext("amount missing or not a number on row %(row)s")),
        ((columns["a"] < 0).to_numpy(), gettext("negative amount on row %(row)s")),
    )
    for bad, message in checks:
        if bad.any():
            raise ClvError(message % {"row": int(np.argmax(bad)) + 1})


def _missing_message(missing: list[str], have: list[str]) -> str:
    return gettext("column not found: %(columns)s (the file has: %(have)s)") % {
        "columns": ", ".join(missing),
        "have": ", ".join(have),
    }


def summarise_csv(
    path: Path,
    *,
    customer: str,
    date: str,
    amount: str,
    calibration_end: date,
    period: Period = "week",
    observation_end: date | None = None,
    count_by: CountBy = "day",
    date_format: str | None = None,
) -> Summary:
    """:func:`summarise_transactions` on a CSV file read by DuckDB (header row required);
    errors name the data row (1 = the first row after the header)."""
    if not path.is_file():
        raise ClvError(gettext("file not found: %(path)s") % {"path": path})
    con = duckdb.connect()
    try:
        _load_csv(con, path, (customer, date, amount), date_format)
        return _summarise(
            con,
            period=period,
            count_by=count_by,
            calibration_end=calibration_end,
            observation_end=observation_end,
        )
    finally:
        con.close()


def _load_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    columns: tuple[str, str, str],
    date_format: str | None,
) -> None:
    """Read the file as text into ``raw``, check it, and define ``tx`` (c, d DATE, a DOUBLE)."""
    try:
        con.execute(
            "CREATE TEMP TABLE raw AS SELECT * FROM read_csv($path, all_varchar = true, "
            "header = true)",
            {"path": str(path)},
        )
    except duckdb.Error as exc:
        raise ClvError(gettext("cannot read the file: %(why)s") % {"why": exc}) from exc
    have = [str(row[0]) for row in con.execute("DESCRIBE raw").fetchall()]
    missing = [c for c in columns if c not in have]
    if missing:
        raise ClvError(_missing_message(missing, have))
    c, d, a = (_quote(name) for name in columns)
    parse = (
        f"try_strptime({d}, {_literal(date_format)})"
        if date_format
        else f"TRY_CAST({d} AS TIMESTAMP)"
    )
    con.execute(
        f"CREATE TEMP TABLE parsed AS SELECT rowid + 1 AS row, {c} AS c, {d} AS d_text, "
        f"CAST({parse} AS DATE) AS d, {a} AS a_text, TRY_CAST({a} AS DOUBLE) AS a FROM raw"
    )
    _check_parsed(con, date_format)
    con.execute("CREATE TEMP VIEW tx AS SELECT c, d, a FROM parsed")


def _check_parsed(con: duckdb.DuckDBPyConnection, date_format: str | None) -> None:
    """Raise for the first row with an empty customer, a bad date, or a bad/negative amount."""
    hint = date_format or gettext("an ISO date such as 2024-03-31")
    checks = (
        ("c IS NULL OR trim(c) = ''", gettext("empty customer on row %(row)s")),
        (
            "d IS NULL",
            gettext("cannot read the date %(value)s on row %(row)s (expected %(hint)s)"),
        ),
        ("a IS NULL", gettext("cannot read the amount %(value)s on row %(row)s")),
        ("a < 0", gettext("negative amount %(value)s on row %(row)s")),
    )
    for condition, message in checks:
        column = "d_text" if condition.startswith("d ") else "a_text"
        found = con.execute(
            f"SELECT row, {column} FROM parsed WHERE {condition} ORDER BY row LIMIT 1"
        ).fetchone()
        if found:
            value = gettext("(empty)") if found[1] is None else repr(found[1])
            raise ClvError(message % {"row": found[0], "value": value, "hint": hint})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------
# Calibration / holdout report


@dataclass(frozen=True)
class CalibrationReport:
    """Mean holdout purchases, actual against predicted, by purchases in calibration."""

    rows: list[dict[str, Any]]
    holdout_periods: float
    customers: int
    actual_total: float
    predicted_total: float
    chart: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "holdout_periods": self.holdout_periods,
            "customers": self.customers,
            "actual_total": self.actual_total,
            "predicted_total": self.predicted_total,
            "rows": self.rows,
            "chart": self.chart,
        }


def calibration_holdout(
    repeat_fit: clv.FitResult,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    frequency_holdout: npt.ArrayLike,
    holdout_periods: float,
    max_frequency: int = 7,
) -> CalibrationReport:
    """For each calibration frequency 0 … ``max_frequency``+ (the last bucket open-ended): the
    customers in it, their mean actual holdout purchases, and the model's mean prediction."""
    x = np.asarray(frequency, dtype=np.float64)
    actual = np.asarray(frequency_holdout, dtype=np.float64)
    predicted = clv.expected_purchases(repeat_fit, holdout_periods, x, recency, T)
    bucket = np.minimum(x, max_frequency).astype(np.intp)
    count = np.bincount(bucket, minlength=max_frequency + 1)
    sum_actual = np.bincount(bucket, weights=actual, minlength=max_frequency + 1)
    sum_predicted = np.bincount(bucket, weights=predicted, minlength=max_frequency + 1)
    rows = [
        {
            "frequency": str(k) if k < max_frequency else f"{max_frequency}+",
            "customers": int(count[k]),
            "actual": float(sum_actual[k] / count[k]) if count[k] else None,
            "predicted": float(sum_predicted[k] / count[k]) if count[k] else None,
        }
        for k in range(max_frequency + 1)
    ]
    return CalibrationReport(
        rows=rows,
        holdout_periods=float(holdout_periods),
        customers=len(x),
        actual_total=float(actual.sum()),
        predicted_total=float(predicted.sum()),
        chart=_chart(rows),
    )


def _chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What a grouped bar chart of the report needs: categories, two series, axis labels."""
    return {
        "kind": "grouped_bars",
        "title": gettext("Holdout purchases: actual and predicted"),
        "x_label": gettext("Repeat purchases in the calibration period"),
        "y_label": gettext("Mean purchases per customer in the holdout period"),
        "categories": [row["frequency"] for row in rows],
        "series": [
            {"key": "actual", "label": gettext("Actual"), "values": [r["actual"] for r in rows]},
            {
                "key": "predicted",
                "label": gettext("Model"),
                "values": [r["predicted"] for r in rows],
            },
        ],
    }
