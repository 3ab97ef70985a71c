"""The same pipelines on every engine: PostgreSQL (in the database) and Spark (local mode) give
the scores DuckDB gives."""

from __future__ import annotations

import importlib.util
import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import select

from clientops.analytics import engines, pipeline
from clientops.analytics.models import CustomerScore
from clientops.analytics.rules import Rules
from clientops.db import transaction
from tests import factories
from tests.analytics_data import add_activity, add_customers, score

AS_OF = date(2026, 5, 31)
PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")
COLUMNS = ["customer_id", "orders", "revenue", "revenue_12m", "recency_days", "r_score",
           "f_score", "m_score", "rfm_segment", "tier", "stage", "spend_w", "spend_pw",
           "touches_w", "tenure_days"]  # fmt: skip


def _facts(n: int = 400, seed: int = 3) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    per = rng.geometric(0.35, n)
    ids = np.repeat(np.arange(1, n + 1), per)
    end = pipeline.Clock(AS_OF).end
    t = end - rng.integers(1, 700, ids.size) * 86_400 - rng.integers(0, 86_000, ids.size)
    touch_ids = rng.integers(1, n + 1, 300)
    return {
        "customers": pa.table({"id": np.arange(1, n + 11), "team_id": np.arange(n + 10) % 3}),
        "orders": pa.table(
            {"customer_id": ids, "t": t, "amount": np.round(rng.gamma(2, 50, ids.size), 2)}
        ),
        "touches": pa.table(
            {"customer_id": touch_ids, "t": end - rng.integers(1, 200, 300) * 86_400,
             "kind": pa.array(["event", "activity"] * 150)}
        ),
    }  # fmt: skip


def _run(facts: engines.Facts) -> tuple[pd.DataFrame, pd.DataFrame]:
    clock = pipeline.Clock(AS_OF)
    scores = pipeline.scores(facts, clock, Rules()).to_pandas()
    cohorts = pipeline.cohorts(facts, clock).to_pandas()
    scores = scores[COLUMNS].sort_values("customer_id").reset_index(drop=True)
    cohorts = cohorts.sort_values(["cohort", "month_offset", "team_id"]).reset_index(drop=True)
    return scores, cohorts


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9, err_msg=column)
        else:
            assert (
                a.astype(object).where(a.notna(), None).tolist()
                == b.astype(object).where(b.notna(), None).tolist()
            ), column


def _duckdb(tables: dict[str, pa.Table]) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = engines.local_duckdb(tables)
    try:
        return _run(engines._facts_on(con, tables["orders"].num_rows))
    finally:
        con.disconnect()


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (the [spark] extra)"
    if shutil.which("java") is None:
        return "Java is not installed"
    return None


@pytest.mark.spark
@pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))
def test_spark_gives_the_scores_duckdb_gives(tmp_path: Path) -> None:
    tables = _facts()
    expected_scores, expected_cohorts = _duckdb(tables)
    facts = engines._spark_facts(tables, tmp_path)
    try:
        scores, cohorts = _run(facts)
    finally:
        facts.con.disconnect()
    _same(expected_scores, scores)
    _same(expected_cohorts, cohorts)
    assert set(scores["tier"].dropna()) == {"diamond", "gold", "silver", "bronze"}


def _stored() -> dict[int, dict[str, Any]]:
    with transaction() as db:
        rows = db.scalars(select(CustomerScore)).all()
        return {
            r.customer_id: {"r": r.r_score, "f": r.f_score, "m": r.m_score,
                            "segment": r.rfm_segment, "tier": r.tier, "stage": r.stage,
                            "revenue": r.revenue, "health": r.health, "clv": r.clv,
                            "p_alive": r.p_alive}
            for r in rows
        }  # fmt: skip


@pytest.mark.skipif(not PG_URL, reason="needs CLIENTOPS_TEST_DATABASE_URL (PostgreSQL)")
def test_postgres_gives_the_scores_duckdb_gives(world: factories.World) -> None:
    rng = np.random.default_rng(11)
    purchases = [
        [(AS_OF - timedelta(days=int(d)), float(round(a, 2)))
         for d, a in zip(rng.integers(0, 600, k), rng.gamma(2, 60, k), strict=True)]
        for k in rng.geometric(0.3, 300)
    ]  # fmt: skip
    ids = add_customers(purchases, team_id=world.teams["East"])
    for cid in ids[:40]:
        add_activity(cid, AS_OF - timedelta(days=cid % 50))
    score(AS_OF, engine="duckdb")
    on_duckdb = _stored()
    score(AS_OF, engine="postgres")
    on_postgres = _stored()
    assert on_duckdb.keys() == on_postgres.keys()
    for cid, expected in on_duckdb.items():
        got = on_postgres[cid]
        for key in ("r", "f", "m", "segment", "tier", "stage"):
            assert got[key] == expected[key], (cid, key)
        for key in ("revenue", "health", "clv", "p_alive"):
            assert (got[key] is None) == (expected[key] is None), (cid, key)
            if got[key] is not None:
                assert got[key] == pytest.approx(expected[key], rel=1e-6), (cid, key)
