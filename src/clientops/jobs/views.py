"""The job table page: status, progress and log of every durable job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.types import RecordId
from clientops.core.web import render
from clientops.jobs import service
from clientops.jobs.models import JOB_STATUSES

router = APIRouter(prefix="/jobs")
JobReader = Annotated[Principal, Depends(access("jobs:read"))]


@router.get("")
def jobs_page(request: Request, db: SessionDep, principal: JobReader) -> Response:
    """Recent jobs with their progress; the table refreshes itself while jobs run."""
    status = request.query_params.get("status")
    jobs = service.list_jobs(db=db, limit=100, status=status if status in JOB_STATUSES else None)
    return render(
        request,
        "jobs/list.html",
        {"jobs": jobs, "statuses": JOB_STATUSES},
        fragment="jobs/_table.html",
    )


@router.get("/{job_id}")
def job_page(request: Request, db: SessionDep, principal: JobReader, job_id: RecordId) -> Response:
    """One job with its log."""
    return render(
        request,
        "jobs/detail.html",
        {"job": service.get_job(db=db, job_id=job_id)},
        fragment="jobs/_detail.html",
    )
