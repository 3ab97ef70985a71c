"""Projects: resources and allocation, timesheets → actual cost, EVM on a project checked by
hand, change requests → new baseline, RAG override, reports, DCMA, closure and hand-over."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from clientops.core.context import SYSTEM, bind
from clientops.customers import service as customers_service
from clientops.db import transaction
from clientops.exceptions import Conflict, InvalidInput
from clientops.projects import (
    costs,
    flows,
    governance,
    plans,
    reports,
    resources,
    service,
)
from clientops.projects.models import Project
from clientops.projects.schemas import (
    AssignmentIn,
    CalendarDayIn,
    ChangeRequestIn,
    ClosureIn,
    ExpenseIn,
    HandoverIn,
    LessonIn,
    LinkCreate,
    ResourceCreate,
    SurveyAnswer,
    TaskCreate,
    TaskEdit,
    TaskFields,
    TimesheetEntryIn,
)
from tests import factories

MONDAY = dt.date(2027, 3, 1)


def _two_task_project(world: factories.World) -> dict[str, int]:
    """A 20,000 budget over A (10 days, 80 h) then B (10 days, 80 h); the agent (150/h) on A."""
    pm = world.principal("project_manager")
    project_id = factories.make_project(
        pm, world.customers["East"][1], template=None, start_date=MONDAY, cn_holidays=False,
        budget=Decimal("20000.00"),
    )  # fmt: skip
    with transaction() as db:
        bind(db, actor=SYSTEM)
        project = db.get(Project, project_id)
        a = plans.add_task(
            db=db, project=project, data=TaskCreate(name="A", duration_days=10, effort_hours=80)
        )
        b = plans.add_task(
            db=db, project=project, data=TaskCreate(name="B", duration_days=10, effort_hours=80)
        )
        plans.add_link(db=db, project=project, data=LinkCreate(pred_id=a.id, succ_id=b.id))
        agent = resources.create_resource(
            db=db,
            data=ResourceCreate(
                name="Agent", user_id=world.users["agent"].id, cost_rate=Decimal("150")
            ),
            principal=pm,
        )
        resources.assign(
            db=db, project_id=project_id, task_id=a.id, data=AssignmentIn(resource_id=agent.id),
            principal=pm,
        )  # fmt: skip
        plans.create_baseline(db=db, project_id=project_id, name="Plan", principal=pm)
        return {"project": project_id, "a": a.id, "b": b.id, "resource": agent.id}


def _log_a(world: factories.World, ids: dict[str, int]) -> list[int]:
    agent = world.principal("agent")
    days = [
        MONDAY + dt.timedelta(days=i) for i in range(12) if (MONDAY + dt.timedelta(i)).weekday() < 5
    ]
    with transaction() as db:
        bind(db, actor=SYSTEM)
        entries = [
            TimesheetEntryIn(
                task_id=ids["a"], day=d, hours=8, percent_complete=100 if d == days[-1] else None
            )
            for d in days
        ]
        saved = resources.save_week(db=db, principal=agent, entries=entries)
        for monday in (MONDAY, MONDAY + dt.timedelta(days=7)):
            resources.submit_week(db=db, principal=agent, week_start=monday)
        return [e.id for e in saved]


def test_allocation_flags_over_allocation_across_projects(world: factories.World) -> None:
    ids = _two_task_project(world)
    pm = world.principal("project_manager")
    other = factories.make_project(
        pm, world.customers["East"][0], template=None, start_date=MONDAY, cn_holidays=False
    )
    with transaction() as db:
        bind(db, actor=SYSTEM)
        task = plans.add_task(
            db=db, project=db.get(Project, other), data=TaskCreate(name="Other", duration_days=2)
        )
        resources.assign(
            db=db, project_id=other, task_id=task.id,
            data=AssignmentIn(resource_id=ids["resource"], units=0.5), principal=pm,
        )  # fmt: skip
        (load,) = resources.allocation(
            db=db, principal=pm, start=MONDAY, end=MONDAY + dt.timedelta(days=13),
            resource_ids=[ids["resource"]],
        )  # fmt: skip
    by_day = {d["start"]: d for d in load["days"]}
    assert by_day[MONDAY]["hours"] == 12.0 and by_day[MONDAY]["over"]  # 8 h + half of 8 h
    assert by_day[MONDAY + dt.timedelta(days=2)]["hours"] == 8.0
    assert not by_day[MONDAY + dt.timedelta(days=2)]["over"]
    assert load["weeks"][0]["hours"] == 48.0 and load["weeks"][0]["capacity"] == 40.0
    assert load["over_allocated"]


def test_a_persons_day_off_shows_as_a_conflict_and_levelling_works_around_it(
    world: factories.World,
) -> None:
    ids = _two_task_project(world)  # A (10 days, the agent full time) then B (10 days)
    pm = world.principal("project_manager")
    wednesday = MONDAY + dt.timedelta(days=2)
    with transaction() as db:
        bind(db, actor=SYSTEM)
        plans.add_calendar_day(
            db=db, project_id=ids["project"], principal=pm,
            data=CalendarDayIn(day=wednesday, resource_id=ids["resource"], note="Leave"),
        )  # fmt: skip
        (load,) = resources.allocation(
            db=db, principal=pm, start=MONDAY, end=MONDAY + dt.timedelta(days=6),
            resource_ids=[ids["resource"]],
        )  # fmt: skip
        proposal = resources.propose_levelling(
            db=db, project_id=ids["project"], principal=pm, time_limit=5
        )
    day = {d["start"]: d for d in load["days"]}[wednesday]
    assert day["capacity"] == 0 and day["hours"] == 8.0 and day["over"]
    assert load["weeks"][0]["capacity"] == 32.0
    # A cannot run through the day off: it starts the day after, and the end moves by 3 days.
    assert proposal.starts[str(ids["a"])] == 3
    assert proposal.makespan_days == 23 and proposal.gap == 0


def test_timesheet_approval_feeds_actual_cost_and_progress(world: factories.World) -> None:
    ids = _two_task_project(world)
    entry_ids = _log_a(world, ids)
    pm, agent = world.principal("project_manager"), world.principal("agent")
    with transaction() as db:
        project = db.get(Project, ids["project"])
        assert plans.actual_cost(db=db, project=project) == 0  # submitted is not yet actual
    with pytest.raises(Exception) as refused, transaction() as db:
        resources.decide_entries(
            db=db, project_id=ids["project"], entry_ids=entry_ids, approve=True, reason=None,
            principal=agent,
        )  # fmt: skip
    assert type(refused.value).__name__ == "Forbidden"
    with transaction() as db:
        bind(db, actor=SYSTEM)
        resources.decide_entries(
            db=db, project_id=ids["project"], entry_ids=entry_ids, approve=True, reason=None,
            principal=pm,
        )  # fmt: skip
    with transaction() as db:
        project = db.get(Project, ids["project"])
        assert plans.actual_cost(db=db, project=project) == 80 * 150
        task = plans.tasks(db=db, project=project)[0]
        assert task.actual_start == MONDAY and task.actual_finish == dt.date(2027, 3, 12)
        assert task.percent_complete == 100
    with pytest.raises(InvalidInput), transaction() as db:  # approved hours are locked
        resources.save_week(
            db=db,
            principal=agent,
            entries=[TimesheetEntryIn(task_id=ids["a"], day=MONDAY, hours=1)],
        )


def test_evm_figures_match_the_hand_computation(world: factories.World) -> None:
    ids = _two_task_project(world)
    entry_ids = _log_a(world, ids)
    pm = world.principal("project_manager")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        resources.decide_entries(
            db=db, project_id=ids["project"], entry_ids=entry_ids, approve=True, reason=None,
            principal=pm,
        )  # fmt: skip
        costs.add_expense(
            db=db, project_id=ids["project"],
            data=ExpenseIn(day=MONDAY, amount=Decimal("500"), category="travel"), principal=pm,
        )  # fmt: skip
    with transaction() as db:
        project = db.get(Project, ids["project"])
        f = costs.figures(db=db, project=project, status_date=dt.date(2027, 3, 12))
    # By hand: BAC 20,000 split by effort 10,000 / 10,000; at 12 March A (10,000) was planned
    # and is done, B not started: PV = EV = 10,000; AC = 80 h × 150 + 500 = 12,500.
    assert (f.bac, f.pv, f.ev, f.ac) == (20000.0, 10000.0, 10000.0, 12500.0)
    assert (f.cv, f.sv, f.cpi, f.spi) == (-2500.0, 0.0, 0.8, 1.0)
    assert f.eac_cpi == pytest.approx(25000.0) and f.etc == pytest.approx(12500.0)
    assert f.vac == pytest.approx(-5000.0) and f.tcpi_bac == pytest.approx(10000 / 7500)
    assert f.budget.status == "over"  # CV is 25% of EV, beyond the ±5% rule


def test_applied_change_updates_plan_and_saves_a_baseline(world: factories.World) -> None:
    ids = _two_task_project(world)
    pm, agent = world.principal("project_manager"), world.principal("agent")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        change = governance.create_change(
            db=db, project_id=ids["project"], principal=pm,
            data=ChangeRequestIn(
                title="Extra reports", schedule_impact_days=3, cost_impact=Decimal("3000"),
                edits=[TaskEdit(task_id=ids["b"], fields=TaskFields(duration_days=13))],
            ),
        )  # fmt: skip
        governance.submit_change(
            db=db, project_id=ids["project"], change_id=change.id, principal=pm
        )
        change_id = change.id
    with pytest.raises(Exception) as refused, transaction() as db:
        governance.decide_change(
            db=db, project_id=ids["project"], change_id=change_id, approve=True, note=None,
            principal=agent,
        )  # fmt: skip
    assert type(refused.value).__name__ == "Forbidden"
    with transaction() as db:
        bind(db, actor=SYSTEM)
        governance.decide_change(
            db=db, project_id=ids["project"], change_id=change_id, approve=True, note="ok",
            principal=pm,
        )  # fmt: skip
        applied = flows.apply_change(
            db=db, project_id=ids["project"], change_id=change_id, principal=pm
        )
        assert applied.status == "applied" and applied.baseline_id is not None
    with transaction() as db:
        project = db.get(Project, ids["project"])
        latest = plans.latest_baseline(db=db, project=project)
        assert latest is not None and latest.name.startswith(f"CR-{change_id}")
        assert latest.tasks[str(ids["b"])]["duration"] == 13
        assert project.budget == Decimal("23000.00") and project.makespan_days == 23
        assert len(plans.baselines(db=db, project=project)) == 2


def test_rag_override_is_kept_and_reports_freeze_on_publish(world: factories.World) -> None:
    ids = _two_task_project(world)
    pm = world.principal("project_manager")
    with pytest.raises(InvalidInput), transaction() as db:
        service.set_rag_override(
            db=db, project_id=ids["project"], rag="red", reason=" ", principal=pm
        )
    with transaction() as db:
        bind(db, actor=SYSTEM)
        service.set_rag_override(
            db=db, project_id=ids["project"], rag="amber", reason="Customer key user left",
            principal=world.principal("admin"),
        )  # fmt: skip
        report = reports.generate(db=db, project_id=ids["project"], week_start=MONDAY, principal=pm)
        report_id = report.id
    with transaction() as db:
        bind(db, actor=SYSTEM)
        again = reports.generate(db=db, project_id=ids["project"], week_start=MONDAY, principal=pm)
        assert again.id == report_id and again.rag == "amber"
        assert again.content["rag"]["override"]["reason"] == "Customer key user left"
        assert again.content["rag"]["computed"] in ("green", "amber", "red")
        project = db.get(Project, ids["project"])
        assert reports.health(db=db, project=project).colour == "amber"
        reports.publish(db=db, project_id=ids["project"], report_id=report_id, principal=pm)
        pdf = reports.pdf(
            db=db, project_id=ids["project"], report_id=report_id, principal=pm, locale="en"
        )
        assert pdf.startswith(b"%PDF")
        # The report keeps its S-curve: planned value climbs to the budget, and the PDF shows it.
        curve = again.content["s_curve"]
        assert curve and curve[-1]["pv_cum"] == pytest.approx(float(project.budget), rel=0.01)
        assert "S-curve" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        # The override names who set it, not merely the project's manager.
        assert again.content["rag"]["override"]["by"] == str(world.principal("admin").user_id)
    with pytest.raises(Conflict), transaction() as db:
        from clientops.projects.schemas import StatusReportUpdate

        reports.edit(
            db=db, project_id=ids["project"], report_id=report_id,
            data=StatusReportUpdate(summary="changed"), principal=pm,
        )  # fmt: skip


def test_dcma_critical_path_test_moves_the_end(world: factories.World) -> None:
    ids = _two_task_project(world)
    pm = world.principal("project_manager")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        checks = reports.assess_schedule(
            db=db, project_id=ids["project"], principal=pm, status_date=MONDAY
        )
    by_name = {c["number"]: c for c in checks}
    assert len(checks) == 14
    assert by_name[12]["passed"] is True  # delaying a critical task delays the finish
    # A → B alone: A has no predecessor and B no successor, so both miss one end of their logic.
    logic = by_name[1]
    assert (logic["count"], logic["total"], logic["passed"]) == (2, 2, False)
    assert set(logic["offending"]) == {str(ids["a"]), str(ids["b"])}


def test_closure_survey_and_handover_reach_the_customer_timeline(
    client: TestClient, world: factories.World
) -> None:
    ids = _two_task_project(world)
    pm = world.principal("project_manager")
    admin = world.principal("admin")
    account = world.customers["East"][1]
    contact = factories.make_customer(
        admin, name="李娜", account_id=account, team_id=world.teams["East"]
    )
    with transaction() as db:
        bind(db, actor=SYSTEM)
        closure = reports.close_out(
            db=db, project_id=ids["project"], principal=pm,
            data=ClosureIn(goal_met=True, lessons=[LessonIn(text="Book testers early")]),
        )  # fmt: skip
        assert closure.evaluation["budget"] == 20000.0 and closure.evaluation["goal_met"]
        (survey,) = reports.send_surveys(
            db=db, project_id=ids["project"], contact_ids=None, principal=pm
        )
        assert survey.contact_id == contact
        token = survey.token
        handover = reports.hand_over(
            db=db, project_id=ids["project"], data=HandoverIn(), principal=pm
        )
        assert [i["title"] for i in handover.open_items] == ["1 A", "2 B"]
        timeline = customers_service.timeline(db=db, customer_id=account)
        assert timeline[0]["subject"] == "Project handed over: ERP rollout"
        assert "Open items:" in timeline[0]["body"]
        listed = service.for_customer(db=db, customer_id=account, principal=pm)
        assert [p["id"] for p in listed] == [ids["project"]]
    answer = client.post(f"/api/v1/surveys/{token}", json={"score": 5, "comment": "很好"})
    assert answer.status_code == 200 and answer.json()["answered"]
    assert client.post(f"/api/v1/surveys/{token}", json={"score": 1}).status_code == 409
    with transaction() as db:
        assert reports.csat(db=db, project=db.get(Project, ids["project"])) == 5.0
    assert SurveyAnswer(score=4).score == 4


def test_the_customer_answers_the_survey_on_its_page(
    client: TestClient, world: factories.World
) -> None:
    ids = _two_task_project(world)
    pm, admin = world.principal("project_manager"), world.principal("admin")
    factories.make_customer(
        admin, name="Contact", account_id=world.customers["East"][1], team_id=world.teams["East"]
    )
    with transaction() as db:
        bind(db, actor=SYSTEM)
        (survey,) = reports.send_surveys(
            db=db, project_id=ids["project"], contact_ids=None, principal=pm
        )
        token = survey.token
    page = client.get(f"/survey/{token}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "ERP rollout" in page.text and "满意" in page.text
    assert client.post(f"/survey/{token}", data={"score": "4"}).status_code == 403  # no CSRF
    csrf = factories.csrf_from(page.text)
    refused = client.post(f"/survey/{token}", data={"csrf_token": csrf, "score": "9"})
    assert refused.status_code == 422
    sent = client.post(
        f"/survey/{token}", data={"csrf_token": csrf, "score": "4", "comment": "Good team"}
    )
    assert sent.status_code == 200 and 'data-testid="survey-thanks"' in sent.text
    again = client.post(f"/survey/{token}", data={"csrf_token": csrf, "score": "1"})
    assert again.status_code == 409 and 'data-testid="survey-done"' in again.text
    assert client.get("/survey/" + "x" * 30).status_code == 404
    with transaction() as db:
        assert reports.csat(db=db, project=db.get(Project, ids["project"])) == 4.0


def test_west_user_cannot_see_east_project(client: TestClient, world: factories.World) -> None:
    ids = _two_task_project(world)
    factories.login(client, "west_pm")
    assert client.get(f"/api/v1/projects/{ids['project']}").status_code == 404
    assert client.get(f"/api/v1/projects/{ids['project']}/tasks").status_code == 404
    assert client.get("/api/v1/projects").json()["items"] == []
    client.cookies.clear()
    factories.login(client, "agent")
    assert client.get(f"/api/v1/projects/{ids['project']}").status_code == 200
    assert [p["id"] for p in client.get("/api/v1/projects").json()["items"]] == [ids["project"]]


def test_project_health_hears_the_customers_churn_risk(world: factories.World) -> None:
    from clientops.analytics.models import CustomerScore

    ids = _two_task_project(world)
    with transaction() as db:
        project = db.get(Project, ids["project"])
        assert project is not None
        before = reports.health(db=db, project=project)
        assert next(c for c in before.components if c.key == "customer").colour != "red"
        db.add(CustomerScore(customer_id=project.customer_id, run_id=1, as_of=MONDAY,
                             stage="declining", churn_risk=0.72))  # fmt: skip
        db.flush()
        after = reports.health(db=db, project=project)
        customer = next(c for c in after.components if c.key == "customer")
        assert customer.colour == "red" and after.computed == "red"
        assert any("72%" in reason for reason in customer.reasons)
