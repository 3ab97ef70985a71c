"""The ``link-events`` job: events stored before their person was known are linked once a
customer carries their id, in durable batches (its own data folder and jobs database)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clientops import config, db, migrate
from clientops.auth import service as auth_service
from clientops.config import Settings
from clientops.core.context import SYSTEM, bind
from clientops.customers import service as customers_service
from clientops.customers.schemas import CustomerCreate, CustomerUpdate
from clientops.events import service as events_service
from clientops.events.models import Event
from clientops.jobs import flows
from clientops.jobs import service as jobs_service
from tests.conftest import drop_postgres, fresh_postgres

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """clientops on a fresh data folder (and PostgreSQL database), jobs enabled."""
    previous = config.current()
    pg = fresh_postgres(PG_URL, prefix="co_evjobs") if PG_URL else None
    settings = config.configure(data_dir=tmp_path / "data", database_url=pg, jobs_enabled=True)
    migrate.upgrade()
    try:
        yield settings
    finally:
        flows.stop()
        db.dispose_engines()
        if pg:
            drop_postgres(pg)
        config.configure(**previous.model_dump())


def _batch(events: list[dict[str, object]]) -> bytes:
    return json.dumps({"source": "web", "batch": events}).encode()


def test_link_events_links_what_arrived_before_the_customer_had_the_id(env: Settings) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    with db.transaction() as session:
        bind(session, actor=SYSTEM)
        user = auth_service.create_user(
            db=session, username="bot", password="correct horse battery", role="admin"
        )
        principal = auth_service.principal_of(user)
        customer = customers_service.create(
            db=session, data=CustomerCreate(name="孙丽"), principal=principal
        )
        events = [
            {
                "type": "track",
                "message_id": f"early-{i:02d}",  # ids follow the message ids
                "timestamp": (start + timedelta(minutes=i)).isoformat(),
                "user_id": "crm-5" if i % 2 else "crm-6",
                "event": "Product Added" if i % 5 == 0 else "Product Viewed",
            }
            for i in range(25)
        ]
        answer = events_service.ingest(db=session, principal=principal, body=_batch(events))
        assert answer["accepted"] == 25
    with db.transaction() as session:
        bind(session, actor=SYSTEM)
        customers_service.update(
            db=session,
            customer_id=customer.id,
            data=CustomerUpdate(external_ids=[{"source": "web", "external_id": "crm-5"}]),
            principal=principal,
        )

    flows.start()
    job = flows.submit("link-events", params={"batch_size": 10}, run_here=True)
    job = flows.wait(job.id, timeout=120, poll_seconds=0.2)

    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (25, 25)
    with db.transaction() as session:
        linked = {e.message_id: e.customer_id for e in session.scalars(select(Event))}
        summary = events_service.summary(db=session, customer_id=customer.id)
        log = [line.message for line in jobs_service.logs(db=session, job_id=job.id)]
    odd = {f"early-{i:02d}" for i in range(25) if i % 2}
    assert {m for m, c in linked.items() if c == customer.id} == odd
    assert {m for m, c in linked.items() if c is None} == set(linked) - odd
    assert summary is not None
    assert (summary.events, summary.tracks, summary.cart_adds) == (12, 12, 2)  # 5 and 15 add
    assert summary.first_seen_at == start + timedelta(minutes=1)
    assert summary.last_seen_at == start + timedelta(minutes=23)
    assert [line for line in log if line.startswith("batch")] == [
        "batch 1/3: events 1-10, 10 checked, 5 linked",
        "batch 2/3: events 11-20, 10 checked, 5 linked",
        "batch 3/3: events 21-25, 5 checked, 2 linked",
    ]
