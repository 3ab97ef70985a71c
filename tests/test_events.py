"""Behaviour events in: POST /api/v1/events validates each event, stores it once, links it to
its customer (user id, anonymous id merged on identify, email, phone) and keeps the summaries."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clientops import config
from clientops.auth import service as auth_service
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.events import service as events_service
from clientops.events.models import Event, EventSummary
from tests import factories

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


CHINA = timezone(timedelta(hours=8))


def at(minutes: int) -> str:
    """An ISO 8601 time ``minutes`` after a fixed moment three days ago, in China time."""
    return (BASE + timedelta(minutes=minutes)).astimezone(CHINA).isoformat()


def token(username: str, *scopes: str) -> dict[str, str]:
    """Authorization headers of a fresh API token of ``username``."""
    with transaction() as db:
        bind(db, actor=SYSTEM)
        user = auth_service.find_user(db=db, username=username)
        value = auth_service.create_token(db=db, user=user, scopes=list(scopes))
    return {"Authorization": f"Bearer {value}"}


def post(
    client: TestClient, headers: dict[str, str], events: list[dict[str, Any]], **extra: Any
) -> Any:
    """Post one batch (source ``web`` unless given)."""
    return client.post(
        "/api/v1/events", headers=headers, json={"source": "web", **extra, "batch": events}
    )


def track(
    message_id: str, minute: int, name: str = "Product Viewed", **fields: Any
) -> dict[str, Any]:
    """A track event."""
    return {
        "type": "track",
        "message_id": message_id,
        "timestamp": at(minute),
        "event": name,
        **fields,
    }


def page(message_id: str, minute: int, **fields: Any) -> dict[str, Any]:
    """A page event."""
    return {"type": "page", "message_id": message_id, "timestamp": at(minute), **fields}


def identify(message_id: str, minute: int, **fields: Any) -> dict[str, Any]:
    """An identify event."""
    return {"type": "identify", "message_id": message_id, "timestamp": at(minute), **fields}


def nested(depth: int) -> list[object]:
    """Arrays nested ``depth`` levels deep."""
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def stored() -> dict[str, Event]:
    """Every stored event by message id."""
    with transaction() as db:
        return {e.message_id: e for e in db.scalars(select(Event))}


def customer(world: factories.World, name: str, **fields: Any) -> int:
    """A customer of team East."""
    return factories.make_customer(
        world.principal("admin"), name=name, team_id=world.teams["East"], **fields
    )


# --- checking and storing ---------------------------------------------------------------------


def test_each_bad_event_is_reported_with_its_index_and_the_good_ones_are_stored(
    client: TestClient, world: Any
) -> None:
    headers = token("ops_manager", "events:write")
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    batch = [
        track("ok-1", 1, user_id="u-1", properties={"sku": "A-1", "price": 12.5}),
        {"type": "track", "timestamp": at(2), "user_id": "u-1", "event": "x"},
        track("bad-time", 3, user_id="u-1") | {"timestamp": "23/11/2026 10:00"},
        track("future", 4, user_id="u-1") | {"timestamp": future},
        track("camel", 5) | {"userId": "u-1"},
        {"type": "track", "message_id": "no-name", "timestamp": at(6), "user_id": "u-1"},
        page("nobody", 7, name="Home"),
        {"type": "alias", "message_id": "alias", "timestamp": at(8), "user_id": "u-1"},
        page("props-list", 9, anonymous_id="a-1", properties=["not", "an", "object"]),
        track("x" * 101, 10, user_id="u-1"),
        track("ctrl", 11, user_id="u-1\x00"),
        "not an event",
        page("ok-2", 12, anonymous_id="a-1", name="首页", context={"ip": "10.1.2.3"}),
        track("deep", 13, user_id="u-1", properties={"a": nested(70)}),
        track("y10k", 14, user_id="u-1") | {"timestamp": "9999-12-31T23:59:59-23:59"},
    ]
    response = post(client, headers, batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert body["duplicates"] == 0
    errors = {r["index"]: (r["error"], r["message_id"]) for r in body["rejected"]}
    assert errors == {
        1: ("missing_field", None),
        2: ("invalid_timestamp", "bad-time"),
        3: ("timestamp_in_future", "future"),
        4: ("unknown_field", "camel"),
        5: ("missing_field", "no-name"),
        6: ("missing_identity", "nobody"),
        7: ("invalid_type", "alias"),
        8: ("invalid_properties", "props-list"),
        9: ("invalid_message_id", "x" * 100),
        10: ("invalid_user_id", "ctrl"),
        11: ("not_an_object", None),
        13: ("too_deep", "deep"),
        14: ("invalid_timestamp", "y10k"),
    }
    details = {r["index"]: r["detail"] for r in body["rejected"]}
    assert "message_id" in details[1] and "use user_id" in details[4]
    rows = stored()
    assert set(rows) == {"ok-1", "ok-2"}
    assert rows["ok-1"].payload["properties"] == {"sku": "A-1", "price": 12.5}
    assert rows["ok-1"].name == "Product Viewed" and rows["ok-1"].source == "web"
    assert rows["ok-2"].payload["context"] == {"ip": "10.1.2.3"}
    assert rows["ok-2"].name == "首页"
    assert rows["ok-2"].occurred_at == BASE + timedelta(minutes=12)  # stored in UTC


def test_a_retried_batch_stores_nothing_twice(client: TestClient, world: Any) -> None:
    headers = token("ops_manager", "events:write")
    batch = [track(f"m-{i}", i, user_id=f"u-{i % 3}") for i in range(20)]
    first = post(client, headers, batch)
    assert first.json() == {"accepted": 20, "duplicates": 0, "rejected": []}
    again = post(client, headers, batch)
    assert again.json() == {"accepted": 0, "duplicates": 20, "rejected": []}
    grown = post(client, headers, [*batch[:5], track("m-new", 30, user_id="u-1")])
    assert grown.json() == {"accepted": 1, "duplicates": 5, "rejected": []}
    twice_in_one = post(client, headers, [track("m-x", 31, user_id="u-1")] * 2)
    assert twice_in_one.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    with transaction() as db:
        count, distinct = db.execute(
            select(func.count(), func.count(func.distinct(Event.message_id)))
        ).one()
    assert (count, distinct) == (22, 22)


def test_limits_refuse_the_whole_batch_with_413(client: TestClient, world: Any) -> None:
    headers = token("ops_manager", "events:write")
    with config.override(events_max_batch=3):
        response = post(client, headers, [track(f"n-{i}", i, user_id="u") for i in range(4)])
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_events"

    big = track("big", 1, user_id="u", properties={"text": "汉" * 700})  # 2,100 bytes of text
    with config.override(events_max_event_bytes=2048):
        response = post(client, headers, [track("small", 2, user_id="u"), big])
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "event_too_large"
    assert [(d["index"], d["message_id"]) for d in body["detail"]] == [(1, "big")]
    assert body["detail"][0]["bytes"] > 2100

    with config.override(events_max_batch_bytes=4096):
        many = [track(f"b-{i}", i, user_id="u", properties={"pad": "x" * 200}) for i in range(20)]
        response = post(client, headers, many)
    assert response.status_code == 413
    assert response.json()["error"] == "batch_too_large"
    assert stored() == {}


def test_a_batch_that_is_not_one_is_refused_with_400(client: TestClient, world: Any) -> None:
    headers = token("ops_manager", "events:write") | {"Content-Type": "application/json"}
    cases = {
        b'{"batch": [': "invalid_json",
        b"\xff\xfe": "invalid_json",
        b'{"batch": [{"type": "track", "properties": {"x": NaN}}]}': "invalid_json",
        b'{"batch": [{"type": "track", "properties": {"x": 1e999}}]}': "invalid_json",
        b"[]": "invalid_batch",
        b'{"events": []}': "invalid_batch",
        b'{"batch": {}}': "invalid_batch",
        b'{"batch": []}': "empty_batch",
        b'{"batch": [{}], "write_key": "k"}': "unknown_field",
        b'{"batch": [{}], "source": "web site"}': "invalid_source",
    }
    for body, code in cases.items():
        response = client.post("/api/v1/events", headers=headers, content=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == code, body
    all_bad = post(client, headers, [page("p", 1), {"type": "track"}])
    assert all_bad.status_code == 400
    assert all_bad.json()["error"] == "no_valid_event"
    assert [d["index"] for d in all_bad.json()["detail"]] == [0, 1]
    form = client.post(
        "/api/v1/events", headers={"Authorization": headers["Authorization"]}, data={"a": "b"}
    )
    assert form.status_code == 415
    assert stored() == {}


def test_only_a_token_with_events_write_may_send_events(client: TestClient, world: Any) -> None:
    batch = [track("t-1", 1, user_id="u")]
    assert post(client, {}, batch).status_code == 401
    assert post(client, token("ops_manager", "customers:read"), batch).status_code == 403
    # the scope never lifts a role above itself: a viewer cannot write events
    assert post(client, token("viewer", "events:write"), batch).status_code == 403
    assert stored() == {}
    assert post(client, token("admin", "events:write"), batch).status_code == 200
    assert set(stored()) == {"t-1"}


# --- linking to customers -----------------------------------------------------------------------


def test_user_id_links_through_the_external_id_of_the_batch_source(
    client: TestClient, world: Any
) -> None:
    headers = token("ops_manager", "events:write")
    li = customer(world, "李娜", external_ids=[{"source": "web", "external_id": "u-li"}])
    post(client, headers, [track("w-1", 1, user_id="u-li"), track("w-2", 2, user_id="u-x")])
    post(client, headers, [track("s-1", 3, user_id="u-li")], source="shop")
    rows = stored()
    assert rows["w-1"].customer_id == li
    assert rows["w-2"].customer_id is None  # nobody known by that id: kept, unlinked
    assert rows["s-1"].customer_id is None  # the same id means someone else in another source


def test_identify_merges_an_anonymous_id_and_links_its_earlier_events(
    client: TestClient, world: Any
) -> None:
    headers = token("ops_manager", "events:write")
    wang = customer(world, "王芳", external_ids=[{"source": "web", "external_id": "u-wang"}])
    post(
        client,
        headers,
        [page("a-1", 1, anonymous_id="dev-9", name="Home"), track("a-2", 2, anonymous_id="dev-9")],
    )
    assert {r.customer_id for r in stored().values()} == {None}
    with transaction() as db:
        assert events_service.summary(db=db, customer_id=wang) is None

    answer = post(
        client,
        headers,
        [
            track("a-3", 3, anonymous_id="dev-9", name="Product Added"),
            identify("a-4", 4, user_id="u-wang", anonymous_id="dev-9"),
        ],
    )
    assert answer.json()["accepted"] == 2
    post(client, headers, [page("a-5", 5, anonymous_id="dev-9", name="Cart")])
    post(client, headers, [page("other", 6, anonymous_id="dev-7", name="Home")])
    rows = stored()
    assert {m: rows[m].customer_id for m in ("a-1", "a-2", "a-3", "a-4", "a-5")} == dict.fromkeys(
        ("a-1", "a-2", "a-3", "a-4", "a-5"), wang
    )
    assert rows["other"].customer_id is None
    with transaction() as db:
        summary = events_service.summary(db=db, customer_id=wang)
        assert summary is not None
        assert (summary.events, summary.page_views, summary.tracks, summary.identifies) == (
            5,
            2,
            2,
            1,
        )
        assert summary.cart_adds == 1
        assert summary.first_seen_at == BASE + timedelta(minutes=1)
        assert summary.last_seen_at == BASE + timedelta(minutes=5)


def test_identify_links_by_email_or_phone_in_the_traits(client: TestClient, world: Any) -> None:
    headers = token("ops_manager", "events:write")
    zhang, _company = world.customers["East"]  # 13812341234, zhangwei@example.cn
    smith = customer(world, "Anna Smith", email="anna.smith@example.com")
    post(
        client,
        headers,
        [
            track("e-0", 0, anonymous_id="d-anna"),
            identify(
                "e-1",
                1,
                user_id="crm-77",
                anonymous_id="d-anna",
                traits={"email": "  Anna.Smith@EXAMPLE.com ", "plan": "pro"},
            ),
            identify("p-1", 2, user_id="crm-88", traits={"phone": "+86 138-1234-1234"}),
            identify(
                "n-1", 3, user_id="crm-99", traits={"email": "nobody@example.org", "phone": "123"}
            ),
        ],
    )
    post(client, headers, [track("e-2", 4, user_id="crm-77"), track("p-2", 5, user_id="crm-88")])
    rows = stored()
    assert [rows[m].customer_id for m in ("e-0", "e-1", "e-2")] == [smith, smith, smith]
    assert [rows[m].customer_id for m in ("p-1", "p-2")] == [zhang, zhang]
    assert rows["n-1"].customer_id is None  # unknown address, unusable number: kept, unlinked


def test_events_stored_before_their_person_was_known_are_linked_later(
    client: TestClient, world: Any
) -> None:
    headers = token("ops_manager", "events:write")
    post(client, headers, [track(f"early-{i}", i, user_id="u-late") for i in range(3)])
    post(client, headers, [track("other-0", 4, user_id="u-later")])
    late = customer(world, "赵磊", external_ids=[{"source": "web", "external_id": "u-late"}])
    later = customer(world, "钱程", external_ids=[{"source": "web", "external_id": "u-later"}])
    assert {r.customer_id for r in stored().values()} == {None}

    post(client, headers, [track("now-0", 10, user_id="u-late")])  # the next event links all
    with transaction() as db:
        ranges, total = events_service.pending_ranges(db=db, size=10)
        assert total == 1
        checked, linked = events_service.link_pending(
            db=db, first_id=ranges[0][0], last_id=ranges[0][1]
        )
    assert (checked, linked) == (1, 1)
    rows = stored()
    assert {rows[f"early-{i}"].customer_id for i in range(3)} | {rows["now-0"].customer_id} == {
        late
    }
    assert rows["other-0"].customer_id == later
    with transaction() as db:
        counts = {
            c: getattr(events_service.summary(db=db, customer_id=c), "events", None)
            for c in (late, later)
        }
    assert counts == {late: 4, later: 1}


def test_the_summary_adds_up_the_customers_events(client: TestClient, world: Any) -> None:
    headers = token("ops_manager", "events:write")
    ids = {
        "u-a": customer(world, "甲", external_ids=[{"source": "web", "external_id": "u-a"}]),
        "u-b": customer(world, "乙", external_ids=[{"source": "web", "external_id": "u-b"}]),
    }
    names = [
        "Product Added",
        "add_to_cart",
        "加入购物车",
        "product-added",
        "Product Viewed",
        "Search",
    ]
    sent: list[dict[str, Any]] = []
    for i in range(60):
        user = "u-a" if i % 3 else "u-b"
        minute = (i * 37) % 500  # out of order on purpose
        kind = ("track", "track", "page", "identify")[i % 4]
        if kind == "track":
            sent.append(track(f"s-{i}", minute, names[i % len(names)], user_id=user))
        elif kind == "page":
            sent.append(page(f"s-{i}", minute, user_id=user, name="Home"))
        else:
            sent.append(identify(f"s-{i}", minute, user_id=user))
    for start in range(0, 60, 25):
        assert post(client, headers, sent[start : start + 25]).status_code == 200
    post(client, headers, sent[:10])  # a retry adds nothing

    carts = {"Product Added", "add_to_cart", "加入购物车", "product-added"}
    for user, customer_id in ids.items():
        mine = [e for e in sent if e["user_id"] == user]
        kinds = Counter(e["type"] for e in mine)
        times = sorted(datetime.fromisoformat(e["timestamp"]) for e in mine)
        expected = (
            len(mine),
            kinds["identify"],
            kinds["track"],
            kinds["page"],
            sum(1 for e in mine if e["type"] == "track" and e["event"] in carts),
            times[0],
            times[-1],
        )
        with transaction() as db:
            row = db.get(EventSummary, customer_id)
            assert row is not None
            got = (
                row.events,
                row.identifies,
                row.tracks,
                row.page_views,
                row.cart_adds,
                row.first_seen_at,
                row.last_seen_at,
            )
            assert got == expected
            db.delete(row)
            db.flush()
            events_service.recompute_summary(db=db, customer_id=customer_id)
            again = db.get(EventSummary, customer_id)
            assert again is not None
            assert (
                again.events,
                again.identifies,
                again.tracks,
                again.page_views,
                again.cart_adds,
                again.first_seen_at,
                again.last_seen_at,
            ) == expected
