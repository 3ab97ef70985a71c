"""Import N customers from a generated CSV through the import service (as the CLI does), twice.

    python bench/import_customers.py --size 100000                      # SQLite, temporary folder
    python bench/import_customers.py --size 1000000 --database-url postgresql://postgres@127.0.0.1/bench

The CSV mixes Chinese and English customers (names, mobile numbers in several spellings, e-mail
addresses, companies, addresses, tags, birth dates) with about 1% bad rows (invalid phones and
e-mails, formulas, duplicate ids, numbers mangled by Excel). The import runs in ``valid-rows``
mode with validation and upsert; then the same file is imported again, which must change
nothing. With ``--database-url`` the named PostgreSQL database is dropped and created first.
Prints one JSON line: rows, seconds, rows_per_s, created, failed, reimport_seconds,
reimport_changed, and the CPU seconds the first import took: ``client_cpu_s`` (this process and
the staging process it started) and, on PostgreSQL, ``server_cpu_s`` (the server processes
serving the benchmark's databases) — steadier than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

HEADERS = ["客户编号", "姓名", "手机", "邮箱", "公司", "地址", "标签", "生日", "备注"]
PREFIXES = ("130", "131", "135", "136", "138", "139", "150", "158", "186", "188", "199")
TAGS = ("vip", "新客", "老客户", "wholesale", "线上", "展会", "referral", "")


def fresh_postgres(url: str) -> str:
    """Drop and create the named PostgreSQL database; its URL for psycopg."""
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


class Pools:
    """Names, companies and addresses drawn once from Faker, combined per row."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        zh, en = Faker("zh_CN"), Faker("en_US")
        Faker.seed(seed)
        self.zh_names = [zh.name() for _ in range(3000)]
        self.en_names = [en.name() for _ in range(3000)]
        self.zh_companies = [zh.company() for _ in range(800)]
        self.en_companies = [en.company() for _ in range(400)]
        self.zh_streets = [zh.street_address() for _ in range(1000)]
        self.cities = ["北京市朝阳区", "上海市浦东新区", "广东省深圳市南山区",
                       "浙江省杭州市西湖区", "四川省成都市武侯区", "江苏省南京市鼓楼区",
                       "湖北省武汉市洪山区"]  # fmt: skip
        self.en_streets = [en.street_address() for _ in range(1000)]


def customer_row(i: int, rng: random.Random, pools: Pools) -> list[str]:
    """One customer: 70% Chinese, 30% English; phones and e-mails unique per row."""
    chinese = rng.random() < 0.7
    phone = f"{rng.choice(PREFIXES)}{i:08d}"
    phone = rng.choice((phone, f"+86 {phone}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"))
    if chinese:
        name = rng.choice(pools.zh_names)
        company = rng.choice(pools.zh_companies) if rng.random() < 0.5 else ""
        address = rng.choice(pools.cities) + rng.choice(pools.zh_streets)
        email = f"u{i}@{rng.choice(('qq.com', '163.com', 'example.cn'))}"
    else:
        name = rng.choice(pools.en_names)
        company = rng.choice(pools.en_companies) if rng.random() < 0.5 else ""
        address = rng.choice(pools.en_streets)
        email = f"{name.split()[0].lower()}.{i}@example.com"
    birth = f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    tags = ",".join(t for t in {rng.choice(TAGS), rng.choice(TAGS)} if t)
    return [f"C{i:08d}", name, phone, email, company, address, tags, birth, ""]


def spoil(row: list[str], i: int, rng: random.Random) -> list[str]:
    """A bad row, the ways real files go bad."""
    damage = rng.randrange(5)
    if damage == 0:
        row[2] = "12345"
    elif damage == 1:
        row[3] = "not-an-email"
    elif damage == 2:
        row[1] = '=HYPERLINK("http://x")'
    elif damage == 3:
        row[2] = "1.38E+10"
    else:
        row[0] = f"C{max(i - 1, 0):08d}"  # the previous row's id: a duplicate key
    return row


def write_csv(path: Path, size: int, seed: int = 1) -> None:
    """The benchmark file: ``size`` rows, about 1% of them bad."""
    rng = random.Random(seed)
    pools = Pools(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(size):
            row = customer_row(i, rng, pools)
            writer.writerow(spoil(row, i, rng) if rng.random() < 0.01 else row)


def client_cpu() -> float:
    """CPU seconds of this process and of its finished children (the staging processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def server_cpu(url: str | None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL process serving the benchmark's databases (those
    whose name starts with the benchmark database's, as DBOS's does), by process id."""
    if not url:
        return {}
    name = make_url(url).database or ""
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE starts_with(datname, :name) "
                "AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalars()
        found = {pid: _process_cpu(pid) for pid in pids}
    engine.dispose()
    return found


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # not on this machine
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_since(url: str | None, client: float, server: dict[int, float]) -> dict[str, float]:
    """CPU seconds used since ``client`` and ``server`` were read."""
    figures = {"client_cpu_s": round(client_cpu() - client, 2)}
    if url:
        now = server_cpu(url)
        used = sum(seconds - server.get(pid, 0.0) for pid, seconds in now.items())
        figures["server_cpu_s"] = round(used, 2)
    return figures


def run_import(path: Path) -> tuple[float, dict[str, Any]]:
    """Import ``path`` as the CLI does: stored, staged and written by the durable job."""
    from clientops.db import transaction
    from clientops.imports import flows, service
    from clientops.jobs import flows as jobs_flows

    started = time.perf_counter()
    with transaction() as db:
        imp = service.create(
            db=db, principal=service.SYSTEM_PRINCIPAL, kind="customers", file_name=path.name,
            path=path,
        )  # fmt: skip
        import_id = imp.id
    job = flows.submit(principal=service.SYSTEM_PRINCIPAL, import_id=import_id, dry_run=False,
                       run_here=True)  # fmt: skip
    job = jobs_flows.wait(job.id, poll_seconds=0.2)
    seconds = time.perf_counter() - started
    with transaction() as db:
        summary = service.summary(service.get(db=db, principal=service.SYSTEM_PRINCIPAL,
                                              import_id=import_id))  # fmt: skip
    if job.status != "succeeded":
        raise SystemExit(f"import failed: {job.error}")
    return seconds, summary


def main() -> None:
    """Generate, import, import again; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="customer rows")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (dropped and created)")
    parser.add_argument("--data-dir", type=Path, default=None, help="SQLite data folder")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-import-"))
    url = fresh_postgres(args.database_url) if args.database_url else None

    from clientops import config, migrate
    from clientops.audit import service as audit_service
    from clientops.jobs import flows as jobs_flows

    config.configure(data_dir=data_dir, database_url=url)
    migrate.upgrade()
    audit_service.install()
    path = data_dir / "customers.csv"
    write_csv(path, args.size)
    jobs_flows.start(listen=False)
    try:
        client, server = client_cpu(), server_cpu(url)
        seconds, first = run_import(path)
        cpu = cpu_since(url, client, server)
        again_seconds, again = run_import(path)
    finally:
        jobs_flows.stop()
    print(
        json.dumps(
            {
                "workload": "import_customers",
                "database": "postgresql" if url else "sqlite",
                "rows": args.size,
                "seconds": round(seconds, 2),
                "rows_per_s": round(args.size / seconds),
                "created": first["created"],
                "accounts_created": first["accounts_created"],
                "failed": first["failed"],
                "reimport_seconds": round(again_seconds, 2),
                "reimport_changed": again["created"] + again["updated"],
                **cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
