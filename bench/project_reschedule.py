"""Server time of a Gantt drag on a large plan: move one task, reschedule every task, store.

    python bench/project_reschedule.py --tasks 10000
    python bench/project_reschedule.py --tasks 10000 --database-url postgresql+psycopg://...

Builds one project with ``--tasks`` tasks in a random layered network (about three links per
task, all four link types, some lags and leads), schedules it once, then times ``--drags``
drags: each sets a "start no earlier than" date on the first task (what the Gantt sends
when a bar is dragged right), then clears it (dragged back), through ``plans.update_task`` —
the same service call as the API — including the commit. Prints one JSON line: milliseconds per
drag (median, p95, max) and how many task rows each drag rewrote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from clientops import config, migrate
from clientops.audit import service as audit_service
from clientops.auth import service as auth_service
from clientops.core.context import SYSTEM, bind
from clientops.customers import service as customers_service
from clientops.customers.schemas import CustomerCreate
from clientops.db import transaction
from clientops.projects import plans, service
from clientops.projects.models import Link, Task
from clientops.projects.schemas import ProjectCreate, TaskFields

TYPES = ("FS", "FS", "FS", "SS", "FF", "SF")


def _build(size: int, seed: int) -> tuple[int, list[int]]:
    rng = random.Random(seed)
    with transaction() as db:
        bind(db, actor=SYSTEM)
        user = auth_service.create_user(
            db=db, username="bench", password="bench-password-1", role="admin", team_names=[]
        )
        admin = auth_service.principal_of(user)
        customer = customers_service.create(
            db=db, data=CustomerCreate(name="Bench Co", kind="company"), principal=admin
        )
        project = service.create(
            db=db,
            data=ProjectCreate(
                customer_id=customer.id, name="Bench", start_date=dt.date(2027, 1, 4)
            ),
            principal=admin,
        )
        rows = [
            {"project_id": project.id, "name": f"Task {i}", "position": i, "seq": i,
             "wbs": str(i + 1), "duration_days": rng.randint(1, 10), "kind": "task",
             "constraint_type": "ASAP", "effort_hours": 8.0, "percent_complete": 0.0}
            for i in range(size)
        ]  # fmt: skip
        db.execute(insert(Task), rows)
        ids = sorted(t for (t,) in db.execute(Task.__table__.select().with_only_columns(Task.id)))
        pairs: set[tuple[int, int]] = set()
        for i in range(1, size):
            for _ in range(3):
                j = rng.randrange(max(0, i - 200), i)
                pairs.add((ids[j], ids[i]))
        links = [
            {"project_id": project.id, "pred_id": p, "succ_id": s, "type": rng.choice(TYPES),
             "lag_days": rng.choice((0, 0, 0, 1, 2, -1))}
            for p, s in sorted(pairs)
        ]  # fmt: skip
        db.execute(insert(Link), links)
        plans.reschedule(db=db, project=project)
        return project.id, ids


def _drag(project_id: int, task_id: int, day: dt.date | None) -> tuple[float, int]:
    started = time.perf_counter()
    with transaction() as db:
        bind(db, actor=SYSTEM)
        admin = auth_service.principal_of(auth_service.find_user(db=db, username="bench"))
        fields = TaskFields(constraint_type="SNET" if day else "ASAP", constraint_date=day)
        result = plans.update_task(
            db=db, project_id=project_id, task_id=task_id, data=fields, principal=admin
        )
    return (time.perf_counter() - started) * 1000, result.changed


def main() -> None:
    """Build the plan, time the drags, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--drags", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-projects-"))
    config.configure(data_dir=data_dir, database_url=args.database_url, jobs_enabled=False)
    migrate.upgrade()
    audit_service.install()
    started = time.perf_counter()
    project_id, ids = _build(args.tasks, args.seed)
    build_s = time.perf_counter() - started
    # Drag the first task right by a few weeks, then back: each drag moves it and everything
    # after it, so each rewrites thousands of rows (the worst case, not a no-op).
    times, rows = [], []
    for n in range(args.drags):
        day = dt.date(2027, 2, 1) + dt.timedelta(days=7 * (n % 4)) if n % 2 == 0 else None
        elapsed, changed = _drag(project_id, ids[0], day)
        times.append(elapsed)
        rows.append(changed)
    times.sort()
    print(
        json.dumps(
            {
                "benchmark": "project_reschedule",
                "tasks": args.tasks,
                "database": "postgresql" if args.database_url else "sqlite",
                "build_s": round(build_s, 2),
                "drags": args.drags,
                "drag_ms_median": round(statistics.median(times), 1),
                "drag_ms_p95": round(times[int(0.95 * (len(times) - 1))], 1),
                "drag_ms_max": round(times[-1], 1),
                "rows_rewritten_median": int(statistics.median(rows)),
            }
        )
    )


if __name__ == "__main__":
    main()
