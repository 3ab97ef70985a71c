"""Data quality workflows: the snapshot job (on demand and nightly) and the live view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS, SetWorkflowID
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.core import jobs as core_jobs
from clientops.core.access import Principal
from clientops.db import transaction
from clientops.exceptions import NotFound
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job
from clientops.quality import service
from clientops.quality.models import QualitySnapshot

KIND = "quality-snapshot"
NIGHTLY_SCHEDULE = "clientops.quality.nightly"
NIGHTLY_CRON = "30 2 * * *"
"""Every night at 02:30 UTC."""


@jobs_flows.job_workflow(KIND)
def quality_snapshot(job_id: int, params: dict[str, Any]) -> None:
    """Compute a scope's quality figures and store them as the day's snapshot."""
    _snapshot_step(job_id, params)


@DBOS.step(name="clientops.quality_snapshot.compute", retries_allowed=True, max_attempts=3)
def _snapshot_step(job_id: int, params: dict[str, Any]) -> None:
    # One transaction: the snapshot and the job's progress, or neither. A re-run after a crash
    # that lost the checkpoint finds the progress done and stops; the snapshot is an upsert.
    core_jobs.step_pause()
    scope = service.Scope.from_params(params.get("scope") or {})
    fresh_days = int(params.get("fresh_days") or service.DEFAULT_FRESH_DAYS)
    with transaction() as db:
        if jobs_service.get_job(db=db, job_id=job_id).done:
            return
        jobs_service.set_total(db=db, job_id=job_id, total=1)
        snapshot = service.refresh(db=db, scope=scope, fresh_days=fresh_days)
        message = (
            f"{snapshot.customers} customers of scope {scope.key}: score {snapshot.score} "
            f"in {snapshot.seconds:.2f} s"
        )
        jobs_service.add_progress(
            db=db, job_id=job_id, done_delta=1, expect_done=0, message=message
        )


def recompute(
    *, db: Session, principal: Principal, fresh_days: int, live_limit: int = service.LIVE_LIMIT
) -> tuple[QualitySnapshot | None, Job | None]:
    """Recompute the principal's figures: at once for a scope of at most ``live_limit``
    customers, else as a job."""
    service.require(principal)
    scope = service.Scope.of(principal)
    snapshot: QualitySnapshot | None = None
    job: Job | None = None
    if service.is_small(db=db, scope=scope, limit=live_limit):
        snapshot = service.refresh(db=db, scope=scope, fresh_days=fresh_days)
    else:
        # Submitted before anything is written here: the job row has its own transaction,
        # which must not wait on this one (SQLite has a single writer).
        job = jobs_flows.submit(
            KIND,
            params={"scope": scope.params(), "fresh_days": fresh_days},
            created_by=principal.user_id,
        )
    audit_service.record(
        db,
        action="quality_recompute",
        entity="quality",
        entity_id=None,
        details={"scope": scope.key, "fresh_days": fresh_days, "job_id": job.id if job else None},
    )
    return snapshot, job


# --- nightly -------------------------------------------------------------------------------


@DBOS.workflow(name="clientops.quality.nightly")
def nightly_snapshots(scheduled_at: datetime, context: Any) -> None:
    """Queue a snapshot job for the whole database and for every scope looked at lately."""
    for number, params in enumerate(_nightly_scopes()):
        job_id, workflow_id = _nightly_job(number, params)
        with SetWorkflowID(workflow_id):
            DBOS.enqueue_workflow(core_jobs.QUEUE, quality_snapshot, job_id, params)


@DBOS.step(name="clientops.quality.nightly.scopes")
def _nightly_scopes() -> list[dict[str, Any]]:
    with transaction() as db:
        scopes = service.scopes_in_use(db=db)
    return [{"scope": s.params(), "fresh_days": service.DEFAULT_FRESH_DAYS} for s in scopes]


@DBOS.step(name="clientops.quality.nightly.job")
def _nightly_job(number: int, params: dict[str, Any]) -> tuple[int, str]:
    # The job's workflow id is derived from the nightly run's, so a step re-run after a crash
    # finds the job it made instead of making a second one.
    workflow_id = f"{DBOS.workflow_id}-{number}"
    with transaction() as db:
        try:
            job = jobs_service.get_by_workflow(db=db, workflow_id=workflow_id)
        except NotFound:
            job = jobs_service.create_job(db=db, kind=KIND, params=params)
            job.workflow_id = workflow_id
            db.flush()
        return job.id, workflow_id


def schedule_nightly() -> None:
    """Register the nightly snapshot schedule with DBOS (after launch; idempotent)."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": NIGHTLY_SCHEDULE,
                "workflow_fn": nightly_snapshots,
                "schedule": NIGHTLY_CRON,
            }
        ]
    )
