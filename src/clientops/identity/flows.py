"""The resolve job: find duplicate customers, merge the sure ones, queue the rest for review.

``resolve-customers`` takes ``{"mode": "full"}`` or ``{"mode": "incremental", "since": ISO}``
(without ``since``: since the start of the last successful run). Its steps: plan, find (load
the customers into Arrow in batches and ask the matching engine), then batches of automatic
merges and of pairs queued for review, each one transaction that records its own progress
(``expect_done``), so a step re-run after a crash never applies a batch twice.

A nightly DBOS schedule submits an incremental run: :func:`install_schedule`, called once DBOS
has launched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pyarrow as pa
from dbos import DBOS, SetWorkflowID
from sqlalchemy import select
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.config import current
from clientops.core import jobs as core_jobs
from clientops.core.access import Principal
from clientops.core.context import SYSTEM, bind
from clientops.customers.models import Customer
from clientops.db import transaction, utcnow
from clientops.exceptions import Forbidden, InvalidInput, NotFound
from clientops.identity import service
from clientops.identity.models import ResolveRun
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job

RESOLVE = "resolve-customers"
MODES = ("full", "incremental")
LOAD_BATCH = 50_000
MERGE_BATCH = 200
REVIEW_BATCH = 1_000
FIELDS = ("name", "phone", "email", "address", "postcode", "city", "birth_date", "id_number")
NIGHTLY_SCHEDULE = "clientops-identity-nightly"
NIGHTLY_CRON = "0 2 * * *"
"""Every night at 02:00 UTC."""

T = TypeVar("T")


def resolve_params(
    *, mode: str = "incremental", since: str | datetime | None = None
) -> dict[str, Any]:
    """Checked job parameters: a known mode, and a valid ISO ``since`` only with incremental."""
    if mode not in MODES:
        raise InvalidInput({"mode": "invalid_choice"})
    if since is None or since == "":
        return {"mode": mode}
    if mode == "full":
        raise InvalidInput({"since": "not_with_full"})
    return {"mode": mode, "since": _parse_since(since).isoformat()}


def _parse_since(value: str | datetime) -> datetime:
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput({"since": "invalid_datetime"}) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def start_run(
    *, db: Session, principal: Principal, mode: str = "incremental", since: str | datetime | None
) -> Job:
    """Queue a resolve run for the server or a worker, on behalf of a reviewer (audited)."""
    if not principal.can(service.PERMISSION):
        raise Forbidden(service.PERMISSION)
    params = resolve_params(mode=mode, since=since)
    # The job row is written on its own connection: end the request's transaction first, so
    # SQLite's single writer is not waiting on itself.
    db.commit()
    job = jobs_flows.submit(RESOLVE, params=params, created_by=principal.user_id)
    audit_service.record(
        db, action="resolve", entity="identity_runs", entity_id=str(job.id), details=params
    )
    return job


# --- the workflow -------------------------------------------------------------------------


@jobs_flows.job_workflow(RESOLVE)
def resolve_customers(job_id: int, params: dict[str, Any]) -> None:
    """Find duplicate customers; merge the sure ones and queue the likely ones for review."""
    plan = _plan(job_id, params)
    found = _find(job_id, plan)
    done = 0
    clusters, review = found["clusters"], found["review"]
    for number, batch in enumerate(_batches(clusters, MERGE_BATCH), start=1):
        done = _merge_batch(job_id, number, batch, done)
    for number, batch in enumerate(_batches(review, REVIEW_BATCH), start=1):
        done = _review_batch(job_id, number, batch, done)
    _finish(job_id)


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@DBOS.step(name="clientops.resolve.plan")
def _plan(job_id: int, params: dict[str, Any]) -> dict[str, Any]:
    # The mode and the "since" of an incremental run are fixed once, here.
    checked = resolve_params(mode=params.get("mode", "incremental"), since=params.get("since"))
    with transaction() as db:
        since = checked.get("since")
        if checked["mode"] == "incremental" and since is None:
            last = service.last_run_start(db=db)
            since = last.isoformat() if last else None
        mode = "incremental" if since else "full"
        run = service.run_of(db=db, job_id=job_id)
        if run is None:
            run = ResolveRun(job_id=job_id, mode=mode, started_at=utcnow())
            db.add(run)
        run.mode, run.since = mode, datetime.fromisoformat(since) if since else None
        message = f"{mode} run" + (f" on customers changed since {since}" if since else "")
        jobs_service.log(db=db, job_id=job_id, message=message)
    return {"mode": mode, "since": since}


@DBOS.step(name="clientops.resolve.find")
def _find(job_id: int, plan: dict[str, Any]) -> dict[str, Any]:
    # Reading, matching and sorting out the pairs: the engine runs outside any transaction.
    settings = current()
    with transaction() as db:
        focus = _focus(db, plan)
        records = load_records(db) if focus is None or focus else None
    candidates = _match(records, focus, settings.identity_review_from) if records else []
    with transaction() as db:
        run_plan = service.plan_run(
            db=db, candidates=candidates, auto_from=settings.identity_auto_merge
        )
        members = sum(len(c["members"]) for c in run_plan.clusters)
        jobs_service.set_total(db=db, job_id=job_id, total=members + len(run_plan.review))
        run = service.run_of(db=db, job_id=job_id)
        assert run is not None
        run.records = records.num_rows if records is not None else 0
        run.focus = len(focus) if focus is not None else run.records
        run.pairs_found, run.skipped = len(candidates), run_plan.skipped
        message = (
            f"{run.records} customers compared ({run.focus} in focus): {len(candidates)} pairs "
            f"found, {members} to merge in {len(run_plan.clusters)} clusters, "
            f"{len(run_plan.review)} for review, {run_plan.skipped} skipped"
        )
        jobs_service.log(db=db, job_id=job_id, message=message)
    return {
        "clusters": run_plan.clusters,
        "review": [service.candidate_json(c) for c in run_plan.review],
    }


def _focus(db: Session, plan: dict[str, Any]) -> list[str] | None:
    """The ids an incremental run looks at (as the engine's string ids); None for all."""
    if plan["mode"] != "incremental" or not plan["since"]:
        return None
    since = datetime.fromisoformat(plan["since"])
    return [str(i) for i in service.changed_since(db=db, since=since)]


def load_records(db: Session, batch_size: int = LOAD_BATCH) -> pa.Table:
    """Every customer's identifying fields as an Arrow table of strings (``id`` + roles), read
    in batches of ``batch_size`` by id."""
    columns = [getattr(Customer, name) for name in FIELDS]
    parts: list[pa.Table] = []
    last = 0
    while True:
        stmt = select(Customer.id, *columns).where(Customer.id > last).order_by(Customer.id)
        rows = db.execute(stmt.limit(batch_size)).all()
        if not rows:
            break
        parts.append(_arrow(rows))
        last = rows[-1][0]
    schema = pa.schema([(name, pa.string()) for name in ("id", *FIELDS)])
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _arrow(rows: Sequence[Any]) -> pa.Table:
    data: dict[str, list[str | None]] = {"id": [str(row[0]) for row in rows]}
    for index, name in enumerate(FIELDS, start=1):
        data[name] = [_text(row[index]) for row in rows]
    return pa.table({name: pa.array(values, pa.string()) for name, values in data.items()})


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _match(
    records: pa.Table, focus: list[str] | None, review_from: float
) -> list[service.Candidate]:
    from clientops.identity import engine  # heavy (DuckDB, Splink): loaded when a run needs it

    pairs = engine.find_pairs(records, min_probability=review_from, focus_ids=focus)
    return [
        service.Candidate(
            left_id=int(p.left),
            right_id=int(p.right),
            probability=float(p.probability),
            match_weight=float(p.match_weight),
            rule=p.rule,
            evidence=dict(p.evidence),
        )
        for p in pairs
    ]


@DBOS.step(name="clientops.resolve.merge", retries_allowed=True, max_attempts=3)
def _merge_batch(job_id: int, number: int, clusters: Sequence[dict[str, Any]], done: int) -> int:
    # One transaction: the batch's merges, the job's progress and the run's count, or none.
    # Finding the progress moved on means an earlier attempt committed this batch already.
    core_jobs.step_pause()
    count = sum(len(cluster["members"]) for cluster in clusters)
    with transaction() as db:
        bind(db, actor=SYSTEM)
        if not jobs_service.add_progress(db=db, job_id=job_id, done_delta=count, expect_done=done):
            return jobs_service.get_job(db=db, job_id=job_id).done
        merged = sum(_merge_cluster(db, job_id, cluster) for cluster in clusters)
        message = f"merge batch {number}: {merged} of {count} customers merged"
        jobs_service.log(db=db, job_id=job_id, message=message)
        _count(db, job_id, auto_merged=merged)
    return done + count


def _merge_cluster(db: Session, job_id: int, cluster: dict[str, Any]) -> int:
    merged = 0
    for member in cluster["members"]:
        record = service.auto_merge(
            db=db, survivor_id=cluster["survivor"], member=member, job_id=job_id, actor=SYSTEM
        )
        merged += record is not None
    return merged


@DBOS.step(name="clientops.resolve.review", retries_allowed=True, max_attempts=3)
def _review_batch(job_id: int, number: int, pairs: Sequence[dict[str, Any]], done: int) -> int:
    core_jobs.step_pause()
    with transaction() as db:
        bind(db, actor=SYSTEM)
        total = len(pairs)
        if not jobs_service.add_progress(db=db, job_id=job_id, done_delta=total, expect_done=done):
            return jobs_service.get_job(db=db, job_id=job_id).done
        candidates = [service.Candidate(**item) for item in pairs]
        queued = service.queue_for_review(db=db, candidates=candidates, job_id=job_id)
        message = f"review batch {number}: {queued} of {total} pairs queued for review"
        jobs_service.log(db=db, job_id=job_id, message=message)
        _count(db, job_id, queued=queued)
    return done + total


def _count(db: Session, job_id: int, **deltas: int) -> None:
    run = service.run_of(db=db, job_id=job_id)
    assert run is not None
    for name, delta in deltas.items():
        setattr(run, name, getattr(run, name) + delta)


@DBOS.step(name="clientops.resolve.finish")
def _finish(job_id: int) -> None:
    with transaction() as db:
        run = service.run_of(db=db, job_id=job_id)
        assert run is not None
        run.finished_at = utcnow()
        jobs_service.log(db=db, job_id=job_id, message=summary_line(run))


def summary_line(run: ResolveRun) -> str:
    """One line for the job log and the CLI."""
    return (
        f"summary: {run.records} customers compared, {run.pairs_found} pairs found, "
        f"{run.auto_merged} merged automatically, {run.queued} queued for review, "
        f"{run.skipped} skipped"
    )


def summary(run: ResolveRun) -> dict[str, Any]:
    """A run's figures as JSON."""
    return {
        "job_id": run.job_id,
        "mode": run.mode,
        "since": run.since.isoformat() if run.since else None,
        "compared": run.records,
        "focus": run.focus,
        "pairs_found": run.pairs_found,
        "auto_merged": run.auto_merged,
        "queued_for_review": run.queued,
        "skipped": run.skipped,
    }


# --- the nightly schedule -----------------------------------------------------------------


@DBOS.workflow(name="clientops.identity.nightly")
def nightly_resolve(scheduled_at: datetime, context: Any) -> None:
    """Fired by the DBOS scheduler: queue an incremental run since the last successful one."""
    job_id, workflow_id, params = _nightly_job()
    with SetWorkflowID(workflow_id):
        DBOS.enqueue_workflow(core_jobs.QUEUE, resolve_customers, job_id, params)


@DBOS.step(name="clientops.identity.nightly.job")
def _nightly_job() -> tuple[int, str, dict[str, Any]]:
    # The job's workflow id derives from the nightly run's: a step re-run after a crash finds
    # the job it made instead of making a second one.
    workflow_id = f"{DBOS.workflow_id}-resolve"
    params = resolve_params(mode="incremental")
    with transaction() as db:
        try:
            job = jobs_service.get_by_workflow(db=db, workflow_id=workflow_id)
        except NotFound:
            job = jobs_service.create_job(db=db, kind=RESOLVE, params=params)
            job.workflow_id = workflow_id
            db.flush()
        return job.id, workflow_id, dict(job.params)


def install_schedule() -> None:
    """Register (or refresh) the nightly schedule with DBOS; call after DBOS has launched."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": NIGHTLY_SCHEDULE,
                "workflow_fn": nightly_resolve,
                "schedule": NIGHTLY_CRON,
            }
        ]
    )
