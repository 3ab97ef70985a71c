"""HTTP latency of the pages users hit, against one real ``clientops serve`` process.

    python bench/http_pages.py --size 100000                      # builds a SQLite data set
    python bench/http_pages.py --size 1000000 --database-url postgresql://postgres@127.0.0.1/bench
    python bench/http_pages.py --reuse --database-url ...          # data set already built

Builds the data set with ``clientops demo --customers N --orders 10N --no-serve`` (unless
``--reuse``), starts ``clientops serve`` on a free port, signs in as the demo ``admin`` (sees all)
and ``agent`` (team-scoped), and times searches by phone, email and name, searches by a first
letter sorted newest first, the filtered list page and the customer 360 page. Prints one JSON
line of p50/p95/max in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import httpx
from sqlalchemy import create_engine, text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CLIENTOPS_DATA_DIR": str(data_dir)}
    if args.database_url:
        env["CLIENTOPS_DATABASE_URL"] = args.database_url
    return env


def _build(args: argparse.Namespace, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "clientops.cli",
            "demo",
            "--customers",
            str(args.size),
            "--orders",
            str(args.size * 10),
            "--seed",
            "1",
            "--no-serve",
        ],
        env=env,
        check=True,
    )
    return time.perf_counter() - started


def _signed_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login")
    _send_secure_cookies(client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the sign-in page"
    done = client.post(
        "/login", data={"username": username, "password": username, "csrf_token": token.group(1)}
    )
    assert done.status_code == 303, f"sign-in as {username} failed: {done.status_code}"
    _send_secure_cookies(client)
    return client


def _send_secure_cookies(client: httpx.Client) -> None:
    """The server sets Secure cookies; http://127.0.0.1 is a trustworthy origin for browsers,
    and httpx needs to be told to send them over plain http."""
    for cookie in client.cookies.jar:
        cookie.secure = False


def _timed(client: httpx.Client, paths: list[str]) -> dict[str, float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path}: {response.status_code}"
    times.sort()
    return {
        "p50": round(statistics.median(times), 1),
        "p95": round(times[int(len(times) * 0.95) - 1], 1),
        "max": round(times[-1], 1),
    }


def _samples(url: str, n: int) -> dict[str, list[Any]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM customers")).scalar_one()
        rng = random.Random(7)
        ids = [rng.randint(1, top) for _ in range(n * 3)]
        rows = conn.execute(
            text(
                "SELECT id, name, phone_key, email_key, team_id FROM customers WHERE id IN ("
                + ",".join(map(str, ids))
                + ")"
            )
        ).all()
        team = conn.execute(
            text(
                "SELECT id FROM teams t WHERE EXISTS (SELECT 1 FROM team_members"
                " m JOIN users u ON u.id = m.user_id WHERE m.team_id = t.id "
                "AND u.username = 'agent') ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    rows = rows[:n]
    return {
        "ids": [r.id for r in rows],
        "names": [r.name for r in rows],
        "phones": [r.phone_key for r in rows if r.phone_key],
        "emails": [r.email_key for r in rows if r.email_key],
        "team": [team],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-bench-"))
    env = _env(args, data_dir)
    build_s = None if args.reuse else round(_build(args, env), 1)
    url = args.database_url or f"sqlite:///{data_dir / 'clientops.db'}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    port = _free_port()
    proc = common.serve(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        admin, agent = _signed_in(base, "admin"), _signed_in(base, "agent")
        s = _samples(url, args.requests)
        q = httpx.QueryParams
        figures: dict[str, Any] = {
            "workload": "http_pages",
            "database": url.split(":")[0].split("+")[0],
            "customers": args.size if not args.reuse else None,
            "build_seconds": build_s,
            "requests_per_case": args.requests,
            "search_phone": _timed(admin, [f"/customers?{q(q=p[:7])}" for p in s["phones"]]),
            "search_email": _timed(
                admin, [f"/customers?{q(q=e.split('@')[0] + '@')}" for e in s["emails"]]
            ),
            "search_name": _timed(admin, [f"/customers?{q(q=n[:2])}" for n in s["names"]]),
            "search_name_agent": _timed(agent, [f"/customers?{q(q=n[:2])}" for n in s["names"]]),
            "search_first_letter_newest": _timed(
                admin, [f"/customers?{q(q=n[:1], sort='-created')}" for n in s["names"]]
            ),
            "list_team_filtered": _timed(
                admin,
                [
                    f"/customers?{q(team_id=s['team'][0], stage=st)}"
                    for st in random.Random(3).choices(
                        ["new", "growing", "mature", "declining"], k=len(s["ids"])
                    )
                ],
            ),
            "list_agent": _timed(agent, ["/customers"] * len(s["ids"])),
            "customer_360": _timed(admin, [f"/customers/{i}" for i in s["ids"]]),
            "api_list": _timed(admin, ["/api/v1/customers?limit=25"] * 50),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
