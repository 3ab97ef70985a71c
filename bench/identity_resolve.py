"""How long a full ``resolve-customers`` run takes, and how fast merges are undone.

    python bench/identity_resolve.py --size 10000                  # SQLite in a scratch folder
    python bench/identity_resolve.py --size 100000 --database-url postgresql://postgres@127.0.0.1/bench

Builds ``size`` customers (``--dup-share`` of them second records of another customer with the
same phone in another format, so sure duplicates) with ``--orders`` orders each, runs the
resolve job in full in this process, then undoes every merge it made. With ``--database-url``
the named PostgreSQL database is dropped and created again first. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url


def _fresh_postgres(url: str) -> str:
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def _people(size: int, dup_share: float, seed: int) -> list[dict[str, Any]]:
    from clientops.jobs.flows import search_keys

    fake, rng = Faker("zh_CN"), random.Random(seed)
    Faker.seed(seed)
    originals = int(size / (1 + dup_share))
    rows = []
    for i in range(size):
        base = i if i < originals else rng.randrange(originals)
        phone = f"+86139{base:08d}"
        name = rows[base]["name"] if i >= originals else fake.name()
        row = {
            "name": name,
            "phone": phone,
            "email": None if i >= originals else f"u{i}@example.cn",
            "address": fake.address() if i < originals else None,
            "postcode": fake.postcode() if i < originals else None,
            "city": fake.city() if i < originals else None,
            "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=80),
            "kind": "person",
            "lifecycle_stage": "potential",
            "source": "erp" if i < originals else "web",
        }
        rows.append({**row, **search_keys(name, phone, row["email"])})
    return rows


def _seed(size: int, dup_share: float, orders: int, seed: int) -> None:
    from clientops.customers.models import Customer, Order
    from clientops.db import transaction

    people = _people(size, dup_share, seed)
    with transaction() as db:
        for start in range(0, size, 10_000):
            db.execute(insert(Customer), people[start : start + 10_000])
        ids = list(db.scalars(select(Customer.id).order_by(Customer.id)))
        when = datetime(2026, 1, 1, tzinfo=UTC)
        lines = [
            {
                "customer_id": cid,
                "number": f"O{cid}-{k}",
                "ordered_at": when + timedelta(days=k),
                "amount": Decimal("9.90"),
            }
            for cid in ids
            for k in range(orders)
        ]
        for start in range(0, len(lines), 20_000):
            db.execute(insert(Order), lines[start : start + 20_000])


def _resolve() -> tuple[float, dict[str, Any]]:
    from clientops.db import transaction
    from clientops.identity import flows as identity_flows
    from clientops.identity import service
    from clientops.jobs import flows

    flows.start(listen=False)
    try:
        started = time.perf_counter()
        job = flows.submit("resolve-customers", params={"mode": "full"}, run_here=True)
        job = flows.wait(job.id, poll_seconds=0.2)
        seconds = time.perf_counter() - started
    finally:
        flows.stop()
    with transaction() as db:
        run = service.run_of(db=db, job_id=job.id)
        figures = identity_flows.summary(run) if run else {}
        figures.update(_stages(db, job.id, job.started_at))
    return seconds, {**figures, "status": job.status}


def _stages(db: Any, job_id: int, started: datetime | None) -> dict[str, float]:
    """Seconds spent finding pairs (load + engine) and applying them (merges, review queue)."""
    from clientops.jobs import service as jobs_service

    lines = jobs_service.logs(db=db, job_id=job_id)
    found = next((ln.at for ln in lines if "customers compared" in ln.message), None)
    if started is None or found is None or not lines:
        return {}
    return {
        "find_seconds": round((found - started).total_seconds(), 1),
        "apply_seconds": round((lines[-1].at - found).total_seconds(), 1),
    }


def _unmerge_all() -> tuple[float, int]:
    from clientops.core.context import SYSTEM, bind
    from clientops.db import transaction
    from clientops.identity import service
    from clientops.identity.models import Merge

    with transaction() as db:
        ids = list(db.scalars(select(Merge.id).order_by(Merge.id.desc())))
    started = time.perf_counter()
    for merge_id in ids:
        with transaction() as db:
            bind(db, actor=SYSTEM)
            service.unmerge(db=db, merge_id=merge_id, actor=SYSTEM)
    return time.perf_counter() - started, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="customers in all")
    parser.add_argument("--dup-share", type=float, default=0.1, help="duplicates per original")
    parser.add_argument("--orders", type=int, default=3, help="orders per customer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()

    from clientops import config, migrate

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-resolve-"))
    url = _fresh_postgres(args.database_url) if args.database_url else None
    config.configure(data_dir=data_dir, database_url=url, jobs_enabled=True)
    migrate.upgrade()
    _seed(args.size, args.dup_share, args.orders, args.seed)
    resolve_seconds, figures = _resolve()
    from clientops.customers.models import Customer
    from clientops.db import transaction

    with transaction() as db:
        after_merge = db.scalar(select(func.count(Customer.id)))
    undo_seconds, undone = _unmerge_all()
    with transaction() as db:
        restored = db.scalar(select(func.count(Customer.id)))
    print(
        json.dumps(
            {
                "workload": "identity_resolve",
                "database": "postgresql" if url else "sqlite",
                "customers": args.size,
                "orders": args.size * args.orders,
                "resolve_seconds": round(resolve_seconds, 1),
                "customers_per_second": round(args.size / resolve_seconds),
                **figures,
                "customers_after_merge": after_merge,
                "unmerges": undone,
                "unmerge_ms_each": round(1000 * undo_seconds / max(undone, 1), 1),
                "customers_after_unmerge": restored,
            }
        )
    )


if __name__ == "__main__":
    main()
