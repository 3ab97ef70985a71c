"""The resolve job with the real matching engine: sure duplicates merged, likely ones queued,
rejected pairs kept out, incremental runs, the CLI and the nightly schedule.

Each test gets its own data folder (so its own DBOS system database) and, when
``CLIENTOPS_TEST_DATABASE_URL`` is set, its own PostgreSQL database, as in ``test_jobs``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from clientops import config, db, migrate
from clientops.cli import app as cli_app
from clientops.config import Settings
from clientops.core.access import Principal
from clientops.customers.models import Customer
from clientops.identity import flows as identity_flows
from clientops.identity.models import CandidatePair, Merge, ResolveRun
from clientops.jobs import flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import Job
from tests import factories
from tests.conftest import drop_postgres, fresh_postgres

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """clientops on a fresh data folder (and PostgreSQL database), jobs enabled."""
    previous = config.current()
    pg = fresh_postgres(PG_URL, prefix="co_resolve") if PG_URL else None
    # Thresholds as an operator may set them: only certain matches (the deterministic rules,
    # probability 1) merge by themselves, anything from 0.5 is reviewed. How the engine scores
    # a dozen records is the engine's concern; what the job does with a score is this file's.
    settings = config.configure(
        data_dir=tmp_path / "data",
        database_url=pg,
        jobs_enabled=True,
        identity_auto_merge=1.0,
        identity_review_from=0.5,
    )
    migrate.upgrade()
    try:
        yield settings
    finally:
        flows.stop()
        db.dispose_engines()
        if pg:
            drop_postgres(pg)
        config.configure(**previous.model_dump())


@pytest.fixture
def admin(env: Settings) -> Principal:
    """An admin in the fresh database."""
    user = factories.make_user("admin", "admin", ["East"])
    with db.transaction() as s:
        from clientops.auth import service as auth_service

        return auth_service.principal_of(auth_service.get_user(db=s, user_id=user.id))


POPULATION = [
    ("王建国", "13500000001", "广州市天河区体育西路1号"),
    ("刘丽", "13500000002", "杭州市西湖区文三路20号"),
    ("陈晨", "13500000003", "南京市鼓楼区中山路5号"),
    ("杨洋", "13500000004", "成都市武侯区人民南路9号"),
    ("赵磊", "13500000005", "武汉市江汉区解放大道7号"),
    ("黄敏", "13500000006", "西安市雁塔区长安路3号"),
    ("周强", "13500000007", "重庆市渝中区解放碑2号"),
    ("吴静", "13500000008", "天津市和平区南京路11号"),
]


def _seed(admin: Principal) -> dict[str, int]:
    """Distinct people, plus: the same phone twice (sure), and the same name in the same city
    with different phones and streets (maybe: moved, or a namesake; for review)."""
    ids = {
        f"p{i}": factories.make_customer(admin, name=name, phone=phone, address=address)
        for i, (name, phone, address) in enumerate(POPULATION)
    }
    ids["zhang_erp"] = factories.make_customer(
        admin,
        name="张伟",
        phone="13811112222",
        address="上海市浦东新区世纪大道100号",
        source="erp",
    )
    ids["zhang_web"] = factories.make_customer(
        admin, name="张伟", phone="+86 138 1111 2222", email="zw@example.cn", source="web"
    )
    ids["li_1"] = factories.make_customer(
        admin, name="李娜", phone="13900001111", address="北京市朝阳区建国路88号"
    )
    ids["li_2"] = factories.make_customer(
        admin, name="李娜", phone="13700002222", address="北京市海淀区中关村大街1号"
    )
    return ids


def _run(params: dict[str, Any]) -> Job:
    flows.start()
    job = flows.submit("resolve-customers", params=params, run_here=True)
    job = flows.wait(job.id, timeout=300, poll_seconds=0.2)
    assert job.status == "succeeded", job.error
    return job


def _exists(customer_id: int) -> bool:
    with db.transaction() as s:
        return s.get(Customer, customer_id) is not None


def _pairs() -> dict[tuple[int, int], tuple[str, float]]:
    with db.transaction() as s:
        rows = s.execute(
            select(
                CandidatePair.left_id,
                CandidatePair.right_id,
                CandidatePair.status,
                CandidatePair.probability,
            )
        ).all()
    return {(r.left_id, r.right_id): (r.status, r.probability) for r in rows}


def _run_row(job_id: int) -> ResolveRun:
    with db.transaction() as s:
        run = s.scalar(select(ResolveRun).where(ResolveRun.job_id == job_id))
        assert run is not None
        return run


def test_full_run_merges_sure_duplicates_and_queues_likely_ones(
    env: Settings, admin: Principal
) -> None:
    ids = _seed(admin)
    job = _run({"mode": "full"})

    # Same phone: merged into the ERP record (the trusted, older one), email carried over.
    assert _exists(ids["zhang_erp"]) and not _exists(ids["zhang_web"])
    with db.transaction() as s:
        zhang = s.get(Customer, ids["zhang_erp"])
        assert zhang is not None and zhang.email == "zw@example.cn"
        record = s.scalar(select(Merge))
        assert record is not None and record.created_by is None
        assert record.reason["rule"] == "same_phone" and record.reason["via"] == "auto"
        assert record.reason["actor"] == "system"
    # Same name and address, different phone and email: waiting for a person to decide.
    pairs = _pairs()
    status, probability = pairs[(ids["li_1"], ids["li_2"])]
    assert status == "pending"
    assert env.identity_review_from <= probability < env.identity_auto_merge
    assert pairs[(ids["zhang_erp"], ids["zhang_web"])][0] == "merged"
    assert _exists(ids["li_1"]) and _exists(ids["li_2"])
    run = _run_row(job.id)
    assert (run.mode, run.records, run.auto_merged, run.queued) == ("full", 12, 1, 1)
    with db.transaction() as s:
        lines = [line.message for line in jobs_service.logs(db=s, job_id=job.id)]
    assert lines[-1] == (
        "summary: 12 customers compared, 2 pairs found, 1 merged automatically, "
        "1 queued for review, 0 skipped"
    )


def test_rejected_pair_stays_out_until_a_record_changes(env: Settings, admin: Principal) -> None:
    ids = _seed(admin)
    _run({"mode": "full"})
    key = (ids["li_1"], ids["li_2"])
    with db.transaction() as s:
        pair = s.scalar(select(CandidatePair).where(CandidatePair.left_id == key[0]))
        assert pair is not None
        pair.status, pair.decided_at = "rejected", datetime.now(UTC)

    second = _run({"mode": "full"})
    assert _pairs()[key][0] == "rejected"
    assert (_run_row(second.id).queued, _run_row(second.id).skipped) == (0, 1)

    with db.transaction() as s:  # one of the two records is edited: the pair may come back
        s.execute(
            update(Customer)
            .where(Customer.id == key[1])
            .values(title="经理", updated_at=datetime.now(UTC))
        )
    _run({"mode": "full"})
    assert _pairs()[key][0] == "pending"


def test_incremental_run_looks_at_new_and_changed_customers_only(
    env: Settings, admin: Principal
) -> None:
    ids = _seed(admin)
    first = _run({"mode": "full"})
    newcomer = factories.make_customer(admin, name="刘 丽", phone="135 0000 0002")

    second = _run({"mode": "incremental"})
    run = _run_row(second.id)
    with db.transaction() as s:
        started = s.get(Job, first.id)
        assert started is not None and run.since == started.started_at
    # In focus: the newcomer, and the survivor of the first run's merge (changed by it).
    assert (run.mode, run.focus, run.auto_merged) == ("incremental", 2, 1)
    assert not _exists(newcomer) and _exists(ids["p1"])

    third = _run({"mode": "incremental"})  # nothing changed since the second run started...
    assert _run_row(third.id).focus == 1  # ...but the survivor, updated by the merge


def test_cli_resolve_prints_the_summary(env: Settings, admin: Principal) -> None:
    _seed(admin)
    result = CliRunner().invoke(cli_app, ["resolve", "--full", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["mode"] == "full"
    assert (summary["compared"], summary["auto_merged"], summary["queued_for_review"]) == (12, 1, 1)

    refused = CliRunner().invoke(cli_app, ["resolve", "--full", "--since", "2026-01-01"])
    assert refused.exit_code == 2
    refused = CliRunner().invoke(cli_app, ["resolve", "--since", "yesterday"])
    assert refused.exit_code == 2 and "not an ISO date" in refused.output


def test_nightly_schedule_submits_an_incremental_run(env: Settings, admin: Principal) -> None:
    _seed(admin)
    flows.start()
    identity_flows.install_schedule()
    schedule = DBOS.get_schedule(identity_flows.NIGHTLY_SCHEDULE)
    assert schedule is not None and schedule["schedule"] == identity_flows.NIGHTLY_CRON

    identity_flows.nightly_resolve(datetime(2026, 11, 24, 2, tzinfo=UTC), None)
    with db.transaction() as s:
        job_id = s.scalar(select(func.max(Job.id)).where(Job.kind == "resolve-customers"))
    assert job_id is not None
    job = flows.wait(job_id, timeout=300, poll_seconds=0.2)
    assert job.status == "succeeded", job.error
    assert job.params == {"mode": "incremental"}
    assert _run_row(job_id).mode == "full"  # no successful run before it: everything compared
