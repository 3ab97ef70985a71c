"""The scoring job ``score-customers``: nightly by default and on demand (``clientops score``,
the analytics pages, the API).

Steps: plan (the run row, the rules, whether tiers are due), optionally train a churn model,
compute (the pipeline on the chosen engine and the models, into a Parquet file of final rows
in the data folder), then one step per batch of rows (scores upserted, history appended and
the job's progress, in one transaction with ``expect_done``, so a step run again after a crash
applies nothing twice), then finish (cohorts, stage flows, the run's figures).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dbos import DBOS, SetWorkflowID
from sqlalchemy.orm import Session

from clientops.analytics import scoring, service
from clientops.analytics.engines import ENGINES
from clientops.analytics.models import ScoreRun
from clientops.analytics.rules import Rules
from clientops.audit import service as audit_service
from clientops.config import current
from clientops.core import jobs as core_jobs
from clientops.core.access import Principal
from clientops.db import get_engine, transaction, utcnow
from clientops.exceptions import InvalidInput, NotFound
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job

KIND = "score-customers"
NIGHTLY_SCHEDULE = "clientops.analytics.nightly"


def score_params(
    *,
    engine: str | None = None,
    as_of: str | date | None = None,
    train_churn: bool = False,
) -> dict[str, Any]:
    """Checked job parameters: a known engine, an ISO ``as_of`` day (default: yesterday's
    close, i.e. today), whether to train a churn model first."""
    chosen = engine or current().analytics_engine
    if chosen not in ENGINES:
        raise InvalidInput({"engine": "invalid_choice"})
    params: dict[str, Any] = {"engine": chosen, "train_churn": bool(train_churn)}
    if as_of:
        try:
            day = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
        except ValueError as exc:
            raise InvalidInput({"as_of": "invalid_date"}) from exc
        params["as_of"] = day.isoformat()
    return params


def submit_run(
    *,
    db: Session,
    principal: Principal,
    engine: str | None = None,
    as_of: str | None = None,
    train_churn: bool = False,
) -> Job:
    """Queue a scoring run on behalf of a manager (audited)."""
    service.require(principal, service.MANAGE)
    params = score_params(engine=engine, as_of=as_of, train_churn=train_churn)
    db.commit()  # the job row has its own transaction; SQLite has a single writer
    job = jobs_flows.submit(KIND, params=params, created_by=principal.user_id)
    audit_service.record(
        db, action="analytics_score", entity="analytics_runs", entity_id=str(job.id), details=params
    )
    return job


# --- the workflow -------------------------------------------------------------------------


@jobs_flows.job_workflow(KIND)
def score_customers(job_id: int, params: dict[str, Any]) -> None:
    """Score every customer and write the scores with their history."""
    run_scoring(job_id, params)


def run_scoring(job_id: int, params: dict[str, Any]) -> dict[str, Any]:
    """The steps of a scoring run (called by the workflow; tests call it directly)."""
    plan = _plan(job_id, params)
    try:
        if plan["train_churn"]:
            _train(job_id, plan)
        computed = _compute(job_id, plan)
        done = 0
        for number in range(computed["batches"]):
            done = _write(job_id, plan, number, computed["batches"], done)
        return _finish(job_id, plan, computed)
    except Exception as exc:
        _failed(plan["run_id"], f"{type(exc).__name__}: {exc}")
        raise


def _out_dir(run_id: int) -> Path:
    return current().data_dir / "analytics" / f"run-{run_id}"


@DBOS.step(name="clientops.score.plan")
def _plan(job_id: int, params: dict[str, Any]) -> dict[str, Any]:
    # The day, the rules and whether tiers are due are fixed once, here.
    checked = score_params(
        engine=params.get("engine"),
        as_of=params.get("as_of"),
        train_churn=params.get("train_churn", False),
    )
    as_of = date.fromisoformat(checked.get("as_of") or utcnow().date().isoformat())
    with transaction() as db:
        rules = service.active_rules(db=db)
        due = service.tiers_due(db=db, as_of=as_of, rules=rules)
        run = service.create_run(db=db, job_id=job_id, engine=checked["engine"], as_of=as_of)
        message = f"scoring as of {as_of} on {checked['engine']}" + (" (tiers due)" if due else "")
        jobs_service.log(db=db, job_id=job_id, message=message)
        return {**checked, "as_of": as_of.isoformat(), "run_id": run.id, "tiers_due": due,
                "rules": rules.model_dump(mode="json")}  # fmt: skip


@DBOS.step(name="clientops.score.train")
def _train(job_id: int, plan: dict[str, Any]) -> None:
    from clientops.analytics import training

    with transaction() as db:
        jobs_service.log(db=db, job_id=job_id, message="training a churn model")
    result = training.train(sa_engine=get_engine(), plan=plan)
    with transaction() as db:
        if result is None:
            jobs_service.log(db=db, job_id=job_id, message="churn training is not available")
            return
        model = service.save_model(db=db, fields=result)
        message = f"churn model version {model.version} trained on {model.rows} customers"
        jobs_service.log(db=db, job_id=job_id, message=message)


@DBOS.step(name="clientops.score.compute")
def _compute(job_id: int, plan: dict[str, Any]) -> dict[str, Any]:
    # Reads and computes outside any transaction; only the small figures are checkpointed.
    settings = current()
    with transaction() as db:
        model = service.active_model(db=db)
        model_text, model_id = (model.model_text, model.id) if model else (None, None)
        last = service.latest_run(db=db)
        previous_clv = last.figures.get("clv") if last is not None else None
    job = scoring.Job(
        run_id=plan["run_id"],
        as_of=date.fromisoformat(plan["as_of"]),
        engine=plan["engine"],
        rules=Rules.model_validate(plan["rules"]),
        tiers_due=plan["tiers_due"],
        out_dir=_out_dir(plan["run_id"]),
        batch_size=settings.analytics_batch_size,
        clv_model=settings.analytics_clv_model,
        clv_horizon_weeks=settings.analytics_clv_horizon_weeks,
        clv_annual_discount=settings.analytics_clv_annual_discount,
        churn_model_text=model_text,
        previous_clv=previous_clv,
        clv_refit_days=settings.analytics_clv_refit_days,
    )
    figures = scoring.run(job, get_engine())
    figures["model_id"] = model_id
    with transaction() as db:
        jobs_service.set_total(db=db, job_id=job_id, total=figures["customers"])
        message = (
            f"computed {figures['customers']} customers from {figures['orders']} orders in "
            f"{figures['compute_seconds']} s; {figures['history_rows']} history rows"
        )
        jobs_service.log(db=db, job_id=job_id, message=message)
    return figures


@DBOS.step(name="clientops.score.write", retries_allowed=True, max_attempts=3)
def _write(job_id: int, plan: dict[str, Any], number: int, count: int, done: int) -> int:
    # One transaction: the batch's scores and history and the job's progress, or none of them.
    core_jobs.step_pause()
    batch = scoring.read_batch(_out_dir(plan["run_id"]), number)
    with transaction() as db:
        message = f"batch {number + 1}/{count}: {batch.num_rows} customers"
        if not jobs_service.add_progress(
            db=db, job_id=job_id, done_delta=batch.num_rows, expect_done=done, message=message
        ):
            return jobs_service.get_job(db=db, job_id=job_id).done
        service.write_batch(db=db, batch=batch)
        return done + int(batch.num_rows)


@DBOS.step(name="clientops.score.finish")
def _finish(job_id: int, plan: dict[str, Any], computed: dict[str, Any]) -> dict[str, Any]:
    out = _out_dir(plan["run_id"])
    as_of = date.fromisoformat(plan["as_of"])
    with transaction() as db:
        run = db.get(ScoreRun, plan["run_id"])
        if run is not None and run.status == "succeeded":
            return dict(run.figures)
        if out.exists():
            service.write_cohorts(db=db, table=scoring.read_cohorts(out))
        service.write_stage_flows(db=db, as_of=as_of)
        started = run.started_at if run is not None else utcnow()
        seconds = round((utcnow() - started).total_seconds(), 2)
        figures = {
            **computed,
            "rules_versions": plan["rules"]["versions"],
            "write_seconds": round(seconds - computed["compute_seconds"], 2),
        }
        service.finish_run(db=db, run_id=plan["run_id"], figures=figures,
                           tiers_evaluated=plan["tiers_due"], seconds=seconds)  # fmt: skip
        jobs_service.log(db=db, job_id=job_id, message=f"scores written in {seconds} s")
    shutil.rmtree(out, ignore_errors=True)
    return figures


@DBOS.step(name="clientops.score.failed")
def _failed(run_id: int, error: str) -> None:
    with transaction() as db:
        run = db.get(ScoreRun, run_id)
        if run is not None and run.status == "running":
            run.status, run.finished_at = "failed", utcnow()
            run.figures = {**run.figures, "error": error[:2000]}


# --- nightly --------------------------------------------------------------------------------


@DBOS.workflow(name="clientops.analytics.nightly")
def nightly_scoring(scheduled_at: datetime, context: Any) -> None:
    """Queue the night's scoring job (tiers are re-evaluated when their period has turned)."""
    job_id, workflow_id = _nightly_job()
    with SetWorkflowID(workflow_id):
        DBOS.enqueue_workflow(core_jobs.QUEUE, score_customers, job_id, score_params())


@DBOS.step(name="clientops.analytics.nightly.job")
def _nightly_job() -> tuple[int, str]:
    # Derived from the nightly run's id: a step run again finds the job it made.
    workflow_id = f"{DBOS.workflow_id}-score"
    with transaction() as db:
        try:
            job = jobs_service.get_by_workflow(db=db, workflow_id=workflow_id)
        except NotFound:
            job = jobs_service.create_job(db=db, kind=KIND, params=score_params())
            job.workflow_id = workflow_id
            db.flush()
        return job.id, workflow_id


def install_schedule() -> None:
    """Register the nightly scoring schedule with DBOS (after launch; idempotent)."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": NIGHTLY_SCHEDULE,
                "workflow_fn": nightly_scoring,
                "schedule": current().analytics_nightly_cron,
            }
        ]
    )
