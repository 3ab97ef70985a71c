"""Customer value analytics: the rule sets (versioned, audited), scoring runs and churn model
versions, writing a run's rows in bulk, and reading the score tables for pages and the API.

Every read is restricted to the customers the reader may see (``customers_service.restrict``);
cohort and stage-flow figures are kept per team and summed over the reader's teams.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pydantic import BaseModel
from sqlalchemy import Select, and_, case, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from clientops.analytics import rules as rules_mod
from clientops.analytics.models import (
    RULE_KINDS,
    STAGES,
    TIERS,
    ChurnModelVersion,
    CohortFigure,
    CustomerScore,
    RuleSet,
    ScoreHistory,
    ScoreRun,
    StageFlow,
)
from clientops.analytics.scoring import HISTORY_COLUMNS, SCORE_COLUMNS
from clientops.core.access import Principal
from clientops.core.pagination import decode_cursor, encode_cursor
from clientops.customers import service as customers_service
from clientops.customers.models import Customer
from clientops.db import utcnow
from clientops.exceptions import Forbidden, InvalidInput, NotFound

AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])
READ = "analytics:read"
MANAGE = "analytics:manage"
TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}
RISK_BANDS = {"high": (0.6, 1.01), "medium": (0.3, 0.6), "low": (0.0, 0.3)}
HEALTH_BANDS = {"good": (70.0, 100.1), "fair": (40.0, 70.0), "poor": (0.0, 40.0)}
SORTS = {
    "value_at_risk": CustomerScore.value_at_risk,
    "clv": CustomerScore.clv,
    "health": CustomerScore.health,
    "revenue": CustomerScore.revenue_12m,
}


def require(principal: Principal, permission: str = READ) -> None:
    """Raise ``Forbidden`` unless the principal holds ``permission``."""
    if not principal.can(permission):
        raise Forbidden(permission)


# --- rule sets ------------------------------------------------------------------------------


def active_rule_set(*, db: Session, kind: str) -> RuleSet | None:
    """The active saved version of a kind of rules (None: the defaults apply)."""
    stmt = select(RuleSet).where(RuleSet.kind == kind, RuleSet.active.is_(True))
    return db.scalar(stmt.order_by(RuleSet.version.desc()).limit(1))


def active_rules(*, db: Session) -> rules_mod.Rules:
    """The rules a run applies now: each kind's active version, else its defaults."""
    found: dict[str, Any] = {}
    versions: dict[str, int] = {}
    for kind in RULE_KINDS:
        row = active_rule_set(db=db, kind=kind)
        found[kind] = rules_mod.parse(kind, row.body) if row else rules_mod.DEFAULTS[kind]
        versions[kind] = row.version if row else 0
    return rules_mod.Rules(**found, versions=versions)


def rule_versions(*, db: Session, kind: str, limit: int = 20) -> list[RuleSet]:
    """The saved versions of a kind of rules, newest first."""
    stmt = select(RuleSet).where(RuleSet.kind == kind).order_by(RuleSet.version.desc())
    return list(db.scalars(stmt.limit(limit)))


def save_rules(
    *, db: Session, kind: str, body: dict[str, Any], principal: Principal, note: str | None = None
) -> RuleSet:
    """Save ``body`` as the next version of ``kind`` and make it active (audited); it applies
    from the next scoring run. Raises ``InvalidInput`` when the body breaks the rules' checks."""
    require(principal, MANAGE)
    if kind not in RULE_KINDS:
        raise InvalidInput({"kind": "invalid_choice"})
    checked = _checked(kind, body)
    last = db.scalar(select(func.max(RuleSet.version)).where(RuleSet.kind == kind)) or 0
    for row in db.scalars(select(RuleSet).where(RuleSet.kind == kind, RuleSet.active.is_(True))):
        row.active = False
    row = RuleSet(
        kind=kind,
        version=last + 1,
        active=True,
        body=checked.model_dump(mode="json"),
        note=(note or None),
        created_by=principal.user_id,
    )
    db.add(row)
    db.flush()
    return row


def _checked(kind: str, body: dict[str, Any]) -> BaseModel:
    from pydantic import ValidationError

    try:
        return rules_mod.parse(kind, body)
    except ValidationError as exc:
        errors = {".".join(str(p) for p in e["loc"]) or kind: e["msg"] for e in exc.errors()}
        raise InvalidInput(errors) from exc


def rules_read(*, db: Session, kind: str, principal: Principal) -> dict[str, Any]:
    """The active rules of ``kind`` as shown and edited (version 0: the defaults)."""
    require(principal)
    row = active_rule_set(db=db, kind=kind)
    if row is None:
        body = rules_mod.DEFAULTS[kind].model_dump(mode="json")
        return {"kind": kind, "version": 0, "body": body, "note": None}
    return {"kind": kind, "version": row.version, "body": row.body, "note": row.note}


# --- runs and models ------------------------------------------------------------------------


def create_run(*, db: Session, job_id: int | None, engine: str, as_of: date) -> ScoreRun:
    """The row of a scoring run, or the one this job already made (a step run again)."""
    if job_id is not None:
        found = db.scalar(select(ScoreRun).where(ScoreRun.job_id == job_id))
        if found is not None:
            return found
    run = ScoreRun(job_id=job_id, engine=engine, as_of=as_of, status="running")
    db.add(run)
    db.flush()
    return run


def period_start(day: date, period: str) -> date:
    """The first day of the day/month/quarter/year ``day`` is in."""
    if period == "day":
        return day
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def tiers_due(*, db: Session, as_of: date, rules: rules_mod.Rules) -> bool:
    """Whether a run as of ``as_of`` re-evaluates tiers: never done, a new period since the
    last evaluation, or the tier rules changed since."""
    stmt = select(ScoreRun).where(
        ScoreRun.tiers_evaluated.is_(True), ScoreRun.status == "succeeded"
    )
    last = db.scalar(stmt.order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc()).limit(1))
    if last is None:
        return True
    if last.figures.get("rules_versions", {}).get("tiers") != rules.versions.get("tiers", 0):
        return True
    period = rules.tiers.period
    return period_start(as_of, period) > period_start(last.as_of, period)


def get_run(*, db: Session, run_id: int, principal: Principal) -> ScoreRun:
    """A scoring run; ``NotFound`` when there is none."""
    require(principal)
    run = db.get(ScoreRun, run_id)
    if run is None:
        raise NotFound("analytics_run")
    return run


def list_runs(*, db: Session, principal: Principal, limit: int = 50) -> list[ScoreRun]:
    """The latest scoring runs, newest first."""
    require(principal)
    return list(db.scalars(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(limit)))


def latest_run(*, db: Session) -> ScoreRun | None:
    """The latest successful scoring run."""
    stmt = select(ScoreRun).where(ScoreRun.status == "succeeded").order_by(ScoreRun.id.desc())
    return db.scalar(stmt.limit(1))


def active_model(*, db: Session) -> ChurnModelVersion | None:
    """The churn model version scoring uses (None: no model trained yet)."""
    stmt = select(ChurnModelVersion).where(ChurnModelVersion.active.is_(True))
    return db.scalar(stmt.order_by(ChurnModelVersion.version.desc()).limit(1))


def list_models(*, db: Session, principal: Principal) -> list[ChurnModelVersion]:
    """Every churn model version, newest first."""
    require(principal)
    return list(db.scalars(select(ChurnModelVersion).order_by(ChurnModelVersion.version.desc())))


def get_model(*, db: Session, model_id: int, principal: Principal) -> ChurnModelVersion:
    """A churn model version; ``NotFound`` when there is none."""
    require(principal)
    model = db.get(ChurnModelVersion, model_id)
    if model is None:
        raise NotFound("churn_model")
    return model


def save_model(*, db: Session, fields: dict[str, Any]) -> ChurnModelVersion:
    """Store a newly trained churn model as the next version and make it the active one."""
    last = db.scalar(select(func.max(ChurnModelVersion.version))) or 0
    db.execute(update(ChurnModelVersion).values(active=False))
    model = ChurnModelVersion(version=last + 1, active=True, **fields)
    db.add(model)
    db.flush()
    return model


# --- writing a run --------------------------------------------------------------------------


def write_batch(*, db: Session, batch: pa.Table) -> int:
    """Upsert a batch of final rows into the scores and append its history rows; the number
    of history rows. Customers deleted since the run read them are left out."""
    batch = _still_there(db, batch)
    scores = batch.select(list(SCORE_COLUMNS))
    history = batch.filter(batch["history"]).select(list(HISTORY_COLUMNS))
    raw = db.connection().connection.driver_connection
    if db.get_bind().dialect.name == "sqlite":
        _sqlite_write(raw, "customer_scores", scores, upsert=True)
        _sqlite_write(raw, "customer_score_history", history, upsert=False)
    else:
        _postgres_write(raw, "customer_scores", scores, upsert=True)
        _postgres_write(raw, "customer_score_history", history, upsert=False)
    return int(history.num_rows)


def _still_there(db: Session, batch: pa.Table) -> pa.Table:
    # One range read per batch instead of a look-up per row (the foreign key would refuse them).
    if batch.num_rows == 0:
        return batch
    ids = batch["customer_id"]
    low, high = pc.min(ids).as_py(), pc.max(ids).as_py()
    found = db.scalars(select(Customer.id).where(Customer.id.between(low, high))).all()
    return batch.filter(pc.is_in(ids, value_set=pa.array(found, pa.int64())))


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _sqlite_write(raw: Any, name: str, table: pa.Table, *, upsert: bool) -> None:
    if table.num_rows == 0:
        return
    columns = table.column_names
    values = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({values})"
    if upsert:
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "customer_id")
        sql += f" ON CONFLICT (customer_id) DO UPDATE SET {sets}"
    raw.executemany(sql, _rows(table))


def _postgres_write(raw: Any, name: str, table: pa.Table, *, upsert: bool) -> None:
    # COPY into a temporary table, then one INSERT ... SELECT: the fastest path PostgreSQL has.
    if table.num_rows == 0:
        return
    columns = ", ".join(table.column_names)
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE _in_{name} (LIKE {name} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY _in_{name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        sql = f"INSERT INTO {name} ({columns}) SELECT {columns} FROM _in_{name}"
        if upsert:
            sets = ", ".join(
                f"{c} = EXCLUDED.{c}" for c in table.column_names if c != "customer_id"
            )
            sql += f" ON CONFLICT (customer_id) DO UPDATE SET {sets}"
        cursor.execute(sql)
        cursor.execute(f"DROP TABLE _in_{name}")


def write_cohorts(*, db: Session, table: pa.Table) -> int:
    """Replace the cohort figures with a run's."""
    from clientops.analytics.pipeline import month_of

    db.execute(delete(CohortFigure))
    rows = [
        {
            "team_id": r["team_id"],
            "cohort_month": month_of(int(r["cohort"])),
            "month_offset": int(r["month_offset"]),
            "customers": int(r["customers"]),
            "revenue": float(r["revenue"] or 0.0),
        }
        for r in table.to_pylist()
    ]
    if rows:
        db.execute(insert(CohortFigure), rows)
    return len(rows)


def write_stage_flows(*, db: Session, as_of: date) -> None:
    """Rebuild the stage flows of ``as_of``'s month from the current scores: each customer's
    stage when the month began (``unscored`` before their first run) against the stage now."""
    month = as_of.replace(day=1)
    db.execute(delete(StageFlow).where(StageFlow.month == month))
    before = func.coalesce(CustomerScore.stage_at_month_start, "unscored")
    stmt = (
        select(Customer.team_id, before, CustomerScore.stage, func.count())
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .group_by(Customer.team_id, before, CustomerScore.stage)
    )
    rows = [
        {"month": month, "team_id": team, "from_stage": a, "to_stage": b, "customers": n}
        for team, a, b, n in db.execute(stmt)
    ]
    if rows:
        db.execute(insert(StageFlow), rows)


def finish_run(
    *, db: Session, run_id: int, figures: dict[str, Any], tiers_evaluated: bool, seconds: float
) -> ScoreRun:
    """Mark a run succeeded with its figures."""
    run = db.get(ScoreRun, run_id)
    if run is None:
        raise NotFound("analytics_run")
    run.status, run.finished_at, run.seconds = "succeeded", utcnow(), seconds
    run.customers = int(figures.get("customers", 0))
    run.orders = int(figures.get("orders", 0))
    run.history_rows = int(figures.get("history_rows", 0))
    run.peak_memory_mb = float(figures.get("peak_memory_mb", 0.0))
    run.tiers_evaluated, run.figures = tiers_evaluated, figures
    db.flush()
    return run


# --- reading scores -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreFilter:
    """What a list of scored customers asks for."""

    tier: str | None = None
    stage: str | None = None
    segment: str | None = None
    risk: str | None = None
    health: str | None = None
    r: int | None = None
    f: int | None = None
    sort: str = "value_at_risk"

    def params(self) -> dict[str, Any]:
        """The filter as query parameters (set values only)."""
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "sort"}


def _visible(stmt: AnySelect, principal: Principal) -> AnySelect:
    """Scores joined to their customers, limited to those the principal may see."""
    stmt = stmt.join(Customer, Customer.id == CustomerScore.customer_id)
    return customers_service.restrict(stmt, principal)


def _band(column: Any, bands: dict[str, tuple[float, float]], band: str) -> Any:
    low, high = bands[band]
    return and_(column >= low, column < high)


def filtered(stmt: AnySelect, flt: ScoreFilter) -> AnySelect:
    """``stmt`` narrowed by the filter's tier, stage, segment, bands and R×F cell."""
    for column, value in (
        (CustomerScore.tier, flt.tier),
        (CustomerScore.stage, flt.stage),
        (CustomerScore.rfm_segment, flt.segment),
        (CustomerScore.r_score, flt.r),
        (CustomerScore.f_score, flt.f),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.risk in RISK_BANDS:
        stmt = stmt.where(_band(CustomerScore.churn_risk, RISK_BANDS, flt.risk))
    if flt.health in HEALTH_BANDS:
        stmt = stmt.where(_band(CustomerScore.health, HEALTH_BANDS, flt.health))
    return stmt


LIST_PARAMS = ("tier", "score_stage", "segment", "risk", "health")
"""The customer list's query parameters for the score filters (``score_stage``: the scored
stage, as ``stage`` is the stage field of the customer record)."""


def list_filter(params: dict[str, str], principal: Principal | None) -> Select[Any] | None:
    """The ids the customer list keeps for its score filters (None: no score filter, or a
    reader without analytics:read, who may not filter by scores)."""
    if principal is None or not principal.can(READ):
        return None
    flt = ScoreFilter(
        tier=params.get("tier") if params.get("tier") in TIERS else None,
        stage=params.get("score_stage") if params.get("score_stage") in STAGES else None,
        segment=(params.get("segment") or "")[:40] or None,
        risk=params.get("risk") if params.get("risk") in RISK_BANDS else None,
        health=params.get("health") if params.get("health") in HEALTH_BANDS else None,
    )
    return matching_ids(flt) if flt.params() else None


def matching_ids(flt: ScoreFilter) -> Select[Any]:
    """The ids of scored customers matching ``flt`` (for the customer list's filters)."""
    return filtered(select(CustomerScore.customer_id), flt)


def list_scores(
    *,
    db: Session,
    principal: Principal,
    flt: ScoreFilter,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[tuple[CustomerScore, Customer]], str | None]:
    """One page of visible scored customers, highest ``flt.sort`` first, and the next cursor."""
    require(principal)
    column = SORTS.get(flt.sort, CustomerScore.value_at_risk)
    key = func.coalesce(column, -1.0)
    stmt = filtered(_visible(select(CustomerScore, Customer), principal), flt)
    if cursor:
        value, last_id = decode_cursor(cursor)
        if not isinstance(value, int | float) or type(last_id) is not int:
            raise InvalidInput({"cursor": "invalid"})
        stmt = stmt.where(tuple_(key, CustomerScore.customer_id) < (value, last_id))
    stmt = stmt.order_by(key.desc(), CustomerScore.customer_id.desc()).limit(limit + 1)
    rows = [(score, customer) for score, customer in db.execute(stmt)]
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1][0]
    last_value = getattr(last, column.key)
    return rows[:limit], encode_cursor(
        [last_value if last_value is not None else -1.0, last.customer_id]
    )


def score_dict(score: CustomerScore) -> dict[str, Any]:
    """A score row as plain data (the API's ``ScoreRead``)."""
    return {c.key: getattr(score, c.key) for c in CustomerScore.__table__.columns}


def score_of(*, db: Session, customer_id: int, principal: Principal) -> CustomerScore | None:
    """A visible customer's current scores (None: not scored yet); ``NotFound`` when the
    customer is not one the principal may see."""
    require(principal)
    customers_service.get(db=db, customer_id=customer_id, principal=principal)
    return db.get(CustomerScore, customer_id)


def churn_risk(*, db: Session, customer_id: int) -> float | None:
    """The customer's latest churn risk, for another domain's rule on a record it has already
    checked access to (a project's health); None when not scored."""
    score = db.get(CustomerScore, customer_id)
    return None if score is None or score.churn_risk is None else float(score.churn_risk)


def panel(*, db: Session, customer_id: int, principal: Principal) -> dict[str, Any] | None:
    """What the customer 360 page shows of a customer's scores (None: no analytics:read)."""
    if not principal.can(READ):
        return None
    return {"s": db.get(CustomerScore, customer_id), "driver_text": driver_text}


def driver_text(driver: Any) -> str:
    """A churn driver in the reader's words (the churn module renders its sentences)."""
    if isinstance(driver, dict) and "text_key" in driver:
        from clientops.analytics import churn_features
        from clientops.core.i18n import get_locale

        return churn_features.render(driver["text_key"], driver.get("params") or {}, get_locale())
    if isinstance(driver, dict):
        return str(driver.get("text") or driver.get("driver") or driver)
    return str(driver)


def history_of(
    *, db: Session, customer_id: int, principal: Principal, limit: int = 100
) -> list[ScoreHistory]:
    """A visible customer's history rows, newest first."""
    require(principal)
    customers_service.get(db=db, customer_id=customer_id, principal=principal)
    stmt = select(ScoreHistory).where(ScoreHistory.customer_id == customer_id)
    return list(
        db.scalars(stmt.order_by(ScoreHistory.as_of.desc(), ScoreHistory.id.desc()).limit(limit))
    )


def _grouped(db: Session, principal: Principal, *columns: Any) -> list[Any]:
    stmt = select(*columns, func.count(), func.coalesce(func.sum(CustomerScore.revenue_12m), 0.0))
    stmt = _visible(stmt, principal).group_by(*columns)
    return list(db.execute(stmt))


def rf_grid(*, db: Session, principal: Principal) -> dict[tuple[int, int], tuple[int, float]]:
    """Customers and 12-month revenue per (R, F) cell over the visible buyers."""
    require(principal)
    rows = _grouped(db, principal, CustomerScore.r_score, CustomerScore.f_score)
    return {(r, f): (int(n), float(v)) for r, f, n, v in rows if r is not None}


def counts_by(*, db: Session, principal: Principal, column: str) -> dict[str, tuple[int, float]]:
    """Customers and 12-month revenue per tier, stage or segment (``column``)."""
    require(principal)
    attr = {
        "tier": CustomerScore.tier,
        "stage": CustomerScore.stage,
        "segment": CustomerScore.rfm_segment,
    }[column]
    return {
        key: (int(n), float(v)) for key, n, v in _grouped(db, principal, attr) if key is not None
    }


def tier_shares(*, db: Session, principal: Principal) -> list[dict[str, Any]]:
    """Per tier: customers, share of tiered customers, revenue (12 months) and its share."""
    found = counts_by(db=db, principal=principal, column="tier")
    customers = sum(n for n, _v in found.values())
    revenue = sum(v for _n, v in found.values())
    return [
        {
            "tier": tier,
            "customers": found.get(tier, (0, 0.0))[0],
            "revenue": found.get(tier, (0, 0.0))[1],
            "customer_share": found.get(tier, (0, 0.0))[0] / customers if customers else 0.0,
            "revenue_share": found.get(tier, (0, 0.0))[1] / revenue if revenue else 0.0,
        }
        for tier in TIERS
    ]


def tier_drops(
    *, db: Session, principal: Principal, days: int = 120, limit: int = 200
) -> list[tuple[ScoreHistory, Customer]]:
    """Customers whose tier went down in the last ``days`` days, most valuable first."""
    require(principal)
    rank = case(TIER_RANK, value=ScoreHistory.tier, else_=9)
    before = case(TIER_RANK, value=ScoreHistory.previous_tier, else_=9)
    latest = select(func.max(ScoreRun.as_of)).scalar_subquery()
    stmt = (
        select(ScoreHistory, Customer)
        .join(Customer, Customer.id == ScoreHistory.customer_id)
        .where(
            ScoreHistory.changed.contains("tier"),
            ScoreHistory.previous_tier.is_not(None),
            rank > before,
            ScoreHistory.as_of >= latest - timedelta(days=days),
        )
    )
    stmt = customers_service.restrict(stmt, principal)
    stmt = stmt.order_by(ScoreHistory.as_of.desc(), ScoreHistory.revenue_12m.desc())
    return [(h, c) for h, c in db.execute(stmt.limit(limit))]


def _teams(stmt: AnySelect, column: Any, principal: Principal) -> AnySelect:
    if principal.sees_all:
        return stmt
    return stmt.where(column.in_(principal.team_ids))


def cohort_matrix(*, db: Session, principal: Principal) -> list[dict[str, Any]]:
    """Per first-purchase month: buyers and revenue per month since, summed over the teams
    the principal sees."""
    require(principal)
    stmt = select(
        CohortFigure.cohort_month,
        CohortFigure.month_offset,
        func.sum(CohortFigure.customers),
        func.sum(CohortFigure.revenue),
    )
    stmt = _teams(stmt, CohortFigure.team_id, principal)
    stmt = stmt.group_by(CohortFigure.cohort_month, CohortFigure.month_offset)
    cohorts: dict[date, dict[int, tuple[int, float]]] = {}
    for month, offset, n, revenue in db.execute(stmt):
        cohorts.setdefault(month, {})[int(offset)] = (int(n), float(revenue))
    return [_cohort_row(month, cells) for month, cells in sorted(cohorts.items())]


def _cohort_row(month: date, cells: dict[int, tuple[int, float]]) -> dict[str, Any]:
    size, first_revenue = cells.get(0, (0, 0.0))
    width = max(cells) + 1
    return {
        "month": month,
        "customers": size,
        "retention": [cells[i][0] / size if size and i in cells else None for i in range(width)],
        "revenue": [
            cells[i][1] / first_revenue if first_revenue and i in cells else None
            for i in range(width)
        ],
    }


def stage_flows(*, db: Session, principal: Principal, months: int = 12) -> list[dict[str, Any]]:
    """Per month (newest first): customers from each stage at its start to each stage now."""
    require(principal)
    stmt = select(
        StageFlow.month, StageFlow.from_stage, StageFlow.to_stage, func.sum(StageFlow.customers)
    )
    stmt = _teams(stmt, StageFlow.team_id, principal)
    stmt = stmt.group_by(StageFlow.month, StageFlow.from_stage, StageFlow.to_stage)
    found: dict[date, dict[tuple[str, str], int]] = {}
    for month, before, after, n in db.execute(stmt):
        found.setdefault(month, {})[(before, after)] = int(n)
    newest = sorted(found, reverse=True)[:months]
    return [{"month": m, "cells": found[m]} for m in newest]


def value_histogram(
    *, db: Session, principal: Principal, column: str = "clv", bins: int = 20
) -> list[dict[str, Any]]:
    """Visible customers per bin of CLV (or P(alive)), from zero to the 99th percentile."""
    require(principal)
    attr = {"clv": CustomerScore.clv, "p_alive": CustomerScore.p_alive}[column]
    stmt = _visible(select(attr), principal).where(attr.is_not(None))
    values = [float(v) for (v,) in db.execute(stmt) if v is not None]
    if not values:
        return []
    values.sort()
    top = max(values[min(len(values) - 1, int(len(values) * 0.99))], 1e-9)
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, int(value / top * bins)))] += 1
    return [
        {"low": top * i / bins, "high": top * (i + 1) / bins, "customers": n}
        for i, n in enumerate(counts)
    ]


def overview(*, db: Session, principal: Principal) -> dict[str, Any]:
    """Headline figures over the visible scored customers."""
    require(principal)
    stmt = select(
        func.count(),
        func.sum(CustomerScore.revenue_12m),
        func.sum(CustomerScore.clv),
        func.avg(CustomerScore.health),
        func.sum(CustomerScore.value_at_risk),
        func.avg(CustomerScore.churn_risk),
    )
    n, revenue, clv, health, at_risk, risk = db.execute(_visible(stmt, principal)).one()
    return {
        "customers": int(n or 0),
        "revenue_12m": float(revenue or 0),
        "clv": clv,
        "health": health,
        "value_at_risk": at_risk,
        "churn_risk": risk,
        "stages": counts_by(db=db, principal=principal, column="stage"),
        "segments": counts_by(db=db, principal=principal, column="segment"),
        "tiers": tier_shares(db=db, principal=principal),
    }


def stage_choices() -> tuple[str, ...]:
    """The lifecycle stages, in order."""
    return STAGES


def has_scores(*, db: Session) -> bool:
    """Whether any customer has been scored."""
    return db.scalar(select(CustomerScore.customer_id).limit(1)) is not None
