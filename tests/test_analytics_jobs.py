"""The scoring job through DBOS: ``clientops score`` on the command line, and the nightly
schedule. Each test gets its own data folder (and PostgreSQL database), as in test_jobs.py."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbos import DBOS
from sqlalchemy import func, select
from typer.testing import CliRunner

from clientops import config, db, migrate
from clientops.analytics import flows
from clientops.analytics.models import CustomerScore, ScoreRun
from clientops.cli import app as cli_app
from clientops.config import Settings
from clientops.jobs import flows as jobs_flows
from clientops.jobs.models import Job
from tests.analytics_data import add_customers
from tests.conftest import drop_postgres, fresh_postgres

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")


@pytest.fixture(scope="module", autouse=True)
def dbos_logging(database_url: str) -> None:
    """DBOS attaches its console log handler to ``sys.stderr`` on its first launch: launch it
    once here, not inside CliRunner, whose captured stream is closed after each command."""
    jobs_flows.start(listen=False)
    jobs_flows.stop()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """clientops on a fresh data folder (and PostgreSQL database)."""
    previous = config.current()
    pg = fresh_postgres(PG_URL, prefix="co_scoring") if PG_URL else None
    settings = config.configure(data_dir=tmp_path / "data", database_url=pg, jobs_enabled=True)
    migrate.upgrade()
    try:
        yield settings
    finally:
        jobs_flows.stop()
        db.dispose_engines()
        if pg:
            drop_postgres(pg)
        config.configure(**previous.model_dump())


def test_clientops_score_runs_the_job_and_prints_its_figures(env: Settings) -> None:
    day = dt.date(2026, 4, 30)
    add_customers([[(day - dt.timedelta(days=i), 10.0 * i)] for i in range(1, 31)])
    result = CliRunner().invoke(cli_app, ["score", "--as-of", "2026-04-30", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["customers"] == 30
    assert summary["engine"] == "duckdb" and summary["history_rows"] == 30
    assert summary["peak_memory_mb"] > 0
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CustomerScore)) == 30
        job = session.get(Job, summary["job_id"])
        assert job is not None and job.kind == flows.KIND and job.done == job.total == 30
        assert session.scalar(select(ScoreRun.job_id)) == job.id
    bad = CliRunner().invoke(cli_app, ["score", "--engine", "oracle"])
    assert bad.exit_code == 2


def test_the_nightly_schedule_queues_a_scoring_job(env: Settings) -> None:
    add_customers([[(dt.date.today() - dt.timedelta(days=3), 99.0)]])
    jobs_flows.start(env)
    flows.install_schedule()
    flows.install_schedule()  # applied at every start
    schedule = DBOS.get_schedule(flows.NIGHTLY_SCHEDULE)
    assert schedule is not None and schedule["schedule"] == env.analytics_nightly_cron
    DBOS.start_workflow(flows.nightly_scoring, dt.datetime.now(dt.UTC), None).get_result()
    with db.transaction() as session:
        job_id = session.scalars(select(Job.id).where(Job.kind == flows.KIND)).one()
    assert jobs_flows.wait(job_id, timeout=120).status == "succeeded"
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CustomerScore)) == 1
