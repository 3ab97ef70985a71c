"""The customers and accounts API: CRUD, validation, cursor pages, filters, tokens, masking."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from clientops.audit.models import AuditEvent
from clientops.auth import service as auth_service
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from tests import factories


def token_for(username: str, *scopes: str) -> dict[str, str]:
    """Authorization headers of a fresh API token."""
    with transaction() as db:
        bind(db, actor=SYSTEM)
        user = auth_service.find_user(db=db, username=username)
        token = auth_service.create_token(db=db, user=user, scopes=list(scopes))
    return {"Authorization": f"Bearer {token}"}


def test_create_read_update_delete_with_normalised_contact_data(
    client: TestClient, world: Any
) -> None:
    headers = token_for("admin", "customers:read", "customers:write")
    created = client.post(
        "/api/v1/customers",
        headers=headers,
        json={
            "name": "  李娜  ",
            "phone": "+86 139-0000-1111",
            "email": "Li.Na@Example.COM",
            "tags": ["VIP", "华东"],
            "external_ids": [{"source": "erp", "external_id": "E-1"}],
            "team_id": world.teams["East"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "李娜"
    assert body["phone"] == "13900001111"
    assert body["email"] == "li.na@example.com"
    assert body["tags"] == ["VIP", "华东"]
    assert body["external_ids"] == [{"source": "erp", "external_id": "E-1"}]

    patched = client.patch(
        f"/api/v1/customers/{body['id']}",
        headers=headers,
        json={"lifecycle_stage": "mature", "tags": ["VIP"]},
    )
    assert patched.status_code == 200
    assert patched.json()["lifecycle_stage"] == "mature"
    assert patched.json()["tags"] == ["VIP"]
    assert patched.json()["phone"] == "13900001111"  # untouched fields stay

    assert client.delete(f"/api/v1/customers/{body['id']}", headers=headers).status_code == 403
    deleter = token_for("admin", "customers:read", "customers:delete")
    assert client.delete(f"/api/v1/customers/{body['id']}", headers=deleter).status_code == 204
    assert client.get(f"/api/v1/customers/{body['id']}", headers=headers).status_code == 404


def test_invalid_fields_are_named_and_nothing_is_written(client: TestClient, world: Any) -> None:
    headers = token_for("admin", "customers:read", "customers:write")
    response = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "王芳", "phone": "12345", "email": "not-an-email"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == {"phone": "invalid_phone", "email": "invalid_email"}
    found = client.get("/api/v1/customers", headers=headers, params={"q": "王芳"}).json()
    assert found["items"] == []


def test_unknown_fields_are_refused_not_assigned(client: TestClient, world: Any) -> None:
    headers = token_for("admin", "customers:read", "customers:write")
    response = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "Mass Assign", "id": 999, "created_at": "2000-01-01"},
    )
    assert response.status_code == 422


def all_pages(
    client: TestClient, headers: dict[str, str], params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every item of a customer list, following ``next_cursor`` (at most 20 pages)."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        page = client.get(
            "/api/v1/customers",
            headers=headers,
            params=params | ({"cursor": cursor} if cursor else {}),
        ).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("more than 20 pages")


def test_cursor_pages_cover_every_row_once(client: TestClient, world: Any) -> None:
    admin = world.principal("admin")
    for i in range(23):
        factories.make_customer(admin, name=f"Page Person {i:02d}", team_id=world.teams["East"])
    headers = token_for("admin", "customers:read")
    params = {"limit": 5, "sort": "name", "q": "page person"}
    seen = [item["id"] for item in all_pages(client, headers, params)]
    assert len(seen) == 23 == len(set(seen))
    names = [client.get(f"/api/v1/customers/{i}", headers=headers).json()["name"] for i in seen]
    assert names == sorted(names)


def test_search_by_chinese_name_latin_word_phone_and_email(client: TestClient, world: Any) -> None:
    headers = token_for("admin", "customers:read")

    def names(q: str) -> list[str]:
        page = client.get("/api/v1/customers", headers=headers, params={"q": q}).json()
        return sorted(item["name"] for item in page["items"])

    assert names("张") == ["张伟"]
    assert names("上海华信") == ["上海华信科技有限公司"]
    assert names("smith") == ["John Smith"]
    assert names("JOHN") == ["John Smith"]
    assert names("138 1234") == ["张伟"]
    assert names("+86 13812341234") == ["张伟"]
    assert names("zhangwei@") == ["张伟"]
    assert names("nobody") == []


def test_search_pages_in_best_match_order_each_customer_once(
    client: TestClient, world: Any
) -> None:
    """A name query matches the name or the name read family-name first; pages by match key."""
    admin = world.principal("admin")
    names = [
        "Lee Lewis",
        "Lena Park",
        "Ann Lewis",
        "Mark Leroy",
        "Lewis Carroll",
        "Al Li",
        "Li Lei",
    ]
    names += [f"Leo Person {i}" for i in range(7)]
    for name in names:
        factories.make_customer(admin, name=name, team_id=world.teams["East"])
    factories.make_customer(admin, name="Zed Lewis", team_id=world.teams["West"])
    headers = token_for("agent", "customers:read")
    seen = [item["name"] for item in all_pages(client, headers, {"q": "le", "limit": 4})]
    # "Lee Lewis" matches by both keys and is listed once; "Zed Lewis" is in another team;
    # "Al Li" matches neither key ("al li", "li al").
    expected = [n for n in names if n != "Al Li"]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    by_key = {name: name.casefold() for name in expected}
    for name in ("Ann Lewis", "Mark Leroy", "Li Lei"):
        first, last = name.casefold().split()
        by_key[name] = f"{last} {first}"
    assert seen == sorted(expected, key=lambda name: by_key[name])
    # Other orders page through the same matches (created in the order of ``names``).
    for sort, order in (("-created", expected[::-1]), ("name", sorted(expected, key=str.casefold))):
        paged = all_pages(client, headers, {"q": "le", "limit": 5, "sort": sort})
        assert [item["name"] for item in paged] == order, sort


def test_team_scope_hides_other_teams_everywhere(client: TestClient, world: Any) -> None:
    headers = token_for("agent", "customers:read", "accounts:read")
    listed = client.get("/api/v1/customers", headers=headers, params={"limit": 100}).json()
    assert {i["id"] for i in listed["items"]} == set(world.customers["East"])
    west_id = world.customers["West"][0]
    assert client.get(f"/api/v1/customers/{west_id}", headers=headers).status_code == 404
    searched = client.get("/api/v1/customers", headers=headers, params={"q": "john"}).json()
    assert searched["items"] == []


def test_viewer_sees_masked_personal_data(client: TestClient, world: Any) -> None:
    headers = token_for("viewer", "customers:read")
    customer = client.get(f"/api/v1/customers/{world.customers['East'][0]}", headers=headers)
    body = customer.json()
    assert body["phone"] == "138****1234"
    assert body["email"] == "z***@example.cn"
    assert "世纪大道" not in body["address"]


def test_reveal_is_audited(client: TestClient, world: Any) -> None:
    factories.login(client, "project_manager")
    page = client.get("/customers")
    csrf = factories.csrf_from(page.text)
    customer_id = world.customers["East"][0]
    detail = client.get(f"/customers/{customer_id}")
    assert "138****1234" in detail.text and "13812341234" not in detail.text
    revealed = client.post(f"/customers/{customer_id}/reveal/phone", headers={"X-CSRF-Token": csrf})
    assert "13812341234" in revealed.text
    with transaction() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")).all()
    assert [(e.actor_name, e.entity_id, e.changes) for e in events] == [
        ("project_manager", str(customer_id), {"field": "phone"})
    ]


def test_token_scopes_limit_a_powerful_user(client: TestClient, world: Any) -> None:
    headers = token_for("admin", "customers:read")
    response = client.post("/api/v1/customers", headers=headers, json={"name": "Nope"})
    assert response.status_code == 403
    assert (
        client.get("/api/v1/customers", headers={"Authorization": "Bearer co_wrong"}).status_code
        == 401
    )


def test_accounts_list_their_contacts(client: TestClient, world: Any) -> None:
    headers = token_for(
        "admin", "accounts:read", "accounts:write", "customers:write", "customers:read"
    )
    account = client.post(
        "/api/v1/accounts",
        headers=headers,
        json={"name": "Northwind Ltd", "team_id": world.teams["East"]},
    ).json()
    assert account["kind"] == "company"
    person = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "Anna Berg", "account_id": account["id"]},
    ).json()
    fetched = client.get(f"/api/v1/accounts/{account['id']}", headers=headers).json()
    assert fetched["contact_ids"] == [person["id"]]
    assert client.get(f"/api/v1/accounts/{person['id']}", headers=headers).status_code == 404
    bad = client.post(
        "/api/v1/customers", headers=headers, json={"name": "X", "account_id": person["id"]}
    )
    assert bad.status_code == 422 and bad.json()["detail"] == {"account_id": "unknown_account"}


def test_custom_fields_validate_and_filter(client: TestClient, world: Any) -> None:
    factories.login(client, "admin")
    csrf = factories.csrf_from(client.get("/settings/fields").text)
    created = client.post(
        "/settings/fields",
        data={
            "csrf_token": csrf,
            "key": "contract_value",
            "label_en": "Contract value",
            "label_zh": "合同金额",
            "field_type": "number",
        },
    )
    assert created.status_code == 303
    headers = token_for("admin", "customers:read", "customers:write")
    bad = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "Bad Number", "custom_fields": {"contract_value": "lots"}},
    )
    assert bad.json()["detail"] == {"cf.contract_value": "invalid_number"}
    good = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "Big Deal", "custom_fields": {"contract_value": "250000"}},
    )
    assert good.json()["custom_fields"] == {"contract_value": 250000.0}
    found = client.get(
        "/api/v1/customers", headers=headers, params={"cf.contract_value": "250000"}
    ).json()
    assert [i["name"] for i in found["items"]] == ["Big Deal"]
