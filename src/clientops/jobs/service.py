"""The job table users see: create a job, move it through its states, record progress and log.

Services flush; the caller commits. A workflow step opens one transaction, does its batch of
work and records the progress of that batch in it, so progress never runs ahead of the work.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from clientops.db import utcnow
from clientops.exceptions import InvalidInput, NotFound
from clientops.jobs.models import JOB_STATUSES, Job, JobLog

FINISHED = ("succeeded", "failed", "cancelled")
LOG_LEVELS = ("debug", "info", "warning", "error")


def create_job(
    *,
    db: Session,
    kind: str,
    params: dict[str, Any] | None = None,
    total: int = 0,
    created_by: int | None = None,
) -> Job:
    """A new queued job with a fresh workflow id (the id of its DBOS workflow too)."""
    job = Job(
        workflow_id=str(uuid.uuid4()),
        kind=kind,
        status="queued",
        params=dict(params or {}),
        total=total,
        done=0,
        created_by=created_by,
    )
    db.add(job)
    db.flush()
    return job


def get_job(*, db: Session, job_id: int) -> Job:
    """The job with this id; ``NotFound`` when there is none."""
    job = db.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id}")
    return job


def get_by_workflow(*, db: Session, workflow_id: str) -> Job:
    """The job run by this DBOS workflow; ``NotFound`` when there is none."""
    job = db.scalar(select(Job).where(Job.workflow_id == workflow_id))
    if job is None:
        raise NotFound(f"workflow {workflow_id}")
    return job


def list_jobs(*, db: Session, limit: int = 50, status: str | None = None) -> list[Job]:
    """The most recent jobs first, optionally only those in one status."""
    if status is not None and status not in JOB_STATUSES:
        raise InvalidInput({"status": "invalid_choice"})
    stmt = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return list(db.scalars(stmt))


def mark_running(*, db: Session, job_id: int, total: int | None = None) -> Job:
    """The job has started (again, after a recovery: the first start time is kept)."""
    job = get_job(db=db, job_id=job_id)
    if job.status not in FINISHED:
        job.status = "running"
    if job.started_at is None:
        job.started_at = utcnow()
    if total is not None:
        job.total = total
    db.flush()
    return job


def set_total(*, db: Session, job_id: int, total: int) -> Job:
    """How many units of work the job has in all, once it knows."""
    job = get_job(db=db, job_id=job_id)
    job.total = total
    db.flush()
    return job


def add_progress(
    *,
    db: Session,
    job_id: int,
    done_delta: int | None = None,
    done: int | None = None,
    message: str | None = None,
    expect_done: int | None = None,
) -> bool:
    """Advance the job's progress (by ``done_delta``, or to ``done``) and log ``message``.

    With ``expect_done`` the change applies only if the job's progress is still that value,
    and the answer says whether it did: a step re-run after a crash that came between the
    commit of its batch and DBOS's checkpoint finds its batch already counted, and so knows
    to skip it. On PostgreSQL the conditional update waits for a concurrent writer and checks
    again; on SQLite writers are serialised.
    """
    if (done_delta is None) == (done is None):
        raise ValueError("give exactly one of done_delta and done")
    new_done = Job.done + done_delta if done_delta is not None else done
    stmt = update(Job).where(Job.id == job_id).values(done=new_done)
    if expect_done is not None:
        stmt = stmt.where(Job.done == expect_done)
    applied = cast(CursorResult[Any], db.execute(stmt)).rowcount == 1
    if not applied and expect_done is None:
        raise NotFound(f"job {job_id}")
    if applied and message:
        log(db=db, job_id=job_id, message=message)
    return applied


def log(*, db: Session, job_id: int, message: str, level: str = "info") -> JobLog:
    """Add a line to the job's log."""
    if level not in LOG_LEVELS:
        raise InvalidInput({"level": "invalid_choice"})
    line = JobLog(job_id=job_id, message=message, level=level, at=utcnow())
    db.add(line)
    db.flush()
    return line


def finish(*, db: Session, job_id: int, status: str, error: str | None = None) -> Job:
    """The job has ended: ``succeeded``, ``failed`` or ``cancelled``, with the error if any."""
    if status not in FINISHED:
        raise InvalidInput({"status": "invalid_choice"})
    job = get_job(db=db, job_id=job_id)
    job.status = status
    job.error = error
    job.finished_at = utcnow()
    if job.started_at is None:
        job.started_at = job.finished_at
    if error:
        log(db=db, job_id=job_id, message=error, level="error")
    db.flush()
    return job


def logs(*, db: Session, job_id: int, limit: int = 1000) -> list[JobLog]:
    """The job's log lines, oldest first."""
    stmt = select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.id).limit(limit)
    return list(db.scalars(stmt))


def percent(job: Job) -> float:
    """How far the job has come, 0-100 (a finished successful job is 100)."""
    if job.status == "succeeded":
        return 100.0
    if job.total <= 0:
        return 0.0
    return min(100.0, 100.0 * job.done / job.total)
