"""Every registered route × role: anonymous, no permission, permission, restricted record.

A route added without an access rule (``access(...)`` or ``public``) fails this suite."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from clientops import main
from clientops.auth import service as auth_service
from clientops.core.access import ROLE_PERMISSIONS, ROLES
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.imports.models import Import, ImportMapping
from clientops.jobs.models import Job
from tests import factories

FRAMEWORK_ROUTES = {"/api/openapi.json"}
RECORD_PARAMS = {"customer_id", "account_id", "project_id"}


def access_rules(route: APIRoute) -> set[str]:
    """The access rules found anywhere in a route's dependency tree."""
    found: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        rule = getattr(dep.call, "access_rule", None)
        if rule:
            found.add(rule)
        stack.extend(dep.dependencies)
    return found


def api_routes(app: Any) -> list[APIRoute]:
    """Every route of the app: those of ``main.ROUTERS``; nothing else may be registered."""
    routes: list[APIRoute] = []
    for router in main.ROUTERS:
        routes += [r for r in router.routes if isinstance(r, APIRoute)]
        assert all(isinstance(r, APIRoute) for r in router.routes)
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
        elif isinstance(route, Route):
            assert route.path in FRAMEWORK_ROUTES, f"unexpected route {route.path}"
        elif isinstance(route, APIRoute):
            raise AssertionError(f"route {route.path} registered outside main.ROUTERS")
        else:  # an included router: it must be one of ours
            assert getattr(route, "original_router", None) in main.ROUTERS, route
    return routes


def test_every_route_declares_exactly_one_access_rule(app: Any) -> None:
    missing = [
        f"{sorted(r.methods)} {r.path}" for r in api_routes(app) if len(access_rules(r)) != 1
    ]
    assert not missing, f"routes without one access rule: {missing}"


def _client(app: Any, username: str | None) -> TestClient:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    if username:
        factories.login(client, username)
    return client


def _fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


# A valid body per writing route, so that access (not validation) decides the answer.
BODIES: dict[str, dict[str, Any]] = {
    "/v1/analytics/rules/tiers": {"body": {"period": "month"}, "note": "Matrix"},
    "/activities": {"kind": "note", "subject": "Matrix check"},
    "/customers": {"name": "Matrix Person"},
    "/accounts": {"name": "Matrix Co"},
    "/edit": {"name": "Matrix Renamed", "kind": "company"},
    "/new": {"name": "Matrix Person", "kind": "person"},
    "/language": {"locale": "en"},
    "/api/v1/events": {
        "batch": [
            {
                "type": "track",
                "message_id": "matrix-1",
                "timestamp": "2026-01-01T00:00:00Z",
                "user_id": "matrix",
                "event": "Matrix check",
            }
        ]
    },
}


def _identity_ids(path: str, world: factories.World) -> dict[str, int]:
    """A fresh pending pair and a fresh merge of East customers, for the identity routes."""
    if "{pair_id}" not in path and "{merge_id}" not in path:
        return {}
    from clientops.identity import service as identity_service

    admin = world.principal("admin")
    twins = [
        factories.make_customer(admin, name="Matrix Twin", team_id=world.teams["East"])
        for _ in range(4)
    ]
    with transaction() as db:
        bind(db, actor=SYSTEM)
        candidate = identity_service.Candidate(twins[0], twins[1], 0.9, 5.0, "model", {})
        pair = identity_service.save_candidate(db=db, candidate=candidate)
        merge = identity_service.merge(
            db=db, survivor_id=twins[2], merged_id=twins[3], actor=SYSTEM, reason={}
        )
        assert pair is not None
        return {"pair_id": pair.id, "merge_id": merge.id}


# Bodies matched by a pattern on the filled path, before the suffixes above (projects).
PATTERN_BODIES: list[tuple[str, dict[str, Any]]] = [
    (r"/api/v1/projects/\d+$", {"name": "Matrix project"}),
    (r"/api/v1/projects/\d+/tasks/\d+$", {"percent_complete": 10}),
    (r"/risks/\d+$", {"probability": 2}),
    (r"/issues/\d+$", {"severity": "low"}),
    (r"/reports/\d+$", {"summary": "Matrix"}),
    (r"/api/v1/resources/\d+$", {"capacity_hours": 7}),
    (r"/levelling/\d+$", {"accept": False}),
    (r"/changes/\d+/decide$", {"approve": False, "note": "Matrix"}),
    (r"/checklist$", {"key": "kickoff", "done": True}),
    (r"/api/v1/projects/\d+/rag$", {"rag": "amber", "reason": "Matrix"}),
    (r"/api/v1/projects/\d+/tasks$", {"name": "Matrix task"}),
    (r"/tasks/bulk$", {"task_ids": [1], "changes": {"percent_complete": 5}}),
    (r"/api/v1/projects/\d+/tasks/\d+/move$", {"parent_id": None, "position": 0}),
    (r"/api/v1/projects/\d+/links$", {"pred_id": 1, "succ_id": 2}),
    (r"/api/v1/projects/\d+/calendar$", {"day": "2027-05-03"}),
    (r"/api/v1/projects/\d+/baselines$", {"name": "Matrix"}),
    (r"/api/v1/projects/\d+/tasks/\d+/assignments$", {"resource_id": 1}),
    (r"/timesheets/decide$", {"entry_ids": [1], "approve": True}),
    (r"/api/v1/projects/\d+/budget$", {"amount": "100.00"}),
    (r"/api/v1/projects/\d+/expenses$", {"day": "2027-03-01", "amount": "10.00"}),
    (r"/api/v1/projects/\d+/risks$", {"title": "Matrix risk"}),
    (r"/api/v1/projects/\d+/issues$", {"title": "Matrix issue"}),
    (r"/api/v1/projects/\d+/changes$", {"title": "Matrix change"}),
    (r"/api/v1/projects/\d+/raci$", {"deliverable": "Matrix", "party": "PM", "letter": "R"}),
    (r"/api/v1/projects/\d+/reports$", {"week_start": "2027-03-01"}),
    (r"/api/v1/projects/\d+/closure$", {"goal_met": True}),
    (r"/api/v1/resources$", {"name": "Matrix resource"}),
    (r"/api/v1/timesheets$", {"entries": []}),
    (r"/api/v1/timesheets/submit$", {"week_start": "2027-03-01"}),
]


def _project_ids(path: str, world: factories.World) -> dict[str, Any]:
    """A fresh East project (from a template) with one of everything, for the project routes."""
    if "{project_id}" not in path and "{resource_id}" not in path:
        return {}
    from decimal import Decimal

    from clientops.projects import costs, governance, plans, reports, resources
    from clientops.projects.models import LevellingProposal, Project
    from clientops.projects.schemas import (
        AssignmentIn,
        BudgetLineIn,
        ChangeRequestIn,
        IssueIn,
        ResourceCreate,
    )

    admin = world.principal("admin")
    project_id = factories.make_project(admin, world.customers["East"][1])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        project = db.get(Project, project_id)
        task = plans.leaf_tasks(db, project)[0]
        link = plans.links(db=db, project=project)[0]
        risk = governance.risks(db=db, project=project)[0]
        issue = governance.save_issue(
            db=db, project_id=project_id, data=IssueIn(title="Matrix"), principal=admin
        )
        change = governance.create_change(
            db=db, project_id=project_id, data=ChangeRequestIn(title="Matrix"), principal=admin
        )
        plans.create_baseline(db=db, project_id=project_id, name="Matrix", principal=admin)
        report = reports.generate(
            db=db, project_id=project_id, week_start=project.start_date, principal=admin
        )
        line = costs.add_budget_line(
            db=db, project_id=project_id, data=BudgetLineIn(amount=Decimal(100)), principal=admin
        )
        resource = resources.create_resource(
            db=db, data=ResourceCreate(name="Matrix"), principal=admin
        )
        resources.assign(
            db=db, project_id=project_id, task_id=task.id,
            data=AssignmentIn(resource_id=resource.id), principal=admin,
        )  # fmt: skip
        proposal = LevellingProposal(project_id=project_id, status="proposed", starts={})
        db.add(proposal)
        db.flush()
        return {
            "project_id": project_id, "task_id": task.id, "link_id": link.id,
            "risk_id": risk.id, "issue_id": issue.id, "change_id": change.id,
            "report_id": report.id, "line_id": line.id, "resource_id": resource.id,
            "proposal_id": proposal.id, "phase": "initiation",
        }  # fmt: skip


def _analytics_ids(db: Any) -> dict[str, Any]:
    """A scoring run and a churn model version, for the analytics routes."""
    from datetime import date

    from clientops.analytics.models import ChurnModelVersion, ScoreRun

    run = ScoreRun(engine="duckdb", as_of=date(2026, 1, 1), status="succeeded")
    model = ChurnModelVersion(version=1, as_of=date(2026, 1, 1), horizon_days=30,
                              definition="no_purchase", model_text="matrix")  # fmt: skip
    db.add_all([run, model])
    db.flush()
    return {"run_id": run.id, "model_id": model.id, "kind": "tiers"}


def _body(method: str, path: str) -> dict[str, Any]:
    found = next((b for pattern, b in PATTERN_BODIES if re.search(pattern, path)), None)
    if found is not None:
        return found
    if method == "PATCH":
        return {"city": "Matrix City"}
    return next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    api = path.startswith("/api/")
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json" if api else "data"] = _body(method, path)
    if path.endswith("/reveal"):
        path += "?field=phone"
    return client.request(method, path, **kwargs).status_code


def _csrf(client: TestClient) -> dict[str, str]:
    page = client.get("/customers")
    return {"X-CSRF-Token": factories.csrf_from(page.text)}


def test_route_role_matrix(app: Any, world: factories.World) -> None:
    east, west = world.customers["East"], world.customers["West"]
    with transaction() as db:
        bind(db, actor=SYSTEM)
        job = Job(workflow_id="matrix", kind="test", status="succeeded")
        db.add(job)
        db.flush()
        job_id = job.id
        imp = Import(kind="customers", file_name="matrix.csv", stored_name="matrix.csv",
                     headers=[], mapping={}, options={}, team_id=world.teams["East"])  # fmt: skip
        template = ImportMapping(kind="customers", name="matrix", columns={}, options={})
        db.add_all([imp, template])
        db.flush()
        import_id, template_id = imp.id, template.id
        viewer = auth_service.find_user(db=db, username="viewer")
        narrow_token = auth_service.create_token(db=db, user=viewer, scopes=["events:write"])
        analytics_ids = _analytics_ids(db)
    sessions = {name: _client(app, name) for name in [*ROLES, "west_agent", "west_pm"]}
    headers = {name: _csrf(c) for name, c in sessions.items()}
    anonymous = _client(app, None)
    failures: list[str] = []

    for route in api_routes(app):
        (rule,) = access_rules(route)
        for method in sorted(route.methods - {"HEAD"}):
            label = f"{method} {route.path}"
            if rule == "public":
                continue
            ids = {
                "customer_id": east[1],
                "account_id": east[1],
                "job_id": job_id,
                "import_id": import_id,
                "template_id": template_id,
                "field_name": "phone",
                "code": "en",
                "field": "phone",
                "metric": "invalid",
                "fmt": "csv",
                **_identity_ids(route.path, world),
                **_project_ids(route.path, world),
                **analytics_ids,
            }
            path = _fill(route.path, ids)
            api = path.startswith("/api/")
            # anonymous: sign in first
            status = _call(anonymous, method, path, {})
            if status != (401 if api else 303):
                failures.append(f"{label}: anonymous got {status}")
            # no permission: a role without it, or a token without the scope
            lacking = [r for r in ROLES if rule != "signed-in" and rule not in ROLE_PERMISSIONS[r]]
            if lacking:
                status = _call(sessions[lacking[0]], method, path, headers[lacking[0]])
                if status != 403:
                    failures.append(f"{label}: {lacking[0]} without {rule} got {status}")
            elif rule != "signed-in" and api:
                status = _call(anonymous, method, path, {"Authorization": f"Bearer {narrow_token}"})
                if status != 403:
                    failures.append(f"{label}: token without {rule} got {status}")
            allowed = [r for r in ROLES if rule == "signed-in" or rule in ROLE_PERMISSIONS[r]]
            # restricted: a team-scoped user with the permission, on another team's record
            outsider = next(
                (
                    u
                    for u, r in (("west_agent", "agent"), ("west_pm", "project_manager"))
                    if r in allowed
                ),
                None,
            )
            if RECORD_PARAMS & set(re.findall(r"\{(\w+)\}", route.path)) and outsider:
                status = _call(sessions[outsider], method, path, headers[outsider])
                if status != 404:
                    failures.append(f"{label}: {outsider} on an East record got {status}")
            # permission: allowed on a record it may see
            role = next(r for r in ("agent", "ops_manager", "admin", *ROLES) if r in allowed)
            target = factories.make_customer(
                world.principal("admin"),
                name="Target Co",
                kind="company",
                team_id=world.teams["East"],
            )
            ids.update(customer_id=target, account_id=target)
            status = _call(sessions[role], method, _fill(route.path, ids), headers[role])
            if status in (401, 403, 404) or (status >= 400 and method == "GET") or status >= 500:
                failures.append(f"{label}: {role} with {rule} got {status}")
            if route.path == "/logout":  # that call ended the session: sign in again
                sessions[role] = _client(app, role)
                headers[role] = _csrf(sessions[role])
    assert not failures, "\n".join(failures)
    assert west  # the West customer exists, and East users never reached it above
