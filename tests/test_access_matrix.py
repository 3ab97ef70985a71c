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
RECORD_PARAMS = {"customer_id", "account_id"}


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


def _body(method: str, path: str) -> dict[str, Any]:
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
                **_identity_ids(route.path, world),
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
