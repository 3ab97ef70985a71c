"""The audit trail is written in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from clientops.audit.models import AuditEvent
from clientops.core.context import Actor, bind
from clientops.customers import service as customers_service
from clientops.customers.models import Customer, Tag
from clientops.customers.schemas import CustomerUpdate
from clientops.db import transaction
from tests import factories


def events(**where: Any) -> list[AuditEvent]:
    with transaction() as db:
        stmt = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
        return list(db.scalars(stmt))


def test_a_web_write_records_actor_fields_and_request_id(client: TestClient, world: Any) -> None:
    factories.login(client, "agent")
    csrf = factories.csrf_from(client.get("/customers/new").text)
    response = client.post(
        "/customers/new",
        data={"csrf_token": csrf, "name": "赵敏", "phone": "13700001111", "kind": "person"},
        headers={"X-Request-ID": "req-42"},
    )
    assert response.status_code == 303
    customer_id = response.headers["location"].rsplit("/", 1)[1]
    (event,) = events(entity_type="customers", entity_id=customer_id, action="create")
    assert event.actor_name == "agent"
    assert event.request_id == "req-42"
    assert event.changes["name"] == [None, "赵敏"]
    assert event.changes["phone"] == [None, "+8613700001111"]


def test_an_update_records_before_and_after_of_changed_fields_only(world: Any) -> None:
    customer_id = world.customers["East"][0]
    with transaction() as db:
        bind(db, actor=Actor(world.users["admin"].id, "admin"))
        customers_service.update(
            db=db,
            customer_id=customer_id,
            data=CustomerUpdate(city="杭州", name="张伟"),
            principal=world.principal("admin"),
        )
    (event,) = events(entity_type="customers", entity_id=str(customer_id), action="update")
    # The city was filled from the address (上海市浦东新区…) when the customer was created.
    assert event.changes == {"city": ["上海市", "杭州"]}


def test_a_failed_write_leaves_no_audit_row_and_no_change(world: Any) -> None:
    customer_id = world.customers["East"][0]
    before = len(events())
    with pytest.raises(RuntimeError), transaction() as db:
        bind(db, actor=Actor(world.users["admin"].id, "admin"))
        customers_service.update(
            db=db,
            customer_id=customer_id,
            data=CustomerUpdate(city="苏州"),
            principal=world.principal("admin"),
        )
        db.flush()
        raise RuntimeError("the request failed after the change was flushed")
    assert len(events()) == before
    with transaction() as db:
        assert db.get(Customer, customer_id).city == "上海市"  # type: ignore[union-attr]


def test_a_constraint_violation_leaves_no_audit_row(world: Any) -> None:
    with transaction() as db:
        db.add(Tag(name="VIP"))
    before = len(events())
    with pytest.raises(IntegrityError), transaction() as db:
        db.add(Tag(name="VIP"))
        db.flush()
    assert len(events()) == before
    with transaction() as db:
        assert db.scalar(select(func.count()).select_from(Tag)) == 1


def test_admins_browse_and_filter_the_trail_others_cannot(client: TestClient, world: Any) -> None:
    customer_id = world.customers["East"][0]
    factories.login(client, "admin")
    page = client.get("/audit", params={"entity_type": "customers", "entity_id": customer_id})
    assert page.status_code == 200
    assert f"customers #{customer_id}" in page.text
    assert "张伟" in page.text
    other = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    factories.login(other, "ops_manager")
    assert other.get("/audit").status_code == 403


def test_export_is_audited_and_neutralises_formulas(client: TestClient, world: Any) -> None:
    factories.make_customer(
        world.principal("admin"), name='=HYPERLINK("x")', team_id=world.teams["East"]
    )
    factories.login(client, "analyst")
    response = client.get("/customers/export.csv")
    assert response.status_code == 200
    assert "'=HYPERLINK" in response.text
    assert "138****1234" in response.text and "13812341234" not in response.text
    (event,) = events(action="export")
    assert event.actor_name == "analyst" and event.changes["rows"] == 4
