"""The review queue through the API and the pages: pairs, merge, "not the same person",
merge history and unmerge, who may do it, and starting a resolve run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from clientops import db
from clientops.core.access import Principal
from clientops.core.context import SYSTEM, bind
from clientops.customers.models import Customer
from clientops.identity import service
from clientops.identity.models import CandidatePair
from clientops.jobs.models import Job
from tests import factories

EVIDENCE = {
    "name": {"label": "same name", "weight": 0.49, "left": "张伟", "right": "张伟"},
    "phone": {
        "label": "same number",
        "weight": 13.55,
        "left": "+8613812341234",
        "right": "+8613812341234",
    },
}


def _pair(left: int, right: int, probability: float, evidence: dict[str, Any] | None = None) -> int:
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        candidate = service.Candidate(left, right, probability, 7.5, "model", evidence or EVIDENCE)
        pair = service.save_candidate(db=s, candidate=candidate)
        assert pair is not None
        return pair.id


def _person(world: factories.World, name: str, team: str = "East", **fields: Any) -> int:
    return factories.make_customer(
        world.principal("admin"), name=name, team_id=world.teams[team], **fields
    )


def _signed_in(client: TestClient, username: str) -> dict[str, str]:
    """Sign in; the CSRF header for unsafe requests."""
    factories.login(client, username)
    return {"X-CSRF-Token": factories.csrf_from(client.get("/customers").text)}


def _exists(customer_id: int) -> bool:
    with db.transaction() as s:
        return s.get(Customer, customer_id) is not None


# --- the API ----------------------------------------------------------------------------------


def test_queue_lists_pending_pairs_most_probable_first(
    client: TestClient, world: factories.World
) -> None:
    ids = [_person(world, f"客户{i}") for i in range(6)]
    low = _pair(ids[0], ids[1], 0.85)
    high = _pair(ids[3], ids[2], 0.95)  # given in either order: stored smaller id first
    mid = _pair(ids[4], ids[5], 0.90)
    _signed_in(client, "ops_manager")

    first = client.get("/api/v1/identity/pairs", params={"limit": 2}).json()
    assert [p["id"] for p in first["items"]] == [high, mid]
    top = first["items"][0]
    assert (top["left"]["id"], top["right"]["id"]) == (ids[2], ids[3])
    assert top["left"]["name"] == "客户2" and top["status"] == "pending"
    assert top["evidence"]["phone"]["label"] == "same number"
    second = client.get(
        "/api/v1/identity/pairs", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [p["id"] for p in second["items"]] == [low] and second["next_cursor"] is None
    bad = client.get("/api/v1/identity/pairs", params={"cursor": "bm90LWpzb24"})
    assert bad.status_code == 422


def test_merge_through_the_api_and_undo_it(client: TestClient, world: factories.World) -> None:
    keep = _person(world, "张伟", phone="13812340000", source="erp")
    dup = _person(world, "张伟", phone="13812340000", email="zw@example.cn")
    pair_id = _pair(keep, dup, 0.97)
    csrf = _signed_in(client, "ops_manager")

    merged = client.post(
        f"/api/v1/identity/pairs/{pair_id}/merge", json={"survivor_id": keep}, headers=csrf
    )
    assert merged.status_code == 201, merged.text
    body = merged.json()
    assert (body["survivor"]["id"], body["merged"]["id"]) == (keep, dup)
    assert body["choices"]["email"] == {"from": "merged", "rule": "filled"}
    assert client.get(f"/api/v1/customers/{dup}").status_code == 404
    survivor = client.get(f"/api/v1/customers/{keep}").json()
    assert survivor["email"] == "zw@example.cn"

    again = client.post(f"/api/v1/identity/pairs/{pair_id}/merge", json={}, headers=csrf)
    assert again.status_code == 409
    history = client.get("/api/v1/identity/merges").json()
    assert [m["id"] for m in history["items"]] == [body["id"]]

    undone = client.post(f"/api/v1/identity/merges/{body['id']}/undo", headers=csrf)
    assert undone.status_code == 200 and undone.json()["undone_at"] is not None
    assert client.get(f"/api/v1/customers/{dup}").json()["name"] == "张伟"
    assert client.get(f"/api/v1/customers/{keep}").json()["email"] is None
    twice = client.post(f"/api/v1/identity/merges/{body['id']}/undo", headers=csrf)
    assert twice.status_code == 409
    assert twice.json()["detail"] == {"merge": "already_undone"}


def test_merge_refuses_a_survivor_outside_the_pair(
    client: TestClient, world: factories.World
) -> None:
    a, b, c = (_person(world, "刘洋") for _ in range(3))
    pair_id = _pair(a, b, 0.9)
    csrf = _signed_in(client, "admin")
    answer = client.post(
        f"/api/v1/identity/pairs/{pair_id}/merge", json={"survivor_id": c}, headers=csrf
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == {"survivor_id": "not_in_pair"}
    assert all(_exists(i) for i in (a, b, c))


def test_reject_keeps_the_pair_out_of_the_queue(client: TestClient, world: factories.World) -> None:
    a, b = _person(world, "赵敏"), _person(world, "赵敏")
    pair_id = _pair(a, b, 0.88)
    csrf = _signed_in(client, "ops_manager")
    answer = client.post(f"/api/v1/identity/pairs/{pair_id}/reject", headers=csrf)
    assert answer.status_code == 200
    assert answer.json()["status"] == "rejected"
    assert answer.json()["decided_by"] == world.users["ops_manager"].id
    assert client.get("/api/v1/identity/pairs").json()["items"] == []
    rejected = client.get("/api/v1/identity/pairs", params={"status": "rejected"}).json()
    assert [p["id"] for p in rejected["items"]] == [pair_id]
    assert client.post(f"/api/v1/identity/pairs/{pair_id}/reject", headers=csrf).status_code == 409
    # Found again by a later run with the records unchanged: it stays decided.
    with db.transaction() as s:
        candidate = service.Candidate(a, b, 0.93, 8.0, "model", EVIDENCE)
        assert service.save_candidate(db=s, candidate=candidate) is None
        pair = s.get(CandidatePair, pair_id)
        assert pair is not None and (pair.status, pair.probability) == ("rejected", 0.88)


def test_reviewing_needs_the_permission_and_sight_of_both_customers(
    client: TestClient, world: factories.World
) -> None:
    a, b = _person(world, "孙丽"), _person(world, "孙丽")
    pair_id = _pair(a, b, 0.9)
    west_a, west_b = _person(world, "Ann Lee", "West"), _person(world, "Anne Lee", "West")
    west_pair = _pair(west_a, west_b, 0.91)
    factories.make_user("west_ops", "ops_manager", ["West"])

    agent = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    csrf = _signed_in(agent, "agent")
    assert agent.get("/api/v1/identity/pairs").status_code == 403
    assert agent.get("/identity").status_code == 403
    merge = agent.post(f"/api/v1/identity/pairs/{pair_id}/merge", json={}, headers=csrf)
    assert merge.status_code == 403

    west = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    csrf = _signed_in(west, "west_ops")
    assert [p["id"] for p in west.get("/api/v1/identity/pairs").json()["items"]] == [west_pair]
    assert west.get(f"/identity/pairs/{pair_id}").status_code == 404
    merge = west.post(f"/api/v1/identity/pairs/{pair_id}/merge", json={}, headers=csrf)
    assert merge.status_code == 404
    assert west.post(f"/api/v1/identity/pairs/{pair_id}/reject", headers=csrf).status_code == 404
    assert _exists(a) and _exists(b)


def test_evidence_is_masked_for_roles_that_see_personal_data_masked() -> None:
    viewer = Principal(user_id=1, username="v", role="viewer")
    shown = service.masked_evidence(EVIDENCE, viewer)
    assert shown["phone"]["left"] == "+86138****1234"
    assert shown["name"]["left"] == "张伟"
    admin = Principal(user_id=2, username="a", role="admin")
    assert service.masked_evidence(EVIDENCE, admin)["phone"]["left"] == "+8613812341234"


def test_start_a_resolve_run(client: TestClient, world: factories.World) -> None:
    csrf = _signed_in(client, "ops_manager")
    started = client.post("/api/v1/identity/runs", json={"mode": "full"}, headers=csrf)
    assert started.status_code == 202, started.text
    assert started.json()["params"] == {"mode": "full"}
    with db.transaction() as s:
        job = s.get(Job, started.json()["job_id"])
        assert job is not None
        assert (job.kind, job.created_by) == ("resolve-customers", world.users["ops_manager"].id)
    since = client.post(
        "/api/v1/identity/runs", json={"since": "2026-01-02T03:04:05+00:00"}, headers=csrf
    )
    assert since.json()["params"] == {"mode": "incremental", "since": "2026-01-02T03:04:05+00:00"}
    wrong = client.post(
        "/api/v1/identity/runs", json={"mode": "full", "since": "2026-01-02"}, headers=csrf
    )
    assert wrong.status_code == 422 and wrong.json()["detail"] == {"since": "not_with_full"}


def test_count_customers_in_open_pairs(world: factories.World) -> None:
    a, b, c, d = (_person(world, f"Name {i}") for i in range(4))
    _pair(a, b, 0.9)
    _pair(b, c, 0.85)
    decided = _pair(c, d, 0.82)
    with db.transaction() as s:
        pair = s.get(CandidatePair, decided)
        assert pair is not None
        pair.status = "rejected"
    with db.transaction() as s:
        assert service.count_customers_in_open_pairs(db=s) == 3
    admin = world.principal("admin")
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        service.merge(db=s, survivor_id=a, merged_id=b, actor=admin, reason={})
    with db.transaction() as s:  # b is gone and its open pair with c set aside
        assert service.count_customers_in_open_pairs(db=s) == 0


# --- the pages --------------------------------------------------------------------------------


def _form_csrf(html: str) -> str:
    return factories.csrf_from(html)


def test_review_pages_merge_then_unmerge(client: TestClient, world: factories.World) -> None:
    keep = _person(world, "欧阳娜娜", phone="13800138000", source="erp")
    dup = _person(world, "欧阳娜娜", phone="13800138000", email="nana@example.cn")
    pair_id = _pair(keep, dup, 0.96)
    _signed_in(client, "ops_manager")

    queue = client.get("/identity")
    assert queue.status_code == 200
    assert f'href="/identity/pairs/{pair_id}"' in queue.text and "96.0%" in queue.text
    page = client.get(f"/identity/pairs/{pair_id}")
    assert page.status_code == 200
    assert "same number" in page.text and "nana@example.cn" in page.text
    checked = re.search(r'value="(\d+)" checked', page.text)
    assert checked and int(checked.group(1)) == keep  # the ERP record is suggested

    no_csrf = client.post(f"/identity/pairs/{pair_id}/merge", data={"survivor_id": str(keep)})
    assert no_csrf.status_code == 403 and _exists(dup)
    token = _form_csrf(page.text)
    done = client.post(
        f"/identity/pairs/{pair_id}/merge", data={"survivor_id": str(keep), "csrf_token": token}
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/identity?merged=")
    assert not _exists(dup)
    customer = client.get(f"/customers/{keep}")
    assert 'data-testid="merged-from"' in customer.text and f"#{dup}" in customer.text

    history = client.get("/identity/merges")
    merge_id = int(re.findall(r'action="/identity/merges/(\d+)/undo"', history.text)[0])
    undone = client.post(
        f"/identity/merges/{merge_id}/undo", data={"csrf_token": _form_csrf(history.text)}
    )
    assert undone.status_code == 303 and _exists(dup)
    again = client.post(
        f"/identity/merges/{merge_id}/undo", data={"csrf_token": _form_csrf(history.text)}
    )
    assert again.status_code == 409 and "undone already" in again.text


def test_not_the_same_person_from_the_page(client: TestClient, world: factories.World) -> None:
    a, b = _person(world, "黄磊"), _person(world, "黄蕾")
    pair_id = _pair(a, b, 0.84)
    _signed_in(client, "admin")
    page = client.get(f"/identity/pairs/{pair_id}")
    answer = client.post(
        f"/identity/pairs/{pair_id}/reject", data={"csrf_token": _form_csrf(page.text)}
    )
    assert answer.status_code == 303
    with db.transaction() as s:
        status = s.scalar(select(CandidatePair.status).where(CandidatePair.id == pair_id))
    assert status == "rejected"
    assert f"/identity/pairs/{pair_id}" not in client.get("/identity").text
    late = client.post(
        f"/identity/pairs/{pair_id}/merge", data={"csrf_token": _form_csrf(page.text)}
    )
    assert late.status_code == 409
    assert "marked as not the same person already" in late.text
    assert _exists(a) and _exists(b)
    decided = client.get(f"/identity/pairs/{pair_id}")
    assert decided.status_code == 200 and 'data-testid="merge-form"' not in decided.text


def test_sure_pairs_never_chain_two_people_said_to_be_different(world: factories.World) -> None:
    a, b, c, d = (_person(world, "吴昊") for _ in range(4))
    rejected = _pair(a, c, 0.6)  # a reviewer said: a and c are different people
    with db.transaction() as s:
        pair = s.get(CandidatePair, rejected)
        assert pair is not None
        pair.status, pair.decided_at = "rejected", datetime.now(UTC)
    sure = [
        service.Candidate(a, b, 1.0, 20.0, "same_phone", {}),
        service.Candidate(b, c, 0.995, 9.0, "model", {}),
        service.Candidate(c, d, 1.0, 20.0, "same_email", {}),
    ]
    with db.transaction() as s:
        plan = service.plan_run(db=s, candidates=sure, auto_from=0.99)
    clusters = sorted(
        sorted([cluster["survivor"], *(m["id"] for m in cluster["members"])])
        for cluster in plan.clusters
    )
    assert clusters == [[a, b], [c, d]]
    assert [(r.left_id, r.right_id) for r in plan.review] == [(b, c)]
