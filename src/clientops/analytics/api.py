"""Analytics JSON API: /api/v1/analytics — scores, segments, tiers, stages, cohorts, runs,
churn models and rules. Everything is read from the score tables, never recomputed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from clientops.analytics import flows, service
from clientops.analytics.models import RULE_KINDS, STAGES, TIERS
from clientops.analytics.schemas import (
    CohortRead,
    CustomerScoresRead,
    GroupRead,
    ModelRead,
    RulesRead,
    RulesUpdate,
    RunCreate,
    RunRead,
    RunStarted,
    ScorePage,
    TierRead,
)
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.types import ERROR_RESPONSES, Cursor, Limit, RecordId

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(access("analytics:read"))]
Manager = Annotated[Principal, Depends(access("analytics:manage"))]
Kind = Annotated[str, Path(pattern="^(" + "|".join(RULE_KINDS) + ")$")]
Sort = Annotated[str, Query(pattern="^(value_at_risk|clv|health|revenue)$")]


def _flt(
    tier: Annotated[str | None, Query(pattern="^(" + "|".join(TIERS) + ")$")] = None,
    stage: Annotated[str | None, Query(pattern="^(" + "|".join(STAGES) + ")$")] = None,
    segment: Annotated[str | None, Query(max_length=40)] = None,
    risk: Annotated[str | None, Query(pattern="^(high|medium|low)$")] = None,
    health: Annotated[str | None, Query(pattern="^(good|fair|poor)$")] = None,
    r: Annotated[int | None, Query(ge=1, le=5)] = None,
    f: Annotated[int | None, Query(ge=1, le=5)] = None,
    sort: Sort = "value_at_risk",
) -> service.ScoreFilter:
    return service.ScoreFilter(tier, stage, segment, risk, health, r, f, sort)


@router.get("/scores", response_model=ScorePage)
def list_scores(
    db: SessionDep,
    principal: Reader,
    flt: Annotated[service.ScoreFilter, Depends(_flt)],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Any:
    """Scored customers the caller may see, filtered, highest value at risk (or ``sort``)
    first, in cursor pages."""
    rows, next_cursor = service.list_scores(
        db=db, principal=principal, flt=flt, cursor=cursor, limit=limit
    )
    items = [{**service.score_dict(score), "name": c.name} for score, c in rows]
    return {"items": items, "next_cursor": next_cursor}


@router.get("/customers/{customer_id}", response_model=CustomerScoresRead)
def customer_scores(db: SessionDep, principal: Reader, customer_id: RecordId) -> Any:
    """A customer's current scores (null before the first run) and their history."""
    score = service.score_of(db=db, customer_id=customer_id, principal=principal)
    history = service.history_of(db=db, customer_id=customer_id, principal=principal)
    return {"customer_id": customer_id, "scores": score, "history": history}


@router.get("/segments", response_model=list[GroupRead])
def segments(db: SessionDep, principal: Reader) -> Any:
    """Customers and 12-month revenue per RFM segment."""
    found = service.counts_by(db=db, principal=principal, column="segment")
    return [{"key": k, "customers": n, "revenue_12m": v} for k, (n, v) in sorted(found.items())]


@router.get("/stages", response_model=list[GroupRead])
def stages(db: SessionDep, principal: Reader) -> Any:
    """Customers and 12-month revenue per lifecycle stage."""
    found = service.counts_by(db=db, principal=principal, column="stage")
    return [
        {"key": s, "customers": found.get(s, (0, 0.0))[0], "revenue_12m": found.get(s, (0, 0.0))[1]}
        for s in STAGES
    ]


@router.get("/tiers", response_model=list[TierRead])
def tiers(db: SessionDep, principal: Reader) -> Any:
    """Each tier's share of customers against its share of revenue."""
    return service.tier_shares(db=db, principal=principal)


@router.get("/cohorts", response_model=list[CohortRead])
def cohorts(db: SessionDep, principal: Reader) -> Any:
    """Retention of customers and of revenue by first-purchase month."""
    return service.cohort_matrix(db=db, principal=principal)


@router.get("/runs", response_model=list[RunRead])
def runs(db: SessionDep, principal: Reader) -> Any:
    """The latest scoring runs."""
    return service.list_runs(db=db, principal=principal)


@router.post("/runs", response_model=RunStarted, status_code=202)
def start_run(db: SessionDep, principal: Manager, body: RunCreate) -> Any:
    """Queue a scoring run (a job; follow it under /api/v1/jobs)."""
    job = flows.submit_run(
        db=db,
        principal=principal,
        engine=body.engine,
        as_of=body.as_of.isoformat() if body.as_of else None,
        train_churn=body.train_churn,
    )
    return {"job_id": job.id}


@router.get("/runs/{run_id}", response_model=RunRead)
def run(db: SessionDep, principal: Reader, run_id: RecordId) -> Any:
    """One scoring run with its figures (timings, CLV fit, calibration report)."""
    return service.get_run(db=db, run_id=run_id, principal=principal)


@router.get("/models", response_model=list[ModelRead])
def models(db: SessionDep, principal: Reader) -> Any:
    """Every churn model version with its report."""
    return service.list_models(db=db, principal=principal)


@router.get("/models/{model_id}", response_model=ModelRead)
def model(db: SessionDep, principal: Reader, model_id: RecordId) -> Any:
    """One churn model version with its report."""
    return service.get_model(db=db, model_id=model_id, principal=principal)


@router.get("/rules/{kind}", response_model=RulesRead)
def rules(db: SessionDep, principal: Reader, kind: Kind) -> Any:
    """The active rules of one kind (version 0: the defaults)."""
    return service.rules_read(db=db, kind=kind, principal=principal)


@router.put("/rules/{kind}", response_model=RulesRead)
def save_rules(
    response: Response, db: SessionDep, principal: Manager, kind: Kind, body: RulesUpdate
) -> Any:
    """Save a new version of one kind of rules; it applies from the next scoring run."""
    service.save_rules(db=db, kind=kind, body=body.body, principal=principal, note=body.note)
    return service.rules_read(db=db, kind=kind, principal=principal)
