"""Events durable workflows: ``link-events`` links the events stored before their person was
known (run it after an import that added external ids; ingestion links the rest by itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS, SetWorkflowID

from clientops.core import jobs as core_jobs
from clientops.db import transaction
from clientops.events import service
from clientops.exceptions import NotFound
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service

LINK = "link-events"
LINK_BATCH = 10_000


@jobs_flows.job_workflow(LINK)
def link_events(job_id: int, params: dict[str, Any]) -> None:
    """Link unlinked events to the customers their ids now point to, a batch per step."""
    ranges = _link_plan(job_id, int(params.get("batch_size") or LINK_BATCH))
    done = 0
    for number, (first, last) in enumerate(ranges, start=1):
        done = _link_batch(job_id, number, len(ranges), first, last, done)


@DBOS.step(name="clientops.link_events.plan")
def _link_plan(job_id: int, batch_size: int) -> list[list[int]]:
    # Planned once: a resumed run works through the ranges planned, not new ones.
    with transaction() as db:
        ranges, total = service.pending_ranges(db=db, size=batch_size)
        jobs_service.add_progress(db=db, job_id=job_id, done=0)
        jobs_service.set_total(db=db, job_id=job_id, total=total)
        message = f"{total} unlinked events in {len(ranges)} batches of up to {batch_size}"
        jobs_service.log(db=db, job_id=job_id, message=message)
    return ranges


@DBOS.step(name="clientops.link_events.batch", retries_allowed=True, max_attempts=5)
def _link_batch(job_id: int, number: int, count: int, first: int, last: int, done: int) -> int:
    # The links and the progress commit together; a re-run finding the progress moved on
    # knows its batch was applied (linking twice would change nothing anyway).
    core_jobs.step_pause()
    with transaction() as db:
        checked, linked = service.link_pending(db=db, first_id=first, last_id=last)
        message = (
            f"batch {number}/{count}: events {first}-{last}, {checked} checked, {linked} linked"
        )
        if not jobs_service.add_progress(
            db=db, job_id=job_id, done_delta=checked, expect_done=done, message=message
        ):
            db.rollback()
            return jobs_service.get_job(db=db, job_id=job_id).done
        return done + checked


# --- the nightly schedule -----------------------------------------------------------------

NIGHTLY_SCHEDULE = "clientops-events-nightly"
NIGHTLY_CRON = "30 1 * * *"
"""Every night at 01:30 UTC, before the nightly identity resolution."""


@DBOS.workflow(name="clientops.link_events.nightly")
def nightly_link(scheduled_at: datetime, context: Any) -> None:
    """Fired by the DBOS scheduler: queue a ``link-events`` job."""
    job_id, workflow_id = _nightly_job()
    with SetWorkflowID(workflow_id):
        DBOS.enqueue_workflow(core_jobs.QUEUE, link_events, job_id, {})


@DBOS.step(name="clientops.link_events.nightly.job")
def _nightly_job() -> tuple[int, str]:
    # The job's workflow id derives from the nightly run's: a step re-run after a crash finds
    # the job it made instead of making a second one.
    workflow_id = f"{DBOS.workflow_id}-link"
    with transaction() as db:
        try:
            job = jobs_service.get_by_workflow(db=db, workflow_id=workflow_id)
        except NotFound:
            job = jobs_service.create_job(db=db, kind=LINK, params={})
            job.workflow_id = workflow_id
            db.flush()
        return job.id, workflow_id


def install_schedule() -> None:
    """Register (or refresh) the nightly schedule with DBOS; call after DBOS has launched."""
    DBOS.apply_schedules(
        [{"schedule_name": NIGHTLY_SCHEDULE, "workflow_fn": nightly_link, "schedule": NIGHTLY_CRON}]
    )
