"""Customer scoring: RFM (quintiles and thresholds), segments, tiers, lifecycle stages and
their monthly flows, cohorts, the scoring job's history, and rule edits (SQLite and
PostgreSQL: the job reads and writes the test database)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import func, select

from clientops.analytics import engines, flows, pipeline, service
from clientops.analytics.models import (
    CohortFigure,
    CustomerScore,
    ScoreHistory,
    ScoreRun,
    StageFlow,
)
from clientops.analytics.rules import DEFAULT_SEGMENTS, RfmRules, Rules, SegmentRule, SegmentRules
from clientops.audit.models import AuditEvent
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.exceptions import InvalidInput
from tests import factories
from tests.analytics_data import add_activity, add_customers, add_orders, score

AS_OF = date(2026, 6, 30)
DAY = 86_400


def _cdnow_like(n: int = 1000, seed: int = 7) -> dict[str, pa.Table]:
    """Facts like CDNOW's: most customers bought once, a few many times."""
    rng = np.random.default_rng(seed)
    orders_per = np.where(rng.random(n) < 0.6, 1, rng.geometric(0.3, n) + 1)
    ids = np.repeat(np.arange(1, n + 1), orders_per)
    end = pipeline.Clock(AS_OF).end
    t = end - rng.integers(1, 500, ids.size) * DAY
    amounts = np.round(rng.gamma(2.0, 40.0, ids.size), 2)
    return {
        "customers": pa.table({"id": np.arange(1, n + 1), "team_id": pa.nulls(n, pa.int64())}),
        "orders": pa.table({"customer_id": ids, "t": t, "amount": amounts}),
        "touches": engines.TOUCH_SCHEMA.empty_table(),
    }


def _scores(tables: dict[str, pa.Table], rules: Rules) -> Any:
    con = engines.local_duckdb(tables)
    try:
        facts = engines.Facts(
            con,
            con.table("customers"),
            con.table("orders"),
            con.table("touches"),
            tables["orders"].num_rows,
        )
        return pipeline.scores(facts, pipeline.Clock(AS_OF), rules).to_pandas()
    finally:
        con.disconnect()


def test_quintiles_break_ties_by_customer_id_and_thresholds_keep_one_time_buyers_together() -> None:
    tables = _cdnow_like()
    quintile = _scores(tables, Rules())
    again = _scores(tables, Rules())
    assert quintile[["r_score", "f_score", "m_score"]].equals(
        again[["r_score", "f_score", "m_score"]]
    )
    # Exactly a fifth of the buyers in each F score, although 60% bought once: plain quintile
    # edges would collapse; with ties broken by id, one-time buyers spread over F = 1 to 4.
    assert quintile["f_score"].value_counts().to_dict() == {s: 200 for s in range(1, 6)}
    once = quintile[quintile["orders"] == 1].sort_values("customer_id")
    assert len(once) > 600
    assert set(once["f_score"]) == set(range(1, -(-len(once) // 200) + 1))
    assert once["f_score"].is_monotonic_increasing  # lower ids first among equals
    thresholds = _scores(tables, Rules(rfm=RfmRules(mode="thresholds")))
    by_orders = thresholds.groupby("orders")["f_score"].unique()
    assert list(by_orders[1]) == [1] and list(by_orders[2]) == [2]
    assert {int(s) for s in by_orders[3]} == {3} and {int(s) for s in by_orders[5]} == {4}
    assert all(int(s) == 5 for o in by_orders.index if o >= 10 for s in by_orders[o])
    recent = thresholds[thresholds["recency_days"] <= 30]
    assert set(recent["r_score"]) == {5}
    assert set(thresholds[thresholds["recency_days"] > 365]["r_score"]) == {1}


def test_segments_follow_the_ordered_rules() -> None:
    tables = _cdnow_like()
    default = _scores(tables, Rules(rfm=RfmRules(mode="thresholds")))
    for row in default.itertuples():
        expected = next(
            (
                rule.name
                for rule in DEFAULT_SEGMENTS.rules
                if rule.r_min <= row.r_score <= rule.r_max
                and rule.f_min <= row.f_score <= rule.f_max
            ),
            DEFAULT_SEGMENTS.otherwise,
        )
        assert row.rfm_segment == expected
    assert {"Champions", "Lost", "Hibernating", "About to Sleep"} <= set(default["rfm_segment"])
    # A catch-all placed first wins over everything after it; the fallback names the rest.
    broad = SegmentRule(name="Everyone recent", r_min=4, r_max=5, f_min=1, f_max=5)
    reordered = SegmentRules(rules=[broad, *DEFAULT_SEGMENTS.rules], otherwise="Others")
    other = _scores(tables, Rules(rfm=RfmRules(mode="thresholds"), segments=reordered))
    recent = other["r_score"] >= 4
    assert set(other[recent]["rfm_segment"]) == {"Everyone recent"}
    assert "Champions" not in set(other["rfm_segment"])
    assert (
        other[~recent]["rfm_segment"] == default[~recent]["rfm_segment"].replace("Lost", "Others")
    ).all()


def test_tier_shares_of_customers_and_revenue(world: factories.World) -> None:
    # 100 buyers: the top 8 spend 3,700 each (37% of 80,000), the other 92 spend ~550 each.
    big = [[(AS_OF - timedelta(days=10), 3700.0)] for _ in range(8)]
    small = [[(AS_OF - timedelta(days=20), 550.0 + (i % 5) * 0.1 - 0.2)] for i in range(92)]
    add_customers(big + small, team_id=world.teams["East"])
    figures = score(AS_OF)
    assert figures["customers"] == 103  # and the world's three, who never bought
    with transaction() as db:
        shares = {
            s["tier"]: s for s in service.tier_shares(db=db, principal=world.principal("admin"))
        }
    assert shares["diamond"]["customers"] == 8
    assert shares["diamond"]["customer_share"] == pytest.approx(0.08)
    assert shares["diamond"]["revenue_share"] == pytest.approx(0.37, abs=0.001)
    assert [shares[t]["customers"] for t in ("gold", "silver", "bronze")] == [17, 25, 50]
    assert sum(s["revenue_share"] for s in shares.values()) == pytest.approx(1.0)


def _flows(db: Any, month: date) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for f in db.scalars(select(StageFlow).where(StageFlow.month == month)):
        key = (f.from_stage, f.to_stage)
        found[key] = found.get(key, 0) + f.customers  # summed over teams
    return found


def test_lifecycle_stages_and_monthly_transitions(world: factories.World) -> None:
    jan31, feb28 = date(2026, 1, 31), date(2026, 2, 28)
    history = {
        "new": [(jan31 - timedelta(days=5), 100.0)],
        "churned": [(date(2025, 5, 1), 100.0)],
        "declining": [
            (date(2025, 10, 1), 400.0),
            (date(2025, 10, 20), 400.0),
            (jan31 - timedelta(days=3), 50.0),
        ],
        "mature": [(date(2024, 6, 1) + timedelta(days=60 * i), 100.0) for i in range(10)]
        + [(date(2025, 11, 15), 100.0), (jan31 - timedelta(days=10), 100.0)],
        "growing": [(date(2025, 9, 1), 100.0), (jan31 - timedelta(days=20), 120.0)],
    }
    ids = dict(zip(history, add_customers(list(history.values())), strict=True))
    score(jan31)
    with transaction() as db:
        stages = {k: db.get(CustomerScore, cid).stage for k, cid in ids.items()}
    assert stages == {k: k for k in history}
    # February: the new customer buys again and grows; the mature one stops and, 180 days
    # on, is not churned yet; nothing else happens.
    add_orders(ids["new"], [(feb28 - timedelta(days=2), 80.0)])
    score(feb28)
    with transaction() as db:
        after = {k: db.get(CustomerScore, cid).stage for k, cid in ids.items()}
        flows_feb, flows_jan = _flows(db, date(2026, 2, 1)), _flows(db, date(2026, 1, 1))
    assert after["new"] == "growing" and after["churned"] == "churned"
    assert flows_feb[("new", "growing")] == 1
    assert flows_feb[("churned", "churned")] == 1
    assert flows_feb[("potential", "potential")] == 3  # the world's customers
    assert sum(flows_feb.values()) == 8
    assert set(flows_jan) == {
        ("unscored", s) for s in ("new", "churned", "declining", "mature", "growing", "potential")
    }


def test_cohort_retention_by_first_purchase_month(world: factories.World) -> None:
    jan, feb, mar = date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)
    add_customers(
        [
            [(jan, 100.0), (feb, 50.0), (mar, 30.0)],
            [(jan, 100.0), (mar, 20.0)],
            [(jan, 200.0)],
            [(feb, 80.0), (mar, 40.0)],
            [(feb, 20.0)],
        ],
        team_id=world.teams["East"],
    )
    score(date(2026, 3, 31))
    with transaction() as db:
        rows = service.cohort_matrix(db=db, principal=world.principal("admin"))
        stored = db.scalar(select(func.count()).select_from(CohortFigure))
    assert stored == 5  # Jan: +0 +1 +2; Feb: +0 +1
    by_month = {r["month"]: r for r in rows}
    january = by_month[date(2026, 1, 1)]
    assert january["customers"] == 3
    assert january["retention"] == pytest.approx([1.0, 1 / 3, 2 / 3])
    assert january["revenue"] == pytest.approx([1.0, 50 / 400, 50 / 400])
    february = by_month[date(2026, 2, 1)]
    assert february["retention"] == pytest.approx([1.0, 0.5])
    assert february["revenue"] == pytest.approx([1.0, 40 / 100])
    with transaction() as db:  # a West user sees no East cohort
        assert service.cohort_matrix(db=db, principal=world.principal("west_pm")) == []


def test_the_job_writes_scores_and_history_and_a_rerun_writes_none(world: factories.World) -> None:
    ids = add_customers(
        [[(AS_OF - timedelta(days=d), 100.0 + d)] for d in range(1, 41)],
        team_id=world.teams["East"],
    )
    add_activity(ids[0], AS_OF - timedelta(days=2))
    first = score(AS_OF)
    with transaction() as db:
        scored = db.scalar(select(func.count()).select_from(CustomerScore))
        history = db.scalar(select(func.count()).select_from(ScoreHistory))
        row = db.get(CustomerScore, ids[0])
        run = db.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()))
    assert scored == 43 and history == 43 == first["history_rows"]
    assert run.status == "succeeded" and run.customers == 43 and run.tiers_evaluated
    assert row.orders == 1 and row.stage == "new" and row.tier is not None
    assert row.health_parts["contact_days"] == 1.0  # the call two days ago... or the order
    assert 0 <= row.health <= 100
    second = score(AS_OF)
    with transaction() as db:
        assert db.scalar(select(func.count()).select_from(ScoreHistory)) == 43
        runs = db.scalars(select(ScoreRun).order_by(ScoreRun.id)).all()
    assert second["history_rows"] == 0
    assert not runs[1].tiers_evaluated  # same quarter: tiers kept
    # A new month: one snapshot row per customer, even without changes.
    third = score(AS_OF + timedelta(days=1))
    assert third["history_rows"] == 43


def test_a_rule_edit_changes_the_results_and_is_audited(world: factories.World) -> None:
    add_customers([[(AS_OF - timedelta(days=5), 100.0 * (i + 1))] for i in range(20)])
    score(AS_OF)
    with transaction() as db:
        before = dict(
            db.execute(select(CustomerScore.tier, func.count()).group_by(CustomerScore.tier)).all()
        )
    assert before["diamond"] == 2  # 8% of 20, rounded up
    body = {
        "shares": [
            {"tier": "diamond", "share": 0.25},
            {"tier": "gold", "share": 0.25},
            {"tier": "silver", "share": 0.25},
            {"tier": "bronze", "share": 0.25},
        ]
    }
    analyst = world.principal("analyst")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        with pytest.raises(InvalidInput):
            service.save_rules(
                db=db, kind="tiers", body={"shares": body["shares"][:3]}, principal=analyst
            )
        with pytest.raises(InvalidInput):  # a misspelt key is refused, not silently dropped
            service.save_rules(db=db, kind="tiers", body={**body, "shars": []}, principal=analyst)
        saved = service.save_rules(
            db=db, kind="tiers", body=body, principal=analyst, note="quarters"
        )
        assert saved.version == 1
    score(AS_OF)  # the same day: the new tier rules make tiers due again
    with transaction() as db:
        after = dict(
            db.execute(select(CustomerScore.tier, func.count()).group_by(CustomerScore.tier)).all()
        )
        audit = db.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "analytics_rule_sets")
        ).all()
        drops = service.tier_drops(db=db, principal=analyst)
    assert after == {"diamond": 5, "gold": 5, "silver": 5, "bronze": 5, None: 3}
    assert len(audit) == 1 and audit[0].action == "create"
    assert audit[0].changes["body"][1]["shares"][0]["share"] == 0.25
    assert len(drops) == 0  # more diamonds now: nobody went down
    viewer = world.principal("viewer")
    with transaction() as db, pytest.raises(Exception, match="analytics:manage"):
        service.save_rules(db=db, kind="tiers", body=body, principal=viewer)


def test_score_params_are_checked() -> None:
    with pytest.raises(InvalidInput):
        flows.score_params(engine="oracle")
    with pytest.raises(InvalidInput):
        flows.score_params(as_of="31/12/2025")
    assert flows.score_params(engine="duckdb", as_of="2025-12-31")["as_of"] == "2025-12-31"


def _churning_buyers(n: int, seed: int = 5) -> list[list[tuple[date, float]]]:
    """Buyers over two years who buy every few weeks until they stop; a third stop early."""
    rng = np.random.default_rng(seed)
    start = AS_OF - timedelta(days=730)
    out = []
    for _ in range(n):
        gap = int(rng.integers(10, 40))
        stop = int(rng.integers(100, 730)) if rng.random() < 0.35 else 800
        days = range(int(rng.integers(0, 60)), min(stop, 730), gap)
        out.append([(start + timedelta(days=d), float(rng.gamma(3, 30))) for d in days])
    return out


def test_scoring_trains_a_churn_model_and_explains_each_risk(world: factories.World) -> None:
    add_customers(_churning_buyers(1500))
    figures = score(AS_OF, train_churn=True)
    with transaction() as db:
        model = service.active_model(db=db)
        rows = db.scalars(select(CustomerScore).where(CustomerScore.churn_risk.is_not(None))).all()
    assert model is not None and model.version == 1 and model.horizon_days == 30
    assert model.report["roc_auc"] > 0.75  # stopping is visible in the windows
    assert figures["churn"]["available"] and figures["model_id"] == model.id
    assert len(rows) == 1500
    risky = max(rows, key=lambda r: r.churn_risk or 0)
    assert risky.churn_drivers and "text_key" in risky.churn_drivers[0]
    assert service.driver_text(risky.churn_drivers[0])  # a sentence in the reader's language
    assert risky.value_at_risk == pytest.approx(risky.churn_risk * (risky.clv or risky.revenue_12m))
    # The next night reuses the week-old CLV fit instead of refitting: same parameters.
    assert figures["clv"]["available"] and figures["clv"]["refitted"]
    again = score(AS_OF + timedelta(days=1))
    assert not again["clv"]["refitted"] and again["clv"]["fit"] == figures["clv"]["fit"]
    assert again["clv"]["calibration"] == figures["clv"]["calibration"]
    assert again["churn"]["available"]  # the model trained yesterday scores tonight


def test_without_a_spend_model_value_follows_each_customers_own_average(
    world: factories.World,
) -> None:
    # Spend levels with an infinite-mean tail (Pareto, shape 0.5) defeat Gamma-Gamma (q ≤ 1):
    # the run still values customers, by their own average order, and says so.
    rng = np.random.default_rng(11)
    buyers = []
    for orders in _churning_buyers(400, seed=8):
        level = round(10 * float(rng.random()) ** -2, 2)  # one spend level per customer
        buyers.append([(day, level) for day, _amount in orders])
    start = AS_OF - timedelta(days=400)
    twins = [
        [(start + timedelta(days=d), spend) for d in range(0, 400, 20)] for spend in (10, 1000)
    ]
    ids = add_customers(buyers + twins)
    figures = score(AS_OF)
    assert figures["clv"]["available"] and figures["clv"]["spend"] == "own_average"
    assert figures["clv"]["spend_fit"] is None
    with transaction() as db:
        small, large = (db.get(CustomerScore, cid) for cid in ids[-2:])
        assert small is not None and large is not None and small.clv and large.clv
    # Same purchase history, a hundred times the spend: a hundred times the value.
    assert large.clv == pytest.approx(100 * small.clv, rel=1e-6)
