"""Constructed customers and orders for the analytics tests, written in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import insert, select

from clientops.analytics import flows
from clientops.customers.models import Activity, Customer, Order
from clientops.db import transaction
from clientops.jobs import service as jobs_service

Purchase = tuple[date, float]


def at(day: date) -> datetime:
    """Noon UTC of ``day``."""
    return datetime.combine(day, time(12), UTC)


def add_customers(
    purchases: Sequence[Sequence[Purchase]], team_id: int | None = None, prefix: str = "客户"
) -> list[int]:
    """One customer per list of (day, amount) purchases; their ids in the same order."""
    with transaction() as db:
        rows = [
            {
                "name": f"{prefix}{i}",
                "name_key": f"{prefix}{i}",
                "kind": "person",
                "lifecycle_stage": "potential",
                "team_id": team_id,
            }
            for i in range(len(purchases))
        ]
        ids = list(db.scalars(insert(Customer).returning(Customer.id), rows))
        orders = [
            {
                "customer_id": cid,
                "number": f"{prefix}-{cid}-{n}",
                "ordered_at": at(day),
                "amount": amount,
                "status": "paid",
            }
            for cid, bought in zip(ids, purchases, strict=True)
            for n, (day, amount) in enumerate(bought)
        ]
        if orders:
            db.execute(insert(Order), orders)
    return ids


def add_orders(customer_id: int, purchases: Sequence[Purchase], status: str = "paid") -> None:
    """More orders for a customer."""
    with transaction() as db:
        count = len(list(db.scalars(select(Order.id).where(Order.customer_id == customer_id))))
        db.execute(
            insert(Order),
            [
                {
                    "customer_id": customer_id,
                    "number": f"x-{customer_id}-{count + n}",
                    "ordered_at": at(day),
                    "amount": amount,
                    "status": status,
                }
                for n, (day, amount) in enumerate(purchases)
            ],
        )


def add_activity(customer_id: int, day: date) -> None:
    """A logged call with the customer on ``day``."""
    with transaction() as db:
        db.execute(
            insert(Activity),
            [
                {
                    "customer_id": customer_id,
                    "kind": "call",
                    "subject": "call",
                    "occurred_at": at(day),
                }
            ],
        )


def score(as_of: date | str, engine: str = "duckdb", **params: Any) -> dict[str, Any]:
    """Run the scoring job's steps here (no job runtime needed); the run's figures."""
    with transaction() as db:
        job = jobs_service.create_job(db=db, kind=flows.KIND, params={})
    checked = flows.score_params(engine=engine, as_of=str(as_of), **params)
    return flows.run_scoring(job.id, checked)
