"""Time of the data quality figures and of their drill-down on a demo data set.

    python bench/quality.py --size 100000                         # builds a SQLite data set
    python bench/quality.py --size 100000 --data-dir /tmp/q100k --reuse
    python bench/quality.py --size 1000000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

Builds the data set with ``clientops demo --customers N --orders 0 --no-serve`` (unless
``--reuse``), gives a share of the customers an identity number and a birth date when none has
one (most valid, some spoiled: the demo has none), then times, in this process: the figures
over every customer (what the nightly job and the recompute button run), over the demo agent's
teams, reading the cached snapshot (what the page does above the live limit), and the first
page of several drill-downs. Prints one JSON line (seconds, and milliseconds for reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, update

from clientops import config
from clientops.auth import service as auth_service
from clientops.core.normalise import id_check_code
from clientops.customers.models import Customer
from clientops.db import transaction
from clientops.quality import service

DRILLS = [
    ("phone", "invalid"),
    ("email", "duplicate"),
    ("id_number", "invalid"),
    ("city", "invalid"),
    ("customer", "duplicate"),
    ("customer", "stale"),
]


def _build(size: int) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "clientops.cli", "demo", "--customers", str(size)]
    subprocess.run([*command, "--orders", "0", "--seed", "1", "--no-serve"], check=True)
    return time.perf_counter() - started


def _identity(rng: random.Random) -> tuple[str, dt.date]:
    """A valid identity number and its birth date; one in twenty spoiled (wrong check code)."""
    year, month, day = rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29)
    first17 = f"{rng.randrange(110000, 660000)}{year}{month:02d}{day:02d}{rng.randrange(1000):03d}"
    code = id_check_code(first17)
    if rng.random() < 0.05:
        code = "0" if code != "0" else "1"
    return first17 + code, dt.date(year, month, day)


def _add_profiles(share: float) -> int:
    """Give ``share`` of the customers an identity number and a birth date."""
    rng = random.Random(3)
    with transaction() as db:
        ids = list(db.scalars(select(Customer.id)))
        chosen = [i for i in ids if rng.random() < share]
        rows = []
        for customer_id in chosen:
            number, born = _identity(rng)
            rows.append({"_id": customer_id, "n": number, "b": born})
        stmt = (
            update(Customer)
            .where(Customer.id == bindparam("_id"))
            .values(id_number=bindparam("n"), birth_date=bindparam("b"))
        )
        db.connection().execute(stmt, rows)
    return len(chosen)


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _principal(username: str) -> Any:
    with transaction() as db:
        return auth_service.principal_of(auth_service.find_user(db=db, username=username))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--profile-share", type=float, default=0.3)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="co-quality-"))
    os.environ["CLIENTOPS_DATA_DIR"] = str(data_dir)
    if args.database_url:
        os.environ["CLIENTOPS_DATABASE_URL"] = args.database_url
    config.configure(data_dir=data_dir, database_url=args.database_url)
    figures: dict[str, Any] = {"size": args.size}
    if not args.reuse:
        figures["build_s"] = round(_build(args.size), 1)
    with transaction() as db:
        figures["customers"] = db.scalar(select(func.count()).select_from(Customer))
        has_profiles = db.scalar(select(func.count(Customer.id_number)))
    figures["profiles"] = has_profiles or _add_profiles(args.profile_share)
    with transaction() as db:
        figures["database"] = db.get_bind().dialect.name
    admin, agent = _principal("admin"), _principal("agent")
    for label, principal in (("all", admin), ("team", agent)):
        scope = service.Scope.of(principal)
        with transaction() as db:
            seconds, snapshot = _timed(lambda s=scope: service.refresh(db=db, scope=s))
            figures[f"compute_{label}_s"] = round(seconds, 2)
            figures[f"customers_{label}"] = snapshot.customers
            figures[f"score_{label}"] = snapshot.score
    with transaction() as db:
        seconds, _ = _timed(
            lambda: service.to_read(
                db, service.latest(db=db, scope=service.Scope(all=True)), live=False, locale="en"
            )
        )
        figures["cached_read_ms"] = round(seconds * 1000, 1)
        small_s, _small = _timed(lambda: service.is_small(db=db, scope=service.Scope(all=True)))
        figures["live_check_ms"] = round(small_s * 1000, 1)
    for field_key, metric in DRILLS:
        with transaction() as db:
            seconds, (_rows, _cursor) = _timed(
                lambda f=field_key, m=metric: service.offenders(
                    db=db, principal=admin, field_key=f, metric=m, limit=50
                )
            )
        figures[f"drill_{field_key}_{metric}_ms"] = round(seconds * 1000, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
