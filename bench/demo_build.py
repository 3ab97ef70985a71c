"""How long ``clientops demo --customers N --orders 10N --no-serve`` takes on an empty database.

    python bench/demo_build.py --size 100000                                   # SQLite
    python bench/demo_build.py --size 1000000 --database-url postgresql://postgres@127.0.0.1/bench

With ``--database-url`` the named PostgreSQL database is dropped and created again first. Prints
one JSON line: seconds, rows written and rows per second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _fresh_postgres(url: str) -> str:
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="customers (orders: 10x)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="clientops-build-"))
    env = {**os.environ, "CLIENTOPS_DATA_DIR": str(data_dir)}
    if args.database_url:
        env["CLIENTOPS_DATABASE_URL"] = _fresh_postgres(args.database_url)
    command = [sys.executable, "-m", "clientops.cli", "demo", "--customers", str(args.size)]
    command += ["--orders", str(args.size * 10), "--seed", "1", "--no-serve"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    loaded = re.search(r"Loaded: (.*)", done.stderr.replace("\n", " "))
    pairs = re.findall(r"([a-z_]+) (\d[\d,]*\d|\d)", loaded.group(1) if loaded else "")
    counts = {name: int(number.replace(",", "")) for name, number in pairs}
    rows = sum(counts.values())
    print(
        json.dumps(
            {
                "workload": "demo_build",
                "database": "postgresql" if args.database_url else "sqlite",
                "customers": args.size,
                "orders": args.size * 10,
                "seconds": round(seconds, 1),
                "rows": rows,
                "rows_per_second": round(rows / seconds),
                "counts": counts,
            }
        )
    )


if __name__ == "__main__":
    main()
