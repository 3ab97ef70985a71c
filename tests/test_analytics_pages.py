"""Analytics pages and API: what each role sees, team restriction, rule editing, the 360 panel."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from clientops.analytics.models import RuleSet
from clientops.db import transaction
from tests import factories
from tests.analytics_data import add_customers, score

AS_OF = date(2026, 3, 31)


def _scored(world: factories.World) -> tuple[list[int], list[int]]:
    east = add_customers(
        [[(AS_OF - timedelta(days=d), 200.0 + d), (AS_OF - timedelta(days=3 * d), 80.0)]
         for d in range(1, 26)],
        team_id=world.teams["East"], prefix="东",
    )  # fmt: skip
    west = add_customers(
        [[(AS_OF - timedelta(days=400), 50.0)] for _ in range(5)],
        team_id=world.teams["West"],
        prefix="West",
    )
    score(AS_OF)
    return east, west


def _client(app: Any, username: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    return factories.login(client, username)


def test_pages_render_the_scores_for_an_analyst(app: Any, world: factories.World) -> None:
    east, _west = _scored(world)
    client = _client(app, "analyst")
    overview = client.get("/analytics")
    assert 'data-testid="tier-chart"' in overview.text and "<rect" in overview.text
    assert ">33<" in overview.text  # 30 buyers and the world's three customers
    grid = client.get("/analytics/rfm").text
    assert 'data-testid="cell-5-1"' in grid
    # Each page shows its own part of the scores, not merely an answer.
    expected = {
        "/analytics/tiers": ('data-testid="tier-table"', "diamond"),
        "/analytics/lifecycle": ('data-testid="stage-counts"',),
        "/analytics/clv": ("Customer lifetime value", "CLV"),
        "/analytics/churn": ('data-testid="models"',),
        "/analytics/rules": ("Champions", "diamond"),
    }
    for path, marks in expected.items():
        text = client.get(path).text
        assert all(mark in text for mark in marks), path
    cohorts = client.get("/analytics/cohorts").text
    assert "2026-03" in cohorts and "100.0%" in cohorts
    history = client.get(f"/analytics/customers/{east[0]}").text
    assert 'data-testid="history"' in history and "2026-03-31" in history
    detail = client.get(f"/customers/{east[0]}").text
    assert 'data-testid="analytics-panel"' in detail and 'data-testid="panel-tier"' in detail


def test_lists_are_restricted_to_the_users_teams(app: Any, world: factories.World) -> None:
    east, west = _scored(world)
    analyst = _client(app, "analyst").get("/api/v1/analytics/scores?limit=200").json()
    assert {i["customer_id"] for i in analyst["items"]} >= set(east) | set(west)
    west_pm = _client(app, "west_pm")
    mine = west_pm.get("/api/v1/analytics/scores?limit=200").json()["items"]
    assert {i["customer_id"] for i in mine} == set(west) | set(world.customers["West"])
    assert west_pm.get(f"/api/v1/analytics/customers/{east[0]}").status_code == 404
    one = _client(app, "analyst").get(f"/api/v1/analytics/customers/{east[0]}").json()
    assert one["scores"]["tier"] and one["scores"]["health_parts"]["f"] >= 1
    assert one["history"][0]["changed"] == "tier,stage,segment"
    page = west_pm.get("/analytics/customers").text
    assert "东" not in page and "West0" in page
    tiers = west_pm.get("/api/v1/analytics/tiers").json()
    assert sum(t["customers"] for t in tiers) == 5
    # Sorted by value at risk, highest first, with the R×F filter narrowing to a cell.
    items = analyst["items"]
    values = [i["value_at_risk"] or -1 for i in items]
    assert values == sorted(values, reverse=True)
    cell = _client(app, "analyst").get("/api/v1/analytics/scores?r=1&f=1").json()["items"]
    assert cell and all((i["r_score"], i["f_score"]) == (1, 1) for i in cell)


def test_a_manager_edits_tier_rules_in_the_form(app: Any, world: factories.World) -> None:
    _scored(world)
    manager = _client(app, "ops_manager")
    csrf = factories.csrf_from(manager.get("/analytics/rules").text)
    bad = manager.post("/analytics/rules/tiers",
                       data={"csrf_token": csrf, "shares.0.share": "0.5"})  # fmt: skip
    assert bad.status_code == 422 and "shares must add up to 1" in bad.text
    form = {"csrf_token": csrf, "shares.0.share": "0.1", "shares.1.share": "0.15",
            "period": "month", "note": "more diamonds"}  # fmt: skip
    saved = manager.post("/analytics/rules/tiers", data=form)
    assert saved.status_code == 303
    with transaction() as db:
        row = db.scalars(select(RuleSet).where(RuleSet.kind == "tiers")).one()
    assert row.body["shares"][0]["share"] == 0.1 and row.body["period"] == "month"
    api = manager.get("/api/v1/analytics/rules/tiers").json()
    assert api["version"] == 1 and api["note"] == "more diamonds"
    viewer = _client(app, "viewer")
    token = factories.csrf_from(viewer.get("/customers").text)
    denied = viewer.post("/analytics/rules/tiers", data={"csrf_token": token})
    assert denied.status_code == 403


def test_segment_rules_reorder_and_add_in_the_form(app: Any, world: factories.World) -> None:
    manager = _client(app, "analyst")
    csrf = factories.csrf_from(manager.get("/analytics/rules").text)
    form = {"csrf_token": csrf, "rules.0.position": "3.5", "rules.10.name": "Everyone",
            "rules.10.position": "0", "otherwise": "Rest"}  # fmt: skip
    assert manager.post("/analytics/rules/segments", data=form).status_code == 303
    body = manager.get("/api/v1/analytics/rules/segments").json()["body"]
    names = [r["name"] for r in body["rules"]]
    assert names[:4] == ["Everyone", "Potential Loyalist", "New", "Champions"]
    assert body["otherwise"] == "Rest" and len(names) == 11


def test_api_runs_models_cohorts(app: Any, world: factories.World) -> None:
    _scored(world)
    client = _client(app, "viewer")
    runs = client.get("/api/v1/analytics/runs").json()
    assert runs[0]["status"] == "succeeded" and runs[0]["customers"] == 33
    one = client.get(f"/api/v1/analytics/runs/{runs[0]['id']}").json()
    assert "pipeline" in one["figures"]["timings"]
    assert client.get("/api/v1/analytics/models").json() == []
    assert client.get("/api/v1/analytics/models/999").status_code == 404
    cohorts = client.get("/api/v1/analytics/cohorts").json()
    assert cohorts and cohorts[-1]["retention"][0] == 1.0
    stages = {s["key"]: s["customers"] for s in client.get("/api/v1/analytics/stages").json()}
    assert stages["potential"] == 2 and stages["churned"] == 0  # the viewer is in team East
    everyone = _client(app, "analyst").get("/api/v1/analytics/stages").json()
    assert {s["key"]: s["customers"] for s in everyone}["churned"] == 5


def test_the_customer_list_filters_on_scores(app: Any, world: factories.World) -> None:
    _scored(world)
    analyst = _client(app, "analyst")
    page = analyst.get("/customers?score_stage=churned").text
    assert 'data-testid="filter-tier"' in page
    assert all(f"West{i}" in page for i in range(5)) and "东0" not in page
    diamond = analyst.get("/customers?tier=diamond&risk=&health=").text
    assert "West0" not in diamond and "东" in diamond  # the churned West buyers are bronze
    # An agent has no analytics:read: the score filters are neither shown nor applied.
    agent = _client(app, "agent").get("/customers?score_stage=churned").text
    assert "filter-tier" not in agent and "东0" in agent  # East buyers are not churned
