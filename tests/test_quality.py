"""Data quality figures, their restriction to what a user may see, drill-down, trends.

The expected figures are counted here, from the rows in the database, with reference rules
written in this file (not the service's SQL): a seeded set holds valid and invalid values of
every measured field, customers of two teams, values of several ages and shared values.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from clientops.audit.models import AuditEvent
from clientops.auth import service as auth_service
from clientops.auth.models import Team, User
from clientops.core.context import SYSTEM, bind
from clientops.customers.models import Customer, CustomFieldDef, CustomFieldValue
from clientops.db import transaction
from clientops.quality.models import QualitySnapshot
from tests import factories

STAGES = {"potential", "new", "growing", "mature", "declining", "churned"}
# Place names seeded below, with whether each is the full name of a division at that level.
PLACES = {
    "province": {"广东省": True, "上海市": True, "北京市": True, "浙江省": True, "广东": False},
    "city": {"深圳市": True, "上海市": True, "北京市": True, "深圳": False, "London": True},
    "district": {"南山区": True, "浦东新区": True, "朝阳区": True, "火星区": False},
}
FRESH_DAYS = 365


# --- reference rules ---------------------------------------------------------------------


def check_code(first17: str) -> str:
    """GB 11643-1999 check character, written out independently of the app."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def id_date(value: str) -> dt.date | None:
    try:
        return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def id_ok(value: str) -> bool:
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9X]", value):
        return False
    born = id_date(value)
    if born is None or not dt.date(1850, 1, 1) <= born <= dt.date.today():
        return False
    return check_code(value[:17]) == value[17]


def clean_ok(value: str) -> bool:
    return value == value.strip() and "  " not in value


def email_ok(value: str) -> bool:
    return value == value.strip().lower() and bool(re.fullmatch(r"[^@ ]+@[^@ ]+\.[^@ ]+", value))


@dataclass
class Row:
    """What the reference rules need of a customer."""

    id: int
    team_id: int | None
    owner_id: int | None
    age: int
    values: dict[str, Any]


def read_rows() -> list[Row]:
    """Every customer, read plainly."""
    today = dt.datetime.now(dt.UTC).date()
    with transaction() as db:
        customers = db.scalars(select(Customer).order_by(Customer.id)).all()
        rows = []
        for c in customers:
            values = {
                "name": c.name,
                "phone": c.phone,
                "email": c.email,
                "address": c.address,
                "province": c.province,
                "city": c.city,
                "district": c.district,
                "birth_date": c.birth_date,
                "id_number": c.id_number,
                "owner": c.owner_id,
                "team": c.team_id,
                "lifecycle_stage": c.lifecycle_stage,
                "_keys": {"name": c.name_key, "phone": c.phone_key, "email": c.email_key},
            }
            for v in c.field_values:
                values[f"cf.{v.field.key}"] = (v.text_value, v.number_value, v.field)
            age = (today - c.updated_at.astimezone(dt.UTC).date()).days
            rows.append(Row(c.id, c.team_id, c.owner_id, age, values))
        active = {u.id for u in db.scalars(select(User)) if u.is_active}
        members = {(t.id, u.id) for t in db.scalars(select(Team)) for u in t.members}
    for row in rows:
        row.values["_active"] = active
        row.values["_members"] = members
    return rows


def filled(row: Row, key: str) -> bool:
    value = row.values.get(key)
    if key.startswith("cf."):
        return value is not None and (value[0] not in (None, "") or value[1] is not None)
    return value is not None and value != ""


def valid(row: Row, key: str) -> bool:
    v = row.values[key]
    if key in ("name", "address"):
        return clean_ok(v)
    if key == "phone":
        return bool(re.fullmatch(r"\+[1-9][0-9]{6,14}", v))
    if key == "email":
        return email_ok(v)
    if key in PLACES:
        return PLACES[key][v]
    if key == "id_number":
        return id_ok(v)
    if key == "birth_date":
        number = row.values["id_number"]
        matches = not number or not id_ok(number) or id_date(number) == v
        return dt.date(1850, 1, 1) <= v <= dt.date.today() and matches
    if key == "owner":
        return v in row.values["_active"]
    if key == "team":
        return row.owner_id is None or (v, row.owner_id) in row.values["_members"]
    if key == "lifecycle_stage":
        return v in STAGES
    text, _number, field = v
    return field.field_type != "choice" or text in field.choices


UNIQUE_KEY = {
    "name": lambda r: r.values["_keys"]["name"],
    "phone": lambda r: r.values["_keys"]["phone"],
    "email": lambda r: r.values["_keys"]["email"],
    "address": lambda r: r.values["address"],
    "id_number": lambda r: r.values["id_number"],
}


def expected(rows: list[Row], fields: list[str]) -> dict[str, Any]:
    """The figures, counted by hand over ``rows``."""
    result: dict[str, Any] = {"customers": len(rows), "fields": {}}
    for key in fields:
        have = [r for r in rows if filled(r, key)]
        item: dict[str, Any] = {
            "filled": len(have),
            "valid": sum(valid(r, key) for r in have),
            "fresh": sum(r.age <= FRESH_DAYS for r in have),
            "median_age_days": statistics.median([r.age for r in have]) if have else None,
            "unique": None,
        }
        if key in UNIQUE_KEY:
            counts = Counter(UNIQUE_KEY[key](r) for r in have)
            item["unique"] = sum(1 for r in have if counts[UNIQUE_KEY[key](r)] == 1)
        result["fields"][key] = item
    result["duplicates"] = len(duplicate_ids(rows))
    return result


def duplicate_ids(rows: list[Row]) -> set[int]:
    """Customers sharing a normalised phone, email or identity number with another."""
    found: set[int] = set()
    for get in (
        lambda r: r.values["_keys"]["phone"],
        lambda r: r.values["_keys"]["email"],
        lambda r: r.values["id_number"],
    ):
        counts = Counter(get(r) for r in rows if get(r))
        found |= {r.id for r in rows if get(r) and counts[get(r)] > 1}
    return found


def expected_score(figures: dict[str, Any]) -> float:
    """Mean of the four dimension averages, times the share of non-duplicates, 0-100."""
    total = figures["customers"]
    dims: dict[str, list[float]] = {"c": [], "v": [], "u": [], "f": []}
    for item in figures["fields"].values():
        dims["c"].append(item["filled"] / total)
        if item["filled"]:
            dims["v"].append(item["valid"] / item["filled"])
            dims["f"].append(item["fresh"] / item["filled"])
            if item["unique"] is not None:
                dims["u"].append(item["unique"] / item["filled"])
    averages = [sum(v) / len(v) for v in dims.values() if v]
    return round(100 * sum(averages) / len(averages) * (1 - figures["duplicates"] / total), 1)


# --- the seeded set ----------------------------------------------------------------------


@dataclass
class Seed:
    """The world plus the seeded customers."""

    world: factories.World
    ids: dict[str, int]


def _insert(**values: Any) -> int:
    """A customer row written as-is (old or imported data that no save has checked)."""
    name = values["name"]
    phone = values.get("phone")
    email = values.get("email")
    row = {
        "kind": "person",
        "lifecycle_stage": "potential",
        "name_key": name.strip().casefold(),
        "phone_key": re.sub(r"\D", "", phone)[-11:] if phone else None,
        "email_key": email.strip().lower() if email else None,
        **values,
    }
    with transaction() as db:
        return int(db.execute(insert(Customer).values(**row).returning(Customer.id)).scalar_one())


def _age(customer_id: int, days: int) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with transaction() as db:
        db.execute(update(Customer).where(Customer.id == customer_id).values(updated_at=when))


def _custom(
    customer_id: int, key: str, text: str | None = None, number: float | None = None
) -> None:
    with transaction() as db:
        field_id = db.scalar(select(CustomFieldDef.id).where(CustomFieldDef.key == key))
        db.execute(
            insert(CustomFieldValue).values(
                customer_id=customer_id, field_id=field_id, text_value=text, number_value=number
            )
        )


@pytest.fixture
def seed(world: factories.World) -> Seed:
    """Valid and invalid values of every field, in two teams, of several ages."""
    east, west = world.teams["East"], world.teams["West"]
    users = {k: u.id for k, u in world.users.items()}
    gone = factories.make_user("gone", "agent", ["West"])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        auth_service.set_active(db=db, user_id=gone.id, active=False)
        db.add(
            CustomFieldDef(
                key="level",
                label_en="Level",
                label_zh="等级",
                field_type="choice",
                choices=["gold", "silver"],
                required=False,
            )
        )
        db.add(
            CustomFieldDef(
                key="points",
                label_en="Points",
                label_zh="积分",
                field_type="number",
                choices=[],
                required=False,
            )
        )
    ids = {
        "wang": _insert(
            name="王芳",
            phone="+8613800138000",
            email="wang@example.com",
            address="广东省深圳市南山区科技园",
            province="广东省",
            city="深圳市",
            district="南山区",
            id_number="11010519491231002X",
            birth_date=dt.date(1949, 12, 31),
            team_id=east,
            owner_id=users["agent"],
        ),
        "wang2": _insert(
            name="王芳",
            phone="+8613800138000",
            email="Wang@Example.com",
            city="深圳",
            province="广东",
            id_number="110105194912310021",
            birth_date=dt.date(1950, 1, 1),
            team_id=east,
            owner_id=users["ops_manager"],
        ),
        "li": _insert(
            name="李雷",
            phone="138 0013 8001",
            address=" 北京市朝阳区 ",
            province="北京市",
            city="北京市",
            district="朝阳区",
            id_number="440304199001010011",
            birth_date=dt.date(1991, 1, 1),
            team_id=west,
            owner_id=users["west_agent"],
        ),
        "ann": _insert(
            name="Ann Lee",
            phone="+442079460018",
            email="ann@example.co.uk",
            city="London",
            birth_date=dt.date(2999, 1, 1),
            team_id=west,
            owner_id=gone.id,
        ),
        "zhao": _insert(
            name="赵敏",
            email="zhao@example.cn",
            id_number="11010519491231002x",
            lifecycle_stage="weird",
            team_id=east,
            owner_id=users["west_agent"],
        ),
        "zhang": _insert(
            name="张  三", district="火星区", province="浙江省", team_id=east, owner_id=None
        ),
        "mine": _insert(
            name="Own Customer",
            email="wang@example.com",
            team_id=None,
            owner_id=users["ops_manager"],
        ),
    }
    _custom(ids["wang"], "level", text="gold")
    _custom(ids["wang2"], "level", text="bronze")
    _custom(ids["zhao"], "level", text="silver")
    _custom(ids["li"], "points", number=12)
    for key, days in {
        "wang": 5,
        "wang2": 400,
        "li": 800,
        "ann": 30,
        "zhao": 0,
        "zhang": 2,
        "mine": 366,
    }.items():
        _age(ids[key], days)
    for number, customer_id in enumerate(world.customers["East"] + world.customers["West"]):
        _age(customer_id, 100 + 50 * number)
    return Seed(world, ids)


FIELDS = [
    "name",
    "phone",
    "email",
    "address",
    "province",
    "city",
    "district",
    "birth_date",
    "id_number",
    "owner",
    "team",
    "lifecycle_stage",
    "cf.level",
    "cf.points",
]


def _in_scope(rows: list[Row], seed: Seed, username: str) -> list[Row]:
    if username in ("admin", "analyst"):
        return rows
    user = seed.world.users[username]
    with transaction() as db:
        teams = {t.id for t in auth_service.get_user(db=db, user_id=user.id).teams}
    return [r for r in rows if r.team_id in teams or r.owner_id == user.id]


def _other(client: TestClient) -> TestClient:
    """A second browser on the same app (to sign in as someone else)."""
    return TestClient(client.app, base_url="https://testserver", follow_redirects=False)


def _api(client: TestClient, username: str, path: str = "/api/v1/quality", **params: Any) -> Any:
    factories.login(client, username)
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- figures -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["admin", "ops_manager"])
def test_figures_match_a_count_by_hand(client: TestClient, seed: Seed, username: str) -> None:
    rows = _in_scope(read_rows(), seed, username)
    want = expected(rows, FIELDS)
    got = _api(client, username)
    assert got["customers"] == want["customers"]
    assert got["live"] is True and got["fresh_days"] == FRESH_DAYS
    by_field = {f["field"]: f for f in got["fields"]}
    assert list(by_field) == FIELDS
    for key in FIELDS:
        item, mine = by_field[key], want["fields"][key]
        for name in ("filled", "valid", "unique", "fresh", "median_age_days"):
            assert item[name] == mine[name], (key, name, item[name], mine[name])
        assert item["completeness"] == pytest.approx(mine["filled"] / want["customers"])
        if mine["filled"]:
            assert item["validity"] == pytest.approx(mine["valid"] / mine["filled"])
    assert got["duplicates"] == want["duplicates"]
    assert got["duplicate_share"] == pytest.approx(want["duplicates"] / want["customers"])
    assert got["score"] == expected_score(want)


def test_team_scoped_figures_leave_other_teams_out(client: TestClient, seed: Seed) -> None:
    everything = _api(client, "admin")
    east = _api(_other(client), "ops_manager")
    # ops_manager (team East) sees East's customers and the one they own without a team: the
    # world's 2 East customers and 5 seeded ones, not li, ann nor John Smith (West).
    assert east["customers"] == 7
    assert everything["customers"] == 10
    phones = {f["field"]: f for f in east["fields"]}["phone"]
    # West's "138 0013 8001" is the only badly written phone; East has none.
    assert phones["filled"] == phones["valid"]
    assert east["awaiting_review"] is None  # an unrestricted count is never shown to them


def test_the_same_seed_scores_the_same_for_every_role_that_sees_all(
    client: TestClient, seed: Seed
) -> None:
    admin = _api(client, "admin")
    analyst = _api(_other(client), "analyst")
    assert (admin["score"], admin["customers"]) == (analyst["score"], analyst["customers"])


def test_roles_without_quality_read_are_refused(client: TestClient, seed: Seed) -> None:
    factories.login(client, "agent")
    assert client.get("/api/v1/quality").status_code == 403
    assert client.get("/quality").status_code == 403
    assert client.get("/api/v1/quality/fields/phone/invalid/customers").status_code == 403


# --- drill-down --------------------------------------------------------------------------


def _offender_ids(client: TestClient, field: str, metric: str) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"/api/v1/quality/fields/{field}/{metric}/customers", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


@pytest.mark.parametrize("username", ["admin", "ops_manager"])
def test_drill_down_lists_exactly_the_offenders(
    client: TestClient, seed: Seed, username: str
) -> None:
    rows = _in_scope(read_rows(), seed, username)
    factories.login(client, username)
    for key in FIELDS:
        empty = {r.id for r in rows if not filled(r, key)}
        invalid = {r.id for r in rows if filled(r, key) and not valid(r, key)}
        stale = {r.id for r in rows if filled(r, key) and r.age > FRESH_DAYS}
        assert set(_offender_ids(client, key, "empty")) == empty, key
        assert set(_offender_ids(client, key, "invalid")) == invalid, key
        assert set(_offender_ids(client, key, "stale")) == stale, key
        if key in UNIQUE_KEY:
            have = [r for r in rows if filled(r, key)]
            counts = Counter(UNIQUE_KEY[key](r) for r in have)
            shared = {r.id for r in have if counts[UNIQUE_KEY[key](r)] > 1}
            assert set(_offender_ids(client, key, "duplicate")) == shared, key
    assert set(_offender_ids(client, "customer", "duplicate")) == duplicate_ids(rows)
    assert set(_offender_ids(client, "customer", "stale")) == {
        r.id for r in rows if r.age > FRESH_DAYS
    }


def test_drill_down_names_the_seeded_offenders(client: TestClient, seed: Seed) -> None:
    factories.login(client, "admin")
    ids = seed.ids
    assert set(_offender_ids(client, "id_number", "invalid")) == {ids["wang2"], ids["zhao"]}
    assert set(_offender_ids(client, "phone", "invalid")) == {ids["li"]}
    assert set(_offender_ids(client, "city", "invalid")) == {ids["wang2"]}
    # li: 1991-01-01 against 440304199001010011 (born 1990-01-01); ann: in the future. wang2's
    # 1950-01-01 cannot be checked: its identity number is not valid.
    assert set(_offender_ids(client, "birth_date", "invalid")) == {ids["li"], ids["ann"]}
    assert set(_offender_ids(client, "customer", "duplicate")) == {
        ids["wang"],  # phone shared with wang2, email with wang2 and mine
        ids["wang2"],
        ids["mine"],
    }


def test_drill_down_is_restricted_and_masked(client: TestClient, seed: Seed) -> None:
    factories.login(client, "ops_manager")
    assert seed.ids["li"] not in _offender_ids(client, "phone", "invalid")
    factories.login(client, "analyst")
    page = client.get("/api/v1/quality/fields/id_number/invalid/customers").json()
    shown = {item["id"]: item for item in page["items"]}
    assert shown[seed.ids["wang2"]]["id_number"] == "1101**********0021"
    assert shown[seed.ids["wang2"]]["phone"] == "138****8000"
    html = client.get("/quality/fields/id_number/invalid").text
    assert "1101**********0021" in html and "110105194912310021" not in html
    assert f'href="/customers/{seed.ids["wang2"]}"' in html


def test_unknown_fields_and_metrics_are_not_found(client: TestClient, seed: Seed) -> None:
    factories.login(client, "admin")
    assert client.get("/api/v1/quality/fields/nope/invalid/customers").status_code == 404
    assert client.get("/api/v1/quality/fields/cf.nope/empty/customers").status_code == 404
    assert client.get("/api/v1/quality/fields/owner/duplicate/customers").status_code == 404
    assert client.get("/api/v1/quality/fields/customer/empty/customers").status_code == 404
    assert client.get("/api/v1/quality/fields/phone/wrong/customers").status_code == 422


def test_sql_identity_check_agrees_with_the_write_check(client: TestClient, world: Any) -> None:
    # Valid numbers with their check code computed here, and each spoiled in one way.
    import random

    rng = random.Random(7)
    values: list[str] = []
    for _ in range(60):
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(45000))
        first17 = f"{rng.randrange(110000, 660000)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        good = first17 + check_code(first17)
        values.append(good)
        wrong = "0123456789X".replace(good[17], "")[rng.randrange(10)]
        values.append(good[:17] + wrong)  # wrong check code
    for first17 in (
        "11010519490230002",
        "11010519491331002",
        "11010529991231002",
        "01010519491231002",
        "11010518491231002",
    ):
        values.append(first17 + check_code(first17))  # 30 Feb, month 13, future, 0..., 1849
    values += ["11010519491231002x", "110105491231002", "11010519491231002X ", "ABCDEFGHIJKLMNOPQR"]
    ids = {
        _insert(name=f"p{n}", id_number=v, team_id=world.teams["East"]): v
        for n, v in enumerate(values)
    }
    factories.login(client, "admin")
    flagged = set(_offender_ids(client, "id_number", "invalid"))
    assert {ids[i] for i in flagged} == {v for v in ids.values() if not id_ok(v)}
    assert sum(id_ok(v) for v in values) == 60  # the reference accepts only the good ones


# --- trends, snapshots, recompute ----------------------------------------------------------


def test_each_view_keeps_the_day_s_snapshot_and_the_trend_shows_it(
    client: TestClient, seed: Seed
) -> None:
    first = _api(client, "admin")
    _api(client, "admin")  # the same day: the same snapshot row, updated
    with transaction() as db:
        snapshots = db.scalars(select(QualitySnapshot)).all()
        assert [(s.scope, s.customers) for s in snapshots] == [("all", 10)]
        yesterday = QualitySnapshot(
            scope="all",
            taken_on=snapshots[0].taken_on - dt.timedelta(days=1),
            customers=8,
            score=50.0,
            fresh_days=FRESH_DAYS,
            figures=snapshots[0].figures | {"customers": 8},
        )
        db.add(yesterday)
    trend = _api(client, "admin", "/api/v1/quality/trend")
    assert [p["score"] for p in trend] == [50.0, first["score"]]
    assert trend[0]["day"] < trend[1]["day"]
    phone = _api(client, "admin", "/api/v1/quality/trend", field="phone")
    phone_row = next(f for f in first["fields"] if f["field"] == "phone")
    assert phone[-1]["validity"] == pytest.approx(phone_row["validity"])


def test_team_scoped_trend_is_its_own(client: TestClient, seed: Seed) -> None:
    admin = _api(client, "admin")
    other = _other(client)
    east = _api(other, "ops_manager")
    trend = _api(other, "ops_manager", "/api/v1/quality/trend")
    assert [p["score"] for p in trend] == [east["score"]]  # its own snapshot, not the admin's
    assert east["score"] != admin["score"]


def test_recompute_from_the_page_is_audited(client: TestClient, seed: Seed) -> None:
    factories.login(client, "admin")
    csrf = factories.csrf_from(client.get("/quality").text)
    response = client.post("/quality/recompute", data={"csrf_token": csrf, "fresh_days": "30"})
    assert response.status_code == 303
    assert response.headers["location"] == "/quality?fresh_days=30"
    page = client.get(response.headers["location"]).text
    assert "within 30 days" in page
    with transaction() as db:
        snapshot = db.scalars(select(QualitySnapshot)).one()
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "quality_recompute"))
        assert [e.changes for e in events] == [{"scope": "all", "fresh_days": 30, "job_id": None}]
    rows = read_rows()
    assert snapshot.fresh_days == 30
    assert snapshot.figures["record"]["fresh"] == sum(r.age <= 30 for r in rows)


def test_recompute_refuses_a_bad_window(client: TestClient, seed: Seed) -> None:
    factories.login(client, "admin")
    csrf = factories.csrf_from(client.get("/quality").text)
    response = client.post("/quality/recompute", data={"csrf_token": csrf, "fresh_days": "0"})
    assert response.status_code == 422
    api = client.post(
        "/api/v1/quality/recompute", params={"fresh_days": 0}, headers={"X-CSRF-Token": csrf}
    )
    assert api.status_code == 422


def test_api_recompute_of_a_small_scope_answers_the_figures(client: TestClient, seed: Seed) -> None:
    factories.login(client, "admin")
    csrf = factories.csrf_from(client.get("/quality").text)
    response = client.post("/api/v1/quality/recompute", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    body = response.json()
    assert body["computed"] is True and body["job_id"] is None
    assert body["quality"]["customers"] == 10


# --- the page ------------------------------------------------------------------------------


def test_page_shows_the_figures_with_links_to_the_offenders(client: TestClient, seed: Seed) -> None:
    want = expected(read_rows(), FIELDS)
    factories.login(client, "admin")
    html = client.get("/quality").text
    phone = want["fields"]["phone"]
    shown = f"{100 * phone['valid'] / phone['filled']:.1f}%"
    assert re.search(r'data-testid="phone-invalid">' + re.escape(shown), html)
    assert 'href="/quality/fields/phone/invalid?fresh_days=365"' in html
    assert 'href="/quality/fields/customer/duplicate?fresh_days=365"' in html
    assert "Level" in html  # the custom field's label
    assert "<svg" in html and "<script>" not in html  # charts drawn without inline script
    drill = client.get("/quality/fields/phone/invalid").text
    assert "李雷" in drill and "王芳" not in drill


def test_page_in_chinese(client: TestClient, seed: Seed) -> None:
    factories.login(client, "admin")
    csrf = factories.csrf_from(client.get("/quality").text)
    client.post("/language", data={"csrf_token": csrf, "locale": "zh_CN", "next": "/quality"})
    html = client.get("/quality").text
    assert "数据质量" in html and "完整性" in html and "等级" in html


def test_customers_awaiting_review_only_for_those_who_see_all(
    client: TestClient, seed: Seed
) -> None:
    from clientops.identity.models import CandidatePair

    with transaction() as db:
        for left, right, status in (("wang", "wang2", "pending"), ("li", "ann", "rejected")):
            db.add(
                CandidatePair(
                    left_id=seed.ids[left],
                    right_id=seed.ids[right],
                    probability=0.9,
                    match_weight=5.0,
                    rule="model",
                    status=status,
                )
            )
    assert _api(client, "admin")["awaiting_review"] == 2  # the pending pair's two customers
    assert _api(_other(client), "ops_manager")["awaiting_review"] is None
    html = client.get("/quality").text
    assert 'href="/identity"' in html
