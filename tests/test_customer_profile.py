"""Standardisation of customer writes and the profile fields (region, birth date, id number)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from clientops import config
from clientops.audit.models import AuditEvent
from clientops.customers.models import Customer
from clientops.db import transaction
from tests import factories
from tests.test_customers_api import token_for

# 11010519491231002X is the example printed in GB 11643-1999 (born 1949-12-31); its check code
# is worked out by hand in tests/test_normalise.py.
ID_1949 = "11010519491231002X"


def writer(world: Any) -> dict[str, str]:
    """API headers of an admin token that reads and writes customers."""
    return token_for("admin", "customers:read", "customers:write")


def stored(customer_id: int) -> Customer:
    """The row as the database holds it (no masking, no display formatting)."""
    with transaction() as db:
        customer = db.get(Customer, customer_id)
        assert customer is not None
        db.expunge(customer)
        return customer


def test_contact_data_is_standardised_on_create(client: TestClient, world: Any) -> None:
    response = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={
            "name": "\u3000张 伟\u200b ",
            "phone": "＋８６ １３８ ００１３ ８０００",
            "email": "  Zhang.Wei@EXAMPLE.com ",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "张伟"
    assert body["email"] == "zhang.wei@example.com"
    row = stored(body["id"])
    assert row.phone == "+8613800138000"
    assert row.name_key == "张伟"


def test_international_prefix_and_full_width_latin_name(client: TestClient, world: Any) -> None:
    headers = writer(world)
    first = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "ＪＯＨＮ　　Ｗａｎｇ", "phone": "0086 139 0000 2222"},
    ).json()
    assert first["name"] == "JOHN Wang"
    assert stored(first["id"]).phone == "+8613900002222"
    patched = client.patch(
        f"/api/v1/customers/{first['id']}", headers=headers, json={"phone": "+86-139-0000-3333"}
    )
    assert patched.status_code == 200
    assert stored(first["id"]).phone == "+8613900003333"


def test_the_configured_region_reads_national_numbers(world: Any) -> None:
    admin = world.principal("admin")
    with config.override(phone_region="GB"):
        london = factories.make_customer(admin, name="Ann Lee", phone="020 7946 0018")
    assert stored(london).phone == "+442079460018"
    # The same digits under the default region (CN) are a Chinese landline instead.
    beijing = factories.make_customer(admin, name="Li Lei", phone="010 6552 9988")
    assert stored(beijing).phone == "+861065529988"


def test_chinese_address_fills_province_city_and_district(client: TestClient, world: Any) -> None:
    response = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={"name": "王芳", "address": "广东省深圳市南山区科技园科苑路15号"},
    )
    body = response.json()
    assert (body["province"], body["city"], body["district"]) == ("广东省", "深圳市", "南山区")
    assert body["address"] == "广东省深圳市南山区科技园科苑路15号"  # the address itself is kept


def test_a_city_the_user_typed_is_never_overwritten(client: TestClient, world: Any) -> None:
    headers = writer(world)
    body = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "王芳", "address": "广东省深圳市南山区科技园", "city": "Shenzhen"},
    ).json()
    assert (body["province"], body["city"], body["district"]) == ("广东省", "Shenzhen", "南山区")
    moved = client.patch(
        f"/api/v1/customers/{body['id']}",
        headers=headers,
        json={"address": "浙江省杭州市西湖区文三路1号"},
    ).json()
    # Province and district came from the old address, so they follow the move; the typed
    # city stays as typed.
    assert (moved["province"], moved["city"], moved["district"]) == ("浙江省", "Shenzhen", "西湖区")


def test_derived_places_follow_a_move_even_when_the_form_resends_them(
    client: TestClient, world: Any
) -> None:
    headers = writer(world)
    body = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "李娜", "address": "上海市浦东新区世纪大道100号"},
    ).json()
    assert (body["province"], body["city"], body["district"]) == ("上海市", "上海市", "浦东新区")
    # An edit form sends every field back unchanged with the new address.
    moved = client.patch(
        f"/api/v1/customers/{body['id']}",
        headers=headers,
        json={
            "address": "北京市朝阳区建国路88号",
            "province": "上海市",
            "city": "上海市",
            "district": "浦东新区",
        },
    ).json()
    assert (moved["province"], moved["city"], moved["district"]) == ("北京市", "北京市", "朝阳区")


def test_foreign_address_leaves_the_region_empty(client: TestClient, world: Any) -> None:
    body = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={"name": "Ann Lee", "address": "10 Downing Street, London", "postcode": "SW1A 2AA"},
    ).json()
    assert (body["province"], body["city"], body["district"]) == (None, None, None)
    assert body["postcode"] == "SW1A 2AA"


def test_identity_number_fills_the_birth_date(client: TestClient, world: Any) -> None:
    body = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={"name": "张伟", "id_number": "11010519491231002x"},
    ).json()
    assert body["id_number"] == ID_1949
    assert body["birth_date"] == "1949-12-31"


def test_legacy_fifteen_digit_number_is_stored_in_eighteen(client: TestClient, world: Any) -> None:
    body = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={"name": "张伟", "id_number": "110105491231002", "birth_date": "1949年12月31日"},
    ).json()
    assert body["id_number"] == ID_1949
    assert body["birth_date"] == "1949-12-31"


def test_birth_date_that_contradicts_the_id_number_is_refused(
    client: TestClient, world: Any
) -> None:
    headers = writer(world)
    response = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"name": "孙悟空", "id_number": ID_1949, "birth_date": "1950-01-01"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == {"birth_date": "birth_date_mismatch"}
    assert (
        client.get("/api/v1/customers", headers=headers, params={"q": "孙悟空"}).json()["items"]
        == []
    )


def test_new_id_number_checked_against_the_stored_birth_date(
    client: TestClient, world: Any
) -> None:
    headers = writer(world)
    body = client.post(
        "/api/v1/customers", headers=headers, json={"name": "张伟", "birth_date": "1990/1/1"}
    ).json()
    assert body["birth_date"] == "1990-01-01"
    response = client.patch(
        f"/api/v1/customers/{body['id']}", headers=headers, json={"id_number": ID_1949}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == {"id_number": "birth_date_mismatch"}
    assert stored(body["id"]).id_number is None


def test_bad_profile_values_are_named(client: TestClient, world: Any) -> None:
    response = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={
            "name": "张伟",
            "id_number": "110105194912310021",  # check code should be X
            "birth_date": "05/01/1990",  # 5 January or 1 May
            "postcode": "51@057",
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"] == {
        "id_number": "invalid_id_number",
        "birth_date": "invalid_birth_date",
        "postcode": "invalid_postcode",
    }
    future = client.post(
        "/api/v1/customers",
        headers=writer(world),
        json={"name": "张伟", "birth_date": "2999-01-01"},
    )
    assert future.json()["detail"] == {"birth_date": "implausible_birth_date"}


def test_form_shows_the_mismatch_in_words(client: TestClient, world: Any) -> None:
    factories.login(client, "admin")
    csrf = factories.csrf_from(client.get("/customers/new").text)
    response = client.post(
        "/customers/new",
        data={
            "csrf_token": csrf,
            "name": "张伟",
            "kind": "person",
            "lifecycle_stage": "potential",
            "id_number": ID_1949,
            "birth_date": "1950-01-01",
        },
    )
    assert response.status_code == 422
    assert "does not match the one in the identity number" in response.text


def _with_profile(world: Any) -> int:
    return factories.make_customer(
        world.principal("admin"),
        name="赵敏",
        id_number=ID_1949,
        team_id=world.teams["East"],
    )


def test_id_number_and_birth_date_masked_for_masked_roles(client: TestClient, world: Any) -> None:
    customer_id = _with_profile(world)
    factories.login(client, "analyst")
    read = client.get(f"/api/v1/customers/{customer_id}").json()
    assert read["id_number"] == "1101**********002X"
    assert read["birth_date"] == "1949-**-**"
    page = client.get(f"/customers/{customer_id}").text
    assert "1101**********002X" in page and ID_1949 not in page
    assert "1949-12-31" not in page


def test_clear_roles_see_the_profile(client: TestClient, world: Any) -> None:
    customer_id = _with_profile(world)
    factories.login(client, "agent")
    page = client.get(f"/customers/{customer_id}").text
    assert ID_1949 in page and "1949-12-31" in page


def test_revealing_an_id_number_is_audited(client: TestClient, world: Any) -> None:
    customer_id = _with_profile(world)
    factories.login(client, "project_manager")
    csrf = factories.csrf_from(client.get("/customers").text)
    revealed = client.post(
        f"/customers/{customer_id}/reveal/id_number", headers={"X-CSRF-Token": csrf}
    )
    assert ID_1949 in revealed.text
    born = client.post(
        f"/api/v1/customers/{customer_id}/reveal",
        params={"field": "birth_date"},
        headers={"X-CSRF-Token": csrf},
    )
    assert born.json() == {"field": "birth_date", "value": "1949-12-31"}
    with transaction() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")).all()
        seen = [(e.actor_name, e.entity_id, e.changes) for e in events]
    assert seen == [
        ("project_manager", str(customer_id), {"field": "id_number"}),
        ("project_manager", str(customer_id), {"field": "birth_date"}),
    ]


def test_roles_without_reveal_cannot_reveal(client: TestClient, world: Any) -> None:
    customer_id = _with_profile(world)
    factories.login(client, "viewer")
    csrf = factories.csrf_from(client.get("/customers").text)
    response = client.post(
        f"/customers/{customer_id}/reveal/id_number", headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 403
    with transaction() as db:
        assert db.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")).all() == []


def test_export_masks_the_profile_like_the_page(client: TestClient, world: Any) -> None:
    customer_id = _with_profile(world)
    factories.login(client, "analyst")
    response = client.get("/customers/export.csv")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")))}
    row = rows[str(customer_id)]
    assert row["id_number"] == "1101**********002X"
    assert row["birth_date"] == "1949-**-**"
    assert ID_1949 not in response.text


def test_admin_export_has_the_clear_profile(client: TestClient, world: Any) -> None:
    customer_id = _with_profile(world)
    factories.login(client, "admin")
    response = client.get("/customers/export.csv")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")))}
    assert rows[str(customer_id)]["id_number"] == ID_1949
    assert rows[str(customer_id)]["birth_date"] == "1949-12-31"
