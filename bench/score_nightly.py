"""Time of the full nightly scoring (features, RFM, tiers, stages, CLV, churn prediction when a
model is active, health, writing the scores and their history) on a generated data set.

    python bench/score_nightly.py --customers 1000000 --orders 10000000
    python bench/score_nightly.py --customers 1000000 --orders 10000000 --data-dir /tmp/s1m --reuse
    python bench/score_nightly.py --customers 100000 --orders 1000000 --engine duckdb

Builds a SQLite app database (unless ``--reuse``) with customers and paid orders drawn from a
buy-till-you-die process (a purchase rate and a lifetime per customer, a spend level per
customer), written with ``executemany`` in large transactions. Then runs ``clientops score``
in a fresh process three times: with ``--train-churn`` (a churn model is trained on four
past cut-offs, then everything is scored: every score and a history row per customer are
written), then the nightly run itself (the model now predicts churn; tiers are not due), then
once more. Prints one JSON line: the build time, each run's wall time, its phases (from the
run's figures), the scoring process's peak memory and the churn training's own seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from clientops import config, migrate

AS_OF = dt.date(2026, 6, 30)
YEARS = 3
BATCH = 500_000


def _customers(con: sqlite3.Connection, n: int) -> None:
    stamp = "2023-01-01 00:00:00.000000"
    rows = (
        (f"客户{i}", f"客户{i}", "person", "potential", 1 + i % 4, stamp, stamp)
        for i in range(1, n + 1)
    )
    con.executemany(
        "INSERT INTO customers (name, name_key, kind, lifecycle_stage, team_id, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _order_arrays(n: int, m: int, seed: int) -> dict[str, np.ndarray]:
    """``m`` orders over ``n`` customers: heavy buyers buy more, everyone stops at some point."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.6, 1.0, n)
    ids = rng.choice(n, size=m, p=rate / rate.sum()) + 1
    end = int(dt.datetime.combine(AS_OF, dt.time(23), dt.UTC).timestamp())
    span = YEARS * 365 * 86_400
    start = end - rng.integers(0, span, n)
    life = np.minimum(rng.exponential(span / 2, n).astype(np.int64), end - start)
    t = start[ids - 1] + (rng.random(m) * np.maximum(life[ids - 1], 86_400)).astype(np.int64)
    level = rng.gamma(3.0, 60.0, n)
    amount = np.round(level[ids - 1] * rng.gamma(8.0, 1 / 8.0, m), 2)
    return {"ids": ids, "t": np.minimum(t, end), "amount": amount}


def _orders(con: sqlite3.Connection, n: int, m: int, seed: int) -> None:
    data = _order_arrays(n, m, seed)
    for first in range(0, m, BATCH):
        part = slice(first, min(first + BATCH, m))
        stamps = np.datetime_as_string(data["t"][part].astype("datetime64[s]"), unit="s")
        rows = zip(
            data["ids"][part].tolist(),
            (f"B{i}" for i in range(first, part.stop)),
            np.char.add(np.char.replace(stamps, "T", " "), ".000000").tolist(),
            data["amount"][part].tolist(),
            strict=False,
        )
        con.executemany(
            "INSERT INTO orders (customer_id, number, ordered_at, amount, currency, status) "
            "VALUES (?, ?, ?, ?, 'CNY', 'paid')",
            rows,
        )
        con.commit()


def build(data_dir: Path, n: int, m: int, seed: int) -> float:
    """A migrated SQLite app database with ``n`` customers and ``m`` orders; seconds taken."""
    started = time.perf_counter()
    config.configure(data_dir=data_dir)
    migrate.upgrade()
    con = sqlite3.connect(data_dir / "clientops.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    _customers(con, n)
    con.commit()
    _orders(con, n, m, seed)
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return round(time.perf_counter() - started, 1)


def score(data_dir: Path, engine: str, *extra: str) -> dict[str, Any]:
    """Run ``clientops score`` in a fresh process; its figures and the wall time."""
    env = {**os.environ, "CLIENTOPS_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "clientops.cli", "score", "--engine", engine,
               "--as-of", AS_OF.isoformat(), "--json", *extra]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    wall = round(time.perf_counter() - started, 1)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_seconds": wall, **figures}


def main() -> None:
    """Build (or reuse) the data set, score twice, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-score-"))
    built = None if args.reuse else build(data_dir, args.customers, args.orders, args.seed)
    if args.reuse:
        _forget_scores(data_dir)
    trained = score(data_dir, args.engine, "--train-churn")
    nightly = score(data_dir, args.engine)
    again = score(data_dir, args.engine)
    print(json.dumps({"bench": "score_nightly", "customers": args.customers,
                      "orders": args.orders, "engine": args.engine, "build_seconds": built,
                      "churn_training": _training(data_dir), "with_training": trained,
                      "nightly": nightly, "nightly_again": again}))  # fmt: skip


def _forget_scores(data_dir: Path) -> None:
    """Start from no scores, runs or models, as on a fresh data set (``--reuse``)."""
    con = sqlite3.connect(data_dir / "clientops.db")
    for table in ("customer_scores", "customer_score_history", "analytics_runs", "churn_models",
                  "analytics_cohorts", "analytics_stage_flows"):  # fmt: skip
        con.execute(f"DELETE FROM {table}")
    con.commit()
    con.execute("VACUUM")
    con.close()


def _training(data_dir: Path) -> dict[str, Any] | None:
    """The seconds and rows of the churn model the first run trained (None: none)."""
    con = sqlite3.connect(data_dir / "clientops.db")
    row = con.execute(
        "SELECT seconds, rows FROM churn_models ORDER BY version DESC LIMIT 1"
    ).fetchone()
    con.close()
    return {"seconds": row[0], "rows": row[1]} if row else None


if __name__ == "__main__":
    main()
