"""Durable jobs: each kind of job is a DBOS workflow whose steps are batches, seen as a Job row.

Adding a kind of job (an import, a scoring run) takes three things:

1. a function ``body(job_id, params)`` that calls DBOS steps, each step one batch that opens
   one transaction, does the batch and records its progress in it (``add_progress`` with
   ``expect_done``, so a step re-run after a crash skips a batch already applied);
2. ``@job_workflow("kind")`` on it, which makes it the workflow and keeps the Job row's status
   (running, then succeeded or failed) in step with it;
3. an import of its module in ``_load_workflow_modules`` below, so it is registered before
   DBOS launches and recovers unfinished work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from dbos import DBOS, SetWorkflowID
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from clientops import registry  # noqa: F401 - every table mapped before the first query
from clientops.config import Settings, current
from clientops.core import jobs as core_jobs
from clientops.core import normalise
from clientops.customers.models import Customer
from clientops.db import transaction
from clientops.exceptions import InvalidInput
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job

JobBody = Callable[[int, dict[str, Any]], None]
REINDEX_BATCH = 10_000
KEY_COLUMNS = ("name_key", "alt_key", "phone_key", "email_key")

_KINDS: dict[str, JobBody] = {}


# --- the registry and the runtime -------------------------------------------------------


def workflow_name(kind: str) -> str:
    """The name DBOS records for the workflow of a kind of job (keep it stable)."""
    return f"clientops.job.{kind}"


def job_workflow(kind: str) -> Callable[[JobBody], JobBody]:
    """Make ``body`` the durable workflow of ``kind``, with the Job row kept in step."""

    def decorate(body: JobBody) -> JobBody:
        def run(job_id: int, params: dict[str, Any]) -> None:
            _job_started(job_id)
            try:
                body(job_id, params)
            except Exception as exc:  # cancellation is a BaseException and passes through
                _job_ended(job_id, "failed", f"{type(exc).__name__}: {exc}"[:2000])
                raise
            _job_ended(job_id, "succeeded", None)

        run.__name__ = run.__qualname__ = body.__name__
        run.__doc__ = body.__doc__
        workflow = DBOS.workflow(name=workflow_name(kind))(run)
        _KINDS[kind] = workflow
        return workflow

    return decorate


def kinds() -> list[str]:
    """The kinds of job that can be submitted."""
    return sorted(_KINDS)


def start(settings: Settings | None = None, *, listen: bool = True) -> None:
    """Register every workflow, then launch DBOS, which resumes unfinished jobs."""
    _load_workflow_modules()
    core_jobs.start_dbos(settings=settings or current(), listen=listen)
    if listen:  # a server or worker keeps the nightly schedules; a one-off CLI run does not
        _install_schedules()
        from clientops.imports import flows as imports_flows

        imports_flows.restore_lost_indexes()


def _install_schedules() -> None:
    # DBOS accepts schedules only once it has launched; each call replaces the previous one.
    from clientops.analytics import flows as analytics_flows
    from clientops.events import flows as events_flows
    from clientops.identity import flows as identity_flows
    from clientops.quality import flows as quality_flows

    analytics_flows.install_schedule()
    events_flows.install_schedule()
    identity_flows.install_schedule()
    quality_flows.schedule_nightly()


def stop() -> None:
    """Shut the job runtime down."""
    core_jobs.stop_dbos()


def _load_workflow_modules() -> None:
    # Each domain module defining workflows is imported here, inside the function: those
    # modules import this one for ``job_workflow``, so a top-level import would be circular.
    # The foundation's workflow (reindex-customers) is in this module.
    from clientops.analytics import flows as _analytics_flows
    from clientops.events import flows as _events_flows
    from clientops.identity import flows as _identity_flows
    from clientops.imports import flows as _imports_flows
    from clientops.quality import flows as _quality_flows

    del _analytics_flows, _events_flows, _identity_flows, _imports_flows, _quality_flows


def submit(
    kind: str,
    *,
    params: dict[str, Any] | None = None,
    created_by: int | None = None,
    run_here: bool = False,
) -> Job:
    """Create a queued job and hand its workflow to DBOS under the job's workflow id.

    ``run_here`` starts it in this process (DBOS must be running here, see ``start``);
    otherwise it goes on the jobs queue, for this process or any server or worker to run.
    """
    workflow = _KINDS.get(kind)
    if workflow is None:
        raise InvalidInput({"kind": "unknown_job_kind"})
    with transaction() as db:
        job = jobs_service.create_job(db=db, kind=kind, params=params, created_by=created_by)
    try:
        _dispatch(kind, workflow, job, run_here=run_here)
    except Exception as exc:
        with transaction() as db:
            jobs_service.finish(db=db, job_id=job.id, status="failed", error=f"not started: {exc}")
        raise
    return job


def _dispatch(kind: str, workflow: JobBody, job: Job, *, run_here: bool) -> None:
    args = (job.id, dict(job.params))
    if not core_jobs.is_running():
        if run_here:
            raise RuntimeError("start the job runtime first: clientops.jobs.flows.start()")
        core_jobs.enqueue_elsewhere(
            settings=current(),
            workflow_name=workflow_name(kind),
            workflow_id=job.workflow_id,
            args=args,
        )
        return
    with SetWorkflowID(job.workflow_id):
        if run_here:
            DBOS.start_workflow(workflow, *args)
        else:
            DBOS.enqueue_workflow(core_jobs.QUEUE, workflow, *args)


def wait(
    job_id: int,
    *,
    timeout: float | None = None,
    poll_seconds: float = 0.5,
    on_progress: Callable[[Job], None] | None = None,
) -> Job:
    """Wait until the job has finished (it may run in another process); the final row."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with transaction() as db:
            job = jobs_service.get_job(db=db, job_id=job_id)
        if on_progress is not None:
            on_progress(job)
        if job.status in jobs_service.FINISHED:
            return job
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} is still {job.status}")
        time.sleep(poll_seconds)


def cancel(job_id: int) -> Job:
    """Stop a job at its next step and mark it cancelled (DBOS must be running here)."""
    with transaction() as db:
        job = jobs_service.get_job(db=db, job_id=job_id)
        if job.status in jobs_service.FINISHED:
            return job
        DBOS.cancel_workflow(job.workflow_id)
        return jobs_service.finish(db=db, job_id=job_id, status="cancelled")


@DBOS.step(name="clientops.job.started")
def _job_started(job_id: int) -> None:
    with transaction() as db:
        jobs_service.mark_running(db=db, job_id=job_id)


@DBOS.step(name="clientops.job.ended")
def _job_ended(job_id: int, status: str, error: str | None) -> None:
    with transaction() as db:
        jobs_service.finish(db=db, job_id=job_id, status=status, error=error)


# --- reindex-customers ------------------------------------------------------------------


def search_keys(name: str, phone: str | None, email: str | None) -> dict[str, str | None]:
    """A customer's search keys under today's normalisation rules."""
    return {
        "name_key": normalise.name_key(name),
        "alt_key": normalise.alt_name_key(name),
        "phone_key": _phone_key(phone),
        "email_key": _email_key(email),
    }


def _email_key(email: str | None) -> str | None:
    # Stored addresses are already validated; the key is the cleaned, lower-cased address.
    return (normalise.clean_text(email).lower() or None) if email else None


def _phone_key(phone: str | None) -> str | None:
    if not phone:
        return None
    if not phone.startswith("+"):  # stored numbers are E.164; older rows may not be
        try:
            phone = normalise.parse_phone(phone, current().phone_region)
        except ValueError:
            return "".join(ch for ch in phone if ch.isdigit()) or None
    return normalise.phone_key(phone)


@job_workflow("reindex-customers")
def reindex_customers(job_id: int, params: dict[str, Any]) -> None:
    """Rebuild every customer's search keys (after a change of the normalisation rules)."""
    plan = _reindex_plan(job_id, int(params.get("batch_size") or REINDEX_BATCH))
    ranges: list[list[int]] = plan["ranges"]
    done = 0
    for number, (first, last) in enumerate(ranges, start=1):
        done = _reindex_batch(job_id, number, len(ranges), first, last, done)


@DBOS.step(name="clientops.reindex_customers.plan")
def _reindex_plan(job_id: int, batch_size: int) -> dict[str, Any]:
    # The batches are fixed once, here, so a resumed run works on the batches planned.
    with transaction() as db:
        ranges, total = _id_ranges(db, batch_size)
        jobs_service.add_progress(db=db, job_id=job_id, done=0)
        jobs_service.set_total(db=db, job_id=job_id, total=total)
        message = f"{total} customers in {len(ranges)} batches of up to {batch_size}"
        jobs_service.log(db=db, job_id=job_id, message=message)
    return {"total": total, "ranges": ranges}


def _id_ranges(db: Session, size: int) -> tuple[list[list[int]], int]:
    """Id ranges ``[first, last]`` holding ``size`` customers each (the last one fewer)."""
    numbered = select(Customer.id, func.row_number().over(order_by=Customer.id).label("n"))
    sub = numbered.subquery()
    starts = list(db.scalars(select(sub.c.id).where((sub.c.n - 1) % size == 0).order_by(sub.c.id)))
    total, last_id = db.execute(select(func.count(), func.max(Customer.id))).one()
    ranges = [[first, following - 1] for first, following in pairwise(starts)]
    if starts:
        ranges.append([starts[-1], int(last_id)])
    return ranges, int(total)


@DBOS.step(name="clientops.reindex_customers.batch", retries_allowed=True, max_attempts=5)
def _reindex_batch(job_id: int, number: int, count: int, first: int, last: int, done: int) -> int:
    # One transaction: the batch's keys, the job's progress and its log line, or none of them.
    # ``done`` is the progress before this batch; finding another value means this batch was
    # committed by an attempt whose checkpoint a crash lost, so it is not applied twice.
    core_jobs.step_pause()
    with transaction() as db:
        checked, changed = _outdated_keys(db, first, last)
        message = (
            f"batch {number}/{count}: customers {first}-{last}, "
            f"{checked} checked, {len(changed)} updated"
        )
        if checked and not jobs_service.add_progress(
            db=db, job_id=job_id, done_delta=checked, expect_done=done, message=message
        ):
            return jobs_service.get_job(db=db, job_id=job_id).done
        if changed:
            db.connection().execute(_UPDATE_KEYS, changed)
        return done + checked


def _outdated_keys(db: Session, first: int, last: int) -> tuple[int, list[dict[str, Any]]]:
    """How many customers ``[first, last]`` holds, and new keys for those whose keys differ."""
    key_columns = [getattr(Customer, name) for name in KEY_COLUMNS]
    rows = db.execute(
        select(Customer.id, Customer.name, Customer.phone, Customer.email, *key_columns).where(
            Customer.id.between(first, last)
        )
    ).all()
    changed = []
    for row in rows:
        keys = search_keys(row.name, row.phone, row.email)
        if any(keys[name] != getattr(row, name) for name in KEY_COLUMNS):
            changed.append({"_id": row.id, **{f"new_{name}": keys[name] for name in KEY_COLUMNS}})
    return len(rows), changed


_UPDATE_KEYS = (
    update(Customer)
    .where(Customer.id == bindparam("_id"))
    # Keys are derived data: keeping updated_at stops onupdate from marking every row changed.
    .values(
        name_key=bindparam("new_name_key"),
        alt_key=bindparam("new_alt_key"),
        phone_key=bindparam("new_phone_key"),
        email_key=bindparam("new_email_key"),
        updated_at=Customer.updated_at,
    )
)
