"""Behaviour events out: GET /api/v1/events and the /events page restricted per record and
masked per role; the customer 360 timeline and its activity summary."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests import factories
from tests.test_events import customer, identify, nested, page, post, token, track


def _login(app: Any, username: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    return factories.login(client, username)


def _seed(client: TestClient, world: Any) -> dict[str, int]:
    """Events of an East customer, a West customer and of nobody known."""
    admin = world.principal("admin")
    east = customer(world, "东方客户", external_ids=[{"source": "web", "external_id": "u-east"}])
    west = factories.make_customer(
        admin,
        name="West Customer",
        team_id=world.teams["West"],
        external_ids=[{"source": "web", "external_id": "u-west"}],
    )
    headers = token("admin", "events:write")
    answer = post(
        client,
        headers,
        [
            identify(
                "e-id",
                1,
                user_id="u-east",
                anonymous_id="dev-e",
                traits={"email": "east.person@example.cn", "phone": "13912345678", "name": "东方"},
                context={"ip": "203.0.113.77"},
            ),
            page("e-page", 2, anonymous_id="dev-e", name="定价", properties={"path": "/pricing"}),
            track("e-cart", 3, "Product Added", user_id="u-east", properties={"sku": "E-1"}),
            track("w-cart", 4, "Checkout Started", user_id="u-west"),
            track("n-cart", 5, "Wishlist Viewed", anonymous_id="dev-unknown"),
        ],
    )
    assert answer.json()["accepted"] == 5
    return {"east": east, "west": west}


def test_a_team_scoped_reader_sees_only_events_of_customers_they_may_see(
    client: TestClient, app: Any, world: Any
) -> None:
    ids = _seed(client, world)
    manager = _login(app, "ops_manager")  # events:read, team East only
    items = manager.get("/api/v1/events").json()["items"]
    assert {e["message_id"] for e in items} == {"e-id", "e-page", "e-cart"}
    assert manager.get(f"/api/v1/events?customer_id={ids['west']}").status_code == 404
    mine = manager.get(f"/api/v1/events?customer_id={ids['east']}&type=track").json()["items"]
    assert [e["event"] for e in mine] == ["Product Added"]

    admin = _login(app, "admin")  # sees every customer, and the events linked to nobody
    everything = admin.get("/api/v1/events").json()["items"]
    assert {e["message_id"] for e in everything} == {"e-id", "e-page", "e-cart", "w-cart", "n-cart"}
    by_name = admin.get("/api/v1/events", params={"event": "定价"}).json()["items"]
    assert [(e["type"], e["name"], e["customer_id"]) for e in by_name] == [
        ("page", "定价", ids["east"])
    ]
    assert _login(app, "agent").get("/api/v1/events").status_code == 403  # no events:read


def test_personal_data_in_events_is_masked_for_roles_that_do_not_see_it(
    client: TestClient, app: Any, world: Any
) -> None:
    _seed(client, world)
    clear = _login(app, "admin").get("/api/v1/events?type=identify").json()["items"][0]
    assert clear["traits"]["email"] == "east.person@example.cn"
    assert clear["context"]["ip"] == "203.0.113.77"
    masked = _login(app, "analyst").get("/api/v1/events?type=identify").json()["items"][0]
    assert masked["traits"]["email"] == "e***@example.cn"
    assert masked["traits"]["phone"] == "139****5678"
    assert "东方" not in masked["traits"]["name"]
    assert masked["context"]["ip"] == "203.0.*.*"
    assert "east.person" not in _login(app, "analyst").get("/events").text


def test_cursor_pages_give_every_event_once_newest_first(
    client: TestClient, app: Any, world: Any
) -> None:
    headers = token("admin", "events:write")
    post(client, headers, [track(f"c-{i}", i, user_id="u-any") for i in range(7)])
    admin = _login(app, "admin")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        answer = admin.get("/api/v1/events", params=params).json()
        seen += [e["message_id"] for e in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"c-{i}" for i in reversed(range(7))]
    assert admin.get("/api/v1/events?cursor=bm9wZQ").status_code == 422


def test_the_customer_360_page_shows_recent_events_and_the_summary(
    client: TestClient, app: Any, world: Any
) -> None:
    ids = _seed(client, world)
    agent = _login(app, "agent")  # customers:read on team East, no events:read
    page_html = agent.get(f"/customers/{ids['east']}").text
    assert "Product Added" in page_html
    assert "定价" in page_html
    summary = page_html.split('data-testid="event-summary"')[1].split("</p>")[0]
    assert "3 events" in summary and "1 page views" in summary and "1 cart adds" in summary
    assert "/events?customer_id=" not in summary  # no link to a page the agent may not open
    assert "Checkout Started" not in page_html  # the West customer's event
    west_agent = _login(app, "west_agent")
    assert west_agent.get(f"/customers/{ids['east']}").status_code == 404
    assert "Checkout Started" in west_agent.get(f"/customers/{ids['west']}").text


def test_the_events_page_lists_and_filters_what_the_reader_may_see(
    client: TestClient, app: Any, world: Any
) -> None:
    _seed(client, world)
    manager = _login(app, "ops_manager")
    listing = manager.get("/events").text
    assert "Product Added" in listing and "定价" in listing and "东方客户" in listing
    assert "Checkout Started" not in listing and "Wishlist Viewed" not in listing
    tracks = manager.get("/events?type=track", headers={"HX-Request": "true"}).text
    assert "Product Added" in tracks and "定价" not in tracks
    assert "<html" not in tracks  # HTMX gets the table alone
    assert "Wishlist Viewed" in _login(app, "admin").get("/events").text


def test_an_event_as_deep_as_allowed_can_be_read_back(
    client: TestClient, app: Any, world: Any
) -> None:
    headers = token("admin", "events:write")
    # the event is level 1, properties 2, the list inside it 3 to 64
    deepest = track("deep-ok", 1, user_id="u", properties={"a": nested(62)})
    assert post(client, headers, [deepest]).json()["accepted"] == 1
    admin = _login(app, "admin")
    answer = admin.get("/api/v1/events")
    assert answer.status_code == 200
    assert answer.json()["items"][0]["properties"] == {"a": nested(62)}
    assert admin.get("/events").status_code == 200
