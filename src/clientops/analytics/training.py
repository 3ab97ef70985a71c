"""Training a churn model inside a scoring run (``--train-churn``).

Cut-offs go back from the run's day in steps of the horizon: the latest one a full horizon
before the day (its labels are then known), three more before it. At each cut-off the pipeline
summarises every buyer as of that day (the churn module's window summary); the days to the next
order after it make the label. The churn module trains on all cut-offs but the latest and
reports on the latest, the way the model will be used.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from clientops.analytics import engines, pipeline, scoring
from clientops.analytics.rules import Rules
from clientops.config import current

CUTOFFS = 4


def cutoffs(as_of: date, horizon_days: int, count: int = CUTOFFS) -> list[date]:
    """The training cut-offs, oldest first; the last is a full horizon before ``as_of``."""
    return [as_of - timedelta(days=horizon_days * k) for k in range(count, 0, -1)]


def _snapshot(facts: engines.Facts, cut: date, rules: Rules, horizon: int, definition: str) -> Any:
    from clientops.analytics import churn, churn_features

    clock = pipeline.Clock(cut)
    summary = pipeline.scores(facts, clock, rules).to_pandas()
    buyers = summary[summary["orders"] > 0].reset_index(drop=True)
    frame = scoring.churn_summary(buyers, pd.DataFrame({"customer_id": [], "tier": []}))
    following = pipeline.next_orders(facts.orders, clock).to_pandas()
    frame = frame.merge(following, on="customer_id", how="left")
    labels = churn.label(frame, definition, horizon)
    return (cut, churn_features.build(frame), labels)


def train(*, sa_engine: Engine, plan: dict[str, Any]) -> dict[str, Any] | None:
    """The fields of a new churn model version, or None when churn training is not available."""
    try:
        from clientops.analytics import churn
    except ImportError:
        return None
    settings = current()
    horizon, definition = settings.analytics_churn_horizon_days, settings.analytics_churn_definition
    as_of, rules = date.fromisoformat(plan["as_of"]), Rules.model_validate(plan["rules"])
    days = cutoffs(as_of, horizon)
    started = time.perf_counter()
    end, since = pipeline.Clock(as_of).end, pipeline.Clock(days[0]).since(rules.stages)
    with engines.facts(plan["engine"], sa_engine, end=end, since=since) as facts:
        snapshots = [_snapshot(facts, cut, rules, horizon, definition) for cut in days]
    model, report = churn.train(snapshots, definition=definition, horizon_days=horizon)
    return {
        "as_of": days[-1],
        "horizon_days": horizon,
        "definition": definition,
        "rows": int(sum(len(s[1]) for s in snapshots)),
        "seconds": round(time.perf_counter() - started, 2),
        "model_text": model.to_text(),
        "report": scoring.plain(report),
    }
