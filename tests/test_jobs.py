"""Durable jobs: the job table, the reindex workflow, and a job that survives ``kill -9``.

Each test gets its own data folder (so its own DBOS system database) and, when
``CLIENTOPS_TEST_DATABASE_URL`` is set, its own PostgreSQL database for the app and DBOS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOSClient
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from clientops import config, db, migrate
from clientops.config import Settings
from clientops.core import normalise
from clientops.customers.models import Customer
from clientops.exceptions import InvalidInput, NotFound
from clientops.jobs import cli as jobs_cli
from clientops.jobs import flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job
from tests.conftest import drop_postgres, fresh_postgres

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")
BATCH = flows.REINDEX_BATCH
STALE = {"name_key": "stale", "alt_key": "stale", "phone_key": "0", "email_key": "stale@"}
SRC = Path(__file__).resolve().parents[1] / "src"


# --- set-up ------------------------------------------------------------------------------


def _create_schema() -> None:
    """The app tables, through the packaged migrations (the one place tests make a schema)."""
    migrate.upgrade()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """clientops configured on a fresh data folder (and PostgreSQL database), jobs enabled."""
    previous = config.current()
    pg = fresh_postgres(PG_URL, prefix="co_jobs") if PG_URL else None
    settings = config.configure(data_dir=tmp_path / "data", database_url=pg, jobs_enabled=True)
    _create_schema()
    try:
        yield settings
    finally:
        flows.stop()
        db.dispose_engines()
        if pg:
            drop_postgres(pg)
        config.configure(**previous.model_dump())


def _customer(i: int) -> dict[str, Any]:
    """A realistic customer row with wrong search keys."""
    names = [f"  Ｌｉ   Wei {i} ", f"Müller\u200b GmbH {i}", f"王小明{i}", f"O'Brien {i}"]
    phones = [f"+86138{i:08d}", None, f"+4420{i % 10**8:08d}", "010-6552 9988"]
    emails = [f"user{i}@example.com", None, f"Mixed{i}@Example.COM", f"x{i}@ex.cn"]
    return {
        "name": names[i % 4].strip(),
        "phone": phones[i % 4],
        "email": emails[(i // 4) % 4],
        "kind": "person",
        "lifecycle_stage": "potential",
        **STALE,
    }


def _insert_customers(count: int) -> None:
    with db.transaction() as session:
        for start in range(0, count, 10_000):
            rows = [_customer(i) for i in range(start, min(count, start + 10_000))]
            session.connection().execute(insert(Customer), rows)


def _expected(name: str, phone: str | None, email: str | None) -> tuple[Any, ...]:
    """The keys, derived here from the normalisation functions, not from the job's code."""
    if phone and not phone.startswith("+"):
        phone = normalise.parse_phone(phone)
    return (
        normalise.name_key(name),
        normalise.alt_name_key(name),
        normalise.phone_key(phone) if phone else None,
        email.lower() if email else None,
    )


def _fixed_ids() -> list[int]:
    """Ids of the customers whose keys are right, checking every key of every customer."""
    columns = (Customer.name_key, Customer.alt_key, Customer.phone_key, Customer.email_key)
    with db.transaction() as session:
        rows = session.execute(
            select(Customer.id, Customer.name, Customer.phone, Customer.email, *columns)
        ).all()
    fixed = []
    for row in rows:
        keys = tuple(row[4:])
        if keys == _expected(row.name, row.phone, row.email):
            fixed.append(row.id)
        else:
            assert keys == tuple(STALE.values()), f"customer {row.id} half-written: {keys}"
    return sorted(fixed)


def _job(job_id: int) -> Job:
    with db.transaction() as session:
        return jobs_service.get_job(db=session, job_id=job_id)


def _batch_lines(job_id: int) -> list[str]:
    with db.transaction() as session:
        lines = jobs_service.logs(db=session, job_id=job_id)
    return [line.message for line in lines if line.message.startswith("batch ")]


def _workflow(settings: Settings, workflow_id: str) -> tuple[str, list[str]]:
    """DBOS's own view: the workflow's status and the names of its recorded steps."""
    client = DBOSClient(system_database_url=settings.system_database_url)
    try:
        status = client.retrieve_workflow(workflow_id).get_status().status
        steps = [step["function_name"] for step in client.list_workflow_steps(workflow_id)]
    finally:
        client.destroy()
    return status, steps


# --- the job table -----------------------------------------------------------------------


def test_job_table_lifecycle(env: Settings) -> None:
    with db.transaction() as session:
        job = jobs_service.create_job(db=session, kind="demo", params={"a": 1}, total=3)
        assert job.status == "queued" and job.workflow_id
        jobs_service.mark_running(db=session, job_id=job.id)
        assert jobs_service.add_progress(db=session, job_id=job.id, done_delta=2, message="two")
        # A re-run step expecting the old progress finds it moved on and changes nothing.
        assert not jobs_service.add_progress(
            db=session, job_id=job.id, done_delta=2, expect_done=0, message="again"
        )
        jobs_service.log(db=session, job_id=job.id, message="careful", level="warning")
        jobs_service.finish(db=session, job_id=job.id, status="failed", error="boom")
    with db.transaction() as session:
        job = jobs_service.get_job(db=session, job_id=job.id)
        assert (job.status, job.done, job.error) == ("failed", 2, "boom")
        assert job.started_at and job.finished_at and job.finished_at >= job.started_at
        assert [(line.level, line.message) for line in job.logs] == [
            ("info", "two"),
            ("warning", "careful"),
            ("error", "boom"),
        ]
        assert [j.id for j in jobs_service.list_jobs(db=session, status="failed")] == [job.id]
        assert jobs_service.list_jobs(db=session, status="running") == []
        with pytest.raises(InvalidInput):
            jobs_service.list_jobs(db=session, status="nonsense")
        with pytest.raises(InvalidInput):
            jobs_service.finish(db=session, job_id=job.id, status="running")
        with pytest.raises(NotFound):
            jobs_service.get_job(db=session, job_id=job.id + 1)


def test_unknown_kind_is_refused(env: Settings) -> None:
    with pytest.raises(InvalidInput):
        flows.submit("no-such-job")


# --- reindex, in this process -----------------------------------------------------------


def test_reindex_fixes_every_customer(env: Settings) -> None:
    _insert_customers(25_000)
    with db.transaction() as session:
        updated_before = session.scalar(select(func.max(Customer.updated_at)))
    flows.start()
    job = flows.submit("reindex-customers", run_here=True)
    job = flows.wait(job.id, timeout=120, poll_seconds=0.2)

    assert job.status == "succeeded", job.error
    assert (job.done, job.total, jobs_service.percent(job)) == (25_000, 25_000, 100.0)
    assert _fixed_ids() == list(range(1, 25_001))
    assert _batch_lines(job.id) == [
        "batch 1/3: customers 1-10000, 10000 checked, 10000 updated",
        "batch 2/3: customers 10001-20000, 10000 checked, 10000 updated",
        "batch 3/3: customers 20001-25000, 5000 checked, 5000 updated",
    ]
    with db.transaction() as session:
        first = session.get(Customer, 1)
        assert first is not None
        assert (first.name_key, first.alt_key, first.phone_key, first.email_key) == (
            "li wei 0",
            "0 li wei",
            "13800000000",
            "user0@example.com",
        )
        # Derived keys are not a change of the customer.
        assert session.scalar(select(func.max(Customer.updated_at))) == updated_before
    status, steps = _workflow(env, job.workflow_id)
    assert status == "SUCCESS"
    assert steps.count("clientops.reindex_customers.batch") == 3

    # A second run finds nothing to change.
    again = flows.wait(flows.submit("reindex-customers", run_here=True).id, timeout=60)
    assert again.status == "succeeded"
    assert _batch_lines(again.id)[0].endswith("10000 checked, 0 updated")


def test_a_batch_committed_before_a_crash_is_not_applied_twice(env: Settings) -> None:
    # The step body run twice with the same progress, as DBOS does when a process dies after
    # the batch committed and before the step's checkpoint was written.
    _insert_customers(120)
    with db.transaction() as session:
        job = jobs_service.create_job(db=session, kind="reindex-customers", total=120)
    done = flows._reindex_batch(job.id, 1, 2, 1, 100, 0)
    assert flows._reindex_batch(job.id, 1, 2, 1, 100, 0) == done == 100
    assert flows._reindex_batch(job.id, 2, 2, 101, 120, done) == 120
    assert _job(job.id).done == 120
    assert len(_batch_lines(job.id)) == 2
    assert _fixed_ids() == list(range(1, 121))


def test_a_failing_job_is_marked_failed(env: Settings) -> None:
    flows.start()
    job = flows.submit("reindex-customers", params={"batch_size": "ten"}, run_here=True)
    job = flows.wait(job.id, timeout=60, poll_seconds=0.1)
    assert job.status == "failed" and job.finished_at is not None
    assert job.error == "ValueError: invalid literal for int() with base 10: 'ten'"
    assert _workflow(env, job.workflow_id)[0] == "ERROR"


def test_a_cancelled_job_stops_between_batches(env: Settings) -> None:
    _insert_customers(4 * 1_000)
    with config.override(job_step_delay_ms=400):
        flows.start()
        job = flows.submit("reindex-customers", params={"batch_size": 1_000}, run_here=True)
        deadline = time.monotonic() + 60
        while _job(job.id).done < 1_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        job = flows.cancel(job.id)
        assert job.status == "cancelled"
        time.sleep(1.5)  # more than three more batches' worth of pauses
        job = _job(job.id)
        assert job.status == "cancelled" and 1_000 <= job.done < 4_000
        assert _fixed_ids() == list(range(1, job.done + 1))
        assert _workflow(env, job.workflow_id)[0] == "CANCELLED"


def test_cli_queues_a_job_that_the_runtime_then_runs(env: Settings) -> None:
    _insert_customers(1_500)
    runner = CliRunner()
    queued = runner.invoke(jobs_cli.app, ["run", "reindex-customers"])
    assert queued.exit_code == 0, queued.output
    job_id = int(queued.stdout.strip().splitlines()[-1])
    assert _job(job_id).status == "queued"

    flows.start()  # a server or worker: it dequeues the job
    job = flows.wait(job_id, timeout=60, poll_seconds=0.2)
    assert (job.status, job.done, job.total) == ("succeeded", 1_500, 1_500)

    listed = runner.invoke(jobs_cli.app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["kind"], r["status"], r["percent"]) for r in rows] == [
        (job_id, "reindex-customers", "succeeded", 100.0)
    ]
    table = runner.invoke(jobs_cli.app, ["list", "--status", "succeeded"])
    assert table.exit_code == 0 and "succeeded" in table.stdout and "100%" in table.stdout
    assert runner.invoke(jobs_cli.app, ["list", "--status", "bogus"]).exit_code == 2


@pytest.mark.skipif(bool(PG_URL), reason="SQLite data folders; PostgreSQL is set by URL")
def test_each_data_folder_has_its_own_jobs_database(env: Settings, tmp_path: Path) -> None:
    other = env.model_copy(update={"data_dir": tmp_path / "other"})
    assert env.system_database_url != other.system_database_url
    flows.start(env)
    job = flows.submit("reindex-customers", run_here=True)
    assert flows.wait(job.id, timeout=60).status == "succeeded"
    flows.start(other)  # switches this process over: a second system database
    assert (tmp_path / "data" / "clientops-jobs.db").exists()
    assert (tmp_path / "other" / "clientops-jobs.db").exists()
    client = DBOSClient(system_database_url=other.system_database_url)
    try:
        assert client.list_workflows() == []
    finally:
        client.destroy()


# --- kill -9 and resume -----------------------------------------------------------------


def _child_env(settings: Settings, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTOPS_")}
    environ["CLIENTOPS_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        environ["CLIENTOPS_DATABASE_URL"] = settings.database_url
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), environ.get("PYTHONPATH")]))
    return environ | extra


RESUME = """
import sys
from clientops.jobs import flows
flows.start()  # launching DBOS recovers the killed process's workflow
job = flows.wait(int(sys.argv[1]), timeout=120, poll_seconds=0.2)
flows.stop()
sys.exit(0 if job.status == "succeeded" else 1)
"""


def _wait_for_partial_progress(proc: subprocess.Popen[bytes], total: int) -> Job:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the job process ended before it could be killed"
        with db.transaction() as session:
            jobs = jobs_service.list_jobs(db=session)
        if jobs and BATCH <= jobs[0].done < total:
            return jobs[0]
        time.sleep(0.05)
    raise AssertionError("no batch was done in time")


@pytest.mark.slow
def test_killed_job_resumes_in_a_new_process(env: Settings, tmp_path: Path) -> None:
    total = 5 * BATCH
    _insert_customers(total)
    started = time.monotonic()
    cli = [sys.executable, "-m", "clientops.jobs.cli", "run", "reindex-customers", "--wait"]
    with (tmp_path / "first.log").open("wb") as log:
        first = subprocess.Popen(
            cli,
            env=_child_env(env, CLIENTOPS_JOB_STEP_DELAY_MS="700"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            seen = _wait_for_partial_progress(first, total)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    # Left behind: a running job whose progress is a whole number of batches, the customers
    # of those batches fixed and every later one untouched.
    left = _job(seen.id)
    assert left.status == "running" and left.finished_at is None
    assert BATCH <= left.done < total and left.done % BATCH == 0
    assert _fixed_ids() == list(range(1, left.done + 1))
    assert len(_batch_lines(left.id)) == left.done // BATCH
    assert _workflow(env, left.workflow_id)[0] == "PENDING"

    resume = subprocess.run(
        [sys.executable, "-c", RESUME, str(left.id)],
        env=_child_env(env),
        capture_output=True,
        timeout=180,
    )
    assert resume.returncode == 0, resume.stderr.decode()

    job = _job(left.id)
    assert job.status == "succeeded", job.error
    assert (job.done, job.total, job.workflow_id) == (total, total, left.workflow_id)
    assert job.started_at == left.started_at
    assert _fixed_ids() == list(range(1, total + 1))
    lines = _batch_lines(job.id)
    assert [line.split(":")[0] for line in lines] == [f"batch {n}/5" for n in range(1, 6)]
    status, steps = _workflow(env, job.workflow_id)
    assert status == "SUCCESS" and steps.count("clientops.reindex_customers.batch") == 5
    print(f"kill-and-resume: {time.monotonic() - started:.1f}s, killed at {left.done}/{total}")
