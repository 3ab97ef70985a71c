"""The demo company: what a first-time user sees after ``clientops demo``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clientops import config
from clientops.auth import service as auth_service
from clientops.auth.models import User
from clientops.customers import demo, service
from clientops.customers.models import Activity, Customer, Order
from clientops.customers.service import CustomerFilter
from clientops.db import get_engine, transaction
from clientops.exceptions import InvalidInput
from tests.factories import login

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def loaded(database_url: str) -> dict[str, int]:
    """A small demo company (300 customers, 1,500 orders)."""
    with config.override(demo_mode=True):
        return demo.load_demo(engine=get_engine(), customers=300, orders=1500, seed=7)


def _admin() -> Any:
    with transaction() as db:
        user = db.scalars(select(User).where(User.username == "admin")).one()
        return auth_service.principal_of(user)


def test_demo_needs_demo_mode_and_writes_nothing_without_it(database_url: str) -> None:
    with pytest.raises(InvalidInput):
        demo.load_demo(engine=get_engine(), customers=10, orders=10)
    assert not demo.is_loaded(engine=get_engine())
    with transaction() as db:
        assert db.scalar(select(func.count()).select_from(Customer)) == 0
        assert db.scalar(select(func.count()).select_from(User)) == 0


def test_demo_company_is_bilingual_with_orders_owners_and_teams(loaded: dict[str, int]) -> None:
    assert demo.is_loaded(engine=get_engine())
    with transaction() as db:
        customers = list(db.scalars(select(Customer)))
        assert len(customers) == 300 == loaded["customers"]
        kinds = {c.kind for c in customers}
        assert kinds == {"company", "person"}
        chinese = [c for c in customers if HAN.search(c.name)]
        latin = [c for c in customers if not HAN.search(c.name)]
        assert len(chinese) > 100 and len(latin) > 30
        assert sum(c.owner_id is not None for c in customers) > 250
        assert sum(c.team_id is not None for c in customers) > 250
        contacts = [c for c in customers if c.account_id is not None]
        assert contacts and all(c.kind == "person" for c in contacts)
        assert db.scalar(select(func.count()).select_from(Order)) == 1500
        orphan = (
            select(func.count())
            .select_from(Order)
            .where(Order.customer_id.not_in(select(Customer.id)))
        )
        assert db.scalar(orphan) == 0
        assert db.scalar(select(func.count()).select_from(Activity)) == loaded["activities"] > 0


def test_demo_customers_are_found_by_search(loaded: dict[str, int]) -> None:
    """Bulk-loaded rows carry the same search keys as rows typed in by a user."""
    principal = _admin()
    with transaction() as db:
        chinese = db.scalars(select(Customer).where(Customer.phone.is_not(None))).all()
        person = next(c for c in chinese if HAN.search(c.name) and c.kind == "person")
        with_email = next(c for c in chinese if c.email)
        for query, expected in (
            (person.name, person.id),
            (person.name[:2], person.id),
            (str(person.phone)[-11:], person.id),
            (str(with_email.email).upper(), with_email.id),
        ):
            rows, _ = service.list_page(
                db=db, principal=principal, flt=CustomerFilter(q=query), limit=200
            )
            assert expected in {row.id for row in rows}, query


def test_demo_users_sign_in_with_their_username_as_password(
    loaded: dict[str, int], client: TestClient
) -> None:
    login(client, "admin", "admin")
    with transaction() as db:
        newest = db.scalars(select(Customer).order_by(Customer.id.desc()).limit(1)).one()
    listing = client.get("/customers", params={"q": newest.name})
    assert listing.status_code == 200
    assert newest.name in listing.text


def test_loading_twice_adds_after_existing_ids(loaded: dict[str, int]) -> None:
    with config.override(demo_mode=True):
        again = demo.load_demo(engine=get_engine(), customers=50, orders=100, seed=8)
    assert again["users"] == 0
    with transaction() as db:
        assert db.scalar(select(func.count()).select_from(Customer)) == 350
        assert db.scalar(select(func.count()).select_from(Order)) == 1600


def test_demo_projects_show_progress_against_a_baseline(loaded: dict[str, int]) -> None:
    import datetime as dt

    from clientops.core.context import SYSTEM, bind
    from clientops.projects import costs, plans
    from clientops.projects import demo as projects_demo
    from clientops.projects import service as projects_service
    from clientops.projects.models import Project

    today = dt.date(2026, 11, 23)
    with transaction() as db:
        bind(db, actor=SYSTEM)
        pm = db.scalars(select(User).where(User.username == "pm")).one()
        made = projects_demo.load_demo(db=db, principal=_admin(), pm_id=pm.id, today=today)
    assert made == 3
    with transaction() as db:
        projects = db.scalars(select(Project).order_by(Project.id)).all()
        assert {p.pm_id for p in projects} == {pm.id}
        running = projects[0]  # started 75 days before "today": most of its plan is done
        tasks = plans.leaf_tasks(db, running)
        done = [t for t in tasks if t.percent_complete == 100]
        assert done and all(t.finish_date is not None and t.finish_date < today for t in done)
        assert plans.latest_baseline(db=db, project=running) is not None
        figures = costs.figures(db=db, project=running, status_date=today)
        assert figures.ev is not None and figures.ev > 0
        future = projects[2]  # starts in ten days: nothing done yet
        assert all(t.percent_complete == 0 for t in plans.leaf_tasks(db, future))
        listed = projects_service.for_customer(
            db=db, customer_id=running.customer_id, principal=_admin()
        )
        assert [p["id"] for p in listed] == [running.id]
