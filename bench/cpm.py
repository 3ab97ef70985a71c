"""Time of the critical path method on a synthetic plan, and of a "drag" re-schedule.

    python bench/cpm.py --tasks 10000
    python bench/cpm.py --tasks 100000

The plan (``clientops.projects.scheduling.synthetic.random_plan``) is WBS-like: about 3 links per
task, each to one of the 100 tasks listed before it (so the network is deep: ~n/17 levels),
70 % FS and 10 % each SS, FF, SF, lags from −2 to +5 days, indexes shuffled. Timed over
``--repeats`` runs each (median and fastest, in milliseconds):

* ``cpm_ms``: build the network from link arrays (topological levels) and schedule it;
* ``cpm_from_ids_ms``: the same from a list of task ids and (pred, succ, type, lag) tuples, as
  callers holding database rows do;
* ``schedule_ms``: schedule a prepared network again (levels reused);
* ``drag_ms``: "a drag moved one task": change one task's duration and constraint on the
  prepared network, schedule, and convert every start and finish to calendar dates
  (China's calendar); measured up to 20,000 tasks.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from clientops.projects.scheduling import Network, WorkCalendar
from clientops.projects.scheduling.synthetic import random_plan


def timed_ms(action: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median and fastest wall time of ``action`` in milliseconds (after one warm-up run).

    Both are printed: on a shared machine the median carries the other users' load, the
    fastest run is closer to what the code costs.
    """
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return {"median": round(statistics.median(times) * 1000, 2), "min": round(min(times) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plan = random_plan(args.tasks, window=args.window, seed=args.seed)
    n = args.tasks
    arrays = (plan.durations, plan.pred, plan.succ, plan.types, plan.lags)
    network = Network.from_arrays(range(n), *arrays)
    ids = [f"T{i}" for i in range(n)]
    links = list(
        zip(
            [ids[i] for i in plan.pred.tolist()],
            [ids[i] for i in plan.succ.tolist()],
            [("FS", "SS", "FF", "SF")[t] for t in plan.types.tolist()],
            plan.lags.tolist(),
            strict=True,
        )
    )
    days = WorkCalendar.chinese().days(date(2026, 1, 5))
    moved = int(network.schedule().critical.nonzero()[0][0])

    def drag() -> None:
        changed = network.with_changes(durations={moved: 7}, start_no_earlier={moved: 3})
        result = changed.schedule()
        days.to_dates(result.early_start)
        days.finish_dates(result.early_start, result.early_finish)

    figures = {
        "workload": "cpm",
        "tasks": n,
        "links": int(plan.pred.size),
        "levels": network.levels.count,
        "cpm_ms": timed_ms(lambda: Network.from_arrays(range(n), *arrays).schedule(), args.repeats),
        "cpm_from_ids_ms": timed_ms(
            lambda: Network.build(ids, plan.durations, links).schedule(), args.repeats
        ),
        "schedule_ms": timed_ms(network.schedule, args.repeats),
        # Only for plans a calendar can hold (the 100k plan spans centuries of working days).
        "drag_ms": timed_ms(drag, args.repeats) if n <= 20_000 else None,
        "makespan_days": network.schedule().makespan,
        "critical_tasks": int(np.count_nonzero(network.schedule().critical)),
        "repeats": args.repeats,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
