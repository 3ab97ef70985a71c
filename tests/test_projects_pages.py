"""The project pages through the app: what a project manager, a team member or an outsider sees."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.projects import flows
from clientops.projects.schemas import ProjectCreate
from tests import factories

START = date(2026, 3, 2)  # a Monday


def make_project(world: factories.World, template: str | None = "implementation", **kw: Any) -> int:
    """A project for the East account, run by the project manager, from a template."""
    pm = world.principal("project_manager")
    data = ProjectCreate(
        customer_id=world.customers["East"][1],
        name=kw.pop("name", "华信 CRM 实施"),
        template=template,
        start_date=kw.pop("start_date", START),
        goal=kw.pop("goal", None),
        **kw,
    )
    with transaction() as db:
        bind(db, actor=SYSTEM)
        return flows.create_project(db=db, data=data, principal=pm).id


def _client(app: Any, username: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    return factories.login(client, username)


def _csrf(client: TestClient, path: str) -> str:
    return factories.csrf_from(client.get(path).text)


def _task_id(client: TestClient, project_id: int, name: str) -> int:
    tasks = client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]
    return int(next(t["id"] for t in tasks if t["name"] == name))


# --- list, overview, gates -----------------------------------------------------------------


def test_project_list_filters_by_status_and_project_manager(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    page = client.get("/projects")
    assert page.status_code == 200
    assert "华信 CRM 实施" in page.text and "上海华信科技有限公司" in page.text
    assert "华信 CRM 实施" not in client.get("/projects?status=closed").text
    pm_id = world.users["project_manager"].id
    assert f'href="/projects/{project_id}"' in client.get(f"/projects?pm_id={pm_id}").text
    assert (
        f'href="/projects/{project_id}"'
        not in client.get(f"/projects?pm_id={world.users['admin'].id}").text
    )


def test_outsider_team_cannot_see_the_project(app: Any, world: Any) -> None:
    project_id = make_project(world)
    west = _client(app, "west_pm")
    assert west.get(f"/projects/{project_id}").status_code == 404
    assert west.get(f"/projects/{project_id}/gantt.json").status_code == 404
    assert "华信 CRM 实施" not in west.get("/projects").text


def test_gate_refusal_names_what_is_still_open(app: Any, world: Any) -> None:
    project_id = make_project(world, goal="一个系统替换三套表格", scope="销售与服务模块")
    client = _client(app, "project_manager")
    page = client.get(f"/projects/{project_id}")
    assert "Initiation" in page.text and 'data-testid="close-gate"' in page.text
    token = factories.csrf_from(page.text)
    refused = client.post(
        f"/projects/{project_id}/gates/initiation/close", data={"csrf_token": token}
    )
    assert refused.status_code == 422
    assert "The gate cannot close yet" in refused.text
    assert "Kick-off held with the customer" in refused.text  # the manual item not ticked
    assert "Team assembled" in refused.text  # no team member yet


def test_ticking_the_manual_item_is_kept(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}")
    done = client.post(
        f"/projects/{project_id}/gates/initiation/tick",
        data={"csrf_token": token, "key": "kickoff", "done": "1"},
    )
    assert done.status_code == 303
    page = client.get(f"/projects/{project_id}").text
    item = re.search(r'data-testid="gate-kickoff">(.*?)</li>', page, re.S)
    assert item and "☑" in item.group(1)


# --- plan and Gantt ------------------------------------------------------------------------


def test_gantt_json_marks_the_critical_path_and_the_float(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "viewer")
    data = client.get(f"/projects/{project_id}/gantt.json").json()
    tasks = {t["name"]: t for t in data["tasks"]}
    # Build (15 days) and data migration (8 days) both follow the design: build is critical,
    # the migration may slip 7 working days.
    assert tasks["Configuration and build"]["critical"] is True
    assert tasks["Data migration"]["critical"] is False
    assert tasks["Data migration"]["total_float"] == 7
    assert tasks["Go-live"]["milestone"] is True and tasks["Execution"]["summary"] is True
    assert tasks["Kick-off workshop"]["start"] == "2026-03-02"
    assert {link["type"] for link in data["links"]} == {"FS"}
    assert data["calendar"]["weekend"] == [0, 6]
    assert "2026-10-01" in data["calendar"]["holidays"]  # National Day


def test_plan_page_holds_the_gantt_read_only_for_a_viewer(app: Any, world: Any) -> None:
    project_id = make_project(world)
    viewer = _client(app, "viewer").get(f"/projects/{project_id}/plan").text
    assert "data-gantt" in viewer and 'data-editable="0"' in viewer
    assert "/static/projects/gantt.js" in viewer
    pm = _client(app, "project_manager").get(f"/projects/{project_id}/plan").text
    assert 'data-editable="1"' in pm


def test_dragging_a_task_later_shifts_its_successors(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/plan")
    build = _task_id(client, project_id, "Configuration and build")
    before = {
        t["name"]: t for t in client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]
    }
    new_start = date.fromisoformat(before["Configuration and build"]["start"]).replace(day=30)
    moved = client.post(
        f"/projects/{project_id}/gantt/move",
        json={"task_id": build, "start": new_start.isoformat()},
        headers={"X-CSRF-Token": token},
    )
    assert moved.status_code == 200, moved.text
    changed = {t["name"]: t for t in moved.json()["tasks"]}
    assert changed["Configuration and build"]["start"] == new_start.isoformat()
    assert "User acceptance testing" in changed  # a successor moved with it
    after = {t["name"]: t for t in client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]}
    assert after["Go-live"]["start"] > before["Go-live"]["start"]
    assert after["Configuration and build"]["start"] == new_start.isoformat()


def test_resizing_a_task_changes_its_duration(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/plan")
    tasks = {t["name"]: t for t in client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]}
    design = tasks["Solution design"]  # 5 working days, Monday to Friday
    finish = date.fromisoformat(design["start"]).replace(
        day=date.fromisoformat(design["start"]).day + 1
    )
    resized = client.post(
        f"/projects/{project_id}/gantt/move",
        json={"task_id": design["id"], "finish": finish.isoformat()},
        headers={"X-CSRF-Token": token},
    )
    assert resized.status_code == 200, resized.text
    changed = {t["name"]: t for t in resized.json()["tasks"]}
    assert changed["Solution design"]["duration"] == 2
    assert changed["Solution design"]["finish"] == finish.isoformat()


def test_wbs_editor_refuses_a_loop_naming_it(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    page = client.get(f"/projects/{project_id}/plan/wbs")
    assert 'data-testid="critical-' in page.text
    token = factories.csrf_from(page.text)
    kickoff = _task_id(client, project_id, "Kick-off workshop")
    golive = _task_id(client, project_id, "Go-live")
    loop = client.post(
        f"/projects/{project_id}/links",
        data={"csrf_token": token, "pred_id": golive, "succ_id": kickoff, "type": "FS"},
    )
    assert loop.status_code == 422
    assert "Dependency loop" in loop.text and "Kick-off workshop" in loop.text


def test_wbs_editor_adds_indents_and_bulk_edits(app: Any, world: Any) -> None:
    project_id = make_project(world, template=None)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/plan/wbs")
    for name in ("Design", "Build"):
        added = client.post(
            f"/projects/{project_id}/tasks",
            data={"csrf_token": token, "name": name, "duration_days": "3"},
        )
        assert added.status_code == 303
    build = _task_id(client, project_id, "Build")
    assert (
        client.post(
            f"/projects/{project_id}/tasks/{build}/shift",
            data={"csrf_token": token, "how": "indent"},
        ).status_code
        == 303
    )
    tasks = {t["name"]: t for t in client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]}
    assert tasks["Build"]["code"] == "1.1" and tasks["Design"]["summary"] is True
    bulk = client.post(
        f"/projects/{project_id}/tasks/bulk",
        data={"csrf_token": token, "task_ids": [str(build)], "percent_complete": "50"},
    )
    assert bulk.status_code == 303
    tasks = {t["name"]: t for t in client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]}
    assert tasks["Build"]["progress"] == 50


# --- governance tabs -----------------------------------------------------------------------


def test_risk_heat_map_counts_open_risks(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    page = client.get(f"/projects/{project_id}/risks").text
    # The template's risks: (3, 4), (4, 3), (2, 4) as probability × impact.
    cell = re.search(r'data-testid="heat-3-4"[^>]*>(\d*)<', page)
    assert cell and cell.group(1) == "1"
    token = factories.csrf_from(page)
    added = client.post(
        f"/projects/{project_id}/risks",
        data={"csrf_token": token, "title": "关键用户离职", "probability": "3", "impact": "4"},
    )
    assert added.status_code == 303
    page = client.get(f"/projects/{project_id}/risks").text
    cell = re.search(r'data-testid="heat-3-4"[^>]*>(\d*)<', page)
    assert cell and cell.group(1) == "2" and "关键用户离职" in page


def test_change_request_approved_is_applied_with_a_new_baseline(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/changes")
    sent = client.post(
        f"/projects/{project_id}/changes",
        data={"csrf_token": token, "title": "增加移动端", "schedule_impact_days": "5",
              "cost_impact": "20000", "submit": "1"},
    )  # fmt: skip
    assert sent.status_code == 303
    page = client.get(f"/projects/{project_id}/changes").text
    change_id = int(re.search(r'data-testid="approve-(\d+)"', page).group(1))  # type: ignore[union-attr]
    decided = client.post(
        f"/projects/{project_id}/changes/{change_id}/decide",
        data={"csrf_token": token, "approve": "1", "note": "客户已签字"},
    )
    assert decided.status_code == 303
    page = client.get(f"/projects/{project_id}/changes").text
    status = re.search(rf'data-testid="change-status-{change_id}">(.*?)</td>', page, re.S)
    assert status and "Applied" in status.group(1)
    baselines = client.get(f"/projects/{project_id}/baselines").text
    assert f"CR-{change_id}: 增加移动端" in baselines


def test_raci_matrix_shows_the_template_letters(app: Any, world: Any) -> None:
    project_id = make_project(world)
    page = _client(app, "viewer").get(f"/projects/{project_id}/raci").text
    row = re.search(r"<td>Go-live</td>(.*?)</tr>", page, re.S)
    assert row and row.group(1).count(">A<") == 1 and ">R<" in row.group(1)


def test_baseline_compare_shows_the_slip(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/baselines")
    saved = client.post(
        f"/projects/{project_id}/baselines", data={"csrf_token": token, "name": "签约计划"}
    )
    assert saved.status_code == 303
    build = _task_id(client, project_id, "Configuration and build")
    client.post(
        f"/projects/{project_id}/gantt/move",
        json={"task_id": build, "start": "2026-04-30"},
        headers={"X-CSRF-Token": token},
    )
    page = client.get(f"/projects/{project_id}/baselines").text
    assert "签约计划" in page
    slip = re.search(r'data-testid="finish-variance">(.*?)</td>', page, re.S)
    assert slip and "+" in slip.group(1)


def test_customer_360_lists_the_project(app: Any, world: Any) -> None:
    project_id = make_project(world)
    page = _client(app, "agent").get(f"/customers/{world.customers['East'][1]}").text
    assert 'data-testid="customer-projects"' in page
    assert f'href="/projects/{project_id}"' in page


# --- resources, timesheets, cost, reports, quality, closure --------------------------------


def _staff(world: factories.World, project_id: int) -> int:
    """The agent as a resource (8 h/day at 500/h) on build and data migration at once."""
    from clientops.projects import plans, resources
    from clientops.projects.schemas import AssignmentIn, ResourceCreate

    pm = world.principal("project_manager")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        person = resources.create_resource(
            db=db,
            data=ResourceCreate(name="王芳", user_id=world.users["agent"].id, cost_rate=500),
            principal=pm,
        )
        project = plans.projects_service.get(db=db, project_id=project_id, principal=pm)
        for task in plans.tasks(db=db, project=project):
            if task.name in ("Configuration and build", "Data migration"):
                resources.assign(
                    db=db, project_id=project_id, task_id=task.id,
                    data=AssignmentIn(resource_id=person.id), principal=pm,
                )  # fmt: skip
        return person.id


def test_resource_histogram_marks_the_over_allocated_days(app: Any, world: Any) -> None:
    project_id = make_project(world)
    resource_id = _staff(world, project_id)
    client = _client(app, "project_manager")
    tasks = {t["name"]: t for t in client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]}
    both = tasks["Data migration"]["start"]  # build and migration start the same day
    page = client.get(f"/projects/{project_id}/resources?week={both}").text
    assert f'data-testid="over-{resource_id}"' in page
    over_days = re.search(rf'data-testid="over-days-{resource_id}">(.*?)</p>', page, re.S)
    assert over_days and f'data-day="{both}"' in over_days.group(1) and "16" in over_days.group(1)
    bar = re.search(rf'<rect class="(\w+)"[^>]*data-day="{both}"', page)
    assert bar and bar.group(1) == "over"  # drawn red


def test_timesheet_logged_submitted_approved_becomes_actual_cost(app: Any, world: Any) -> None:
    project_id = make_project(world)
    _staff(world, project_id)
    agent = _client(app, "agent")
    pm = _client(app, "project_manager")
    tasks = {t["name"]: t for t in pm.get(f"/projects/{project_id}/gantt.json").json()["tasks"]}
    build = tasks["Configuration and build"]
    week = build["start"]
    sheet = agent.get(f"/projects/timesheet?week={week}")
    assert sheet.status_code == 200 and "Configuration and build" in sheet.text
    token = factories.csrf_from(sheet.text)
    saved = agent.post(
        f"/projects/timesheet?week={week}",
        data={"csrf_token": token, f"h|{build['id']}|{week}": "6", "submit": "1"},
    )
    assert saved.status_code == 303, saved.text
    pending = pm.get(f"/projects/{project_id}/timesheets").text
    assert "王芳" in pending and "Configuration and build" in pending
    entry = re.search(r'name="entry_ids" value="(\d+)"', pending)
    assert entry
    decided = pm.post(
        f"/projects/{project_id}/timesheets/decide",
        data={"csrf_token": factories.csrf_from(pending), "entry_ids": [entry.group(1)],
              "approve": "1"},
    )  # fmt: skip
    assert decided.status_code == 303
    assert "Nothing awaits approval" in pm.get(f"/projects/{project_id}/timesheets").text
    cost = pm.get(f"/projects/{project_id}/cost").text
    actual = re.search(r'data-testid="evm-ac">(.*?)</td>', cost, re.S)
    assert actual and "3,000" in actual.group(1)  # 6 h × 500


def test_cost_tab_shows_evm_and_the_s_curve(app: Any, world: Any) -> None:
    project_id = make_project(world, budget=100000)
    page = _client(app, "viewer").get(f"/projects/{project_id}/cost").text
    assert 'data-testid="evm-bac"' in page and 'data-testid="s-curve"' in page
    bac = re.search(r'data-testid="evm-bac">(.*?)</td>', page, re.S)
    assert bac and "100,000" in bac.group(1)


def test_status_report_generated_edited_published_and_printed(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/reports")
    made = client.post(
        f"/projects/{project_id}/reports", data={"csrf_token": token, "week_start": "2026-03-09"}
    )
    assert made.status_code == 303
    report_id = int(made.headers["location"].rsplit("=", 1)[1])
    edited = client.post(
        f"/projects/{project_id}/reports/{report_id}",
        data={"csrf_token": token, "summary": "需求分析按计划完成", "publish": "1"},
    )
    assert edited.status_code == 303
    page = client.get(f"/projects/{project_id}/reports?report={report_id}").text
    assert "Published" in page and "需求分析按计划完成" in page
    pdf = client.get(f"/projects/{project_id}/reports/{report_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_health_override_needs_a_reason(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/reports")
    refused = client.post(
        f"/projects/{project_id}/health", data={"csrf_token": token, "rag": "red"}
    )
    assert refused.status_code == 422
    done = client.post(
        f"/projects/{project_id}/health",
        data={"csrf_token": token, "rag": "red", "reason": "客户暂停付款"},
    )
    assert done.status_code == 303
    page = client.get(f"/projects/{project_id}").text
    badge = re.search(r'data-testid="rag">(.*?)</span>', page)
    assert badge and badge.group(1) == "Red"


def test_schedule_quality_lists_the_fourteen_checks(app: Any, world: Any) -> None:
    project_id = make_project(world)
    page = _client(app, "viewer").get(f"/projects/{project_id}/quality").text
    assert all(f'data-testid="dcma-{n}"' in page for n in range(1, 15))
    # No task has resources in the template: the resources check names the tasks.
    row = re.search(r'data-testid="dcma-10"(.*?)</tr>', page, re.S)
    assert row and "Kick-off workshop" in row.group(1)


def test_hand_over_reaches_the_customer_timeline(app: Any, world: Any) -> None:
    project_id = make_project(world, scope="销售与服务模块")
    client = _client(app, "project_manager")
    token = _csrf(client, f"/projects/{project_id}/closure")
    done = client.post(f"/projects/{project_id}/handover", data={"csrf_token": token})
    assert done.status_code == 303
    page = client.get(f"/projects/{project_id}/closure").text
    assert 'data-testid="handover"' in page and "销售与服务模块" in page
    customer = client.get(f"/customers/{world.customers['East'][1]}").text
    assert "华信 CRM 实施" in customer


def test_portfolio_timeline_has_one_bar_per_project(app: Any, world: Any) -> None:
    make_project(world)
    make_project(world, name="华信运维接管", template="onboarding", start_date=date(2026, 5, 4))
    client = _client(app, "viewer")
    assert "data-gantt" in client.get("/projects/portfolio").text
    data = client.get("/projects/portfolio.json").json()
    assert [t["name"] for t in data["tasks"]] == ["华信 CRM 实施", "华信运维接管"]


def test_every_tab_speaks_chinese(app: Any, world: Any) -> None:
    project_id = make_project(world)
    _staff(world, project_id)
    client = _client(app, "project_manager")
    client.cookies.set("clientops-lang", "zh_CN")
    client.headers["Accept-Language"] = "zh-CN"
    tabs = ["", "/plan", "/plan/wbs", "/baselines", "/resources", "/timesheets", "/cost"]
    tabs += ["/risks", "/issues", "/changes", "/raci", "/reports", "/quality", "/closure"]
    for tab in tabs:
        page = client.get(f"/projects/{project_id}{tab}")
        assert page.status_code == 200, tab
        assert "进度计划质量" in page.text and "成本与挣值" in page.text, tab  # the tab bar
    assert "工作分解结构" in client.get(f"/projects/{project_id}/plan/wbs").text
    assert "项目组合时间线" in client.get("/projects").text


def test_project_created_from_the_form_with_a_template(app: Any, world: Any) -> None:
    client = _client(app, "project_manager")
    account = world.customers["East"][1]
    form = client.get(f"/projects/new?customer_id={account}")
    assert form.status_code == 200 and "上海华信科技有限公司" in form.text
    token = factories.csrf_from(form.text)
    refused = client.post("/projects/new", data={"csrf_token": token, "customer_id": account})
    assert refused.status_code == 422  # no name, no start
    made = client.post(
        "/projects/new",
        data={"csrf_token": token, "customer_id": account, "name": "华信咨询",
              "template": "consulting", "start_date": "2026-06-01", "budget": "80000"},
    )  # fmt: skip
    assert made.status_code == 303
    project_id = int(made.headers["location"].rsplit("/", 1)[1])
    tasks = client.get(f"/projects/{project_id}/gantt.json").json()["tasks"]
    assert "Stakeholder interviews" in [t["name"] for t in tasks]
    west = _client(app, "west_pm")
    token = _csrf(west, "/projects/new")
    outside = west.post(
        "/projects/new",
        data={
            "csrf_token": token,
            "customer_id": account,
            "name": "越权",
            "start_date": "2026-06-01",
        },
    )
    assert outside.status_code == 422 and "越权" not in west.get("/projects").text


def test_plan_exported_and_imported_back_as_a_new_project(app: Any, world: Any) -> None:
    project_id = make_project(world)
    client = _client(app, "project_manager")
    assert "MS Project XML" in client.get(f"/projects/{project_id}/transfer").text
    xml = client.get(f"/projects/{project_id}/plan.xml")
    assert xml.status_code == 200 and b"<Project" in xml.content and b"Go-live" in xml.content
    csv_file = client.get(f"/projects/{project_id}/plan.csv")
    assert csv_file.status_code == 200 and "Data migration" in csv_file.text
    token = _csrf(client, "/projects/new")
    made = client.post(
        "/projects/import",
        data={"csrf_token": token, "customer_id": world.customers["East"][1], "name": "副本"},
        files={"file": ("plan.xml", xml.content, "application/xml")},
    )
    assert made.status_code == 303, made.text
    copy_id = int(made.headers["location"].split("/")[2])
    tasks = {t["name"]: t for t in client.get(f"/projects/{copy_id}/gantt.json").json()["tasks"]}
    assert tasks["Configuration and build"]["critical"] is True
    assert tasks["Data migration"]["total_float"] == 7
    bad = client.post(
        "/projects/import",
        data={"csrf_token": token, "customer_id": world.customers["East"][1]},
        files={"file": ("plan.txt", b"hello", "text/plain")},
    )
    assert bad.status_code == 422 and "MS Project XML" in bad.text
