"""The Gantt page with N tasks in headless Chromium: how soon is it interactive?

    python bench/gantt_page.py --size 2000            # builds a SQLite data set in a temp folder
    python bench/gantt_page.py --size 2000 --runs 5 --database-url postgresql://...

Builds a small demo company (``clientops demo --customers 50 --no-serve``), adds one project of
``--size`` tasks (phases of 19 tasks and a summary, chained with FS/SS/FF links, about one link
per task), schedules it once, starts ``clientops serve``, signs in as the demo ``admin`` in
Chromium and opens the project's plan page ``--runs`` times. For each load it reads the page's
own marks: ``ready`` = navigation start → the Gantt has fetched its JSON and drawn its first
frame; ``scrolled`` = navigation start → the first frame drawn after a scroll of 40 rows issued
the moment the chart was ready (so: interactive). Prints one JSON line with the medians (ms).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import common

CHROMIUM = os.environ.get("CLIENTOPS_CHROMIUM", "/usr/bin/chromium")
PER_PHASE = 19
LINK_TYPES = ("FS", "SS", "FF", "FS")
# Runs before the page's scripts: once the chart is ready, scroll 40 rows and mark the first
# frame drawn after it.
PROBE = """
document.addEventListener("gantt:ready", (e) => {
  const g = e.target.gantt;
  g.host.addEventListener("gantt:frame", () => performance.mark("gantt-scrolled"), {once: true});
  g.scroller.scrollTop += 40 * 28;
}, {once: true});
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build_project(size: int) -> int:
    """One project of ``size`` tasks for the first demo account, scheduled once; its id."""
    from sqlalchemy import select

    from clientops import config
    from clientops.auth import service as auth_service
    from clientops.core.context import SYSTEM, bind
    from clientops.customers.models import Customer
    from clientops.db import transaction
    from clientops.projects import flows, plans
    from clientops.projects.models import Link, Task
    from clientops.projects.schemas import ProjectCreate

    config.configure()
    with transaction() as db:
        bind(db, actor=SYSTEM)
        admin = auth_service.principal_of(auth_service.find_user(db=db, username="admin"))
        account = db.scalar(select(Customer.id).where(Customer.kind == "company").limit(1))
        data = ProjectCreate(
            customer_id=account or 1, name=f"Gantt bench {size}", start_date=date(2027, 3, 1)
        )
        project = flows.create_project(db=db, data=data, principal=admin)
        phases = [
            Task(project_id=project.id, name=f"Phase {g + 1}", kind="summary", position=g)
            for g in range(max(size // (PER_PHASE + 1), 1))
        ]
        db.add_all(phases)
        db.flush()
        _add_work(db, project.id, [p.id for p in phases], size - len(phases), Task, Link)
        plans.renumber(db=db, project_id=project.id)
        plans.reschedule(db=db, project=project)
        return project.id


def _add_work(db: Any, project_id: int, phase_ids: list[int], n: int, task: Any, link: Any) -> None:
    """``n`` tasks spread over the phases, each linked to the one before it in its phase."""
    rows = [
        task(project_id=project_id, parent_id=phase_ids[i % len(phase_ids)], position=i,
             name=f"Task {i + 1}", duration_days=float(1 + i % 5), effort_hours=8.0)
        for i in range(n)
    ]  # fmt: skip
    db.add_all(rows)
    db.flush()
    previous: dict[int | None, Any] = {}
    for i, row in enumerate(rows):
        before = previous.get(row.parent_id)
        if before is not None:
            kind = LINK_TYPES[i % len(LINK_TYPES)]
            db.add(link(project_id=project_id, pred_id=before.id, succ_id=row.id, type=kind))
        previous[row.parent_id] = row
    db.flush()


def _measure(base: str, project_id: int, runs: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    found = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.add_init_script(PROBE)
        page.goto(f"{base}/login")
        page.fill("#username", "admin")
        page.fill("#password", "admin")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/customers")
        for _ in range(runs):
            page.goto(f"{base}/projects/{project_id}/plan")
            page.wait_for_selector("[data-gantt][data-ready]", timeout=60_000)
            page.wait_for_function("performance.getEntriesByName('gantt-scrolled').length > 0")
            found.append(page.evaluate(_MARKS))
        browser.close()
    return found


_MARKS = """(() => {
  const at = (name) => performance.getEntriesByName(name)[0].startTime;
  const nav = performance.getEntriesByType("navigation")[0];
  const g = document.querySelector("[data-gantt]").gantt;
  const data = performance.getEntriesByType("resource").find((r) => r.name.includes("gantt.json"));
  return {ready: at("gantt-ready"), scrolled: at("gantt-scrolled"),
          html: nav.responseEnd, json_wait: data.responseStart - data.requestStart,
          json_end: data.responseEnd, rows_in_dom: document.querySelectorAll(".g-row").length,
          tasks: g.rows.length};
})()"""


def main() -> None:
    """Build, serve, measure; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="gantt-bench-"))
    env = {**os.environ, "CLIENTOPS_DATA_DIR": str(data_dir)}
    if args.database_url:
        env["CLIENTOPS_DATABASE_URL"] = args.database_url
    os.environ.update(env)
    demo = [sys.executable, "-m", "clientops.cli", "demo", "--customers", "50", "--orders", "50"]
    subprocess.run([*demo, "--no-serve"], env=env, check=True, stdout=subprocess.DEVNULL)
    project_id = _build_project(args.size)
    port = _free_port()
    server = common.serve(env, port)
    try:
        marks = _measure(f"http://127.0.0.1:{port}", project_id, args.runs)
    finally:
        server.terminate()
        server.wait(timeout=30)
    median = {k: round(statistics.median(m[k] for m in marks), 1) for k in marks[0]}
    print(json.dumps({"bench": "gantt_page", "size": args.size, "runs": args.runs,
                      "median_ms": median, "all": marks}))  # fmt: skip


if __name__ == "__main__":
    main()
