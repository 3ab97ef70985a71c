"""Import N orders from a generated CSV through the import service (as the CLI does), twice.

    python bench/import_orders.py --size 100000                        # SQLite, temporary folder
    python bench/import_orders.py --size 10000000 --database-url postgresql://postgres@127.0.0.1/bench

First N/10 customers are imported (not timed) from a customer file, keyed by the shop's member
ids. The order file then refers to them by member id (most rows), mobile number or e-mail, with
order number, time, amount, currency and channel, and about 1% bad rows (unknown customers,
bad amounts and dates, duplicate order numbers). The orders are imported in ``valid-rows``
mode, then the same file again, which must change nothing. With ``--database-url`` the named
PostgreSQL database is dropped and created first. Prints one JSON line: rows, seconds,
rows_per_s, created, failed, reimport_seconds, reimport_changed, and the CPU seconds of the
first order import (``client_cpu_s``, ``server_cpu_s``: see ``import_customers.py``). The row
limit (``import_max_rows``) is raised to the file's size.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from import_customers import client_cpu, cpu_since, fresh_postgres, server_cpu  # noqa: E402

CHANNELS = ("天猫", "京东", "拼多多", "门店", "web", "app", "")


def write_customers(path: Path, count: int) -> None:
    """The shop's members: id, name, mobile, e-mail."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["会员编号", "姓名", "手机", "邮箱"])
        for i in range(count):
            writer.writerow([f"M{i:08d}", f"会员{i}", f"139{i:08d}", f"m{i}@example.com"])


def order_row(i: int, customers: int, rng: random.Random) -> list[str]:
    """One order: by member id (80%), mobile (15%) or e-mail (5%)."""
    who = rng.randrange(customers)
    by = rng.random()
    member = f"M{who:08d}" if by < 0.8 else ""
    phone = f"139{who:08d}" if 0.8 <= by < 0.95 else ""
    email = f"m{who}@example.com" if by >= 0.95 else ""
    day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    moment = f"{day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    amount = f"{rng.randint(1, 500000) / 100:.2f}"
    currency = "CNY" if rng.random() < 0.95 else "USD"
    return [f"SO{i:09d}", member, phone, email, moment, amount, currency, rng.choice(CHANNELS)]


def spoil(row: list[str], i: int, rng: random.Random) -> list[str]:
    """A bad row, the ways real order exports go bad."""
    damage = rng.randrange(4)
    if damage == 0:
        row[1], row[2], row[3] = "M99999999X", "", ""  # nobody has this id
    elif damage == 1:
        row[5] = "12.3.4"
    elif damage == 2:
        row[4] = "2024-13-45"
    else:
        row[0] = f"SO{max(i - 1, 0):09d}"  # the previous order's number again
    return row


def write_orders(path: Path, size: int, customers: int, seed: int = 1) -> None:
    """The benchmark file: ``size`` orders, about 1% of them bad."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["订单号", "会员编号", "手机", "邮箱", "下单时间", "实付金额", "币种", "渠道"]
        )
        for i in range(size):
            row = order_row(i, customers, rng)
            writer.writerow(spoil(row, i, rng) if rng.random() < 0.01 else row)


def run_import(path: Path, kind: str) -> tuple[float, dict[str, Any]]:
    """Import ``path`` as the CLI does, from the shop source."""
    from clientops.db import transaction
    from clientops.imports import flows, service
    from clientops.jobs import flows as jobs_flows

    system = service.SYSTEM_PRINCIPAL
    started = time.perf_counter()
    with transaction() as db:
        imp = service.create(db=db, principal=system, kind=kind, file_name=path.name, path=path)
        service.configure(db=db, principal=system, import_id=imp.id, mapping=imp.mapping,
                          source="shop")  # fmt: skip
        import_id = imp.id
    job = flows.submit(principal=system, import_id=import_id, dry_run=False, run_here=True)
    job = jobs_flows.wait(job.id, poll_seconds=0.2)
    seconds = time.perf_counter() - started
    with transaction() as db:
        summary = service.summary(service.get(db=db, principal=system, import_id=import_id))
    if job.status != "succeeded":
        raise SystemExit(f"import failed: {job.error}")
    return seconds, summary


def main() -> None:
    """Generate, import the members, import the orders twice; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="order rows")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (dropped and created)")
    parser.add_argument("--data-dir", type=Path, default=None, help="SQLite data folder")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-orders-"))
    url = fresh_postgres(args.database_url) if args.database_url else None

    from clientops import config, migrate
    from clientops.audit import service as audit_service
    from clientops.jobs import flows as jobs_flows

    max_rows = max(args.size + 1, config.current().import_max_rows)
    config.configure(data_dir=data_dir, database_url=url, import_max_rows=max_rows)
    migrate.upgrade()
    audit_service.install()
    customers = max(args.size // 10, 1)
    members, orders = data_dir / "members.csv", data_dir / "orders.csv"
    write_customers(members, customers)
    write_orders(orders, args.size, customers)
    jobs_flows.start(listen=False)
    try:
        run_import(members, "customers")
        client, server = client_cpu(), server_cpu(url)
        seconds, first = run_import(orders, "orders")
        cpu = cpu_since(url, client, server)
        again_seconds, again = run_import(orders, "orders")
    finally:
        jobs_flows.stop()
    print(
        json.dumps(
            {
                "workload": "import_orders",
                "database": "postgresql" if url else "sqlite",
                "rows": args.size,
                "customers": customers,
                "seconds": round(seconds, 2),
                "rows_per_s": round(args.size / seconds),
                "created": first["created"],
                "failed": first["failed"],
                "reimport_seconds": round(again_seconds, 2),
                "reimport_changed": again["created"] + again["updated"],
                **cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
