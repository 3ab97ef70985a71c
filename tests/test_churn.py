"""Churn prediction on simulated customers with a planted signal (known truth).

Churn log-odds fall with the spend trend and rise with the change in service tickets (strongly)
and fall with tenure (weakly); every other column is noise (``churn_synthetic``). The model
must rank held-out customers nearly as well as the true probabilities, find the planted
drivers first, tell a customer's own spend drop in words, be calibrated, and survive its text
form. Bad input is refused with a reason.
"""

from __future__ import annotations

import json
from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from clientops.analytics import churn, churn_shap, churn_synthetic
from clientops.analytics import churn_features as cf
from clientops.analytics.churn_features import ChurnDataError

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

CUSTOMERS = 20_000


def _prepared(simulated: list[churn_synthetic.Snapshot]) -> list[churn.Snapshot]:
    return [
        (s.cutoff, cf.build(s.summary), churn.label(s.summary, "no_purchase", 30))
        for s in simulated
    ]


@pytest.fixture(scope="module")
def simulated() -> list[churn_synthetic.Snapshot]:
    return churn_synthetic.snapshots(CUSTOMERS, 3, seed=7)


@pytest.fixture(scope="module")
def trained(
    simulated: list[churn_synthetic.Snapshot],
) -> tuple[churn.ChurnModel, dict[str, object], list[churn.Snapshot]]:
    snapshots = _prepared(simulated)
    model, report = churn.train(snapshots)
    return model, report, snapshots


def _customer(**changes: float) -> pd.DataFrame:
    """One ordinary customer (nothing unusual) with some figures changed."""
    row = {
        "customer_id": 42,
        "window_days": 30,
        "tenure_days": 400.0,
        "days_since_last_order": 20.0,
        "orders_w0": 1.0,
        "orders_w1": 1.0,
        "spend_w0": 140.0,
        "spend_w1": 150.0,
        "days_since_last_event": 10.0,
        "events_w0": 8.0,
        "events_w1": 8.0,
        "tickets_w0": 0.0,
        "tickets_w1": 0.0,
        "csat_mean": 4.0,
        "tier_rank_w0": 2.0,
        "tier_rank_w1": 2.0,
    }
    return cf.build(pd.DataFrame([row | changes]))


def test_held_out_ranking_is_close_to_the_bayes_optimal_auc(trained, simulated) -> None:
    _, report, snapshots = trained
    bayes = roc_auc_score(snapshots[-1][2], simulated[-1].truth)
    assert report["validation"]["cutoff"] == simulated[-1].cutoff.isoformat()
    assert report["roc_auc"] > 0.75
    assert report["roc_auc"] >= bayes - 0.01
    assert report["pr_auc"] > report["base_rate"] * 1.5


def test_the_planted_drivers_rank_first_by_mean_abs_shap(trained) -> None:
    _, report, _ = trained
    features = [f["feature"] for f in report["importance"]]
    drivers = [d["driver"] for d in report["driver_importance"]]
    assert set(features[:2]) == {"spend_change", "tickets_change"}
    assert drivers[:3] == ["spend", "tickets", "tenure"]
    shares = {d["driver"]: d["mean_abs_shap"] for d in report["driver_importance"]}
    noise = [shares[name] for name in drivers[3:]]
    assert max(noise) < shares["tenure"] / 2


def test_a_customer_whose_spend_dropped_hears_that_first_with_the_percentage(trained) -> None:
    model, _, _ = trained
    scored = churn.score(model, _customer(spend_w0=90.0, spend_w1=200.0))
    first = scored["drivers"][0][0]
    assert first["feature"] == "spend"
    assert first["params"]["pct"] == 55
    assert churn.describe(first, "en") == "spend down 55% vs previous 30 days"
    assert churn.describe(first, "zh_CN") == "消费较前 30 天下降 55%"


def test_new_service_tickets_are_told_with_both_windows(trained) -> None:
    model, _, _ = trained
    scored = churn.score(model, _customer(tickets_w0=3.0, tickets_w1=0.0))
    first = scored["drivers"][0][0]
    assert first["feature"] == "tickets"
    assert churn.describe(first) == "3 service tickets in the last 30 days (previous: 0)"


def test_drivers_only_push_risk_up_largest_first(trained) -> None:
    model, _, snapshots = trained
    scored = churn.score(model, snapshots[-1][1].head(3000), top_k=3)
    assert scored["risk"].between(0, 1).all()
    for drivers in scored["drivers"]:
        pushes = [d["contribution"] for d in drivers]
        assert len(pushes) <= 3
        assert all(p >= churn.MIN_CONTRIBUTION for p in pushes)
        assert pushes == sorted(pushes, reverse=True)
        assert len({d["feature"] for d in drivers}) == len(drivers)
    told = {d["feature"] for drivers in scored["drivers"] for d in drivers}
    assert {"spend", "tickets", "tenure"} <= told


def test_calibration_curve_lies_near_the_diagonal(trained) -> None:
    _, report, _ = trained
    checked = 0
    for row in report["calibration"]:
        if row["rows"] >= 200:
            p, n = row["mean_predicted"], row["rows"]
            assert abs(row["observed"] - p) <= 3 * np.sqrt(p * (1 - p) / n) + 0.02, row
            checked += 1
    assert checked >= 6


def test_lift_and_capture_by_decile(trained) -> None:
    _, report, _ = trained
    deciles = report["deciles"]
    assert [d["decile"] for d in deciles] == list(range(1, 11))
    assert deciles[0]["lift"] > 2
    assert deciles[-1]["lift"] < 0.5
    assert deciles[-1]["cumulative_capture"] == pytest.approx(1.0)
    assert sum(d["churners"] for d in deciles) == report["validation"]["churners"]
    json.dumps(report, allow_nan=False)  # stored as JSON with the model version


def test_the_model_round_trips_through_text_with_identical_predictions(trained) -> None:
    model, _, snapshots = trained
    again = churn.ChurnModel.from_text(model.to_text())
    features = snapshots[-1][1].head(2000)
    before, after = churn.score(model, features), churn.score(again, features)
    assert again == model
    assert np.array_equal(before["risk"].to_numpy(), after["risk"].to_numpy())
    assert list(before["drivers"]) == list(after["drivers"])


def test_training_is_repeatable(simulated) -> None:
    small = [
        (
            s.cutoff,
            cf.build(s.summary.head(3000)),
            churn.label(s.summary.head(3000), "no_purchase", 30),
        )
        for s in simulated
    ]
    first, _ = churn.train(small)
    second, _ = churn.train(small)
    assert first.booster_text == second.booster_text


def test_contributions_are_lightgbms_exact_tree_shap(trained, monkeypatch) -> None:
    model, _, snapshots = trained
    monkeypatch.setattr(churn_shap, "CHUNK_ROWS", 300)  # several blocks, side by side
    x = churn._matrix(snapshots[-1][1].head(2000), model.feature_names).copy()
    for feature, thresholds in model.explainer.thresholds.items():
        x[: len(thresholds), feature] = thresholds[: len(x)]  # values right on the splits
    x[::7, 0] = np.nan
    x[::11, 4] = 0.0
    ours = model.explainer.contributions(x).T
    lightgbm = model.booster.predict(x, pred_contrib=True)
    assert np.abs(ours - lightgbm).max() < 1e-9
    risk = 1 / (1 + np.exp(-ours.sum(axis=1)))
    assert np.abs(risk - model.booster.predict(x)).max() < 1e-12


def test_models_beyond_the_leaf_tables_still_get_exact_values() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 16))
    x[:, 0] = rng.integers(0, 5, len(x))
    y = (x.sum(axis=1) + rng.normal(size=len(x)) > 0).astype(float)
    deep = {"num_leaves": 255, "min_data_in_leaf": 2, "max_depth": -1}  # > 12 features a path
    for params, categorical in ((deep, "auto"), ({}, [0])):
        data = lgb.Dataset(x, y, categorical_feature=categorical)
        booster = lgb.train({"objective": "binary", "verbose": -1, **params}, data, 5)
        explainer = churn_shap.TreeExplainer(booster, num_threads=2)
        assert not explainer.tabled
        ours = explainer.contributions(x[:400]).T
        assert np.abs(ours - booster.predict(x[:400], pred_contrib=True)).max() < 1e-9


def test_a_missing_source_never_becomes_a_driver(simulated) -> None:
    snapshots = []
    for s in simulated:
        summary = s.summary.head(5000).assign(
            tickets_w0=np.nan, tickets_w1=np.nan, csat_mean=np.nan
        )
        snapshots.append((s.cutoff, cf.build(summary), churn.label(summary, "no_purchase", 30)))
    model, report = churn.train(snapshots)
    shares = {d["driver"]: d["mean_abs_shap"] for d in report["driver_importance"]}
    assert shares["tickets"] == 0 and shares["satisfaction"] == 0
    scored = churn.score(model, snapshots[-1][1])
    told = {d["feature"] for drivers in scored["drivers"] for d in drivers}
    assert "spend" in told
    assert not told & {"tickets", "satisfaction"}


def test_labels_follow_the_business_definition() -> None:
    summary = pd.DataFrame(
        {
            "next_order_days": [5.0, 31.0, np.nan, np.nan],
            "next_event_days": [np.nan, 10.0, np.nan, 3.0],
            "contract_end_days": [10.0, 10.0, 40.0, np.nan],
            "contract_renewed": [1.0, 0.0, 0.0, np.nan],
        }
    )
    assert churn.label(summary, "no_purchase", 30).tolist() == [0, 1, 1, 1]
    assert churn.label(summary, "no_purchase", 31).tolist() == [0, 0, 1, 1]
    assert churn.label(summary, "no_activity", 30).tolist() == [0, 0, 1, 0]
    assert churn.label(summary, "contract_not_renewed", 30).tolist() == [0, 1, 0, 0]
    with pytest.raises(ChurnDataError) as refused:
        churn.label(summary, "no_login", 30)
    assert refused.value.errors == {"definition": "unknown:no_login"}


def test_sentences_in_both_languages() -> None:
    cases = {
        ("no purchase for %(days)s days", "days", 94): ("no purchase for 94 days", "94 天未购买"),
        ("satisfaction %(score)s of 5", "score", 2.1): (
            "satisfaction 2.1 of 5",
            "满意度 2.1 分（满分 5 分）",
        ),
    }
    for (key, name, value), (english, chinese) in cases.items():
        driver = {"text_key": key, "params": {name: value, "pct": None}}
        assert churn.describe(driver, "en") == english
        assert churn.describe(driver, "zh_CN") == chinese
    tier = {
        "text_key": "dropped from %(tier_from)s to %(tier_to)s",
        "params": {"tier_from": 2, "tier_to": 1},
    }
    assert churn.describe(tier) == "dropped from gold to silver"
    assert churn.describe(tier, "zh_CN") == "价值等级从黄金降至白银"


def test_a_missing_column_is_named() -> None:
    summary = churn_synthetic.snapshot(100, date(2026, 1, 1), seed=1).summary
    with pytest.raises(ChurnDataError) as refused:
        cf.build(summary.drop(columns=["tickets_w0", "csat_mean"]))
    assert refused.value.errors == {"columns": "missing:tickets_w0,csat_mean"}


def test_labels_of_one_class_are_refused(simulated) -> None:
    snapshots = [(cutoff, frame, np.zeros(len(frame))) for cutoff, frame, _ in _prepared(simulated)]
    with pytest.raises(ChurnDataError) as refused:
        churn.train(snapshots)
    assert refused.value.errors == {"labels": "one_class:training"}


def test_too_few_rows_are_refused(simulated) -> None:
    tiny = [(c, f.head(50), y[:50]) for c, f, y in _prepared(simulated)]
    with pytest.raises(ChurnDataError) as refused:
        churn.train(tiny)
    assert refused.value.errors == {"rows": "too_few:training:100<1000"}


def test_the_split_must_be_in_time(simulated) -> None:
    snapshots = _prepared(simulated)
    with pytest.raises(ChurnDataError) as refused:
        churn.train(snapshots[:1])
    assert refused.value.errors == {"snapshots": "need_two_cutoffs"}
    close = [snapshots[0], (date.fromordinal(snapshots[0][0].toordinal() + 10), *snapshots[1][1:])]
    with pytest.raises(ChurnDataError) as refused:
        churn.train(close)
    assert refused.value.errors == {"snapshots": "validation_within_horizon:30"}


def test_a_damaged_model_text_is_refused() -> None:
    with pytest.raises(ChurnDataError) as refused:
        churn.ChurnModel.from_text('{"format": "something else"}')
    assert refused.value.errors == {"model": "unknown_format"}
