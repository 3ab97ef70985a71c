"""The import workflow: stage the file's rows, then simulate or write them one batch per step.

A committed ``valid-rows`` import of a file the raw scan proved readable to its end (nothing
can refuse it half-way) is streamed instead: ``stage`` only starts staging in a child process (see
``pipeline``) and each ``stream`` step writes the next batch as soon as it is staged, storing
it in the same transaction; the steps run until the feed has no batch left, then record the
staged totals. Otherwise:

Steps, each its own transaction:

1. ``stage`` validates every row into batches stored in ``import_batches`` (committed as they
   fill), then marks the import staged. A crash before that mark stages again from the start; a
   resumed workflow after it reads the very batches staged, never the file again.
2. one ``batch`` step per batch and pass. A dry run simulates each batch in a transaction that
   is rolled back, keeping only its counts and failed rows. An all-or-nothing import first runs
   that check over every batch and writes nothing if any row failed. Writing a batch commits its
   rows, its audit event, its counts and the job's progress together; progress is advanced with
   ``expect_done``, so a step re-run after a crash that came between that commit and DBOS's
   checkpoint finds its batch counted and skips it.
3. ``finish`` totals the counts and sets the import's status; after a committed customer
   import it asks for identity resolution of what changed.

Bulk load (``indexes``): before the first batch of a customer import that is large against the
table is written, the ``bulk-load`` step drops the indexes writing does not read; ``finish``
creates them again, and so do the failure and cancellation paths and the start of every
import's ``stage`` (a killed bulk import that is never resumed). A resumed bulk import goes on
without them until its own ``finish``.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from clientops.config import current
from clientops.core import jobs as core_jobs
from clientops.core.context import Actor, bind
from clientops.db import session_factory, transaction
from clientops.exceptions import InvalidInput
from clientops.imports import indexes, pipeline, service
from clientops.imports.feeder import Staged
from clientops.imports.models import Import
from clientops.imports.staging import Entry, bulk_gc
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job

RESOLVE_KIND = "resolve-customers"
CHECK, WRITE, SIMULATE = "check", "write", "simulate"


# --- starting an import -----------------------------------------------------------------------


def submit(*, principal: Any, import_id: int, dry_run: bool, run_here: bool = False) -> Job:
    """Queue the import's job (``run_here``: run it in this process, e.g. the CLI)."""
    with transaction() as db:
        imp = service.get(db=db, principal=principal, import_id=import_id)
        service.mark_submitted(db=db, imp=imp, dry_run=dry_run)
    params = {"import_id": import_id, "dry_run": dry_run}
    try:
        job = jobs_flows.submit(
            "import", params=params, created_by=principal.user_id or None, run_here=run_here
        )
    except Exception as exc:
        with transaction() as db:
            service.fail(db=db, import_id=import_id, error=f"not started: {exc}")
        raise
    with transaction() as db:
        service.set_job(db=db, import_id=import_id, job_id=job.id)
    return job


# --- the workflow ----------------------------------------------------------------------------


@jobs_flows.job_workflow("import")
def run_import(job_id: int, params: dict[str, Any]) -> None:
    """Stage an uploaded file's rows, then simulate (dry run) or write them batch by batch."""
    import_id = int(params["import_id"])
    dry_run = bool(params.get("dry_run"))
    try:
        plan = _stage(job_id, import_id, dry_run)
        if "refused" in plan:
            _failed(import_id, plan["refused"], True)
            raise ImportRefused(plan["refused"])
        if plan.get("stream"):
            _bulk_load(job_id, import_id, int(plan.get("rows", 0)))
            status = _run_stream(job_id, import_id)
        else:
            status = _run_passes(job_id, import_id, plan)
    except ImportRefused:
        raise
    except Exception as exc:
        _failed(import_id, f"{type(exc).__name__}: {exc}", False)
        _restore_indexes(job_id)
        raise
    except BaseException:  # cancelled: no further step may run, so not as a step
        _restore_indexes(job_id)
        raise
    finally:
        pipeline.discard(import_id)
    _finish(job_id, import_id, status, dry_run)


class ImportRefused(Exception):
    """The file could not be read to its end (too many rows, a malformed row): nothing written."""


def _run_passes(job_id: int, import_id: int, plan: dict[str, Any]) -> str:
    batches: list[list[int]] = plan["batches"]
    done = 0
    for name in plan["passes"]:
        if name == WRITE and plan["mode"] == "all-or-nothing" and _any_failed(import_id):
            return "rejected"
        if name == WRITE:
            _bulk_load(job_id, import_id, sum(rows for _, rows in batches))
        for number, rows in batches:
            done = _batch(job_id, import_id, number, len(batches), rows, name, done)
    return "validated" if plan["dry_run"] else "succeeded"


def _run_stream(job_id: int, import_id: int) -> str:
    done, number = 0, 1
    while (after := _stream_batch(job_id, import_id, number, done)) is not None:
        done, number = after, number + 1
    return "succeeded"


@DBOS.step(name="clientops.import.stage")
def _stage(job_id: int, import_id: int, dry_run: bool) -> dict[str, Any]:
    # The batches are fixed here, once: a resumed run works on the batches staged (or, when
    # streamed, on those written, staging the rest again).
    _restore_indexes(job_id)  # an earlier bulk import killed and never resumed left them out
    try:
        streamed = _stage_rows(job_id, import_id, dry_run)
        if streamed is not None:
            return {"stream": True, "rows": streamed}
    except InvalidInput as exc:  # the file turned out unreadable past its first rows
        with transaction() as db:
            service.clear_batches(db=db, import_id=import_id)
        return {"refused": service.file_error_message(exc)}
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        batches = service.batch_plan(db=db, import_id=import_id)
        invalid = service.invalid_rows(db=db, import_id=import_id)
        passes = _passes(imp.mode, dry_run, invalid)
        rows = sum(count for _, count in batches)
        jobs_service.set_total(db=db, job_id=job_id, total=rows * len(passes))
        message = f"{rows} rows in {len(batches)} batches, {invalid} invalid"
        jobs_service.log(db=db, job_id=job_id, message=message)
        return {
            "batches": [list(batch) for batch in batches],
            "passes": passes,
            "mode": imp.mode,
            "dry_run": dry_run,
        }


def _stage_rows(job_id: int, import_id: int, dry_run: bool) -> int | None:
    """Stage the file's rows; when they are streamed instead (staging has started), the
    number of rows the raw scan counted."""
    batch_size, rows = current().import_batch_size, 0
    with transaction() as db:
        staging = service.prepare_staging(db=db, import_id=import_id, job_id=job_id)
        stream = staging is not None and _streams(staging, dry_run)
        if stream:
            assert staging is not None
            rows = max(staging.scan.records - 1, 0)  # the header aside; exact once staged
            jobs_service.set_total(db=db, job_id=job_id, total=rows)
            jobs_service.log(db=db, job_id=job_id, message=f"about {rows} rows, streamed")
    if staging is None:
        return None
    if stream:
        pipeline.start(import_id, staging, batch_size)
        return rows
    with bulk_gc():
        counts = service.stage_rows(staging, batch_size, _BatchWriter(import_id))
    with transaction() as db:
        service.mark_staged(db=db, import_id=import_id, key=staging.key, counts=counts)
    return None


def _streams(staging: service.Staging, dry_run: bool) -> bool:
    """Whether batches may be written while later ones are staged: a committed import that
    keeps the valid rows, of a file nothing can refuse half-way (nothing written yet), large
    enough to be worth a second process."""
    large = staging.scan.records > current().import_stream_min_rows
    return large and not dry_run and staging.imp.mode == "valid-rows" and staging.scan.readable


def _passes(mode: str, dry_run: bool, invalid: int) -> list[str]:
    if dry_run:
        return [SIMULATE]
    if mode == "all-or-nothing":
        return [WRITE] if invalid else [CHECK, WRITE]
    return [WRITE]


class _BatchWriter:
    """Stores each staged batch in its own transaction as the stager fills it."""

    def __init__(self, import_id: int) -> None:
        self.import_id = import_id
        self.number = 0

    def __call__(self, entries: list[Entry], report: list[Entry]) -> None:
        self.number += 1
        with transaction() as db:
            service.save_batch(
                db=db, import_id=self.import_id, number=self.number, entries=entries, report=report
            )


@DBOS.step(name="clientops.import.verdict")
def _any_failed(import_id: int) -> bool:
    with transaction() as db:
        return service.failed_rows(db=db, import_id=import_id) > 0


@DBOS.step(name="clientops.import.batch", retries_allowed=True, max_attempts=3)
def _batch(
    job_id: int, import_id: int, number: int, count: int, rows: int, name: str, done: int
) -> int:
    # ``done`` is the progress before this batch; any other value means an earlier attempt
    # committed it and only DBOS's checkpoint was lost: it is not applied twice.
    core_jobs.step_pause()
    with bulk_gc():
        return _run_batch(job_id, import_id, number, count, rows, name, done)


def _run_batch(
    job_id: int, import_id: int, number: int, count: int, rows: int, name: str, done: int
) -> int:
    outcome = None if name == WRITE else _simulate(import_id, number)
    with transaction() as db:
        _bind_actor(db, import_id)
        if not jobs_service.add_progress(db=db, job_id=job_id, done_delta=rows, expect_done=done):
            return jobs_service.get_job(db=db, job_id=job_id).done
        if outcome is None:
            outcome = service.apply_batch(db=db, import_id=import_id, number=number)
        service.record_batch(
            db=db, import_id=import_id, number=number, outcome=outcome, applied=name == WRITE
        )
        counts = ", ".join(f"{k} {v}" for k, v in outcome.counts().items())
        message = f"batch {number}/{count} ({name}): {rows} rows, {counts}"
        jobs_service.log(db=db, job_id=job_id, message=message)
        return done + rows


@DBOS.step(name="clientops.import.stream", retries_allowed=True, max_attempts=3)
def _stream_batch(job_id: int, import_id: int, number: int, done: int) -> int | None:
    # Returns the progress after batch ``number``, or None when the file has no more batches.
    # As in ``_batch``, a batch committed before a crash (its DBOS checkpoint lost) is skipped.
    core_jobs.step_pause()
    feed = pipeline.feed(import_id, current().import_batch_size)
    if feed.written(number):
        return _progress(job_id)
    with bulk_gc():
        staged = feed.take(number)
        if staged is None:
            _end_stream(job_id, import_id, feed)
            return None
        after = _write_staged(job_id, import_id, staged, feed.total(), done)
    feed.release(number)
    return after


def _write_staged(job_id: int, import_id: int, staged: Staged, total: int | None, done: int) -> int:
    with transaction() as db:
        _bind_actor(db, import_id)
        rows = staged.rows
        if not jobs_service.add_progress(db=db, job_id=job_id, done_delta=rows, expect_done=done):
            return int(jobs_service.get_job(db=db, job_id=job_id).done)
        outcome = service.write_batch(
            db=db, import_id=import_id, number=staged.number, entries=staged.entries,
            report=staged.report,
        )  # fmt: skip
        counts = ", ".join(f"{k} {v}" for k, v in outcome.counts().items())
        of = f"/{total}" if total is not None else ""  # known once the last row is staged
        message = f"batch {staged.number}{of} ({WRITE}): {rows} rows, {counts}"
        jobs_service.log(db=db, job_id=job_id, message=message)
        return done + rows


def _end_stream(job_id: int, import_id: int, feed: pipeline.Feed) -> None:
    assert feed.ended is not None
    counts = feed.ended.counts
    with transaction() as db:
        service.mark_staged(db=db, import_id=import_id, key=feed.key, counts=counts)
        jobs_service.set_total(db=db, job_id=job_id, total=counts.total)
        message = f"{counts.total} rows in {feed.ended.batches} batches, {counts.failed} invalid"
        jobs_service.log(db=db, job_id=job_id, message=message)


def _progress(job_id: int) -> int:
    with transaction() as db:
        return jobs_service.get_job(db=db, job_id=job_id).done


def _simulate(import_id: int, number: int) -> Any:
    """What writing the batch would do, from a transaction that is then rolled back."""
    db = session_factory()()
    try:
        _bind_actor(db, import_id)
        return service.apply_batch(db=db, import_id=import_id, number=number)
    finally:
        db.rollback()
        db.close()


def _bind_actor(db: Any, import_id: int) -> None:
    imp = db.get(Import, import_id)
    principal = service.principal_of(db, imp)
    bind(db, actor=Actor(principal.user_id or None, principal.username))


@DBOS.step(name="clientops.import.failed")
def _failed(import_id: int, error: str, refused: bool) -> None:
    with transaction() as db:
        service.fail(db=db, import_id=import_id, error=error, refused=refused)


@DBOS.step(name="clientops.import.bulk-load")
def _bulk_load(job_id: int, import_id: int, rows: int) -> None:
    """Before the first batch is written: drop the indexes a large customer import can do
    without (``indexes``); ``_finish`` (or the failure path) creates them again."""
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        if imp.kind != "customers" or not indexes.wanted(db=db, rows=rows):
            return
        dropped = indexes.drop(db=db)
        message = f"bulk load: {len(dropped)} customer indexes set aside until the end"
        jobs_service.log(db=db, job_id=job_id, message=message)


def _restore_indexes(job_id: int) -> None:
    """Create the customer indexes that are missing (a bulk load's), logging what was made."""
    with transaction() as db:
        made = indexes.restore(db=db)
        if made:
            message = f"bulk load: {len(made)} customer indexes built again"
            jobs_service.log(db=db, job_id=job_id, message=message)


def restore_lost_indexes() -> list[str]:
    """At start-up: build again the customer indexes a bulk load set aside before a crash
    (nothing to do when all is well; a resumed bulk load then runs with its indexes)."""
    with transaction() as db:
        return indexes.restore(db=db)


@DBOS.step(name="clientops.import.finish")
def _finish(job_id: int, import_id: int, status: str, dry_run: bool) -> None:
    _restore_indexes(job_id)
    with transaction() as db:
        imp = service.finish(db=db, import_id=import_id, status=status)
        changed = imp.created + imp.updated + imp.accounts_created
        kind = imp.kind
    if status in ("succeeded", "rejected"):
        service.discard_file(imp)
    if status == "succeeded" and kind == "customers" and changed:
        _ask_for_resolution(import_id)


def _ask_for_resolution(import_id: int) -> None:
    """Queue identity resolution of what the import created or changed, when that job exists.

    The job row is made once per import (its id kept on the import) and queued under its fixed
    workflow id, so a re-run of this step queues nothing twice. It is queued through a DBOS
    client: a step may not start a workflow itself.
    """
    if RESOLVE_KIND not in jobs_flows.kinds():
        return
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        known = imp.options.get("resolve_job")
        if known:
            job = jobs_service.get_job(db=db, job_id=int(known))
        else:
            since = imp.started_at.isoformat() if imp.started_at else None
            params = {"mode": "incremental", "since": since}
            job = jobs_service.create_job(
                db=db, kind=RESOLVE_KIND, params=params, created_by=imp.created_by
            )
            imp.options = {**imp.options, "resolve_job": job.id}
        job_id, workflow_id, params = job.id, job.workflow_id, dict(job.params)
    core_jobs.enqueue_elsewhere(
        settings=current(),
        workflow_name=jobs_flows.workflow_name(RESOLVE_KIND),
        workflow_id=workflow_id,
        args=(job_id, params),
    )


def refused_message(exc: InvalidInput) -> str:
    """A refused file or mapping in words (for the faces)."""
    return service.file_error_message(exc)
