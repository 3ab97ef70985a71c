"""A synthetic plan for the Gantt component: phases of chained tasks with all link types."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

LINK_TYPES = ("FS", "SS", "FF", "FS")


def _after_working_days(day: date, n: int) -> date:
    """The day ``n`` working days (Mon-Fri) after ``day``."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def plan(phases: int = 100, per_phase: int = 19, first: date = date(2026, 3, 2)) -> dict[str, Any]:
    """``phases`` × (1 summary + ``per_phase`` tasks, the last a milestone): the Gantt JSON."""
    tasks: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    day, next_id = first, 1
    for g in range(phases):
        summary = {"id": next_id, "code": str(g + 1), "name": f"Phase {g + 1}", "parent_id": None,
                   "level": 0, "summary": True, "milestone": False, "critical": False,
                   "start": day.isoformat(), "progress": 0}  # fmt: skip
        tasks.append(summary)
        next_id += 1
        previous = None
        for k in range(per_phase):
            duration = 0 if k == per_phase - 1 else 1 + (k * 7 + g) % 5
            finish = _after_working_days(day, duration - 1) if duration else day
            tasks.append({
                "id": next_id, "code": f"{g + 1}.{k + 1}", "name": f"Task {g + 1}.{k + 1}",
                "parent_id": summary["id"], "level": 1, "start": day.isoformat(),
                "finish": finish.isoformat(), "duration": duration, "milestone": duration == 0,
                "summary": False, "critical": k % 3 == 0, "progress": 50 if g < 2 else 0,
                "baseline_start": day.isoformat(), "baseline_finish": finish.isoformat(),
                "total_float": 0 if k % 3 == 0 else 2,
            })  # fmt: skip
            if previous is not None:
                links.append({"from": previous, "to": next_id, "type": LINK_TYPES[k % 4], "lag": 0})
            previous = next_id
            next_id += 1
            day = _after_working_days(finish, 1) if duration else day
        summary["finish"] = tasks[-1]["finish"]
    calendar = {"weekend": [0, 6], "holidays": ["2026-04-06"], "workdays": []}
    return {"tasks": tasks, "links": links, "today": "2026-04-15", "calendar": calendar}
