"""Factories that build realistic records through the services (so the rules apply)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from clientops.auth import service as auth_service
from clientops.auth.models import User
from clientops.core.access import ROLES, Principal
from clientops.core.context import SYSTEM, bind
from clientops.customers import service as customers_service
from clientops.customers.schemas import CustomerCreate
from clientops.db import transaction

PASSWORD = "correct horse battery"


@dataclass
class World:
    """What ``world()`` made: users by role, team ids, customers by team."""

    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    customers: dict[str, list[int]] = field(default_factory=dict)

    def principal(self, role: str) -> Principal:
        """The principal of the user with ``role``."""
        with transaction() as db:
            return auth_service.principal_of(
                auth_service.get_user(db=db, user_id=self.users[role].id)
            )


def make_user(username: str, role: str, teams: list[str]) -> User:
    """A user with the shared test password."""
    with transaction() as db:
        bind(db, actor=SYSTEM)
        user = auth_service.create_user(
            db=db, username=username, password=PASSWORD, role=role, team_names=teams
        )
        db.expunge(user)
        return user


def make_customer(principal: Principal, **fields: Any) -> int:
    """A customer created through the service as ``principal``."""
    fields.setdefault("name", "张伟")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        return customers_service.create(
            db=db, data=CustomerCreate(**fields), principal=principal
        ).id


def world() -> World:
    """Two teams; one user per role in team East; customers in East and in West."""
    w = World()
    for role in ROLES:
        w.users[role] = make_user(role, role, ["East"])
    w.users["west_agent"] = make_user("west_agent", "agent", ["West"])
    w.users["west_pm"] = make_user("west_pm", "project_manager", ["West"])
    with transaction() as db:
        w.teams = {t.name: t.id for t in auth_service.list_teams(db=db)}
    admin = w.principal("admin")
    w.customers["East"] = [
        make_customer(
            admin,
            name="张伟",
            phone="13812341234",
            email="zhangwei@example.cn",
            team_id=w.teams["East"],
            address="上海市浦东新区世纪大道100号",
        ),
        make_customer(
            admin,
            name="上海华信科技有限公司",
            kind="company",
            phone="02161234567",
            team_id=w.teams["East"],
        ),
    ]
    w.customers["West"] = [
        make_customer(
            admin,
            name="John Smith",
            phone="+44 20 7946 0958",
            email="john.smith@example.com",
            team_id=w.teams["West"],
        ),
    ]
    return w


def login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Sign ``client`` in through the real sign-in form."""
    page = client.get("/login")
    token = csrf_from(page.text)
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token,
            "next": "/customers",
        },
    )
    assert response.status_code == 303, response.text
    return client


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def make_project(principal: Principal, customer_id: int, **fields: Any) -> int:
    """A project created through the projects flow as ``principal`` (a template by default)."""
    import datetime as dt

    from clientops.projects import flows
    from clientops.projects.schemas import ProjectCreate

    fields.setdefault("name", "ERP rollout")
    fields.setdefault("template", "implementation")
    fields.setdefault("start_date", dt.date(2027, 3, 1))
    with transaction() as db:
        bind(db, actor=SYSTEM)
        data = ProjectCreate(customer_id=customer_id, **fields)
        return flows.create_project(db=db, data=data, principal=principal).id
