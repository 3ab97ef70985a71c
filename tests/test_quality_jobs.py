"""The quality snapshot as a durable job: large scopes, the nightly schedule, re-runs.

Each test gets its own data folder (its own DBOS system database) and, with
``CLIENTOPS_TEST_DATABASE_URL``, its own PostgreSQL database, as in tests/test_jobs.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbos import DBOS
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from clientops import config, db, migrate
from clientops.config import Settings
from clientops.customers.models import Customer
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job
from clientops.quality import flows, service
from clientops.quality.models import QualitySnapshot
from tests import factories
from tests.conftest import drop_postgres, fresh_postgres

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")
BIG = service.LIVE_LIMIT + 1


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """clientops on a fresh data folder (and PostgreSQL database) with the job runtime on."""
    previous = config.current()
    pg = fresh_postgres(PG_URL, prefix="co_quality") if PG_URL else None
    settings = config.configure(data_dir=tmp_path / "data", database_url=pg, jobs_enabled=True)
    migrate.upgrade()
    jobs_flows.start(settings)
    try:
        yield settings
    finally:
        jobs_flows.stop()
        db.dispose_engines()
        if pg:
            drop_postgres(pg)
        config.configure(**previous.model_dump())


def _bulk_customers(count: int, team_id: int) -> None:
    """Many plain customers; every tenth one has a badly written phone."""
    rows = [
        {
            "name": f"客户{i}",
            "name_key": f"客户{i}",
            "phone": f"+86139{i:08d}" if i % 10 else f"139 {i:08d}",
            "kind": "person",
            "lifecycle_stage": "potential",
            "team_id": team_id,
        }
        for i in range(count)
    ]
    with db.transaction() as session:
        session.connection().execute(insert(Customer), rows)


def _app_client(settings: Settings) -> TestClient:
    from clientops.main import create_app

    app = create_app(settings, start_jobs=False)  # the runtime is already running here
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def test_a_large_scope_is_computed_by_a_job(env: Settings) -> None:
    world = factories.world()
    _bulk_customers(BIG, world.teams["West"])
    client = factories.login(_app_client(env), "admin")
    before = client.get("/api/v1/quality").json()
    assert before["live"] is False and before["computed_at"] is None  # nothing cached yet
    csrf = factories.csrf_from(client.get("/customers").text)
    response = client.post("/api/v1/quality/recompute", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 202, response.text
    job = jobs_flows.wait(response.json()["job_id"], timeout=120)
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (1, 1)
    after = client.get("/api/v1/quality").json()
    assert after["live"] is False and after["computed_at"] is not None
    assert after["customers"] == BIG + 3  # the bulk and the world's three
    phone = next(f for f in after["fields"] if f["field"] == "phone")
    bad = len(range(0, BIG, 10))  # every tenth bulk phone
    assert (phone["filled"], phone["valid"]) == (BIG + 3, BIG + 3 - bad)
    page = client.get("/quality").text
    assert "from the day&#39;s snapshot" in page or "from the day's snapshot" in page


def test_a_step_run_again_after_its_commit_changes_nothing(env: Settings) -> None:
    factories.world()
    params = {"scope": service.Scope(all=True).params(), "fresh_days": 30}
    with db.transaction() as session:
        job_id = jobs_service.create_job(db=session, kind=flows.KIND, params=params).id
    flows._snapshot_step(job_id, params)
    with db.transaction() as session:
        first = session.scalars(select(QualitySnapshot)).one().computed_at
    flows._snapshot_step(job_id, params)  # as DBOS would after a crash lost the checkpoint
    with db.transaction() as session:
        assert session.scalars(select(QualitySnapshot)).one().computed_at == first
        assert jobs_service.get_job(db=session, job_id=job_id).done == 1


def test_nightly_refreshes_everything_and_the_scopes_in_use(env: Settings) -> None:
    world = factories.world()
    with db.transaction() as session:  # ops_manager looked at their figures earlier today
        service.current_figures(db=session, principal=world.principal("ops_manager"))
    flows.schedule_nightly()
    flows.schedule_nightly()  # idempotent: applied at every start
    schedule = DBOS.get_schedule(flows.NIGHTLY_SCHEDULE)
    assert schedule is not None and schedule["schedule"] == flows.NIGHTLY_CRON
    handle = DBOS.start_workflow(flows.nightly_snapshots, dt.datetime.now(dt.UTC), None)
    handle.get_result()
    with db.transaction() as session:
        jobs = session.scalars(select(Job).where(Job.kind == flows.KIND)).all()
        job_ids = [j.id for j in jobs]
    assert len(job_ids) == 2
    for job_id in job_ids:
        assert jobs_flows.wait(job_id, timeout=60).status == "succeeded"
    with db.transaction() as session:
        snapshots = {s.scope: s.customers for s in session.scalars(select(QualitySnapshot))}
    east = service.Scope.of(world.principal("ops_manager")).key
    assert snapshots == {"all": 3, east: 2}
