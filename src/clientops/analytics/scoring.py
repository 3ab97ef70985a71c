"""One scoring run's computation: the Ibis pipeline on the chosen engine, then the models on
compact NumPy arrays (CLV, churn risk, health), then the comparison with the current scores
that decides the history rows. The result is a Parquet file of final rows, cut into row
groups of one write batch each, which the job's batch steps write to the database.
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from clientops.analytics import engines, pipeline
from clientops.analytics.rules import HEALTH_PARTS, HealthRules, Rules

log = logging.getLogger(__name__)

SCORE_COLUMNS = (
    "customer_id",
    "run_id",
    "as_of",
    "orders",
    "revenue",
    "revenue_12m",
    "first_order_on",
    "last_order_on",
    "recency_days",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "tier",
    "tier_since",
    "stage",
    "stage_since",
    "stage_at_month_start",
    "clv",
    "p_alive",
    "expected_purchases",
    "churn_risk",
    "churn_drivers",
    "health",
    "health_parts",
    "value_at_risk",
)
HISTORY_COLUMNS = (
    "customer_id",
    "run_id",
    "as_of",
    "changed",
    "tier",
    "previous_tier",
    "stage",
    "previous_stage",
    "rfm_segment",
    "previous_segment",
    "revenue_12m",
    "clv",
    "p_alive",
    "churn_risk",
    "health",
)
WEEK = 7.0


@dataclass
class Job:
    """What one run computes: as of which day, on which engine, under which rules."""

    run_id: int
    as_of: date
    engine: str
    rules: Rules
    tiers_due: bool
    out_dir: Path
    batch_size: int = 50_000
    clv_model: str = "bgnbd"
    clv_horizon_weeks: int = 52
    clv_annual_discount: float = 0.10
    churn_model_text: str | None = None
    previous_clv: dict[str, Any] | None = None
    """The CLV figures of the latest run: its fits are reused while younger than
    ``clv_refit_days`` (parameters of a million customers barely move from one night to the
    next; refitting, and the calibration report, cost more than all the predictions)."""
    clv_refit_days: int = 7


@dataclass
class Timer:
    """Seconds per phase, in order."""

    started: float = field(default_factory=time.perf_counter)
    laps: dict[str, float] = field(default_factory=dict)
    _last: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        """Record the seconds since the previous lap under ``name``."""
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now

    @property
    def total(self) -> float:
        """Seconds since the timer started."""
        return round(time.perf_counter() - self.started, 3)


def peak_memory_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- CLV ------------------------------------------------------------------------------------


def _clv_module() -> Any:
    try:
        from clientops.analytics import clv
    except ImportError:
        return None
    return clv


def clv_inputs(s: pd.DataFrame) -> dict[str, np.ndarray]:
    """Repeat-purchase inputs in weeks for buyers: frequency (purchase days after the first),
    recency (first to last purchase), T (first purchase to the as-of day), mean repeat spend."""
    x = (s["purchase_days"].to_numpy() - 1).astype(np.float64)
    rec = (s["last_day"].to_numpy() - s["first_day"].to_numpy()) / WEEK
    age = s["tenure_days"].to_numpy() / WEEK
    spend = np.where(x > 0, s["repeat_spend"].to_numpy() / np.maximum(x, 1), 0.0)
    return {"frequency": x, "recency": rec.astype(np.float64), "T": age, "monetary": spend}


def collapse(x: np.ndarray, rec: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, ...]:
    """Identical (frequency, recency, T) rows as one weighted row: (rows, weights, inverse)."""
    stacked = np.stack([x, rec, age], axis=1)
    rows, inverse, weights = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return rows, weights.astype(np.float64), inverse.reshape(-1)


def compute_clv(
    s: pd.DataFrame, job: Job, calib: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """CLV, P(alive) and expected purchases per buyer, and the fitted parameters; without
    the CLV module, or when the data cannot be fitted (too few repeat buyers), nothing."""
    clv = _clv_module()
    if clv is None or s.empty:
        return pd.DataFrame(), {"available": False}
    reused = _reusable(clv, job)
    try:
        frame, figures = _fit_clv(clv, s, job, reused)
    except (ValueError, ArithmeticError) as exc:  # the CLV module's errors are ValueErrors
        log.warning("CLV not computed: %s", exc)
        return pd.DataFrame(), {"available": False, "error": str(exc)}
    if reused is not None and job.previous_clv is not None:
        figures["calibration"] = job.previous_clv.get("calibration")
        return frame, figures
    try:
        figures["calibration"] = calibration_report(clv, calib, job) if calib is not None else None
    except (ValueError, ArithmeticError) as exc:
        figures["calibration"] = {"error": str(exc)}
    return frame, figures


HOLDOUT_WEEKS = 26
"""The holdout of the calibration report: fitted on all but the last 26 weeks, checked on them."""


def calibration_report(clv: Any, calib: pd.DataFrame, job: Job) -> dict[str, Any] | None:
    """Predicted against actual repeat purchases in the holdout, by calibration frequency."""
    from clientops.analytics import clv_report

    if calib.empty:
        return None
    cut_day = pipeline.Clock(job.as_of).end_day - HOLDOUT_WEEKS * 7
    x = (calib["purchase_days"].to_numpy() - 1).astype(np.float64)
    rec = (calib["last_day"].to_numpy() - calib["first_day"].to_numpy()) / WEEK
    age = (cut_day - 1 - calib["first_day"].to_numpy()) / WEEK
    rows, weights, _inverse = collapse(x, rec.astype(np.float64), age.astype(np.float64))
    fit_fn = clv.fit_pareto_nbd if job.clv_model == "paretonbd" else clv.fit_bgnbd
    fit = fit_fn(rows[:, 0], rows[:, 1], rows[:, 2], weights=weights)
    holdout = calib["holdout_days"].to_numpy().astype(np.float64)
    report = clv_report.calibration_holdout(fit, x, rec, age, holdout, HOLDOUT_WEEKS)
    return {"fit": plain(fit), **plain(report)}


def _reusable(clv: Any, job: Job) -> tuple[Any, Any, date] | None:
    """The latest run's fits and their day, when young enough and of the model in use."""
    found = job.previous_clv or {}
    fit, spend, fitted_on = found.get("fit"), found.get("spend_fit"), found.get("fitted_on")
    if not (fit and fitted_on) or found.get("model") != job.clv_model:
        return None
    day = date.fromisoformat(fitted_on)
    if not 0 <= (job.as_of - day).days < job.clv_refit_days:
        return None
    return _fit_result(clv, fit), _fit_result(clv, spend) if spend else None, day


def _fit_result(clv: Any, stored: dict[str, Any]) -> Any:
    # Stored as JSON, where a standard error that could not be computed became null.
    errors = {k: float("nan") if v is None else v for k, v in stored["std_errors"].items()}
    return clv.FitResult(**{**stored, "std_errors": errors})


def _spend_fit(clv: Any, data: dict[str, np.ndarray], repeat: np.ndarray) -> Any:
    """Gamma-Gamma on the repeat buyers; None when it cannot describe this spend (too few
    repeat buyers, a heavy tail with q ≤ 1, no convergence)."""
    try:
        fit = clv.fit_gamma_gamma(data["frequency"][repeat], data["monetary"][repeat])
        clv.expected_spend(fit, np.ones(1), np.ones(1))  # refuses q ≤ 1 (an infinite mean)
    except (ValueError, ArithmeticError) as exc:
        log.info("spend model not used: %s", exc)
        return None
    return fit if fit.converged else None


def _spend_per_purchase(
    clv: Any, spend_fit: Any, s: pd.DataFrame, data: dict[str, np.ndarray]
) -> np.ndarray:
    """Gamma-Gamma's expected spend per purchase, or, without a spend model, each customer's
    own average order value."""
    if spend_fit is not None:
        return np.asarray(clv.expected_spend(spend_fit, data["frequency"], data["monetary"]))
    orders = np.maximum(s["orders"].to_numpy(dtype=np.float64), 1.0)
    return np.asarray(s["revenue"].to_numpy(dtype=np.float64) / orders)


def _fit_clv(
    clv: Any, s: pd.DataFrame, job: Job, reused: tuple[Any, Any, date] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    data = clv_inputs(s)
    rows, weights, inverse = collapse(data["frequency"], data["recency"], data["T"])
    fit_fn = clv.fit_pareto_nbd if job.clv_model == "paretonbd" else clv.fit_bgnbd
    repeat = data["frequency"] > 0
    if reused is not None:
        fit, spend_fit, fitted_on = reused
    else:
        fit = fit_fn(rows[:, 0], rows[:, 1], rows[:, 2], weights=weights)
        if not fit.converged:
            # Values from a fit that did not settle would look precise and mean nothing.
            raise ValueError(f"the {fit.model} fit did not converge on this data")
        spend_fit = _spend_fit(clv, data, repeat)
        fitted_on = job.as_of
    alive = clv.p_alive(fit, rows[:, 0], rows[:, 1], rows[:, 2])[inverse]
    horizon = job.clv_horizon_weeks
    expected = clv.expected_purchases(fit, horizon, rows[:, 0], rows[:, 1], rows[:, 2])[inverse]
    weekly = (1 + job.clv_annual_discount) ** (1 / 52) - 1
    purchases = clv.discounted_purchases(
        fit, data["frequency"], data["recency"], data["T"], horizon, weekly
    )
    value = purchases * _spend_per_purchase(clv, spend_fit, s, data)
    out = pd.DataFrame(
        {
            "customer_id": s["customer_id"].to_numpy(),
            "clv": np.asarray(value, dtype=np.float64),
            "p_alive": np.asarray(alive, dtype=np.float64),
            "expected_purchases": np.asarray(expected, dtype=np.float64),
        }
    )
    return out, {
        "available": True,
        "model": job.clv_model,
        "fit": plain(fit),
        "spend_fit": plain(spend_fit) if spend_fit is not None else None,
        "spend": "gamma_gamma" if spend_fit is not None else "own_average",
        "horizon_weeks": horizon,
        "fitted_on": fitted_on.isoformat(),
        "refitted": reused is None,
    }


def plain(value: Any) -> Any:
    """A fit result as JSON-able data (dataclasses, NumPy scalars and arrays)."""
    if hasattr(value, "as_dict"):
        return plain(value.as_dict())
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# --- churn ----------------------------------------------------------------------------------


TIER_RANKS = {"bronze": 0, "silver": 1, "gold": 2, "diamond": 3}
CHURN_WINDOW = 30


def churn_summary(s: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """The churn module's window summary (``churn_features.REQUIRED_COLUMNS``) of buyers: the
    last 30 days against the 30 before; tickets and surveys are NaN until a service desk
    feeds them, events are NaN when no event was ever linked to a customer."""
    n = len(s)
    no_events = float(s["events_30"].sum() + s["events_p30"].sum()) == 0.0
    before = s[["customer_id"]].merge(previous[["customer_id", "tier"]], how="left")
    out = pd.DataFrame(
        {
            "customer_id": s["customer_id"].to_numpy(dtype=np.int64),
            "window_days": np.full(n, CHURN_WINDOW, dtype=np.int64),
            "tenure_days": _floats(s, "tenure_days"),
            "days_since_last_order": _floats(s, "recency_days"),
            "orders_w0": _floats(s, "orders_30"),
            "orders_w1": _floats(s, "orders_p30"),
            "spend_w0": _floats(s, "spend_30"),
            "spend_w1": _floats(s, "spend_p30"),
            "days_since_last_event": _floats(s, "event_days"),
            "events_w0": np.full(n, np.nan) if no_events else _floats(s, "events_30"),
            "events_w1": np.full(n, np.nan) if no_events else _floats(s, "events_p30"),
            "tickets_w0": np.full(n, np.nan),
            "tickets_w1": np.full(n, np.nan),
            "csat_mean": np.full(n, np.nan),
            "tier_rank_w0": s["tier"].map(TIER_RANKS).to_numpy(dtype=np.float64, na_value=np.nan),
            "tier_rank_w1": before["tier"]
            .map(TIER_RANKS)
            .to_numpy(dtype=np.float64, na_value=np.nan),
        }
    )
    return out


def _floats(s: pd.DataFrame, name: str) -> np.ndarray:
    values: np.ndarray = s[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def compute_churn(
    s: pd.DataFrame, previous: pd.DataFrame, job: Job
) -> tuple[pa.Table | None, dict[str, Any]]:
    """Churn risk and its top drivers per buyer from the active model (none: None)."""
    if job.churn_model_text is None or s.empty:
        return None, {"available": False}
    try:
        from clientops.analytics import churn, churn_features
    except ImportError:
        return None, {"available": False}
    model = churn.ChurnModel.from_text(job.churn_model_text)
    features = churn_features.build(churn_summary(s, previous))
    scored = churn.score(model, features, top_k=3)
    # The drivers stay Arrow (a list of structs): the assembly turns them into JSON in DuckDB.
    out = pa.table(
        {
            "customer_id": pa.array(scored["customer_id"].to_numpy(), pa.int64()),
            "churn_risk": pa.array(scored["risk"].to_numpy(dtype=np.float64)),
            "churn_drivers": pa.array(scored["drivers"].array),
        }
    )
    return out, {"available": True, "model_version": model.version}


# --- health ---------------------------------------------------------------------------------


def health_parts(s: pd.DataFrame, rules: HealthRules) -> pd.DataFrame:
    """Each part of health 0-100 (NaN: no data for the customer) and the weighted health.

    activity: 100 on the day of the last contact (order, event or logged activity), halving
    every half-life; value: the F and M scores from 1-1 (0) to 5-5 (100); satisfaction and
    service experience: from survey and ticket data when the summary carries them.
    """
    touch = s["touch_days"].to_numpy(dtype=np.float64, na_value=np.nan)
    order = s["recency_days"].to_numpy(dtype=np.float64, na_value=np.nan)
    since = np.fmin(touch, order)  # NaN only when neither exists
    parts = {
        "activity": np.where(
            np.isnan(since), 0.0, 100 * 0.5 ** (since / rules.activity_half_life_days)
        ),
        "value": (
            s["f_score"].to_numpy(dtype=np.float64, na_value=np.nan)
            + s["m_score"].to_numpy(dtype=np.float64, na_value=np.nan)
            - 2
        )
        / 8
        * 100,
        "satisfaction": _optional(s, "satisfaction"),
        "service": _optional(s, "service_experience"),
    }
    parts["value"] = np.nan_to_num(parts["value"], nan=0.0)
    weights = np.array([rules.weights[name] for name in HEALTH_PARTS])
    matrix = np.stack([parts[name] for name in HEALTH_PARTS], axis=1)
    known = ~np.isnan(matrix)
    total = (np.nan_to_num(matrix) * weights).sum(axis=1)
    share = (known * weights).sum(axis=1)
    frame = pd.DataFrame({f"health_{k}": np.round(v, 1) for k, v in parts.items()})
    frame["health"] = np.round(np.where(share > 0, total / np.where(share > 0, share, 1), 0), 1)
    frame["contact_days"] = since
    frame["customer_id"] = s["customer_id"].to_numpy()
    return frame


def _optional(s: pd.DataFrame, name: str) -> np.ndarray:
    if name not in s.columns:
        return np.full(len(s), np.nan)
    return _floats(s, name)


# --- assembling the rows --------------------------------------------------------------------


def _final_sql(job: Job) -> str:
    """The SQL (DuckDB) that joins the pipeline, the models and the current scores."""
    as_of = f"DATE '{job.as_of.isoformat()}'"
    keep_tier = "FALSE" if job.tiers_due else "TRUE"
    return f"""
    WITH p AS (
      SELECT customer_id, tier, TRY_CAST(tier_since AS DATE) AS tier_since, stage,
             TRY_CAST(stage_since AS DATE) AS stage_since, stage_at_month_start, rfm_segment,
             TRY_CAST(as_of AS DATE) AS as_of FROM previous
    ), j AS (
      SELECT s.*, c.clv, c.p_alive, c.expected_purchases, k.churn_risk, k.churn_drivers,
             h.health, h.health_activity, h.health_value, h.health_satisfaction,
             h.health_service, h.contact_days,
             p.customer_id IS NOT NULL AS seen, p.tier AS p_tier, p.tier_since AS p_tier_since,
             p.stage AS p_stage, p.stage_since AS p_stage_since, p.rfm_segment AS p_segment,
             p.stage_at_month_start AS p_month_stage, p.as_of AS p_as_of,
             CASE WHEN {keep_tier} AND p.tier IS NOT NULL AND s.tier IS NOT NULL
                  THEN p.tier ELSE s.tier END AS new_tier
      FROM summary s
      LEFT JOIN clv c USING (customer_id)
      LEFT JOIN churn k USING (customer_id)
      LEFT JOIN health h USING (customer_id)
      LEFT JOIN p USING (customer_id)
    ), f AS (
      SELECT *,
        concat_ws(',',
          CASE WHEN new_tier IS DISTINCT FROM p_tier THEN 'tier' END,
          CASE WHEN stage IS DISTINCT FROM p_stage THEN 'stage' END,
          CASE WHEN rfm_segment IS DISTINCT FROM p_segment THEN 'segment' END) AS changed,
        p_as_of IS NULL OR date_trunc('month', p_as_of) <> date_trunc('month', {as_of})
          AS snapshot
      FROM j
    )
    SELECT customer_id, {job.run_id} AS run_id, {as_of} AS as_of, orders, revenue,
      revenue_12m,
      CAST(DATE '1970-01-01' + CAST(first_day AS INTEGER) AS DATE) AS first_order_on,
      CAST(DATE '1970-01-01' + CAST(last_day AS INTEGER) AS DATE) AS last_order_on,
      recency_days, r_score, f_score, m_score, rfm_segment, new_tier AS tier,
      CASE WHEN new_tier IS NULL THEN NULL
           WHEN seen AND new_tier IS NOT DISTINCT FROM p_tier THEN coalesce(p_tier_since, {as_of})
           ELSE {as_of} END AS tier_since,
      stage,
      CASE WHEN seen AND stage IS NOT DISTINCT FROM p_stage THEN coalesce(p_stage_since, {as_of})
           ELSE {as_of} END AS stage_since,
      CASE WHEN p_as_of IS NULL THEN NULL
           WHEN date_trunc('month', p_as_of) = date_trunc('month', {as_of}) THEN p_month_stage
           ELSE p_stage END AS stage_at_month_start,
      clv, p_alive, expected_purchases, churn_risk,
      CAST(to_json(churn_drivers) AS VARCHAR) AS churn_drivers, health,
      to_json(struct_pack(activity := health_activity, value := health_value,
        satisfaction := health_satisfaction, service := health_service,
        contact_days := contact_days, f := f_score, m := m_score))::VARCHAR AS health_parts,
      coalesce(churn_risk, 1 - p_alive) * coalesce(clv, revenue_12m) AS value_at_risk,
      changed, changed <> '' OR snapshot AS history,
      p_tier AS previous_tier, p_stage AS previous_stage, p_segment AS previous_segment
    FROM f ORDER BY customer_id
    """


def assemble(
    summary: pa.Table,
    previous: pa.Table,
    extras: dict[str, pd.DataFrame | pa.Table],
    job: Job,
) -> pa.Table:
    """The final rows: scores, the models' figures, and the history decision per customer."""
    con = engines.local_duckdb({"summary": summary, "previous": previous})
    raw = con.con
    try:
        for name, frame in extras.items():
            raw.register(name, frame)
        return raw.sql(_final_sql(job)).to_arrow_table()
    finally:
        con.disconnect()


EMPTY_EXTRAS = {
    "clv": pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="int64"),
            "clv": pd.Series(dtype="float64"),
            "p_alive": pd.Series(dtype="float64"),
            "expected_purchases": pd.Series(dtype="float64"),
        }
    ),
}
EMPTY_CHURN = pa.schema(
    [("customer_id", pa.int64()), ("churn_risk", pa.float64()), ("churn_drivers", pa.string())]
).empty_table()


def run(job: Job, sa_engine: Engine) -> dict[str, Any]:
    """Compute every score of a run into ``job.out_dir``; the figures of the run."""
    timer = Timer()
    clock = pipeline.Clock(job.as_of)
    since = clock.since(job.rules.stages)
    with engines.facts(job.engine, sa_engine, end=clock.end, since=since) as facts:
        summary = pipeline.scores(facts, clock, job.rules).to_pyarrow()
        timer.lap("pipeline")
        cohort = pipeline.cohorts(facts, clock).to_pyarrow()
        calib = pipeline.calibration(pipeline.days_of(facts), clock, HOLDOUT_WEEKS * 7).to_pandas()
        timer.lap("cohorts")
        orders = facts.orders_count
    frame = summary.to_pandas()
    buyers = frame[frame["orders"] > 0]
    previous = engines.read_previous(sa_engine)
    clv_frame, clv_figures = compute_clv(buyers, job, calib)
    timer.lap("clv")
    churn_frame, churn_figures = compute_churn(buyers, previous.to_pandas(), job)
    timer.lap("churn")
    health = health_parts(frame, job.rules.health)
    timer.lap("health")
    extras = {
        "clv": clv_frame if not clv_frame.empty else EMPTY_EXTRAS["clv"],
        "churn": churn_frame if churn_frame is not None else EMPTY_CHURN,
        "health": health,
    }
    final = assemble(summary, previous, extras, job)
    timer.lap("assemble")
    return _save(job, final, cohort, timer, orders, clv_figures, churn_figures)


def _save(
    job: Job,
    final: pa.Table,
    cohort: pa.Table,
    timer: Timer,
    orders: int,
    clv_figures: dict[str, Any],
    churn_figures: dict[str, Any],
) -> dict[str, Any]:
    job.out_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(final, job.out_dir / "scores.parquet", row_group_size=job.batch_size)
    pq.write_table(cohort, job.out_dir / "cohorts.parquet")
    timer.lap("save")
    history = int(pa.compute.sum(final["history"]).as_py() or 0)
    return {
        "customers": final.num_rows,
        "orders": orders,
        "history_rows": history,
        "batches": pq.ParquetFile(job.out_dir / "scores.parquet").num_row_groups,
        "timings": timer.laps,
        "compute_seconds": timer.total,
        "peak_memory_mb": peak_memory_mb(),
        "clv": clv_figures,
        "churn": churn_figures,
    }


def read_batch(out_dir: Path, number: int) -> pa.Table:
    """Row group ``number`` of a run's final rows."""
    return pq.ParquetFile(out_dir / "scores.parquet").read_row_group(number)


def read_cohorts(out_dir: Path) -> pa.Table:
    """The cohort figures a run computed."""
    return pq.read_table(out_dir / "cohorts.parquet")
