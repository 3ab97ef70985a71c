"""Projects: templates, gates, the WBS, links and the stored critical-path schedule,
baselines — through the services and the JSON API, on a real database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clientops.audit.models import AuditEvent
from clientops.core.access import Principal
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.exceptions import InvalidInput
from clientops.projects import plans, service
from clientops.projects.models import Project, Task
from clientops.projects.schemas import (
    LinkCreate,
    ProjectCreate,
    TaskCreate,
    TaskFields,
)
from tests import factories

MONDAY = dt.date(2027, 3, 1)  # no Chinese public holiday in March 2027


def _blank(principal: Principal, customer_id: int, **fields: Any) -> int:
    return factories.make_project(
        principal, customer_id, template=None, start_date=MONDAY, cn_holidays=False, **fields
    )


def _task(db: Any, project_id: int, name: str, days: int, parent: int | None = None) -> Task:
    project = db.get(Project, project_id)
    data = TaskCreate(name=name, duration_days=days, parent_id=parent)
    return plans.add_task(db=db, project=project, data=data)


def _tasks(project_id: int) -> dict[str, Task]:
    with transaction() as db:
        rows = db.scalars(select(Task).where(Task.project_id == project_id)).all()
        for row in rows:
            db.expunge(row)
        return {t.name: t for t in rows}


def test_template_creates_phases_tasks_links_raci_and_risks(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = factories.make_project(pm, world.customers["East"][1])
    with transaction() as db:
        project = service.get(db=db, project_id=project_id, principal=pm)
        detail = service.detail(db=db, project=project)
        tasks = plans.tasks(db=db, project=project)
        assert [p["key"] for p in detail["phases"]] == [
            "initiation", "planning", "execution", "monitoring", "closure",
        ]  # fmt: skip
        assert detail["phase"] == "initiation" and detail["pm_id"] == pm.user_id
        assert [t.wbs for t in tasks[:3]] == ["1", "1.1", "1.2"]
        assert sum(t.kind == "milestone" for t in tasks) == 3
        assert len(plans.links(db=db, project=project)) == 11
        # Scheduled on creation, in working days, with China's National Day off in 2027? The
        # start is in March: the first task starts on the first working day.
        assert tasks[1].start_date == MONDAY and project.finish_date is not None
        assert any(t.critical for t in tasks) and project.makespan_days == 44


def test_gate_refuses_with_unmet_items_then_closes(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = _blank(pm, world.customers["East"][1])
    with transaction() as db:
        with pytest.raises(InvalidInput) as refused:
            service.close_phase(db=db, project_id=project_id, phase="initiation", principal=pm)
        assert set(refused.value.errors) == {"gate.goal", "gate.team", "gate.kickoff"}
    with transaction() as db:
        bind(db, actor=SYSTEM)
        from clientops.projects.schemas import MemberIn, ProjectUpdate

        data = ProjectUpdate(
            goal="Go live", scope="CRM", members=[MemberIn(user_id=pm.user_id, role="PM")]
        )
        service.update(db=db, project_id=project_id, data=data, principal=pm)
        service.tick(
            db=db, project_id=project_id, phase="initiation", key="kickoff", done=True, principal=pm
        )
        project = service.close_phase(
            db=db, project_id=project_id, phase="initiation", principal=pm
        )
        assert project.phase == "planning"
    # Planning cannot close without a baseline.
    with transaction() as db:
        with pytest.raises(InvalidInput) as refused:
            service.close_phase(db=db, project_id=project_id, phase="planning", principal=pm)
        assert "gate.baseline" in refused.value.errors
        assert refused.value.errors["gate.baseline"] == "Baseline saved"


def test_every_change_reschedules_and_stores_cpm(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = _blank(pm, world.customers["East"][1])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        a, b, c = (_task(db, project_id, n, d) for n, d in (("A", 3), ("B", 5), ("C", 2)))
        project = db.get(Project, project_id)
        for pred, succ, kind, lag in ((a, b, "FS", 0), (a, c, "SS", 1), (c, b, "FF", 0)):
            data = LinkCreate(pred_id=pred.id, succ_id=succ.id, type=kind, lag_days=lag)
            plans.add_link(db=db, project=project, data=data)
    got = _tasks(project_id)
    # A 0-3; B after A (FS) 3-8; C starts 1 day after A starts (SS+1): 1-3, float to B's finish.
    assert (got["A"].early_start, got["A"].early_finish) == (0, 3)
    assert (got["B"].early_start, got["B"].early_finish) == (3, 8)
    assert (got["C"].early_start, got["C"].late_finish, got["C"].total_float) == (1, 8, 5)
    assert got["A"].critical and got["B"].critical and not got["C"].critical
    assert got["B"].start_date == dt.date(2027, 3, 4) and got["B"].finish_date == dt.date(
        2027, 3, 10
    )
    # A drag: B may not start before Monday 8 March; the stored figures follow at once.
    with transaction() as db:
        bind(db, actor=SYSTEM)
        fields = TaskFields(constraint_type="SNET", constraint_date=dt.date(2027, 3, 8))
        result = plans.update_task(
            db=db, project_id=project_id, task_id=got["B"].id, data=fields, principal=pm
        )
        assert result.makespan_days == 10 and result.changed >= 1
    moved = _tasks(project_id)
    assert moved["B"].start_date == dt.date(2027, 3, 8) and moved["B"].early_start == 5
    assert moved["A"].total_float == 2 and not moved["A"].critical
    with transaction() as db:
        assert db.get(Project, project_id).finish_date == dt.date(2027, 3, 12)


def test_cycle_is_refused_naming_the_loop(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = _blank(pm, world.customers["East"][1])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        a, b = _task(db, project_id, "Design", 2), _task(db, project_id, "Build", 3)
        plans.create_link(
            db=db, project_id=project_id, data=LinkCreate(pred_id=a.id, succ_id=b.id), principal=pm
        )
        ids = a.id, b.id
    with pytest.raises(InvalidInput) as refused, transaction() as db:
        data = LinkCreate(pred_id=ids[1], succ_id=ids[0])
        plans.create_link(db=db, project_id=project_id, data=data, principal=pm)
    message = refused.value.errors["links"]
    assert "Design" in message and "Build" in message and "→" in message
    with transaction() as db:  # nothing of the refused link was kept
        project = db.get(Project, project_id)
        assert len(plans.links(db=db, project=project)) == 1


def test_move_indent_outdent_recompute_wbs_codes(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = _blank(pm, world.customers["East"][1])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        for name in ("One", "Two", "Three"):
            _task(db, project_id, name, 1)
    ids = {n: t.id for n, t in _tasks(project_id).items()}
    with transaction() as db:
        bind(db, actor=SYSTEM)
        plans.indent(db=db, project_id=project_id, task_id=ids["Two"], principal=pm)
    assert {n: t.wbs for n, t in _tasks(project_id).items()} == {
        "One": "1", "Two": "1.1", "Three": "2",
    }  # fmt: skip
    with transaction() as db:
        bind(db, actor=SYSTEM)
        plans.move_task(
            db=db, project_id=project_id, task_id=ids["Three"], parent_id=None, position=0,
            principal=pm,
        )  # fmt: skip
        plans.outdent(db=db, project_id=project_id, task_id=ids["Two"], principal=pm)
    assert {n: t.wbs for n, t in _tasks(project_id).items()} == {
        "Three": "1", "One": "2", "Two": "3",
    }  # fmt: skip
    with pytest.raises(InvalidInput), transaction() as db:
        plans.move_task(
            db=db, project_id=project_id, task_id=ids["One"], parent_id=ids["One"], position=0,
            principal=pm,
        )  # fmt: skip


def test_summary_spans_children_and_bulk_edit(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = _blank(pm, world.customers["East"][1])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        phase = _task(db, project_id, "Phase", 1)
        x, y = _task(db, project_id, "X", 2, phase.id), _task(db, project_id, "Y", 4, phase.id)
        plans.bulk_update(
            db=db, project_id=project_id, task_ids=[x.id, y.id],
            data=TaskFields(duration_days=6), principal=pm,
        )  # fmt: skip
    got = _tasks(project_id)
    assert (got["Phase"].early_start, got["Phase"].early_finish) == (0, 6)
    assert got["X"].duration_days == got["Y"].duration_days == 6


def test_baselines_compare_plan_baseline_and_actual(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = _blank(pm, world.customers["East"][1], budget="1000.00")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        a = _task(db, project_id, "A", 5)
        plans.create_baseline(db=db, project_id=project_id, name="Signed plan", principal=pm)
        plans.update_task(
            db=db, project_id=project_id, task_id=a.id, data=TaskFields(duration_days=7),
            principal=pm,
        )  # fmt: skip
        plans.create_baseline(db=db, project_id=project_id, name="Re-plan", principal=pm)
        project = db.get(Project, project_id)
        first = plans.baselines(db=db, project=project)[-1]
        compared = plans.compare(db=db, project=project, baseline_id=first.id)
    row = compared["tasks"][0]
    assert row["baseline_finish"] == dt.date(2027, 3, 5)
    assert row["plan_finish"] == dt.date(2027, 3, 9)
    assert row["finish_variance_days"] == 4 and row["baseline_cost"] == 1000.0
    assert compared["project"]["finish_variance_days"] == 4
    assert first.name == "Signed plan"


def test_api_plan_round_trip_and_audit(client: TestClient, world: factories.World) -> None:
    factories.login(client, "project_manager")
    headers = {"X-CSRF-Token": factories.csrf_from(client.get("/customers").text)}
    body = {
        "customer_id": world.customers["East"][1],
        "name": "Onboarding",
        "template": "onboarding",
        "start_date": "2027-03-01",
    }
    created = client.post("/api/v1/projects", json=body, headers=headers)
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    tasks = client.get(f"/api/v1/projects/{project_id}/tasks").json()
    welcome = next(t for t in tasks if t["name"] == "Welcome call")
    moved = client.patch(
        f"/api/v1/projects/{project_id}/tasks/{welcome['id']}",
        json={"constraint_type": "SNET", "constraint_date": "2027-03-03"},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.json()["changed"] >= 1
    after = {t["name"]: t for t in client.get(f"/api/v1/projects/{project_id}/tasks").json()}
    assert after["Welcome call"]["start_date"] == "2027-03-03"
    loop = client.post(
        f"/api/v1/projects/{project_id}/links",
        json={"pred_id": after["Onboarding complete"]["id"], "succ_id": welcome["id"]},
        headers=headers,
    )
    assert loop.status_code == 422 and "Welcome call" in loop.json()["detail"]["links"]
    with transaction() as db:
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "project_tasks",
                AuditEvent.entity_id == str(welcome["id"]),
                AuditEvent.action == "update",
            )
        ).all()
        assert events and events[-1].changes["constraint_type"] == ["ASAP", "SNET"]


def test_create_for_unknown_customer_is_refused(world: factories.World) -> None:
    west_only = world.principal("west_pm")
    with pytest.raises(Exception) as refused, transaction() as db:
        service.create(
            db=db,
            data=ProjectCreate(customer_id=world.customers["East"][1], name="X", start_date=MONDAY),
            principal=west_only,
        )
    assert type(refused.value).__name__ == "NotFound"
