"""Behaviour-event ingestion through the HTTP API, against one real ``clientops serve`` process.

    python bench/events_ingest.py --events 200000 --batch 500 --concurrency 4 \\
        --database-url postgresql://postgres@127.0.0.1/bench
    python bench/events_ingest.py --events 20000 --data-dir /tmp/ev     # SQLite

Loads a few demo customers (``clientops demo --customers N --orders 0``; their shop accounts
are the user ids events carry), makes an ``events:write`` token, builds every batch up front
(Segment-like events: 70% track, 25% page, 5% identify; ~60% from known users, the rest
anonymous), starts ``clientops serve`` (one process, one worker), posts the batches from
``--concurrency`` threads, and posts a share of them a second time (the client retry that
must store nothing twice). Then counts the rows and prints one JSON line: events, seconds,
events_per_s, p50/p95/max batch latency, stored, duplicates_stored (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import httpx
from sqlalchemy import create_engine, text

PAGES = ["/", "/products", "/products/{n}", "/cart", "/checkout", "/search?q=tea", "/about"]
TRACKS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Search"]
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CLIENTOPS_DATA_DIR": str(data_dir)}
    if args.database_url:
        env["CLIENTOPS_DATABASE_URL"] = args.database_url
    return env


def _clientops(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "clientops.cli", *argv],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return done.stdout.strip()


def _prepare(env: dict[str, str], customers: int) -> str:
    """Demo customers (once per database) and a fresh ``events:write`` token of ``admin``."""
    _clientops(env, "demo", "--customers", str(customers), "--orders", "0", "--no-serve")
    return _clientops(env, "token", "create", "--user", "admin", "--scope", "events:write")


def _user_ids(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(
            text("SELECT external_id FROM customer_external_ids WHERE source = 'shop'")
        ).scalars()
        found = list(ids)
    engine.dispose()
    return found


def _event(rng: random.Random, run: str, n: int, users: list[str], at: datetime) -> dict[str, Any]:
    """One Segment-like event of about 500 bytes: from a known user (60%: user id and the
    anonymous id of their device) or from an anonymous visitor."""
    known = bool(users) and rng.random() < 0.6
    person = rng.randrange(len(users)) if known else len(users) + rng.randrange(10_000)
    event: dict[str, Any] = {
        "message_id": f"{run}-{n}",
        "timestamp": (at + timedelta(milliseconds=n)).isoformat(),
        "anonymous_id": f"anon-{run}-{person}",
        "context": {
            "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "user_agent": AGENT,
            "library": {"name": "analytics.js", "version": "4.1.0"},
            "locale": rng.choice(["zh-CN", "en-US"]),
        },
    }
    if known:
        event["user_id"] = users[person]
    roll = rng.random()
    if roll < 0.05 and known:
        event.update(type="identify", traits={"plan": rng.choice(["free", "pro"]), "age": 30})
    elif roll < 0.30:
        path = rng.choice(PAGES).format(n=rng.randrange(1000))
        event.update(
            type="page",
            name=path.split("?")[0].strip("/").split("/")[0] or "home",
            properties={"path": path, "title": "店铺 " + path, "referrer": "https://example.cn/"},
        )
    else:
        event.update(
            type="track",
            event=rng.choice(TRACKS),
            properties={"sku": f"SKU-{rng.randrange(5000):05d}", "price": 99.5, "currency": "CNY"},
        )
    return event


def _bodies(args: argparse.Namespace, users: list[str], run: str) -> list[bytes]:
    rng = random.Random(args.seed)
    start = datetime.now(UTC) - timedelta(days=1)
    events = [_event(rng, run, n, users, start) for n in range(args.events)]
    return [
        json.dumps({"source": "shop", "batch": events[i : i + args.batch]}).encode()
        for i in range(0, len(events), args.batch)
    ]


class Poster:
    """Posts batches from a queue on several threads; keeps latencies and answer totals."""

    def __init__(self, base: str, token: str, bodies: list[bytes], retry: set[int]) -> None:
        self.base, self.token, self.retry = base, token, retry
        self.jobs: queue.Queue[tuple[int, bytes]] = queue.Queue()
        for number, body in enumerate(bodies):
            self.jobs.put((number, body))
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "retry_duplicates": 0}
        self.errors: list[str] = []

    def run(self) -> None:
        """Post until the queue is empty; a batch chosen for a retry is posted twice."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=120) as client:
            while True:
                try:
                    number, body = self.jobs.get_nowait()
                except queue.Empty:
                    return
                self._post(client, body, retry=False)
                if number in self.retry:
                    self._post(client, body, retry=True)

    def _post(self, client: httpx.Client, body: bytes, *, retry: bool) -> None:
        started = time.perf_counter()
        response = client.post("/api/v1/events", content=body)
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            if response.status_code != 200:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")
                return
            answer = response.json()
            self.latencies.append(elapsed)
            self.totals["rejected"] += len(answer["rejected"])
            if retry:
                self.totals["retry_duplicates"] += answer["duplicates"]
                self.totals["accepted"] += answer["accepted"]
            else:
                self.totals["accepted"] += answer["accepted"]
                self.totals["duplicates"] += answer["duplicates"]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a local process has used so far (0 when unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _db_backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving this database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ).scalars()
        found = list(pids)
    engine.dispose()
    return found


def _counts(url: str, run: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT message_id), count(customer_id) FROM events "
                "WHERE message_id LIKE :prefix"
            ),
            {"prefix": f"{run}-%"},
        ).one()
    engine.dispose()
    return {"stored": row[0], "distinct": row[1], "linked": row[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", "--size", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--retry-share", type=float, default=0.05)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-bench-events-"))
    env = _env(args, data_dir)
    url = args.database_url or f"sqlite:///{data_dir / 'clientops.db'}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    token = _prepare(env, args.customers)
    run = uuid.uuid4().hex[:8]
    bodies = _bodies(args, _user_ids(url), run)
    retry = set(
        random.Random(args.seed).sample(range(len(bodies)), int(len(bodies) * args.retry_share))
    )
    port = _free_port()
    proc = common.serve(env, port)
    try:
        poster = Poster(f"http://127.0.0.1:{port}", token, bodies, retry)
        threads = [threading.Thread(target=poster.run) for _ in range(args.concurrency)]
        server_cpu_before = _cpu_seconds(proc.pid)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        # What the work cost in CPU, whatever else the machine was doing meanwhile: the
        # server process, and the database backends it used (PostgreSQL on this machine).
        server_cpu = _cpu_seconds(proc.pid) - server_cpu_before
        backends = _db_backends(url)
        db_cpu = sum(_cpu_seconds(pid) for pid in backends)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    counts = _counts(url, run)
    lat = sorted(poster.latencies) or [0.0]
    print(
        json.dumps(
            {
                "workload": "events_ingest",
                "database": url.split(":")[0].split("+")[0],
                "events": args.events,
                "batch": args.batch,
                "concurrency": args.concurrency,
                "seconds": round(seconds, 2),
                "events_per_s": round(args.events / seconds),
                "p50_batch_ms": round(statistics.median(lat), 1),
                "p95_batch_ms": round(lat[max(int(len(lat) * 0.95) - 1, 0)], 1),
                "max_batch_ms": round(lat[-1], 1),
                "server_cpu_s": round(server_cpu, 2),
                "db_cpu_s": round(db_cpu, 2) if backends else None,
                "events_per_server_cpu_s": round(args.events / server_cpu) if server_cpu else None,
                "batches": len(bodies),
                "retried_batches": len(retry),
                "accepted": poster.totals["accepted"],
                "duplicates_reported": poster.totals["duplicates"]
                + poster.totals["retry_duplicates"],
                "rejected": poster.totals["rejected"],
                "http_errors": len(poster.errors),
                "stored": counts["stored"],
                "duplicates_stored": counts["stored"] - counts["distinct"],
                "lost": args.events - counts["stored"],
                "linked": counts["linked"],
            }
        )
    )
    if poster.errors:
        print("\n".join(poster.errors[:5]), file=sys.stderr)


if __name__ == "__main__":
    main()
